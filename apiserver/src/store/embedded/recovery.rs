//! Opening a data directory: take the directory lock, load the snapshot, replay the log on top
//! of it in order, and report what was found.

use std::fs::{File, TryLockError};
use std::path::Path;

use super::plan::build_batch;
use super::snapshot;
use super::state::State;
use super::wal::{Record, Wal};
use crate::store::{Result, Revision, StoreError};

/// The lock file's name; it is locked for as long as a store has the directory open.
const LOCK_FILE: &str = "LOCK";

/// What opening the store found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The revision of the loaded snapshot (0 without one).
    pub snapshot_revision: Revision,
    /// How many log records were read after the snapshot.
    pub records_replayed: usize,
    /// Bytes of a partial, never-acknowledged last record that were cut off the log.
    pub torn_tail_bytes: u64,
}

/// A store's state as recovered from disk, with the open log and the held directory lock.
pub(super) struct Recovered {
    pub(super) state: State,
    pub(super) wal: Wal,
    pub(super) report: RecoveryReport,
    pub(super) lock: File,
}

/// Recovers the store in `dir`, creating the directory when it is missing.
pub(super) fn recover(dir: &Path, history_limit: usize) -> Result<Recovered> {
    let io = |source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let lock = lock_dir(dir)?;
    let mut state =
        snapshot::read(dir, history_limit)?.unwrap_or_else(|| State::new(history_limit));
    let snapshot_revision = state.revision();
    let (wal, replay) = Wal::open(dir)?;
    let records_replayed = replay.records.len();
    for (offset, record) in replay.records {
        apply_record(&mut state, record).map_err(|reason| StoreError::Corrupt {
            path: wal.path().to_path_buf(),
            reason: format!("record at byte offset {offset}: {reason}"),
        })?;
    }
    // The log may have just been created; its directory entry must survive a crash too.
    snapshot::sync_dir(dir)?;
    if replay.torn_bytes > 0 {
        tracing::warn!(
            dir = %dir.display(),
            bytes = replay.torn_bytes,
            "embedded store: cut off a partial, unacknowledged record at the end of the log"
        );
    }
    let report = RecoveryReport {
        snapshot_revision,
        records_replayed,
        torn_tail_bytes: replay.torn_bytes,
    };
    Ok(Recovered {
        state,
        wal,
        report,
        lock,
    })
}

/// Replays one record. Commits the snapshot already holds are skipped: a crash between writing
/// a snapshot and emptying the log leaves them behind.
fn apply_record(state: &mut State, record: Record) -> Result<(), String> {
    match record {
        Record::Commit { revision, .. } if revision <= state.revision() => Ok(()),
        Record::Commit { revision, ops } if revision == state.revision() + 1 => {
            let batch = build_batch(|key| state.get(key), revision, ops);
            state.apply(batch);
            Ok(())
        }
        Record::Commit { revision, .. } => Err(format!(
            "revision {revision} follows {}; records are missing",
            state.revision()
        )),
        Record::Compact { revision } => {
            state.compact(revision);
            Ok(())
        }
    }
}

/// Locks the directory against a second store (in this or another process) writing the same
/// log. The OS releases the lock when the holder exits, even by `kill -9`.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = File::create(&path).map_err(|source| StoreError::Io {
        path: path.clone(),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Io {
            path,
            source: std::io::Error::other("another embedded store has this directory open"),
        }),
        Err(TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_a_locked_directory_fails() {
        let dir = tempfile::tempdir().unwrap();
        let _held = recover(dir.path(), 10).unwrap();
        assert!(matches!(
            recover(dir.path(), 10),
            Err(StoreError::Io { .. })
        ));
    }
}
