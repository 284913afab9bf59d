//! Watch semantics over gRPC: initial state, resume, expiry, selector transitions, fan-out
//! through one store watch, and isolation from slow clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use minicloud_apiserver::store::{
    KeyRange, KeyValue, KvRead, KvWatch, KvWrite, Listing, Page, Result, Revision, Store, Txn,
    TxnOutcome, WatchStream,
};
use minicloud_apiserver::watch_cache::WatchCacheOptions;
use minicloud_proto::v1::{self as pb, EventType};
use serde_json::json;

use crate::backends::Backend;
use crate::fixture::*;

pub async fn watch_starts_with_current_objects_then_follows_changes(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &app("a", "hello:1", 1)).await.unwrap();
    apply(&mut client, &app("b", "hello:1", 1)).await.unwrap();
    let mut events = watch(&mut client, "apps", "").await.unwrap();
    let mut initial = Vec::new();
    for _ in 0..3 {
        let (kind, object, _) = next_event(&mut events).await.unwrap();
        initial.push((
            kind,
            object["metadata"]["name"].as_str().unwrap_or("").to_owned(),
        ));
    }
    assert_eq!(
        initial,
        [
            (EventType::Added, "a".into()),
            (EventType::Added, "b".into()),
            (EventType::Bookmark, "".into())
        ]
    );
    apply(&mut client, &app("a", "hello:1", 2)).await.unwrap();
    let (kind, object, _) = next_event(&mut events).await.unwrap();
    assert_eq!(
        (kind, field(&object, "/metadata/generation")),
        (EventType::Modified, &json!(2))
    );
    delete(&mut client, "app", "b").await.unwrap();
    let (kind, object, _) = next_event(&mut events).await.unwrap();
    assert_eq!(
        (kind, field(&object, "/metadata/name")),
        (EventType::Deleted, &json!("b"))
    );
}

pub async fn watch_resumes_after_any_resource_version(server: TestServer) {
    let mut client = server.client().await;
    let (_, first) = apply(&mut client, &app("a", "hello:1", 1)).await.unwrap();
    let (_, second) = apply(&mut client, &app("a", "hello:1", 2)).await.unwrap();
    let (_, third) = apply(&mut client, &app("c", "hello:1", 1)).await.unwrap();
    let resume = first["metadata"]["resourceVersion"].as_str().unwrap();
    let mut events = watch(&mut client, "apps", resume).await.unwrap();
    let (kind, _, version) = next_event(&mut events).await.unwrap();
    assert_eq!(
        (kind, version.as_str()),
        (
            EventType::Modified,
            second["metadata"]["resourceVersion"].as_str().unwrap()
        )
    );
    let (kind, _, version) = next_event(&mut events).await.unwrap();
    assert_eq!(
        (kind, version.as_str()),
        (
            EventType::Added,
            third["metadata"]["resourceVersion"].as_str().unwrap()
        )
    );
}

pub async fn an_expired_resource_version_tells_the_client_to_relist(server: TestServer) {
    let mut client = server.client().await;
    let (_, first) = apply(&mut client, &app("a", "hello:1", 1)).await.unwrap();
    let mut last = first.clone();
    for replicas in 2..6 {
        last = apply(&mut client, &app("a", "hello:1", replicas))
            .await
            .unwrap()
            .1;
    }
    let newest: Revision = last["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    server.store.compact(newest).await.unwrap();
    let old = first["metadata"]["resourceVersion"].as_str().unwrap();
    let error = watch(&mut client, "apps", old).await.unwrap_err();
    assert_eq!(
        (error.code(), reason(&error)),
        (tonic::Code::OutOfRange, "Expired")
    );
    assert!(
        error.message().contains("list again"),
        "{}",
        error.message()
    );
}

pub async fn selector_watches_see_objects_enter_and_leave(server: TestServer) {
    let mut client = server.client().await;
    let request = pb::WatchRequest {
        kind: "apps".into(),
        tenant: String::new(),
        label_selector: "team=blue".into(),
        resource_version: String::new(),
    };
    let mut events = client.watch(request).await.unwrap().into_inner();
    assert_eq!(
        next_event(&mut events).await.unwrap().0,
        EventType::Bookmark
    );
    let mut manifest = app("a", "hello:1", 1);
    apply(&mut client, &manifest).await.unwrap();
    manifest["metadata"]["labels"]["team"] = json!("green");
    apply(&mut client, &manifest).await.unwrap();
    manifest["metadata"]["labels"]["team"] = json!("blue");
    apply(&mut client, &manifest).await.unwrap();
    let kinds: Vec<EventType> = [(); 3].iter().map(|_| EventType::Unspecified).collect();
    let mut seen = kinds;
    for slot in seen.iter_mut() {
        *slot = next_event(&mut events).await.unwrap().0;
    }
    assert_eq!(
        seen,
        [EventType::Added, EventType::Deleted, EventType::Added]
    );
}

/// Counts the watches opened on the store it wraps.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    /// Store watches opened so far.
    pub watches: AtomicUsize,
}

