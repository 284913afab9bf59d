//! The conformance suite: every backend of the `Store` trait must pass each of these unchanged.

use futures::StreamExt;
use minicloud_apiserver::store::{
    Compare, EventKind, KeyRange, KeyValue, Revision, Store, StoreError, Txn, TxnOp, WatchEvent,
    WatchStream,
};
use std::sync::Arc;
use std::time::Duration;

/// How long a test waits for an expected watch event before failing.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

fn bytes(value: &str) -> Vec<u8> {
    value.as_bytes().to_vec()
}

fn text(kv: &KeyValue) -> &str {
    std::str::from_utf8(&kv.value).expect("test values are UTF-8")
}

/// Reads exactly `count` events, failing on an error item, an early end or a stall.
pub async fn take_events(stream: &mut WatchStream, count: usize) -> Vec<WatchEvent> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        let item = tokio::time::timeout(EVENT_TIMEOUT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no watch event after {} of {count}", events.len()));
        match item {
            Some(Ok(event)) => events.push(event),
            Some(Err(error)) => panic!("watch failed after {} events: {error}", events.len()),
            None => panic!("watch ended after {} of {count} events", events.len()),
        }
    }
    events
}

pub async fn get_of_a_missing_key_is_none(store: Arc<dyn Store>) {
    assert_eq!(store.get("/minicloud/apps/acme/none").await.unwrap(), None);
}

pub async fn create_stores_the_value_at_a_new_revision(store: Arc<dyn Store>) {
    let revision = store.create("/k/a", bytes("one")).await.unwrap();
    let kv = store
        .get("/k/a")
        .await
        .unwrap()
        .expect("created key is readable");
    assert_eq!(text(&kv), "one");
    assert_eq!((kv.create_revision, kv.mod_revision), (revision, revision));
    assert!(revision >= 1);
}

pub async fn create_of_an_existing_key_fails_with_already_exists(store: Arc<dyn Store>) {
    store.create("/k/a", bytes("one")).await.unwrap();
    let error = store.create("/k/a", bytes("two")).await.unwrap_err();
    assert!(
        matches!(error, StoreError::AlreadyExists { ref key } if key == "/k/a"),
        "{error}"
    );
    assert_eq!(text(&store.get("/k/a").await.unwrap().unwrap()), "one");
}

pub async fn update_with_the_current_revision_replaces_the_value(store: Arc<dyn Store>) {
    let created = store.create("/k/a", bytes("one")).await.unwrap();
    let updated = store.update("/k/a", bytes("two"), created).await.unwrap();
    assert!(updated > created);
    let kv = store.get("/k/a").await.unwrap().unwrap();
    assert_eq!(
        (text(&kv), kv.create_revision, kv.mod_revision),
        ("two", created, updated)
    );
}

pub async fn stale_update_is_rejected_with_conflict(store: Arc<dyn Store>) {
    let created = store.create("/k/a", bytes("one")).await.unwrap();
    let updated = store.update("/k/a", bytes("two"), created).await.unwrap();
    let error = store
        .update("/k/a", bytes("lost"), created)
        .await
        .unwrap_err();
    match error {
        StoreError::Conflict {
            key,
            expected,
            actual,
        } => {
            assert_eq!((key.as_str(), expected, actual), ("/k/a", created, updated));
        }
        other => panic!("expected Conflict, got {other}"),
    }
    assert_eq!(text(&store.get("/k/a").await.unwrap().unwrap()), "two");
}

pub async fn update_of_a_missing_key_is_not_found(store: Arc<dyn Store>) {
    let error = store.update("/k/none", bytes("x"), 1).await.unwrap_err();
    assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
    let error = store.update("/k/none", bytes("x"), 0).await.unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound { .. }),
        "revision 0 must not create: {error}"
    );
    assert_eq!(store.get("/k/none").await.unwrap(), None);
}

pub async fn delete_honours_the_expected_revision(store: Arc<dyn Store>) {
    let created = store.create("/k/a", bytes("one")).await.unwrap();
    let updated = store.update("/k/a", bytes("two"), created).await.unwrap();
    let error = store.delete("/k/a", Some(created)).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict { actual, .. } if actual == updated),
        "{error}"
    );
    let deleted = store.delete("/k/a", Some(updated)).await.unwrap();
    assert!(deleted > updated);
    assert_eq!(store.get("/k/a").await.unwrap(), None);
    let error = store.delete("/k/a", None).await.unwrap_err();
    assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
}

