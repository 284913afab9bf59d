//! What every API server benchmark sets up: the two stores it runs on (a fresh embedded store,
//! and a fresh namespace of the etcd `MINICLOUD_TEST_ETCD` names, else of an etcd started for the
//! run), an API server on a loopback port, and clients that present a key.

#[path = "../../tests/common/etcd_server.rs"]
mod etcd_server;

use std::sync::Arc;

use minicloud_apiserver::api::ResourceApi;
use minicloud_apiserver::secrets::{Keyring, SecretKeys};
use minicloud_apiserver::server::ServerOptions;
use minicloud_apiserver::store::Store;
use minicloud_apiserver::store::embedded::EmbeddedStore;
use minicloud_apiserver::store::etcd::EtcdStore;
use minicloud_proto::bearer::{Authorized, Bearer, authorized};
use minicloud_proto::v1::resource_service_client::ResourceServiceClient;

/// The stores of one benchmark run, and what must live as long as they do.
pub struct Stores {
    /// The etcd endpoint (for the peer measured beside minicloud).
    pub endpoint: String,
    /// A fresh embedded store.
    pub embedded: Arc<dyn Store>,
    /// A fresh namespace on that etcd.
    pub etcd: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    _private: Option<etcd_server::EtcdServer>,
}

/// Opens both stores; `name` tells this benchmark's etcd namespace apart.
pub async fn stores(name: &str) -> Stores {
    let (endpoint, private) = match std::env::var("MINICLOUD_TEST_ETCD") {
        Ok(endpoint) => (endpoint, None),
        Err(_) => {
            let server = etcd_server::EtcdServer::start().await;
            (server.endpoint.clone(), Some(server))
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let embedded: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let namespace = format!("/bench-{name}-{}", std::process::id());
    let etcd: Arc<dyn Store> = Arc::new(
        EtcdStore::connect(std::slice::from_ref(&endpoint), &namespace)
            .await
            .unwrap(),
    );
    Stores {
        endpoint,
        embedded,
        etcd,
        _dir: dir,
        _private: private,
    }
}

/// The resource API over `store`, sealing Secrets with a key of its own.
pub fn api(store: Arc<dyn Store>) -> Arc<ResourceApi> {
    let secrets = Arc::new(SecretKeys::in_memory(Keyring::generate()));
    Arc::new(ResourceApi::new(store, Default::default(), secrets))
}

/// Serves `api` on a free loopback port until the returned task is aborted; the server's URL.
pub async fn serve(
    api: Arc<ResourceApi>,
    options: ServerOptions,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(minicloud_apiserver::server::serve_with(
        listener,
        api,
        options,
        std::future::pending(),
    ));
    (url, server)
}

/// A resource client of the server at `url` presenting `key`.
pub async fn client(url: &str, key: &str) -> ResourceServiceClient<Authorized> {
    let channel = tonic::transport::Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    ResourceServiceClient::new(authorized(channel, Bearer::new(Some(key)).unwrap()))
}
