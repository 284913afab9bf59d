//! A watch client resumes from the last resourceVersion it saw after the API server (and, for
//! the embedded store, the store itself) restarts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use minicloud_apiserver::store::Store;
use minicloud_apiserver::store::embedded::EmbeddedStore;
use minicloud_apiserver::store::etcd::EtcdStore;
use minicloud_apiserver::watch_cache::WatchCacheOptions;
use minicloud_proto::v1::EventType;

use crate::etcd_server::EtcdServer;
use crate::fixture::*;

/// Writes before the restart, then after it resumes a watch from the pre-restart version.
async fn resume_across(first: Arc<dyn Store>, reopen: impl AsyncFnOnce() -> Arc<dyn Store>) {
    let server = TestServer::start_with(first, WatchCacheOptions::default(), None).await;
    let mut client = server.client().await;
    let (_, seen) = apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    let mut events = watch(&mut client, "apps", "").await.unwrap();
    assert_eq!(next_event(&mut events).await.unwrap().0, EventType::Added);
    drop((events, client));
    server.stop().await;

    let server = TestServer::start_with(reopen().await, WatchCacheOptions::default(), None).await;
    let mut client = server.client().await;
    apply(&mut client, &app("web", "hello:1", 2)).await.unwrap();
    let resume = seen["metadata"]["resourceVersion"].as_str().unwrap();
    let mut events = watch(&mut client, "apps", resume).await.unwrap();
    let (kind, object, _) = next_event(&mut events).await.unwrap();
    assert_eq!(
        (kind, &object["spec"]["replicas"]),
        (EventType::Modified, &serde_json::json!(2))
    );
}

pub async fn embedded_watch_resumes_across_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let first: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&path).unwrap());
    resume_across(first, async move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match EmbeddedStore::open(&path) {
                Ok(store) => return Arc::new(store) as Arc<dyn Store>,
                Err(error) if Instant::now() > deadline => {
                    panic!("cannot reopen the store: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await;
}

pub async fn etcd_watch_resumes_across_a_server_restart() {
    let private = match std::env::var("MINICLOUD_TEST_ETCD") {
        Ok(_) => None,
        Err(_) => Some(EtcdServer::start().await),
    };
    let endpoint = match &private {
        Some(server) => server.endpoint.clone(),
        None => std::env::var("MINICLOUD_TEST_ETCD").unwrap(),
    };
    let namespace = format!("/restart-{}", uuid_like());
    let connect = async |endpoint: String, namespace: String| -> Arc<dyn Store> {
        let store = EtcdStore::connect(&[endpoint], &namespace).await.unwrap();
        Arc::new(store) as Arc<dyn Store>
    };
    let first = connect(endpoint.clone(), namespace.clone()).await;
    resume_across(first, async move || connect(endpoint, namespace).await).await;
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}