pub async fn recreating_a_deleted_key_starts_a_new_life(store: Arc<dyn Store>) {
    let first = store.create("/k/a", bytes("one")).await.unwrap();
    store.delete("/k/a", None).await.unwrap();
    let second = store.create("/k/a", bytes("again")).await.unwrap();
    let kv = store.get("/k/a").await.unwrap().unwrap();
    assert!(second > first);
    assert_eq!((kv.create_revision, kv.mod_revision), (second, second));
}

pub async fn list_returns_the_prefix_in_key_order_at_one_revision(store: Arc<dyn Store>) {
    for key in [
        "/k/apps/b",
        "/k/apps/a",
        "/k/apps/c",
        "/k/appsx/z",
        "/k/other",
    ] {
        store.create(key, bytes(key)).await.unwrap();
    }
    let listing = store.list("/k/apps/").await.unwrap();
    let keys: Vec<&str> = listing.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/k/apps/a", "/k/apps/b", "/k/apps/c"]);
    let newest = listing
        .items
        .iter()
        .map(|kv| kv.mod_revision)
        .max()
        .unwrap();
    assert!(listing.revision >= newest);
    assert!(store.list("/k/nothing/").await.unwrap().items.is_empty());
}

pub async fn range_reads_a_bounded_page_either_way_and_counts_the_whole_range(
    store: Arc<dyn Store>,
) {
    for key in ["/r/a", "/r/b", "/r/c", "/r/d", "/r/e", "/s/a"] {
        store.create(key, bytes(key)).await.unwrap();
    }
    let read = |start: &str, end: &str, limit, reverse| {
        let store = store.clone();
        let range = KeyRange {
            start: start.into(),
            end: end.into(),
            limit,
            reverse,
        };
        async move {
            let page = store.range(&range).await.unwrap();
            let keys: Vec<String> = page.items.iter().map(|kv| kv.key.clone()).collect();
            (keys, page.total)
        }
    };
    assert_eq!(
        read("/r/", "/r0", 2, false).await,
        (vec!["/r/a".into(), "/r/b".into()], 5)
    );
    assert_eq!(
        read("/r/", "/r0", 2, true).await,
        (vec!["/r/e".into(), "/r/d".into()], 5)
    );
    assert_eq!(
        read("/r/b", "/r/d", 0, true).await,
        (vec!["/r/c".into(), "/r/b".into()], 2)
    );
    assert_eq!(read("/r/x", "/r0", 10, false).await, (vec![], 0));
    assert_eq!(read("/r/d", "/r/b", 10, false).await, (vec![], 0));
}

pub async fn revisions_strictly_increase_across_operations(store: Arc<dyn Store>) {
    let mut revisions = vec![store.create("/k/a", bytes("1")).await.unwrap()];
    revisions.push(
        store
            .update("/k/a", bytes("2"), revisions[0])
            .await
            .unwrap(),
    );
    revisions.push(store.create("/k/b", bytes("1")).await.unwrap());
    revisions.push(store.delete("/k/a", None).await.unwrap());
    let txn = Txn::when([]).then([TxnOp::Put("/k/c".into(), bytes("1"))]);
    revisions.push(store.txn(txn).await.unwrap().revision);
    assert!(
        revisions.windows(2).all(|pair| pair[0] < pair[1]),
        "{revisions:?}"
    );
}

pub async fn txn_applies_every_op_at_one_revision(store: Arc<dyn Store>) {
    let a = store.create("/k/a", bytes("1")).await.unwrap();
    let txn = Txn::when([
        Compare::ModRevision("/k/a".into(), a),
        Compare::Absent("/k/b".into()),
    ])
    .then([
        TxnOp::Put("/k/a".into(), bytes("2")),
        TxnOp::Put("/k/b".into(), bytes("1")),
        TxnOp::Delete("/k/none".into()),
    ]);
    let outcome = store.txn(txn).await.unwrap();
    assert!(outcome.succeeded);
    let kv_a = store.get("/k/a").await.unwrap().unwrap();
    let kv_b = store.get("/k/b").await.unwrap().unwrap();
    assert_eq!(
        (kv_a.mod_revision, kv_b.mod_revision),
        (outcome.revision, outcome.revision)
    );
    assert_eq!((text(&kv_a), text(&kv_b)), ("2", "1"));
}

