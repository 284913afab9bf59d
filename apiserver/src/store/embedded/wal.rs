//! The write-ahead log: one framed record per committed revision (its puts and deletes) or
//! compaction, appended and fsynced before the write is acknowledged, and read back on open.
//!
//! A crash can leave a partial record at the end; recovery truncates it, since it was never
//! acknowledged. A bad record followed by intact ones is damage to acknowledged data, and the
//! store refuses to open rather than drop it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::codec::{Decoder, Encoder, Malformed, frame, parse_frame};
use super::state::Batch;
use crate::store::{EventKind, Result, Revision, StoreError, TxnOp};

/// The log's file name inside the data directory.
pub(super) const LOG_FILE: &str = "wal.log";

const TAG_COMMIT: u8 = 1;
const TAG_COMPACT: u8 = 2;
const OP_PUT: u8 = 0;
const OP_DELETE: u8 = 1;

/// One logged change.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Record {
    /// The effective writes of one revision.
    Commit { revision: Revision, ops: Vec<TxnOp> },
    /// History below `revision` was discarded.
    Compact { revision: Revision },
}

/// The record payload of a committed batch.
pub(super) fn encode_commit(batch: &Batch) -> Vec<u8> {
    let mut out = Encoder::default();
    out.u8(TAG_COMMIT);
    out.revision(batch.revision);
    out.count(batch.events.len());
    for event in &batch.events {
        match event.kind {
            EventKind::Put => {
                out.u8(OP_PUT);
                out.bytes(event.kv.key.as_bytes());
                out.bytes(&event.kv.value);
            }
            EventKind::Delete => {
                out.u8(OP_DELETE);
                out.bytes(event.kv.key.as_bytes());
            }
        }
    }
    out.into_inner()
}

/// The record payload of a compaction.
pub(super) fn encode_compact(revision: Revision) -> Vec<u8> {
    let mut out = Encoder::default();
    out.u8(TAG_COMPACT);
    out.revision(revision);
    out.into_inner()
}

fn decode(payload: &[u8]) -> Result<Record, Malformed> {
    let mut input = Decoder::new(payload);
    let tag = input.u8()?;
    let revision = input.revision()?;
    let record = match tag {
        TAG_COMMIT => {
            let count = input.count()?;
            let ops = (0..count)
                .map(|_| decode_op(&mut input))
                .collect::<Result<_, _>>()?;
            Record::Commit { revision, ops }
        }
        TAG_COMPACT => Record::Compact { revision },
        other => return Err(format!("unknown record type {other}")),
    };
    input.finish()?;
    Ok(record)
}

fn decode_op(input: &mut Decoder<'_>) -> Result<TxnOp, Malformed> {
    match input.u8()? {
        OP_PUT => Ok(TxnOp::Put(input.string()?, input.bytes()?)),
        OP_DELETE => Ok(TxnOp::Delete(input.string()?)),
        other => Err(format!("unknown operation type {other}")),
    }
}

/// What the log held when it was opened.
pub(super) struct Replay {
    /// Intact records with their byte offsets, in log order.
    pub(super) records: Vec<(usize, Record)>,
    /// Bytes of a partial last record that were cut off.
    pub(super) torn_bytes: u64,
}

/// Splits a log into records, telling a torn tail (cut) from damage in the middle (an error).
fn scan(buf: &[u8], path: &Path) -> Result<(Vec<(usize, Record)>, usize)> {
    let corrupt = |offset: usize, reason: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("record at byte offset {offset}: {reason}"),
    };
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < buf.len() {
        let Some((payload, next)) = parse_frame(buf, offset) else {
            if (offset + 1..buf.len()).any(|later| parse_frame(buf, later).is_some()) {
                let reason = "damaged, yet intact records follow it; restore from a backup";
                return Err(corrupt(offset, reason.to_string()));
            }
            break;
        };
        records.push((
            offset,
            decode(payload).map_err(|reason| corrupt(offset, reason))?,
        ));
        offset = next;
    }
    Ok((records, offset))
}

/// The open log file, positioned at its end.
pub(super) struct Wal {
    file: File,
    path: PathBuf,
    /// Records appended since the last checkpoint.
    records: usize,
    /// Set once a write or fsync failed: what reached the disk is then unknown, so further
    /// appends could land after garbage. The store must be reopened to recover.
    failed: bool,
}

