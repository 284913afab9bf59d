//! The embedded store: durable files in a data directory, for a single machine.
//!
//! Every acknowledged write is in the fsynced write-ahead log (`wal.log`) before the call
//! returns; a periodic snapshot (`snapshot`) bounds the log. Writes go through one committer
//! thread that batches concurrent callers into one fsync; reads and watches work on the
//! in-memory state, which holds exactly what is on disk.

mod codec;
mod commit;
mod plan;
mod recovery;
mod snapshot;
mod state;
mod wal;
mod watch;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use async_trait::async_trait;
use tokio::sync::oneshot;

use self::commit::{Committer, Job};
use self::plan::Request;
pub use self::recovery::RecoveryReport;
use self::state::{Shared, read_state};
use crate::store::{
    KeyRange, KeyValue, KvRead, KvWatch, KvWrite, Listing, Page, Result, Revision, StoreError, Txn,
    TxnOutcome, WatchStream,
};

/// Tuning of an [`EmbeddedStore`].
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// How many of the most recent watch events are kept for watches to resume from; older
    /// ones are compacted away.
    pub history_limit: usize,
    /// How many log records are written between snapshots; the log never grows much beyond it.
    pub checkpoint_every: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            history_limit: 10_000,
            checkpoint_every: 1_000,
        }
    }
}

/// A store kept in a local data directory. Only one may have a directory open at a time.
pub struct EmbeddedStore {
    state: Arc<Shared>,
    /// `None` only while dropping, to let the committer see the queue close.
    jobs: Option<Sender<Job>>,
    committer: Option<JoinHandle<()>>,
    dir: PathBuf,
    report: RecoveryReport,
    /// Held for the store's lifetime; closing it releases the directory lock.
    _lock: File,
}

impl EmbeddedStore {
    /// Opens the store in `dir` with default options, creating the directory if missing.
    pub fn open(dir: impl AsRef<Path>) -> Result<EmbeddedStore> {
        Self::open_with(dir, EmbeddedOptions::default())
    }

    /// Opens the store in `dir`, recovering from the snapshot and the log. Fails with
    /// [`StoreError::Corrupt`] when acknowledged data is damaged, and with [`StoreError::Io`]
    /// when another store has the directory open. It reads and fsyncs files on the calling
    /// thread (milliseconds for a bounded log), so call it at startup rather than per request.
    pub fn open_with(dir: impl AsRef<Path>, options: EmbeddedOptions) -> Result<EmbeddedStore> {
        let dir = dir.as_ref().to_path_buf();
        let recovered = recovery::recover(&dir, options.history_limit)?;
        let state = Arc::new(RwLock::new(recovered.state));
        let committer = Committer {
            state: state.clone(),
            wal: recovered.wal,
            dir: dir.clone(),
            checkpoint_every: options.checkpoint_every.max(1),
        };
        let (jobs, queue) = std::sync::mpsc::channel();
        let committer = std::thread::Builder::new()
            .name("embedded-store-committer".into())
            .spawn(move || committer.run(queue))
            .map_err(|source| StoreError::Io {
                path: dir.clone(),
                source,
            })?;
        Ok(EmbeddedStore {
            state,
            jobs: Some(jobs),
            committer: Some(committer),
            dir,
            report: recovered.report,
            _lock: recovered.lock,
        })
    }

    /// What recovery found when this store was opened.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.report
    }

    async fn submit(&self, request: Request) -> Result<TxnOutcome> {
        let (reply, outcome) = oneshot::channel();
        let jobs = self.jobs.as_ref().expect("the job queue lives until drop");
        jobs.send(Job { request, reply })
            .map_err(|_| self.committer_gone())?;
        outcome.await.map_err(|_| self.committer_gone())?
    }

    fn committer_gone(&self) -> StoreError {
        let source = std::io::Error::other("the committer thread stopped; reopen the store");
        StoreError::Io {
            path: self.dir.clone(),
            source,
        }
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Closing the queue stops the committer; joining it closes the log before the lock is
        // released, so the directory can be reopened as soon as drop returns.
        drop(self.jobs.take());
        if let Some(committer) = self.committer.take() {
            let _ = committer.join();
        }
    }
}

#[async_trait]
impl KvRead for EmbeddedStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(read_state(&self.state).get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> Result<Listing> {
        Ok(read_state(&self.state).list(prefix))
    }

    async fn range(&self, range: &KeyRange) -> Result<Page> {
        Ok(read_state(&self.state).range(range))
    }
}

#[async_trait]
impl KvWrite for EmbeddedStore {
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision> {
        let request = Request::Create {
            key: key.to_string(),
            value,
        };
        Ok(self.submit(request).await?.revision)
    }

    async fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision> {
        let request = Request::Update {
            key: key.to_string(),
            value,
            expected,
        };
        Ok(self.submit(request).await?.revision)
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Revision> {
        let request = Request::Delete {
            key: key.to_string(),
            expected,
        };
        Ok(self.submit(request).await?.revision)
    }

    async fn txn(&self, txn: Txn) -> Result<TxnOutcome> {
        txn.check_shape()?;
        self.submit(Request::Txn(txn)).await
    }
}

#[async_trait]
impl KvWatch for EmbeddedStore {
    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream> {
        watch::start(&self.state, prefix, from_revision)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.submit(Request::Compact(revision)).await.map(drop)
    }
}

#[cfg(test)]
mod tests;
