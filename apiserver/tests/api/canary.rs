//! The canary test: a unique value written into a Secret — applied, re-applied, diffed, read,
//! listed, watched, resolved and re-encrypted by a key rotation — must appear nowhere in the
//! store's raw bytes (every file of the embedded store's directory; every key and value under
//! etcd and every file of etcd's data directory), nor in the audit log as read back, nor in
//! anything the server logged. As controls, a marker written in plaintext (an App's label) is
//! found in those same bytes, the audit log holds the Secret's changes, and the canary is found
//! in what the admin-only resolve call returns.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use minicloud_apiserver::store::Store;
use minicloud_apiserver::store::embedded::EmbeddedStore;
use minicloud_apiserver::store::etcd::EtcdStore;
use minicloud_apiserver::watch_cache::WatchCacheOptions;
use minicloud_proto::v1::{self as pb};
use serde_json::json;

use crate::etcd_server::EtcdServer;
use crate::fixture::{TestServer, app, apply, apply_with, get, next_event, watch};
use crate::secrets::{resolve, secret, secrets_client};

/// Everything the process logged, at every level of minicloud's crates and debug elsewhere.
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let filter = tracing_subscriber::EnvFilter::new("debug,minicloud_apiserver=trace");
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .init();
        Mutex::new(Vec::new())
    })
}

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        logs().lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A value no test writes anywhere else.
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{}-{nanos}", std::process::id())
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Every byte of every file under `dir`.
fn every_file(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            bytes.extend(every_file(&path));
        } else {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

/// Every path the canary can take through the API: apply, unchanged re-apply, a change of
/// another key, a dry run, get, list, watch, resolve (the control) and a key rotation.
async fn exercise(server: &TestServer, canary: &str, marker: &str) {
    let mut client = server.client().await;
    let mut events = watch(&mut client, "Secret", "").await.unwrap();
    let manifest = secret("db", json!({"password": canary, "user": "admin"}));
    apply(&mut client, &manifest).await.unwrap();
    let (outcome, _) = apply(&mut client, &manifest).await.unwrap();
    assert_eq!(outcome, pb::ApplyOutcome::Unchanged);
    let changed = secret("db", json!({"password": canary, "user": "root"}));
    let (_, _, diff) = apply_with(&mut client, &changed, true).await.unwrap();
    assert!(!diff.contains(canary), "{diff}");
    apply(&mut client, &changed).await.unwrap();
    let read = get(&mut client, "Secret", "db").await.unwrap();
    assert!(!read.to_string().contains(canary));
    let (_, listed) = crate::fixture::list(&mut client, "Secret").await.unwrap();
    assert!(!listed.to_string().contains(canary));
    let values = resolve(server, &server.admin_key, "default", "db")
        .await
        .unwrap();
    assert_eq!(
        values["password"], canary,
        "the control: resolve sees the canary"
    );
    let mut secrets = secrets_client(server, &server.admin_key).await;
    secrets.rotate_key(pb::RotateKeyRequest {}).await.unwrap();
    for _ in ["bookmark", "created", "configured", "re-encrypted"] {
        let (_, object, _) = next_event(&mut events).await.unwrap();
        assert!(!object.to_string().contains(canary));
    }
    let values = resolve(server, &server.admin_key, "default", "db")
        .await
        .unwrap();
    assert_eq!(values["password"], canary);
    let mut marked = app("web", "hello:1", 1);
    marked["metadata"]["labels"]["marker"] = json!(marker);
    apply(&mut client, &marked).await.unwrap();
    let audit = crate::audit::records(server).await;
    let of_secret = audit
        .iter()
        .filter(|record| record.kind == "Secret" && record.name == "db")
        .count();
    assert!(
        of_secret >= 3,
        "the control: the audit log holds the Secret's changes ({of_secret} records)"
    );
    assert!(
        !format!("{audit:?}").contains(canary),
        "the canary is in the audit log"
    );
}

/// Asserts the canary is nowhere in `raw` nor in the logs, and the marker is in `raw`.
fn assert_only_sealed(raw: &[u8], canary: &str, marker: &str, store: &str) {
    assert!(
        contains(raw, marker),
        "the control failed: the plaintext marker is not in the {store}'s bytes"
    );
    assert!(
        !contains(raw, canary),
        "the canary is in the {store}'s raw bytes"
    );
    let logged = logs().lock().unwrap().clone();
    assert!(!logged.is_empty(), "the control failed: nothing was logged");
    assert!(
        !contains(&logged, canary),
        "the canary is in the server's logs"
    );
}

pub async fn a_canary_never_reaches_the_embedded_stores_bytes_or_the_logs() {
    logs();
    let (canary, marker) = (unique("canary"), unique("marker"));
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let server = TestServer::start_with(store, WatchCacheOptions::default(), None).await;
    exercise(&server, &canary, &marker).await;
    server.stop().await;
    assert_only_sealed(&every_file(dir.path()), &canary, &marker, "embedded store");
}

pub async fn a_canary_never_reaches_etcds_bytes_or_the_logs() {
    logs();
    let (canary, marker) = (unique("canary"), unique("marker"));
    let etcd = EtcdServer::start().await;
    let endpoints = [etcd.endpoint.clone()];
    let store: Arc<dyn Store> = Arc::new(EtcdStore::connect(&endpoints, "").await.unwrap());
    let server = TestServer::start_with(store, WatchCacheOptions::default(), None).await;
    exercise(&server, &canary, &marker).await;
    server.stop().await;
    let mut raw = Vec::new();
    let mut client = etcd_client::Client::connect(endpoints, None).await.unwrap();
    let everything = etcd_client::GetOptions::new().with_from_key();
    for kv in client.get(vec![0u8], Some(everything)).await.unwrap().kvs() {
        raw.extend_from_slice(kv.key());
        raw.extend_from_slice(kv.value());
    }
    assert_only_sealed(&raw, &canary, &marker, "etcd keyspace");
    drop(client);
    assert_only_sealed(
        &every_file(etcd.data_dir.path()),
        &canary,
        &marker,
        "etcd data directory",
    );
}
