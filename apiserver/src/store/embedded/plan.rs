//! Deciding what a write does: checks a request against the keyspace and turns it into the batch
//! of events to commit, an error, or "nothing to write". Pure decisions, no I/O.

use std::collections::HashMap;

use super::state::{Batch, State};
use crate::store::{
    Compare, EventKind, KeyValue, Result, Revision, StoreError, Txn, TxnOp, TxnOutcome, WatchEvent,
};

/// A write a caller asked for.
#[derive(Debug)]
pub(super) enum Request {
    Create {
        key: String,
        value: Vec<u8>,
    },
    Update {
        key: String,
        value: Vec<u8>,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
    Txn(Txn),
    Compact(Revision),
}

/// What a request turned into.
#[derive(Debug)]
pub(super) enum Planned {
    /// Rejected: nothing is written.
    Failed(StoreError),
    /// Answered without writing (failed compares, or ops that change nothing).
    Unchanged(TxnOutcome),
    /// A batch to log and apply at the next revision.
    Commit(Batch),
    /// History to discard below this revision.
    Compact(Revision),
}

/// The keyspace as seen by the requests of one group commit: the applied state plus the batches
/// planned earlier in the group, which are not applied until the group is on disk.
pub(super) struct Overlay<'a> {
    base: &'a State,
    pending: HashMap<String, Option<KeyValue>>,
    revision: Revision,
}

impl<'a> Overlay<'a> {
    pub(super) fn new(base: &'a State) -> Self {
        Self {
            base,
            pending: HashMap::new(),
            revision: base.revision(),
        }
    }

    fn lookup(&self, key: &str) -> Option<&KeyValue> {
        match self.pending.get(key) {
            Some(staged) => staged.as_ref(),
            None => self.base.get(key),
        }
    }

    /// Decides `request` and, when it commits, makes its effects visible to later requests.
    pub(super) fn plan(&mut self, request: Request) -> Planned {
        let planned = self.decide(request);
        if let Planned::Commit(batch) = &planned {
            for event in &batch.events {
                let staged = (event.kind == EventKind::Put).then(|| event.kv.clone());
                self.pending.insert(event.kv.key.clone(), staged);
            }
            self.revision = batch.revision;
        }
        planned
    }

    fn decide(&self, request: Request) -> Planned {
        let op = match request {
            Request::Create { key, value } => match self.lookup(&key) {
                Some(_) => Err(StoreError::AlreadyExists { key }),
                None => Ok(TxnOp::Put(key, value)),
            },
            Request::Update {
                key,
                value,
                expected,
            } => self
                .precondition(key, Some(expected))
                .map(|key| TxnOp::Put(key, value)),
            Request::Delete { key, expected } => {
                self.precondition(key, expected).map(TxnOp::Delete)
            }
            Request::Txn(txn) if !txn.compares.iter().all(|c| self.holds(c)) => {
                return Planned::Unchanged(TxnOutcome {
                    succeeded: false,
                    revision: self.revision,
                });
            }
            Request::Txn(txn) => return self.commit(txn.ops),
            Request::Compact(revision) => return Planned::Compact(revision),
        };
        match op {
            Ok(op) => self.commit(vec![op]),
            Err(error) => Planned::Failed(error),
        }
    }

    /// Checks a single-key compare-and-swap: the key must exist, at `expected` when given.
    fn precondition(&self, key: String, expected: Option<Revision>) -> Result<String> {
        match (self.lookup(&key).map(|kv| kv.mod_revision), expected) {
            (None, _) => Err(StoreError::NotFound { key }),
            (Some(actual), Some(expected)) if actual != expected => Err(StoreError::Conflict {
                key,
                expected,
                actual,
            }),
            _ => Ok(key),
        }
    }

    fn holds(&self, compare: &Compare) -> bool {
        match compare {
            Compare::Absent(key) => self.lookup(key).is_none(),
            Compare::Present(key) => self.lookup(key).is_some(),
            Compare::ModRevision(key, revision) => self
                .lookup(key)
                .is_some_and(|kv| kv.mod_revision == *revision),
        }
    }

