//! How each backend under test is made: an embedded store in a fresh directory, or an etcd store
//! in a fresh namespace of the shared test etcd (`MINICLOUD_TEST_ETCD`) — or of a private etcd
//! started for the test when that variable is unset or the test needs one to itself.

use minicloud_apiserver::store::Store;
use minicloud_apiserver::store::embedded::EmbeddedStore;
use minicloud_apiserver::store::etcd::EtcdStore;
use std::any::Any;
use std::sync::Arc;

use crate::etcd_server::EtcdServer;

/// The variable naming the shared etcd the test script starts.
const SHARED_ETCD_VAR: &str = "MINICLOUD_TEST_ETCD";

/// A store under test and whatever must live as long as it (a directory, an etcd process).
pub struct Backend {
    /// The store.
    pub store: Arc<dyn Store>,
    _resources: Vec<Box<dyn Any + Send>>,
}

/// An embedded store in a new temporary directory.
pub async fn embedded() -> Backend {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = EmbeddedStore::open(dir.path()).expect("open the embedded store");
    Backend {
        store: Arc::new(store),
        _resources: vec![Box::new(dir)],
    }
}

/// An etcd store isolated by a unique namespace on the shared test etcd, if there is one.
pub async fn etcd() -> Backend {
    match std::env::var(SHARED_ETCD_VAR) {
        Ok(endpoint) => connect(endpoint, Vec::new()).await,
        Err(_) => etcd_private().await,
    }
}

/// An etcd store on an etcd started for this test alone.
pub async fn etcd_private() -> Backend {
    let server = EtcdServer::start().await;
    let endpoint = server.endpoint.clone();
    connect(endpoint, vec![Box::new(server)]).await
}

async fn connect(endpoint: String, resources: Vec<Box<dyn Any + Send>>) -> Backend {
    let namespace = format!("/conformance-{}", unique_suffix());
    let store = EtcdStore::connect(std::slice::from_ref(&endpoint), &namespace)
        .await
        .unwrap_or_else(|error| {
            panic!("{error} (the etcd tests need it; scripts/test.sh starts one and sets {SHARED_ETCD_VAR})")
        });
    Backend {
        store: Arc::new(store),
        _resources: resources,
    }
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}
