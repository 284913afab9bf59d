//! The in-memory keyspace: current key-values, the revision counter, and the bounded history of
//! committed batches that watches replay from.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::broadcast;

use crate::store::{
    EventKind, KeyRange, KeyValue, Listing, Page, Result, Revision, StoreError, WatchEvent,
};

/// How many committed batches a watcher may fall behind before it re-reads from history.
const LIVE_BUFFER: usize = 1024;

/// The events of one committed revision.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Batch {
    pub(super) revision: Revision,
    pub(super) events: Vec<WatchEvent>,
}

/// The state shared by the store, its committer and its watches. Only the committer writes it,
/// so the committer's own long reads (planning, snapshots) never block other readers.
pub(super) type Shared = RwLock<State>;

/// A poisoned lock means a panic mid-apply: the state cannot be trusted any more.
const POISONED: &str = "embedded store state lock poisoned by a panic mid-apply";

/// Locks the state for reading.
pub(super) fn read_state(state: &Shared) -> RwLockReadGuard<'_, State> {
    state.read().expect(POISONED)
}

/// Locks the state for applying a batch.
pub(super) fn write_state(state: &Shared) -> RwLockWriteGuard<'_, State> {
    state.write().expect(POISONED)
}

/// The keyspace and its history.
pub(super) struct State {
    kv: BTreeMap<String, KeyValue>,
    revision: Revision,
    /// The oldest revision a watch may start from.
    compacted: Revision,
    history: VecDeque<Arc<Batch>>,
    history_events: usize,
    history_limit: usize,
    live: broadcast::Sender<Arc<Batch>>,
}

impl State {
    /// An empty store: the first write gets revision 1.
    pub(super) fn new(history_limit: usize) -> Self {
        Self::restore(0, 1, Vec::new(), Vec::new(), history_limit)
    }

    /// A state loaded from a snapshot, trimmed to `history_limit` events.
    pub(super) fn restore(
        revision: Revision,
        compacted: Revision,
        kvs: Vec<KeyValue>,
        history: Vec<Batch>,
        history_limit: usize,
    ) -> Self {
        let mut state = Self {
            kv: kvs.into_iter().map(|kv| (kv.key.clone(), kv)).collect(),
            revision,
            compacted,
            history_events: history.iter().map(|batch| batch.events.len()).sum(),
            history: history.into_iter().map(Arc::new).collect(),
            history_limit,
            live: broadcast::channel(LIVE_BUFFER).0,
        };
        state.trim_history();
        state
    }

    /// The revision of the latest committed write.
    pub(super) fn revision(&self) -> Revision {
        self.revision
    }

    /// The oldest revision a watch may start from.
    pub(super) fn compacted(&self) -> Revision {
        self.compacted
    }

    pub(super) fn get(&self, key: &str) -> Option<&KeyValue> {
        self.kv.get(key)
    }

    pub(super) fn key_values(&self) -> impl ExactSizeIterator<Item = &KeyValue> {
        self.kv.values()
    }

    pub(super) fn history(&self) -> impl ExactSizeIterator<Item = &Batch> {
        self.history.iter().map(Arc::as_ref)
    }

    pub(super) fn list(&self, prefix: &str) -> Listing {
        let items = self
            .kv
            .range(prefix.to_string()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(_, kv)| kv.clone())
            .collect();
        Listing {
            items,
            revision: self.revision,
        }
    }

    /// The keys of `range` (see [`KvRead::range`](crate::store::KvRead::range)).
    pub(super) fn range(&self, range: &KeyRange) -> Page {
        if range.start >= range.end {
            return Page {
                items: Vec::new(),
                total: 0,
                revision: self.revision,
            };
        }
        let keys = self.kv.range(range.start.clone()..range.end.clone());
        let limit = if range.limit == 0 {
            usize::MAX
        } else {
            range.limit
        };
        let items = if range.reverse {
            keys.clone()
                .rev()
                .take(limit)
                .map(|(_, kv)| kv.clone())
                .collect()
        } else {
            keys.clone().take(limit).map(|(_, kv)| kv.clone()).collect()
        };
        Page {
            items,
            total: keys.count() as u64,
            revision: self.revision,
        }
    }

