//! Tests of the embedded store as a whole: durability across reopen, checkpoints, and watches
//! that resume after a restart. The backend-neutral semantics live in the conformance suite.

use futures::StreamExt;

use super::wal::LOG_FILE;
use super::*;
use crate::store::{EventKind, TxnOp};

fn small(history_limit: usize, checkpoint_every: usize) -> EmbeddedOptions {
    EmbeddedOptions {
        history_limit,
        checkpoint_every,
    }
}

async fn write_counter(store: &EmbeddedStore, key: &str, times: usize) -> Revision {
    let mut revision = store.create(key, b"0".to_vec()).await.unwrap();
    for value in 1..times {
        revision = store
            .update(key, value.to_string().into_bytes(), revision)
            .await
            .unwrap();
    }
    revision
}

#[tokio::test]
async fn acknowledged_writes_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let last = write_counter(&store, "/k/a", 5).await;
    let deleted = store.create("/k/gone", b"x".to_vec()).await.unwrap();
    store.delete("/k/gone", Some(deleted)).await.unwrap();
    drop(store);
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let kv = store.get("/k/a").await.unwrap().unwrap();
    assert_eq!(
        (kv.value.as_slice(), kv.create_revision, kv.mod_revision),
        (&b"4"[..], 1, last)
    );
    assert_eq!(store.get("/k/gone").await.unwrap(), None);
    assert_eq!(store.recovery().records_replayed, 7);
    assert_eq!(store.create("/k/b", b"y".to_vec()).await.unwrap(), last + 3);
}

#[tokio::test]
async fn a_checkpoint_empties_the_log_and_keeps_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open_with(dir.path(), small(100, 4)).unwrap();
    let last = write_counter(&store, "/k/a", 10).await;
    drop(store);
    assert!(std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len() < 100);
    let store = EmbeddedStore::open_with(dir.path(), small(100, 4)).unwrap();
    assert_eq!(store.recovery().snapshot_revision, 8);
    assert_eq!(store.recovery().records_replayed, 2);
    assert_eq!(store.get("/k/a").await.unwrap().unwrap().mod_revision, last);
}

#[tokio::test]
async fn a_watch_resumes_after_a_restart_from_a_revision_seen_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open_with(dir.path(), small(100, 3)).unwrap();
    write_counter(&store, "/k/a", 7).await;
    drop(store);
    let store = EmbeddedStore::open_with(dir.path(), small(100, 3)).unwrap();
    let events: Vec<_> = store.watch("/k/", 2).await.unwrap().take(6).collect().await;
    let revisions: Vec<_> = events.into_iter().map(|e| e.unwrap().revision()).collect();
    assert_eq!(revisions, [2, 3, 4, 5, 6, 7]);
}

#[tokio::test]
async fn the_compaction_point_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open_with(dir.path(), small(100, 1000)).unwrap();
    write_counter(&store, "/k/a", 6).await;
    store.compact(4).await.unwrap();
    drop(store);
    let store = EmbeddedStore::open_with(dir.path(), small(3, 1000)).unwrap();
    let error = store
        .watch("/k/", 3)
        .await
        .err()
        .expect("revision 3 is compacted");
    assert!(
        matches!(
            error,
            StoreError::Compacted {
                requested: 3,
                compacted: 4
            }
        ),
        "{error}"
    );
    drop(store);
    let store = EmbeddedStore::open_with(dir.path(), small(1, 1000)).unwrap();
    let error = store
        .watch("/k/", 5)
        .await
        .err()
        .expect("a smaller limit retains less");
    assert!(
        matches!(error, StoreError::Compacted { compacted: 6, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_lagging_watcher_catches_up_from_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open_with(dir.path(), small(5_000, 10_000)).unwrap();
    let mut stream = store.watch("/k/", 0).await.unwrap();
    for n in 0..1_500 {
        store.create(&format!("/k/{n}"), Vec::new()).await.unwrap();
    }
    for revision in 1..=1_500 {
        assert_eq!(stream.next().await.unwrap().unwrap().revision(), revision);
    }
}

#[tokio::test]
async fn a_lagging_watcher_whose_history_is_gone_ends_with_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open_with(dir.path(), small(10, 10_000)).unwrap();
    let mut stream = store.watch("/k/", 0).await.unwrap();
    for n in 0..1_100 {
        store.create(&format!("/k/{n}"), Vec::new()).await.unwrap();
    }
    let items: Vec<_> = stream.by_ref().collect().await;
    assert!(matches!(
        items.last(),
        Some(Err(StoreError::Compacted { requested: 1, .. }))
    ));
    assert!(items[..items.len() - 1].iter().all(Result::is_ok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_get_distinct_consecutive_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut revisions = Vec::new();
                for n in 0..20 {
                    let ops = [TxnOp::Put(format!("/k/{task}/{n}"), Vec::new())];
                    revisions.push(store.txn(Txn::when([]).then(ops)).await.unwrap().revision);
                }
                revisions
            })
        })
        .collect();
    let mut revisions = Vec::new();
    for task in tasks {
        revisions.extend(task.await.unwrap());
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=320).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_watch_ends_when_the_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let mut stream = store.watch("/k/", 0).await.unwrap();
    store.create("/k/a", Vec::new()).await.unwrap();
    drop(store);
    let event = stream.next().await.unwrap().unwrap();
    assert_eq!(event.kind, EventKind::Put);
    assert!(matches!(
        stream.next().await,
        Some(Err(StoreError::WatchEnded(_)))
    ));
    assert!(stream.next().await.is_none());
}
