//! Crash test of the embedded store: a writer process (`store-crash-writer`) is killed with
//! SIGKILL at a random moment, twenty times over one data directory. After every kill the store
//! must reopen with every acknowledged write present, no transaction half-applied, the counter
//! never behind what was acknowledged, revisions still increasing, and its history replayable.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use minicloud_apiserver::store::embedded::EmbeddedStore;
use minicloud_apiserver::store::{KeyValue, KvRead, KvWatch, Revision, WatchEvent};
use rand::Rng;

const ROUNDS: usize = 20;
const COUNTER: &str = "/crash-counter";

/// What the writer printed before it died.
#[derive(Default)]
struct Acks {
    /// Transaction number → the revision it was acknowledged at.
    txns: BTreeMap<u64, Revision>,
    /// Counter values acknowledged, with their revisions.
    counts: Vec<(u64, Revision)>,
}

/// Running totals across rounds, printed at the end.
#[derive(Default)]
struct Totals {
    acked_writes: usize,
    max_recovered_revision: Revision,
    torn_tails: usize,
    max_counter: u64,
}

#[test]
fn acknowledged_writes_survive_repeated_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut totals = Totals::default();
    let mut next_n = 0;
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(rand::rng().random_range(20..=300));
        let acks = run_writer_until_killed(dir.path(), next_n, delay);
        let store = EmbeddedStore::open(dir.path()).unwrap_or_else(|error| {
            panic!("round {round}: reopening after kill -9 failed: {error}")
        });
        next_n = runtime.block_on(verify_round(&store, &acks, &mut totals)) + 1;
        totals.acked_writes += acks.txns.len() + acks.counts.len();
        totals.torn_tails += usize::from(store.recovery().torn_tail_bytes > 0);
    }
    eprintln!(
        "embedded crash test: {ROUNDS} rounds of kill -9, {} acknowledged writes, all recovered; \
         max recovered revision {}, counter at {}, torn tails truncated {}",
        totals.acked_writes, totals.max_recovered_revision, totals.max_counter, totals.torn_tails
    );
    assert!(
        totals.acked_writes > 0,
        "the writer never got a write acknowledged"
    );
}

/// Starts the writer, kills it with SIGKILL after `delay`, and returns what it acknowledged.
fn run_writer_until_killed(dir: &Path, first_n: u64, delay: Duration) -> Acks {
    let mut child = Command::new(env!("CARGO_BIN_EXE_store-crash-writer"))
        .arg(dir)
        .arg(first_n.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting store-crash-writer");
    let stdout = child.stdout.take().expect("piped stdout");
    // Read concurrently: a writer blocked on a full pipe would not be writing to the store.
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map(|line| line.expect("writer output"))
            .collect::<Vec<_>>()
    });
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");
    parse_acks(&reader.join().expect("reader thread"))
}

fn parse_acks(lines: &[String]) -> Acks {
    let mut acks = Acks::default();
    for line in lines {
        let fields: Vec<&str> = line.split(' ').collect();
        let number = |i: usize| {
            fields[i]
                .parse::<i64>()
                .unwrap_or_else(|_| panic!("bad line {line:?}"))
        };
        match fields[0] {
            "ACK" => {
                acks.txns.insert(number(1) as u64, number(2));
            }
            "COUNT" => acks.counts.push((number(1) as u64, number(2))),
            _ => panic!("unexpected writer output {line:?}"),
        }
    }
    acks
}

/// Checks the reopened store against the acknowledgements; returns the highest `n` present.
async fn verify_round(store: &EmbeddedStore, acks: &Acks, totals: &mut Totals) -> u64 {
    let listing = store.list("/crash/").await.unwrap();
    let txns = group_by_txn(&listing.items);
    for (n, revision) in &acks.txns {
        let kvs = txns
            .get(n)
            .unwrap_or_else(|| panic!("acknowledged transaction {n} is missing"));
        assert!(
            kvs.iter().all(|kv| kv.mod_revision == *revision),
            "transaction {n} at {revision}"
        );
    }
    for (n, kvs) in &txns {
        let suffixes: Vec<&str> = kvs.iter().map(|kv| &kv.key[kv.key.len() - 1..]).collect();
        assert_eq!(suffixes, ["a", "b", "c"], "transaction {n} is half-applied");
        assert!(
            kvs.iter().all(|kv| kv.value == n.to_string().as_bytes()),
            "transaction {n} value"
        );
    }
    let acked = acks.txns.values().chain(acks.counts.iter().map(|(_, r)| r));
    if let Some(lowest) = acked.clone().min() {
        assert!(
            *lowest > totals.max_recovered_revision,
            "a revision was reused after restart"
        );
    }
    assert!(
        acked
            .max()
            .is_none_or(|highest| *highest <= listing.revision)
    );
    verify_counter(store, acks, totals).await;
    verify_history(store, listing.revision).await;
    totals.max_recovered_revision = listing.revision;
    txns.keys().max().copied().unwrap_or(0)
}

/// The keys of each transaction `n`, in key order.
fn group_by_txn(items: &[KeyValue]) -> BTreeMap<u64, Vec<KeyValue>> {
    let mut txns: BTreeMap<u64, Vec<KeyValue>> = BTreeMap::new();
    for kv in items {
        let n = kv.key.split('/').nth(2).and_then(|n| n.parse().ok());
        let n = n.unwrap_or_else(|| panic!("unexpected key {}", kv.key));
        txns.entry(n).or_default().push(kv.clone());
    }
    txns
}

async fn verify_counter(store: &EmbeddedStore, acks: &Acks, totals: &mut Totals) {
    let acked = acks
        .counts
        .iter()
        .map(|(value, _)| *value)
        .max()
        .unwrap_or(0);
    let floor = acked.max(totals.max_counter);
    let counter = store.get(COUNTER).await.unwrap();
    let value = counter.map_or(0, |kv| {
        String::from_utf8(kv.value).unwrap().parse().unwrap()
    });
    assert!(
        value >= floor,
        "counter {value} is behind the acknowledged {floor}"
    );
    totals.max_counter = value;
}

/// Replays the last revisions from history: the window survived the restart, without gaps.
async fn verify_history(store: &EmbeddedStore, current: Revision) {
    if current == 0 {
        return;
    }
    let from = (current - 50).max(1);
    let mut stream = store
        .watch("/", from)
        .await
        .expect("recent history is retained");
    let mut seen: Vec<Revision> = Vec::new();
    while seen.last() != Some(&current) {
        let event: WatchEvent = stream
            .next()
            .await
            .expect("history")
            .expect("history event");
        seen.push(event.revision());
    }
    seen.dedup();
    assert_eq!(
        seen,
        (from..=current).collect::<Vec<_>>(),
        "history has a gap"
    );
}