    /// Applies a committed batch, records it in history and hands it to live watchers.
    pub(super) fn apply(&mut self, batch: Batch) {
        assert_eq!(
            batch.revision,
            self.revision + 1,
            "batches must be applied in revision order"
        );
        for event in &batch.events {
            match event.kind {
                EventKind::Put => self.kv.insert(event.kv.key.clone(), event.kv.clone()),
                EventKind::Delete => self.kv.remove(&event.kv.key),
            };
        }
        self.revision = batch.revision;
        self.history_events += batch.events.len();
        let batch = Arc::new(batch);
        self.history.push_back(batch.clone());
        self.trim_history();
        // Sending fails only when nobody is watching, which is fine: history keeps the batch.
        let _ = self.live.send(batch);
    }

    /// Drops history older than `revision` (at most up to the current revision).
    pub(super) fn compact(&mut self, revision: Revision) {
        let revision = revision.min(self.revision);
        while self
            .history
            .front()
            .is_some_and(|batch| batch.revision < revision)
        {
            self.pop_oldest();
        }
        self.compacted = self.compacted.max(revision);
    }

    fn trim_history(&mut self) {
        while self.history_events > self.history_limit {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some(batch) = self.history.pop_front() {
            self.history_events -= batch.events.len();
            self.compacted = self.compacted.max(batch.revision + 1);
        }
    }

    /// The retained events under `prefix` with revision `>= from`, or `Compacted` when some of
    /// them are no longer retained.
    pub(super) fn events_since(&self, prefix: &str, from: Revision) -> Result<Vec<WatchEvent>> {
        if from < self.compacted {
            return Err(StoreError::Compacted {
                requested: from,
                compacted: self.compacted,
            });
        }
        let start = self.history.partition_point(|batch| batch.revision < from);
        let events = self
            .history
            .range(start..)
            .flat_map(|batch| matching(&batch.events, prefix));
        Ok(events.cloned().collect())
    }

    /// A receiver of every batch applied from now on.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.live.subscribe()
    }
}

/// The events of a batch whose key is under `prefix`.
pub(super) fn matching<'a>(
    events: &'a [WatchEvent],
    prefix: &'a str,
) -> impl Iterator<Item = &'a WatchEvent> {
    events
        .iter()
        .filter(move |event| event.kv.key.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, revision: Revision) -> Batch {
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

    #[test]
    fn history_beyond_the_limit_moves_the_compaction_point() {
        let mut state = State::new(2);
        for revision in 1..=5 {
            state.apply(put("/a", revision));
        }
        assert_eq!(state.compacted(), 4);
        let error = state.events_since("/", 3).unwrap_err();
        assert!(matches!(
            error,
            StoreError::Compacted {
                requested: 3,
                compacted: 4
            }
        ));
        assert_eq!(state.events_since("/", 4).unwrap().len(), 2);
    }

    #[test]
    fn explicit_compaction_keeps_the_named_revision() {
        let mut state = State::new(100);
        for revision in 1..=5 {
            state.apply(put("/a", revision));
        }
        state.compact(3);
        let revisions: Vec<_> = state
            .events_since("/", 3)
            .unwrap()
            .iter()
            .map(|e| e.revision())
            .collect();
        assert_eq!(revisions, [3, 4, 5]);
        state.compact(1);
        assert_eq!(state.compacted(), 3, "compaction never moves back");
    }

    #[test]
    fn list_stops_at_the_end_of_the_prefix() {
        let mut state = State::new(10);
        state.apply(put("/a/1", 1));
        state.apply(put("/ab", 2));
        let listing = state.list("/a/");
        assert_eq!(listing.items.len(), 1);
        assert_eq!(listing.revision, 2);
    }
}