pub async fn txn_with_a_failed_compare_writes_nothing(store: Arc<dyn Store>) {
    let a = store.create("/k/a", bytes("1")).await.unwrap();
    for compare in [
        Compare::ModRevision("/k/a".into(), a + 100),
        Compare::Absent("/k/a".into()),
        Compare::Present("/k/none".into()),
        Compare::ModRevision("/k/none".into(), 0),
    ] {
        let txn = Txn::when([Compare::Present("/k/a".into()), compare.clone()]).then([
            TxnOp::Put("/k/b".into(), bytes("x")),
            TxnOp::Delete("/k/a".into()),
        ]);
        let outcome = store.txn(txn).await.unwrap();
        assert!(!outcome.succeeded, "{compare:?} must fail");
        assert!(outcome.revision >= a);
    }
    assert_eq!(store.get("/k/b").await.unwrap(), None);
    assert_eq!(store.get("/k/a").await.unwrap().unwrap().mod_revision, a);
}

pub async fn txn_naming_a_key_twice_is_invalid(store: Arc<dyn Store>) {
    let txn = Txn::when([]).then([
        TxnOp::Put("/k/a".into(), bytes("1")),
        TxnOp::Delete("/k/a".into()),
    ]);
    let error = store.txn(txn).await.unwrap_err();
    assert!(matches!(error, StoreError::InvalidTxn(_)), "{error}");
    assert_eq!(store.get("/k/a").await.unwrap(), None);
}

/// Eight tasks increment one counter by read-modify-write; the final value must equal the number
/// of updates the store acknowledged — a lost update would make it smaller.
pub async fn concurrent_incrementers_lose_no_update(store: Arc<dyn Store>) {
    const WORKERS: usize = 8;
    const ATTEMPTS: usize = 40;
    store.create("/k/counter", bytes("0")).await.unwrap();
    let tasks: Vec<_> = (0..WORKERS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let (mut succeeded, mut conflicts) = (0u64, 0u64);
                for _ in 0..ATTEMPTS {
                    let kv = store.get("/k/counter").await.unwrap().unwrap();
                    let next = text(&kv).parse::<u64>().unwrap() + 1;
                    match store
                        .update("/k/counter", bytes(&next.to_string()), kv.mod_revision)
                        .await
                    {
                        Ok(_) => succeeded += 1,
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(other) => panic!("unexpected error: {other}"),
                    }
                }
                (succeeded, conflicts)
            })
        })
        .collect();
    let (mut succeeded, mut conflicts) = (0, 0);
    for task in tasks {
        let (s, c) = task.await.unwrap();
        succeeded += s;
        conflicts += c;
    }
    let kv = store.get("/k/counter").await.unwrap().unwrap();
    eprintln!("incrementers: {succeeded} updates acknowledged, {conflicts} conflicts");
    assert_eq!(text(&kv).parse::<u64>().unwrap(), succeeded);
    assert_eq!(succeeded + conflicts, (WORKERS * ATTEMPTS) as u64);
}

/// Concurrent transfers between two accounts, each a guarded two-key transaction: every
/// consistent read sees the total unchanged, and the balances match the committed transfers.
pub async fn concurrent_transactions_are_atomic(store: Arc<dyn Store>) {
    const WORKERS: i64 = 6;
    const TRANSFERS: i64 = 30;
    store.create("/k/acct/a", bytes("1000")).await.unwrap();
    store.create("/k/acct/b", bytes("1000")).await.unwrap();
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..60 {
                let listing = store.list("/k/acct/").await.unwrap();
                let total: i64 = listing
                    .items
                    .iter()
                    .map(|kv| text(kv).parse::<i64>().unwrap())
                    .sum();
                assert_eq!(total, 2000, "a reader saw half a transfer");
            }
        })
    };
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| tokio::spawn(transfer_until_done(store.clone(), TRANSFERS)))
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    reader.await.unwrap();
    let a = store.get("/k/acct/a").await.unwrap().unwrap();
    let b = store.get("/k/acct/b").await.unwrap().unwrap();
    assert_eq!(text(&a).parse::<i64>().unwrap(), 1000 - WORKERS * TRANSFERS);
    assert_eq!(text(&b).parse::<i64>().unwrap(), 1000 + WORKERS * TRANSFERS);
    assert_eq!(
        a.mod_revision, b.mod_revision,
        "the last transfer moved both at once"
    );
}

