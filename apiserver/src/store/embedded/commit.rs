//! The committer: one thread that owns the log and is the only writer of the state. It takes
//! every write queued since its last fsync, plans them in order, logs them with one write and
//! one fsync (group commit), then applies them and answers the callers.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use tokio::sync::oneshot;

use super::plan::{Overlay, Planned, Request};
use super::snapshot;
use super::state::{Shared, State, read_state, write_state};
use super::wal::{self, Wal};
use crate::store::{Result, StoreError, TxnOutcome};

/// Most writes committed by one fsync; bounds the latency a large group adds to its first writer.
const MAX_GROUP: usize = 512;

/// A queued write and where to send its outcome.
pub(super) struct Job {
    pub(super) request: Request,
    pub(super) reply: oneshot::Sender<Result<TxnOutcome>>,
}

/// The committer's resources.
pub(super) struct Committer {
    pub(super) state: Arc<Shared>,
    pub(super) wal: Wal,
    pub(super) dir: PathBuf,
    pub(super) checkpoint_every: usize,
}

impl Committer {
    /// Commits queued jobs until every sender is gone (the store was dropped).
    pub(super) fn run(mut self, jobs: Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut group = vec![first];
            group.extend(jobs.try_iter().take(MAX_GROUP - 1));
            self.commit(group);
            if self.wal.records() >= self.checkpoint_every {
                self.checkpoint();
            }
        }
    }

    fn commit(&mut self, group: Vec<Job>) {
        let (replies, planned): (Vec<_>, Vec<_>) = {
            let state = read_state(&self.state);
            let mut overlay = Overlay::new(&state);
            group
                .into_iter()
                .map(|job| (job.reply, overlay.plan(job.request)))
                .unzip()
        };
        let records: Vec<Vec<u8>> = planned.iter().filter_map(record).collect();
        if !records.is_empty()
            && let Err(error) = self.wal.append(&records)
        {
            tracing::error!(%error, "embedded store: logging a group of writes failed");
            for reply in replies {
                // io::Error does not clone; every caller gets its own copy.
                let source = std::io::Error::new(error.kind(), error.to_string());
                let _ = reply.send(Err(StoreError::Io {
                    path: self.wal.path().into(),
                    source,
                }));
            }
            return;
        }
        let outcomes = apply(&mut write_state(&self.state), planned);
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // The caller may have given up waiting; the write is committed either way.
            let _ = reply.send(outcome);
        }
    }

    /// Writes a snapshot and empties the log. A failure is only logged: the log still holds
    /// everything, and the next group retries.
    fn checkpoint(&mut self) {
        let bytes = snapshot::encode(&read_state(&self.state));
        let written = snapshot::write(&self.dir, &bytes).and_then(|()| self.wal.reset());
        if let Err(error) = written {
            tracing::warn!(%error, "embedded store: checkpoint failed; the log keeps growing");
        }
    }
}

/// The log record of a planned write, when it changes anything.
fn record(planned: &Planned) -> Option<Vec<u8>> {
    match planned {
        Planned::Commit(batch) => Some(wal::encode_commit(batch)),
        Planned::Compact(revision) => Some(wal::encode_compact(*revision)),
        Planned::Failed(_) | Planned::Unchanged(_) => None,
    }
}

/// Applies logged plans to the state in order and returns each caller's answer.
fn apply(state: &mut State, planned: Vec<Planned>) -> Vec<Result<TxnOutcome>> {
    planned
        .into_iter()
        .map(|planned| match planned {
            Planned::Failed(error) => Err(error),
            Planned::Unchanged(outcome) => Ok(outcome),
            Planned::Commit(batch) => {
                let revision = batch.revision;
                state.apply(batch);
                Ok(TxnOutcome {
                    succeeded: true,
                    revision,
                })
            }
            Planned::Compact(revision) => {
                state.compact(revision);
                Ok(TxnOutcome {
                    succeeded: true,
                    revision: state.revision(),
                })
            }
        })
        .collect()
}