    fn commit(&self, ops: Vec<TxnOp>) -> Planned {
        let batch = build_batch(|key| self.lookup(key), self.revision + 1, ops);
        if batch.events.is_empty() {
            return Planned::Unchanged(TxnOutcome {
                succeeded: true,
                revision: self.revision,
            });
        }
        Planned::Commit(batch)
    }
}

/// The events `ops` produce at `revision`, given a way to look keys up before it. Deleting an
/// absent key produces no event, as in etcd.
pub(super) fn build_batch<'a>(
    lookup: impl Fn(&str) -> Option<&'a KeyValue>,
    revision: Revision,
    ops: Vec<TxnOp>,
) -> Batch {
    let events = ops
        .into_iter()
        .filter_map(|op| match op {
            TxnOp::Put(key, value) => {
                let prev = lookup(&key).cloned();
                let create_revision = prev.as_ref().map_or(revision, |kv| kv.create_revision);
                let kv = KeyValue {
                    key,
                    value,
                    create_revision,
                    mod_revision: revision,
                };
                Some(WatchEvent {
                    kind: EventKind::Put,
                    kv,
                    prev,
                })
            }
            TxnOp::Delete(key) => lookup(&key).cloned().map(|prev| WatchEvent {
                kind: EventKind::Delete,
                kv: KeyValue {
                    key,
                    value: Vec::new(),
                    create_revision: 0,
                    mod_revision: revision,
                },
                prev: Some(prev),
            }),
        })
        .collect();
    Batch { revision, events }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(planned: Planned) -> Batch {
        match planned {
            Planned::Commit(batch) => batch,
            other => panic!("expected a commit, got {other:?}"),
        }
    }

    fn create(key: &str) -> Request {
        Request::Create {
            key: key.into(),
            value: b"v".to_vec(),
        }
    }

    #[test]
    fn later_requests_in_a_group_see_earlier_ones() {
        let state = State::new(10);
        let mut overlay = Overlay::new(&state);
        assert_eq!(committed(overlay.plan(create("/a"))).revision, 1);
        assert!(matches!(
            overlay.plan(create("/a")),
            Planned::Failed(StoreError::AlreadyExists { .. })
        ));
        let update = Request::Update {
            key: "/a".into(),
            value: b"w".to_vec(),
            expected: 1,
        };
        let batch = committed(overlay.plan(update));
        assert_eq!((batch.revision, batch.events[0].kv.create_revision), (2, 1));
    }

    #[test]
    fn a_stale_delete_conflicts_with_the_actual_revision() {
        let state = State::new(10);
        let mut overlay = Overlay::new(&state);
        overlay.plan(create("/a"));
        let planned = overlay.plan(Request::Delete {
            key: "/a".into(),
            expected: Some(7),
        });
        assert!(matches!(
            planned,
            Planned::Failed(StoreError::Conflict {
                expected: 7,
                actual: 1,
                ..
            })
        ));
    }

    #[test]
    fn a_txn_that_only_deletes_absent_keys_writes_nothing() {
        let state = State::new(10);
        let mut overlay = Overlay::new(&state);
        let txn = Txn::when([]).then([TxnOp::Delete("/none".into())]);
        let planned = overlay.plan(Request::Txn(txn));
        assert!(matches!(
            planned,
            Planned::Unchanged(TxnOutcome {
                succeeded: true,
                revision: 0
            })
        ));
    }

    #[test]
    fn a_delete_event_keeps_the_previous_value() {
        let prev = KeyValue {
            key: "/a".into(),
            value: b"v".to_vec(),
            create_revision: 1,
            mod_revision: 2,
        };
        let batch = build_batch(|_| Some(&prev), 3, vec![TxnOp::Delete("/a".into())]);
        let event = &batch.events[0];
        assert_eq!(
            (
                event.kv.value.len(),
                event.kv.create_revision,
                event.kv.mod_revision
            ),
            (0, 0, 3)
        );
        assert_eq!(event.prev.as_ref(), Some(&prev));
    }
}