async fn transfer_until_done(store: Arc<dyn Store>, transfers: i64) {
    let mut done = 0;
    while done < transfers {
        let a = store.get("/k/acct/a").await.unwrap().unwrap();
        let b = store.get("/k/acct/b").await.unwrap().unwrap();
        let (va, vb) = (
            text(&a).parse::<i64>().unwrap(),
            text(&b).parse::<i64>().unwrap(),
        );
        let txn = Txn::when([
            Compare::ModRevision(a.key.clone(), a.mod_revision),
            Compare::ModRevision(b.key.clone(), b.mod_revision),
        ])
        .then([
            TxnOp::Put(a.key.clone(), bytes(&(va - 1).to_string())),
            TxnOp::Put(b.key.clone(), bytes(&(vb + 1).to_string())),
        ]);
        if store.txn(txn).await.unwrap().succeeded {
            done += 1;
        }
    }
}

pub async fn watch_replays_history_then_follows_live_changes(store: Arc<dyn Store>) {
    let first = store.create("/k/w/a", bytes("1")).await.unwrap();
    store.update("/k/w/a", bytes("2"), first).await.unwrap();
    store.create("/k/other", bytes("ignored")).await.unwrap();
    let mut stream = store.watch("/k/w/", first).await.unwrap();
    let replayed = take_events(&mut stream, 2).await;
    store.create("/k/w/b", bytes("3")).await.unwrap();
    store.delete("/k/w/a", None).await.unwrap();
    let live = take_events(&mut stream, 2).await;
    let seen: Vec<(EventKind, &str, &str)> = replayed
        .iter()
        .chain(&live)
        .map(|e| (e.kind, e.kv.key.as_str(), text(&e.kv)))
        .collect();
    assert_eq!(
        seen,
        [
            (EventKind::Put, "/k/w/a", "1"),
            (EventKind::Put, "/k/w/a", "2"),
            (EventKind::Put, "/k/w/b", "3"),
            (EventKind::Delete, "/k/w/a", ""),
        ]
    );
}

pub async fn watch_events_carry_the_previous_value(store: Arc<dyn Store>) {
    let mut stream = store.watch("/k/w/", 0).await.unwrap();
    let created = store.create("/k/w/a", bytes("1")).await.unwrap();
    let updated = store.update("/k/w/a", bytes("2"), created).await.unwrap();
    let deleted = store.delete("/k/w/a", None).await.unwrap();
    let events = take_events(&mut stream, 3).await;
    assert_eq!(events[0].prev, None);
    assert_eq!(events[1].prev.as_ref().map(text), Some("1"));
    assert_eq!(
        events[2].prev.as_ref().map(|kv| kv.mod_revision),
        Some(updated)
    );
    assert_eq!(events[2].kind, EventKind::Delete);
    assert_eq!(events[2].revision(), deleted);
}

pub async fn watch_from_zero_sees_only_later_changes(store: Arc<dyn Store>) {
    store.create("/k/w/old", bytes("1")).await.unwrap();
    let mut stream = store.watch("/k/w/", 0).await.unwrap();
    let revision = store.create("/k/w/new", bytes("2")).await.unwrap();
    let events = take_events(&mut stream, 1).await;
    assert_eq!(
        (events[0].kv.key.as_str(), events[0].revision()),
        ("/k/w/new", revision)
    );
}

