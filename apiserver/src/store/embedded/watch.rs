//! Watch streams: replay retained history, then follow committed batches live.
//!
//! Live batches arrive over a bounded broadcast channel, so a slow watcher never holds up the
//! committer or other watchers; one that falls too far behind re-reads what it missed from
//! history, and fails with `Compacted` only if that history is gone too.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use futures::StreamExt;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::state::{Batch, Shared, matching, read_state};
use crate::store::{Result, Revision, StoreError, WatchEvent, WatchStream};

/// Starts a watch of `prefix` from revision `from` (0: from the next write).
pub(super) fn start(state: &Arc<Shared>, prefix: &str, from: Revision) -> Result<WatchStream> {
    // Reading history and subscribing under one read lock means no batch can commit in between:
    // nothing is missed or seen twice at the replay/live boundary.
    let guard = read_state(state);
    let from = if from == 0 {
        guard.revision() + 1
    } else {
        from
    };
    let backlog = guard.events_since(prefix, from)?;
    let watcher = Watcher {
        state: Arc::downgrade(state),
        prefix: prefix.to_string(),
        next: from.max(guard.revision() + 1),
        backlog: backlog.into(),
        live: guard.subscribe(),
        ended: false,
    };
    drop(guard);
    let stream = futures::stream::unfold(watcher, |mut watcher| async move {
        let item = watcher.next_item().await?;
        Some((item, watcher))
    });
    Ok(stream.boxed())
}

struct Watcher {
    /// Weak, so an open watch does not keep a dropped store's state alive.
    state: Weak<Shared>,
    prefix: String,
    /// The first revision not yet moved into `backlog`.
    next: Revision,
    backlog: VecDeque<WatchEvent>,
    live: Receiver<Arc<Batch>>,
    ended: bool,
}

impl Watcher {
    async fn next_item(&mut self) -> Option<Result<WatchEvent>> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                return Some(Ok(event));
            }
            if self.ended {
                return None;
            }
            let received = match self.live.recv().await {
                Ok(batch) => {
                    self.take(&batch);
                    Ok(())
                }
                Err(RecvError::Lagged(_)) => self.catch_up(),
                Err(RecvError::Closed) => Err(closed()),
            };
            if let Err(error) = received {
                self.ended = true;
                return Some(Err(error));
            }
        }
    }

    fn take(&mut self, batch: &Batch) {
        // After a catch-up the channel still holds batches that history already delivered.
        if batch.revision >= self.next {
            self.backlog
                .extend(matching(&batch.events, &self.prefix).cloned());
            self.next = batch.revision + 1;
        }
    }

    /// Refills the backlog from history after the live channel dropped batches for us.
    fn catch_up(&mut self) -> Result<()> {
        let state = self.state.upgrade().ok_or_else(closed)?;
        let guard = read_state(&state);
        self.backlog
            .extend(guard.events_since(&self.prefix, self.next)?);
        self.next = guard.revision() + 1;
        Ok(())
    }
}

fn closed() -> StoreError {
    StoreError::WatchEnded("the embedded store was closed".into())
}
