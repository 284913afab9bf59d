//! Test helper for `tests/embedded_crash.rs`, not a user tool: writes to an embedded store as
//! fast as it can until it is killed, printing each write it got acknowledged.
//!
//! Usage: `store-crash-writer <dir> <first-n>`. Four tasks commit transactions that put
//! `/crash/<n>/a`, `/b` and `/c` (value `n`, for distinct `n >= first-n`) and bump the shared
//! counter `/crash-counter` with compare-and-swap. After each acknowledged call one line goes to
//! stdout, flushed: `ACK <n> <revision>` for a transaction, `COUNT <value> <revision>` for the
//! counter. Small snapshot and history settings make kills land in checkpoints too.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use minicloud_apiserver::store::embedded::{EmbeddedOptions, EmbeddedStore};
use minicloud_apiserver::store::{Compare, KvRead, KvWrite, StoreError, Txn, TxnOp};

/// Concurrent writers, so kills also land in group commits.
const TASKS: u64 = 4;
/// The counter every task increments.
const COUNTER: &str = "/crash-counter";

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (dir, first) = (args.next(), args.next().and_then(|n| n.parse::<u64>().ok()));
    let (Some(dir), Some(first)) = (dir, first) else {
        anyhow::bail!("usage: store-crash-writer <dir> <first-n>");
    };
    let options = EmbeddedOptions {
        history_limit: 1_000,
        checkpoint_every: 64,
    };
    let store = Arc::new(EmbeddedStore::open_with(&dir, options).context("opening the store")?);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| tokio::spawn(write_forever(store.clone(), first + task)))
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn write_forever(store: Arc<EmbeddedStore>, mut n: u64) -> Result<()> {
    loop {
        let value = n.to_string().into_bytes();
        let keys = ["a", "b", "c"].map(|suffix| format!("/crash/{n}/{suffix}"));
        let txn = Txn::when([Compare::Absent(keys[0].clone())])
            .then(keys.map(|key| TxnOp::Put(key, value.clone())));
        let outcome = store.txn(txn).await?;
        anyhow::ensure!(
            outcome.succeeded,
            "transaction {n} found its keys already written"
        );
        acknowledge(&format!("ACK {n} {}", outcome.revision))?;
        increment_counter(&store).await?;
        n += TASKS;
    }
}

async fn increment_counter(store: &EmbeddedStore) -> Result<()> {
    loop {
        let written = match store.get(COUNTER).await? {
            None => store
                .create(COUNTER, b"1".to_vec())
                .await
                .map(|revision| (1, revision)),
            Some(kv) => {
                let next = std::str::from_utf8(&kv.value)?.parse::<u64>()? + 1;
                let value = next.to_string().into_bytes();
                store
                    .update(COUNTER, value, kv.mod_revision)
                    .await
                    .map(|revision| (next, revision))
            }
        };
        match written {
            Ok((value, revision)) => return acknowledge(&format!("COUNT {value} {revision}")),
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

/// Prints one acknowledgement line and flushes it, so the test sees it even if killed next.
fn acknowledge(line: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}
