//! The checkpoint file: the whole keyspace plus the retained watch history at one revision, so
//! the log can be emptied and a restarted store can still resume watches.
//!
//! Written to a temporary name, fsynced, renamed over the old one and the directory fsynced:
//! a crash leaves either the old snapshot or the new one, never a mix.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::codec::{Decoder, Encoder, Malformed, frame, parse_frame};
use super::state::{Batch, State};
use crate::store::{EventKind, Result, StoreError, WatchEvent};

/// The snapshot's file name inside the data directory.
pub(super) const SNAPSHOT_FILE: &str = "snapshot";
const TEMP_FILE: &str = "snapshot.tmp";
/// Identifies the file and its format version.
const MAGIC: &[u8; 8] = b"MCSNAP01";

/// The snapshot bytes of `state`: magic, then one frame.
pub(super) fn encode(state: &State) -> Vec<u8> {
    let mut out = Encoder::default();
    out.revision(state.revision());
    out.revision(state.compacted());
    out.count(state.key_values().len());
    state.key_values().for_each(|kv| out.key_value(kv));
    out.count(state.history().len());
    for batch in state.history() {
        out.revision(batch.revision);
        out.count(batch.events.len());
        batch
            .events
            .iter()
            .for_each(|event| encode_event(&mut out, event));
    }
    let mut bytes = MAGIC.to_vec();
    bytes.extend(frame(&out.into_inner()));
    bytes
}

fn encode_event(out: &mut Encoder, event: &WatchEvent) {
    out.u8(matches!(event.kind, EventKind::Delete).into());
    out.key_value(&event.kv);
    out.u8(event.prev.is_some().into());
    if let Some(prev) = &event.prev {
        out.key_value(prev);
    }
}

/// Replaces the snapshot in `dir` with `bytes`, durably.
pub(super) fn write(dir: &Path, bytes: &[u8]) -> Result<()> {
    let temp = dir.join(TEMP_FILE);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    let mut file = File::create(&temp).map_err(io(&temp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io(&temp))?;
    let target = dir.join(SNAPSHOT_FILE);
    std::fs::rename(&temp, &target).map_err(io(&target))?;
    sync_dir(dir)
}

/// Makes renames and file creations in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })
}

/// Loads the snapshot in `dir` into a state keeping `history_limit` events, or `None` when the
/// store has never checkpointed.
pub(super) fn read(dir: &Path, history_limit: usize) -> Result<Option<State>> {
    let path = dir.join(SNAPSHOT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StoreError::Io { path, source }),
    };
    decode(&bytes, history_limit)
        .map(Some)
        .map_err(|reason| StoreError::Corrupt { path, reason })
}

fn decode(bytes: &[u8], history_limit: usize) -> Result<State, Malformed> {
    let body = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a minicloud snapshot (bad magic)")?;
    let (payload, end) = parse_frame(body, 0).ok_or("checksum mismatch or truncated")?;
    if end != body.len() {
        return Err("unexpected bytes after the snapshot".into());
    }
    let mut input = Decoder::new(payload);
    let revision = input.revision()?;
    let compacted = input.revision()?;
    let kvs = (0..input.count()?)
        .map(|_| input.key_value())
        .collect::<Result<_, _>>()?;
    let history = (0..input.count()?)
        .map(|_| decode_batch(&mut input))
        .collect::<Result<_, _>>()?;
    input.finish()?;
    Ok(State::restore(
        revision,
        compacted,
        kvs,
        history,
        history_limit,
    ))
}

fn decode_batch(input: &mut Decoder<'_>) -> Result<Batch, Malformed> {
    let revision = input.revision()?;
    let events = (0..input.count()?)
        .map(|_| decode_event(input))
        .collect::<Result<_, _>>()?;
    Ok(Batch { revision, events })
}

fn decode_event(input: &mut Decoder<'_>) -> Result<WatchEvent, Malformed> {
    let kind = if input.u8()? == 1 {
        EventKind::Delete
    } else {
        EventKind::Put
    };
    let kv = input.key_value()?;
    let prev = if input.u8()? == 1 {
        Some(input.key_value()?)
    } else {
        None
    };
    Ok(WatchEvent { kind, kv, prev })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::KeyValue;

    fn sample_state() -> State {
        let mut state = State::new(10);
        for revision in 1..=3 {
            let kv = KeyValue {
                key: "/a".into(),
                value: vec![revision as u8],
                create_revision: 1,
                mod_revision: revision,
            };
            let prev = (revision > 1).then(|| KeyValue {
                mod_revision: revision - 1,
                ..kv.clone()
            });
            state.apply(Batch {
                revision,
                events: vec![WatchEvent {
                    kind: EventKind::Put,
                    kv,
                    prev,
                }],
            });
        }
        state.compact(2);
        state
    }

    #[test]
    fn a_snapshot_restores_keys_history_and_compaction_point() {
        let dir = tempfile::tempdir().unwrap();
        let state = sample_state();
        write(dir.path(), &encode(&state)).unwrap();
        let restored = read(dir.path(), 10).unwrap().expect("a snapshot");
        assert_eq!((restored.revision(), restored.compacted()), (3, 2));
        assert_eq!(restored.get("/a"), state.get("/a"));
        assert_eq!(
            restored.events_since("/", 2).unwrap(),
            state.events_since("/", 2).unwrap()
        );
    }

    #[test]
    fn a_damaged_snapshot_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = encode(&sample_state());
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(dir.path().join(SNAPSHOT_FILE), bytes).unwrap();
        assert!(matches!(
            read(dir.path(), 10),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_missing_snapshot_means_a_fresh_store() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path(), 10).unwrap().is_none());
    }
}