impl Wal {
    /// Opens (or creates) the log in `dir`, reads it, and cuts off a torn tail.
    pub(super) fn open(dir: &Path) -> Result<(Wal, Replay)> {
        let path = dir.join(LOG_FILE);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        let buf = std::fs::read(&path).map_err(io)?;
        let (records, valid_len) = scan(&buf, &path)?;
        let torn_bytes = (buf.len() - valid_len) as u64;
        if torn_bytes > 0 {
            file.set_len(valid_len as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let wal = Wal {
            file,
            path: path.clone(),
            records: records.len(),
            failed: false,
        };
        Ok((
            wal,
            Replay {
                records,
                torn_bytes,
            },
        ))
    }

    /// Appends the framed payloads with one write and one fsync.
    pub(super) fn append(&mut self, payloads: &[Vec<u8>]) -> std::io::Result<()> {
        if self.failed {
            let reason = "an earlier write to the log failed; reopen the store to recover";
            return Err(std::io::Error::other(reason));
        }
        let bytes: Vec<u8> = payloads.iter().flat_map(|payload| frame(payload)).collect();
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data());
        self.failed = written.is_err();
        written?;
        self.records += payloads.len();
        Ok(())
    }

    /// The log file's path, for error messages.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Records appended since the log was last reset.
    pub(super) fn records(&self) -> usize {
        self.records
    }

    /// Empties the log once a snapshot holds everything in it.
    pub(super) fn reset(&mut self) -> Result<()> {
        let emptied = self.file.set_len(0).and_then(|()| self.file.sync_all());
        emptied.map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.records = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{KeyValue, WatchEvent};

    fn batch(revision: Revision, key: &str) -> Batch {
        let kv = KeyValue {
            key: key.into(),
            value: b"v".to_vec(),
            create_revision: revision,
            mod_revision: revision,
        };
        Batch {
            revision,
            events: vec![WatchEvent {
                kind: EventKind::Put,
                kv,
                prev: None,
            }],
        }
    }

    fn log_with_three_records(dir: &Path) -> Vec<u8> {
        let (mut wal, _) = Wal::open(dir).unwrap();
        let payloads: Vec<_> = (1..=3).map(|r| encode_commit(&batch(r, "/k"))).collect();
        wal.append(&payloads).unwrap();
        std::fs::read(dir.join(LOG_FILE)).unwrap()
    }

    #[test]
    fn records_round_trip_through_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path()).unwrap();
        wal.append(&[encode_commit(&batch(1, "/a")), encode_compact(1)])
            .unwrap();
        let (_, replay) = Wal::open(dir.path()).unwrap();
        let records: Vec<_> = replay
            .records
            .into_iter()
            .map(|(_, record)| record)
            .collect();
        let put = TxnOp::Put("/a".into(), b"v".to_vec());
        assert_eq!(
            records,
            [
                Record::Commit {
                    revision: 1,
                    ops: vec![put]
                },
                Record::Compact { revision: 1 }
            ]
        );
    }

    #[test]
    fn a_torn_last_record_is_truncated_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = log_with_three_records(dir.path());
        let path = dir.path().join(LOG_FILE);
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let (_, replay) = Wal::open(dir.path()).unwrap();
        assert_eq!(replay.records.len(), 2);
        let record_len = bytes.len() / 3;
        assert_eq!(replay.torn_bytes, (record_len - 3) as u64);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            2 * record_len as u64
        );
    }

    #[test]
    fn a_corrupt_record_followed_by_intact_ones_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = log_with_three_records(dir.path());
        let record_len = bytes.len() / 3;
        bytes[record_len + 12] ^= 0x40;
        std::fs::write(dir.path().join(LOG_FILE), &bytes).unwrap();
        match Wal::open(dir.path()) {
            Err(StoreError::Corrupt { path, reason }) => {
                assert_eq!(path, dir.path().join(LOG_FILE));
                assert!(reason.contains(&format!("offset {record_len}")), "{reason}");
            }
            Err(other) => panic!("expected Corrupt, got {other}"),
            Ok(_) => panic!("a damaged middle record must not open"),
        }
    }

    #[test]
    fn a_corrupt_last_record_is_treated_as_torn() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = log_with_three_records(dir.path());
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(dir.path().join(LOG_FILE), &bytes).unwrap();
        let (_, replay) = Wal::open(dir.path()).unwrap();
        assert_eq!(replay.records.len(), 2);
    }
}
