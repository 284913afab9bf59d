//! One prefix's feed: a task following the store watch, a ring of recent decoded events, and the
//! broadcast channel every cached subscription reads from.

use futures::StreamExt;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

use super::options::{Decoder, WatchCacheOptions};
use super::subscription::{self, CachedEventStream, Delivery};
use crate::store::{Revision, Store, StoreError, WatchStream};

/// The longest pause between attempts to re-open a store watch that ended.
const MAX_REWATCH_BACKOFF: Duration = Duration::from_secs(5);

/// The ring and the revision below which it is incomplete.
struct Ring<T> {
    events: VecDeque<(Revision, T)>,
    /// Every event with a revision above `floor` is in `events` (or not yet received).
    floor: Revision,
}

/// State shared by the feed's task and its subscribers.
struct Shared<T> {
    ring: Mutex<Ring<T>>,
    sender: broadcast::Sender<Delivery<T>>,
    broken: AtomicBool,
    history: usize,
    client_buffer: usize,
}

/// A running feed; dropping it stops the task.
pub(super) struct Feed<T> {
    shared: Arc<Shared<T>>,
    task: AbortHandle,
}

impl<T> Drop for Feed<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T: Clone + Send + Sync + 'static> Feed<T> {
    /// Starts following `prefix` from just after `floor`.
    pub(super) async fn start(
        store: Arc<dyn Store>,
        prefix: &str,
        floor: Revision,
        decode: Decoder<T>,
        options: WatchCacheOptions,
    ) -> Result<Arc<Self>, StoreError> {
        let stream = store.watch(prefix, floor + 1).await?;
        let (sender, _) = broadcast::channel(options.client_buffer.max(1));
        let shared = Arc::new(Shared {
            ring: Mutex::new(Ring {
                events: VecDeque::new(),
                floor,
            }),
            sender,
            broken: AtomicBool::new(false),
            history: options.history,
            client_buffer: options.client_buffer.max(1),
        });
        let follower = Follower {
            shared: shared.clone(),
            store,
            prefix: prefix.to_owned(),
            decode,
        };
        let task = tokio::spawn(follower.run(stream, floor)).abort_handle();
        Ok(Arc::new(Self { shared, task }))
    }

    /// Whether the feed lost history and must be replaced.
    pub(super) fn is_broken(&self) -> bool {
        self.shared.broken.load(Ordering::Acquire)
    }

    /// A subscription to events after `after`, or `None` when the ring no longer reaches back
    /// that far (the caller then watches the store directly).
    pub(super) fn subscribe(&self, after: Revision) -> Option<CachedEventStream<T>> {
        let ring = self.shared.ring.lock().expect("watch cache ring lock");
        if after < ring.floor || self.is_broken() {
            return None;
        }
        // Subscribing while the ring is locked leaves no gap and no overlap between the replayed
        // events and the broadcast ones.
        let receiver = self.shared.sender.subscribe();
        let replay: VecDeque<(Revision, T)> = ring
            .events
            .iter()
            .filter(|(revision, _)| *revision > after)
            .cloned()
            .collect();
        drop(ring);
        Some(subscription::cached(
            replay,
            receiver,
            after,
            self.shared.client_buffer,
        ))
    }
}

/// The task that moves store events into the ring and the broadcast.
struct Follower<T> {
    shared: Arc<Shared<T>>,
    store: Arc<dyn Store>,
    prefix: String,
    decode: Decoder<T>,
}

impl<T: Clone + Send + Sync + 'static> Follower<T> {
    async fn run(self, mut stream: WatchStream, mut latest: Revision) {
        loop {
            let ended = match stream.next().await {
                Some(Ok(event)) => {
                    latest = event.revision();
                    if let Some(decoded) = (self.decode)(&event) {
                        self.publish(latest, decoded);
                    }
                    continue;
                }
                Some(Err(StoreError::Compacted { compacted, .. })) => {
                    return self.break_all(compacted);
                }
                Some(Err(error)) => error.to_string(),
                None => "the store closed it".to_owned(),
            };
            tracing::warn!(prefix = %self.prefix, reason = %ended, "store watch ended; re-opening");
            match self.rewatch(latest).await {
                Some(next) => stream = next,
                None => return,
            }
        }
    }

    /// Re-opens the store watch just after `latest`, backing off while the store is down.
    async fn rewatch(&self, latest: Revision) -> Option<WatchStream> {
        let mut backoff = Duration::from_millis(100);
        loop {
            tokio::time::sleep(backoff).await;
            match self.store.watch(&self.prefix, latest + 1).await {
                Ok(stream) => return Some(stream),
                Err(StoreError::Compacted { compacted, .. }) => {
                    self.break_all(compacted);
                    return None;
                }
                Err(error) => {
                    tracing::warn!(prefix = %self.prefix, %error, "cannot re-open store watch");
                    backoff = (backoff * 2).min(MAX_REWATCH_BACKOFF);
                }
            }
        }
    }

    fn publish(&self, revision: Revision, decoded: T) {
        let mut ring = self.shared.ring.lock().expect("watch cache ring lock");
        ring.events.push_back((revision, decoded.clone()));
        while ring.events.len() > self.shared.history {
            if let Some((dropped, _)) = ring.events.pop_front() {
                ring.floor = dropped;
            }
        }
        // Sending under the lock keeps the broadcast in ring order for new subscribers; an error
        // only means nobody is subscribed.
        let _ = self.shared.sender.send(Delivery::Event(revision, decoded));
    }

    fn break_all(&self, oldest: Revision) {
        self.shared.broken.store(true, Ordering::Release);
        let _ = self.shared.sender.send(Delivery::Broken { oldest });
    }
}