#[async_trait]
impl KvRead for CountingStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Listing> {
        self.inner.list(prefix).await
    }
    async fn range(&self, range: &KeyRange) -> Result<Page> {
        self.inner.range(range).await
    }
}

#[async_trait]
impl KvWrite for CountingStore {
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision> {
        self.inner.create(key, value).await
    }
    async fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision> {
        self.inner.update(key, value, expected).await
    }
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Revision> {
        self.inner.delete(key, expected).await
    }
    async fn txn(&self, txn: Txn) -> Result<TxnOutcome> {
        self.inner.txn(txn).await
    }
}

#[async_trait]
impl KvWatch for CountingStore {
    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream> {
        self.watches.fetch_add(1, Ordering::SeqCst);
        self.inner.watch(prefix, from_revision).await
    }
    async fn compact(&self, revision: Revision) -> Result<()> {
        self.inner.compact(revision).await
    }
}

/// 1,000 concurrent watchers (over 10 connections) all receive a write, through one store watch.
pub async fn a_thousand_watchers_share_one_store_watch(backend: Backend) {
    let counting = Arc::new(CountingStore {
        inner: backend.store.clone(),
        watches: AtomicUsize::new(0),
    });
    let server = TestServer::start_with(
        counting.clone(),
        WatchCacheOptions::default(),
        Some(backend),
    )
    .await;
    let mut streams = Vec::new();
    for _ in 0..10 {
        let client = server.client().await;
        for _ in 0..100 {
            let mut events = watch(&mut client.clone(), "apps", "").await.unwrap();
            assert_eq!(
                next_event(&mut events).await.unwrap().0,
                EventType::Bookmark
            );
            streams.push(events);
        }
    }
    apply(&mut server.client().await, &app("fan", "hello:1", 1))
        .await
        .unwrap();
    let receivers = streams
        .into_iter()
        .map(|mut events| tokio::spawn(async move { next_event(&mut events).await.unwrap().0 }));
    for receiver in receivers {
        assert_eq!(receiver.await.unwrap(), EventType::Added);
    }
    assert_eq!(
        counting.watches.load(Ordering::SeqCst),
        1,
        "1,000 watchers must cost one store watch"
    );
}

/// A watcher that stops reading is cut off (resumably) once it is `client_buffer` events behind,
/// while another watcher keeps receiving every event. The events are large enough (600 × 8 KB)
/// to overflow the HTTP/2 flow-control windows, so the server really sees the client lag.
pub async fn a_slow_watcher_is_cut_off_without_delaying_others(backend: Backend) {
    let options = WatchCacheOptions {
        history: 10_000,
        client_buffer: 64,
    };
    let server = TestServer::start_with(backend.store.clone(), options, Some(backend)).await;
    let mut client = server.client().await;
    let mut slow = watch(&mut server.client().await, "apps", "").await.unwrap();
    let mut fast = watch(&mut client, "apps", "").await.unwrap();
    assert_eq!(next_event(&mut fast).await.unwrap().0, EventType::Bookmark);
    let writer = {
        let mut client = client.clone();
        tokio::spawn(async move {
            for replicas in 1..=600u32 {
                let mut manifest = app("busy", "hello:1", 1 + replicas % 50);
                manifest["metadata"]["annotations"] =
                    json!({"padding": "x".repeat(8_000), "n": replicas.to_string()});
                apply(&mut client, &manifest).await.unwrap();
            }
        })
    };
    for _ in 1..=600 {
        assert_ne!(next_event(&mut fast).await.unwrap().0, EventType::Bookmark);
    }
    writer.await.unwrap();
    let mut delivered = 0;
    let error = loop {
        match next_event(&mut slow).await {
            Ok(_) => delivered += 1,
            Err(status) => break status,
        }
    };
    assert!(
        delivered < 601,
        "the slow watcher was cut off, after {delivered} events"
    );
    assert_eq!(
        (error.code(), reason(&error)),
        (tonic::Code::OutOfRange, "TooSlow")
    );
    assert!(
        error.message().contains("resume after resourceVersion"),
        "{}",
        error.message()
    );
}