/// A history of 1,000 writes (creates, updates, deletes over 40 keys, some outside the prefix).
async fn write_history(store: &Arc<dyn Store>) -> Vec<(Revision, String, EventKind)> {
    let mut history = Vec::new();
    let mut live: Vec<Option<Revision>> = vec![None; 40];
    for step in 0..1000usize {
        let slot = (step * 7) % live.len();
        let key = format!("/k/h/{slot:02}");
        let (revision, kind) = match live[slot] {
            None => (
                store.create(&key, bytes(&step.to_string())).await.unwrap(),
                EventKind::Put,
            ),
            Some(rev) if step % 5 == 0 => (
                store.delete(&key, Some(rev)).await.unwrap(),
                EventKind::Delete,
            ),
            Some(rev) => (
                store
                    .update(&key, bytes(&step.to_string()), rev)
                    .await
                    .unwrap(),
                EventKind::Put,
            ),
        };
        live[slot] = (kind == EventKind::Put).then_some(revision);
        history.push((revision, key, kind));
        if step % 100 == 0 {
            store
                .create(&format!("/k/outside/{step}"), bytes("x"))
                .await
                .unwrap();
        }
    }
    history
}

/// A watcher that disconnects after any event and resumes from the revision after it sees the
/// rest of the 1,000-event history exactly once, in order: for every event, a watch resumed just
/// past its predecessor starts with exactly that event and its successors, and watches started at
/// sampled points read the whole remaining history. Resumes run 50 at a time, because etcd
/// serves a watch that starts in the past from a sync loop with a 100 ms period.
pub async fn watch_resumes_exactly_from_every_revision(store: Arc<dyn Store>) {
    let history = Arc::new(write_history(&store).await);
    futures::stream::iter(0..history.len())
        .map(|index| {
            let (store, history) = (store.clone(), history.clone());
            async move {
                let resume_from = match index {
                    0 => history[0].0,
                    _ => history[index - 1].0 + 1,
                };
                let mut stream = store.watch("/k/h/", resume_from).await.unwrap();
                let expected = &history[index..history.len().min(index + 3)];
                let events = take_events(&mut stream, expected.len()).await;
                for (event, (revision, key, kind)) in events.iter().zip(expected) {
                    let seen = (event.revision(), &event.kv.key, event.kind);
                    assert_eq!(seen, (*revision, key, *kind), "resumed from {resume_from}");
                }
            }
        })
        .buffer_unordered(50)
        .collect::<Vec<()>>()
        .await;
    for start in (0..history.len()).step_by(97) {
        let mut stream = store.watch("/k/h/", history[start].0).await.unwrap();
        let events = take_events(&mut stream, history.len() - start).await;
        let revisions: Vec<Revision> = events.iter().map(WatchEvent::revision).collect();
        let expected: Vec<Revision> = history[start..].iter().map(|(r, _, _)| *r).collect();
        assert_eq!(revisions, expected, "watch from index {start}");
    }
}

pub async fn watch_from_a_compacted_revision_fails_with_compacted(store: Arc<dyn Store>) {
    let first = store.create("/k/c/a", bytes("0")).await.unwrap();
    let mut last = first;
    for value in 1..20 {
        last = store
            .update("/k/c/a", bytes(&value.to_string()), last)
            .await
            .unwrap();
    }
    store.compact(last).await.unwrap();
    match store.watch("/k/c/", first).await {
        Err(StoreError::Compacted {
            requested,
            compacted,
        }) => {
            assert_eq!(requested, first);
            assert!(
                compacted > first && compacted <= last,
                "compacted at {compacted}"
            );
        }
        Err(other) => panic!("expected Compacted, got {other}"),
        Ok(_) => panic!("a watch from a compacted revision must fail"),
    }
    let mut stream = store.watch("/k/c/", last + 1).await.unwrap();
    let next = store.update("/k/c/a", bytes("after"), last).await.unwrap();
    assert_eq!(take_events(&mut stream, 1).await[0].revision(), next);
}

/// A watcher that reads nothing while 1,000 writes land neither stalls the writers nor loses
/// events: once it reads, it gets all of them in order.
pub async fn a_slow_watcher_neither_blocks_writers_nor_loses_events(store: Arc<dyn Store>) {
    let mut slow = store.watch("/k/s/", 0).await.unwrap();
    let mut revisions = Vec::new();
    let writes = async {
        for step in 0..1000 {
            revisions.push(
                store
                    .create(&format!("/k/s/{step:04}"), bytes("x"))
                    .await
                    .unwrap(),
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(120), writes)
        .await
        .expect("writes stalled behind a watcher that does not read");
    let events = take_events(&mut slow, revisions.len()).await;
    let seen: Vec<Revision> = events.iter().map(WatchEvent::revision).collect();
    assert_eq!(seen, revisions);
}
