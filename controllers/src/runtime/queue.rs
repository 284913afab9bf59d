//! A deduplicating work queue: a key waits in the queue at most once, runs on at most one
//! worker at a time, and a key added while it runs is queued again once (not once per add) when
//! that run is done. Delayed adds keep only the earliest deadline per key. The number of keys
//! waiting is kept in a gauge (for the controller's metrics). Each add may say why (a
//! trigger: `app/web changed`, `resync`); a run is handed the distinct triggers gathered since
//! the previous run started, at most [`MAX_TRIGGERS`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Triggers kept per run at most; later ones are dropped.
pub const MAX_TRIGGERS: usize = 5;
/// The trigger of a plain [`WorkQueue::add`].
const REQUESTED: &str = "requested";
/// The trigger of a plain [`WorkQueue::add_after`].
const REQUEUED: &str = "requeued";

/// The state behind the lock.
struct State<K> {
    why: HashMap<K, Vec<String>>,
    queue: VecDeque<K>,
    queued: HashSet<K>,
    running: HashSet<K>,
    again: HashSet<K>,
    delayed: HashMap<K, Instant>,
    shut_down: bool,
}

struct Inner<K> {
    state: Mutex<State<K>>,
    notify: Notify,
    depth: Gauge,
}

/// A deduplicating queue of keys to reconcile; cheap to clone, clones share the queue.
pub struct WorkQueue<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_depth_gauge(Gauge::default())
    }

    /// An empty queue that keeps `depth` set to the number of keys waiting.
    pub fn with_depth_gauge(depth: Gauge) -> Self {
        let state = State {
            why: HashMap::new(),
            queue: VecDeque::new(),
            queued: HashSet::new(),
            running: HashSet::new(),
            again: HashSet::new(),
            delayed: HashMap::new(),
            shut_down: false,
        };
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                notify: Notify::new(),
                depth,
            }),
        }
    }

    /// Queues `key` unless it is already waiting; a running key runs once more afterwards.
    pub fn add(&self, key: K) {
        self.add_because(key, REQUESTED.to_owned());
    }

    /// [`WorkQueue::add`], saying why.
    pub fn add_because(&self, key: K, why: String) {
        let mut state = self.lock();
        if state.shut_down {
            return;
        }
        let triggers = state.why.entry(key.clone()).or_default();
        if triggers.len() < MAX_TRIGGERS && !triggers.contains(&why) {
            triggers.push(why);
        }
        Self::push(&self.inner, &mut state, key);
    }

    /// Queues `key` (already given its triggers) unless it is waiting.
    fn push(inner: &Inner<K>, state: &mut State<K>, key: K) {
        if state.running.contains(&key) {
            state.again.insert(key);
        } else if state.queued.insert(key.clone()) {
            state.queue.push_back(key);
            inner.depth.set(state.queue.len() as i64);
            inner.notify.notify_one();
        }
    }

    /// Queues `key` after `delay`; an earlier pending deadline for the same key wins.
    pub fn add_after(&self, key: K, delay: Duration) {
        self.add_after_because(key, delay, REQUEUED.to_owned());
    }

    /// [`WorkQueue::add_after`], saying why.
    pub fn add_after_because(&self, key: K, delay: Duration, why: String) {
        if delay.is_zero() {
            return self.add_because(key, why);
        }
        let deadline = Instant::now() + delay;
        {
            let mut state = self.lock();
            let earlier = state.delayed.get(&key).is_some_and(|d| *d <= deadline);
            if state.shut_down || earlier {
                return;
            }
            state.delayed.insert(key.clone(), deadline);
        }
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            let due = {
                let mut state = queue.lock();
                let mine = state.delayed.get(&key) == Some(&deadline);
                if mine {
                    state.delayed.remove(&key);
                }
                mine
            };
            if due {
                queue.add_because(key, why);
            }
        });
    }

    /// Waits for the next key and marks it running; `None` once the queue is shut down.
    pub async fn next(&self) -> Option<K> {
        self.next_with_triggers().await.map(|(key, _)| key)
    }

    /// [`WorkQueue::next`], with the triggers gathered for this run.
    pub async fn next_with_triggers(&self) -> Option<(K, Vec<String>)> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if state.shut_down {
                    return None;
                }
                if let Some(key) = state.queue.pop_front() {
                    self.inner.depth.set(state.queue.len() as i64);
                    state.queued.remove(&key);
                    state.running.insert(key.clone());
                    if !state.queue.is_empty() {
                        self.inner.notify.notify_one();
                    }
                    let why = state.why.remove(&key).unwrap_or_default();
                    return Some((key, why));
                }
            }
            notified.await;
        }
    }

    /// Marks `key` finished; if it was added while running, it is queued again.
    pub fn done(&self, key: &K) {
        let mut state = self.lock();
        state.running.remove(key);
        if state.again.remove(key) && !state.shut_down {
            Self::push(&self.inner, &mut state, key.clone());
        }
    }

    /// Stops handing out keys: every waiting and future [`WorkQueue::next`] returns `None`.
    pub fn shut_down(&self) {
        self.lock().shut_down = true;
        self.inner.notify.notify_waiters();
    }

    /// How many keys wait to run (not counting running ones).
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no key waits to run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_added_twice_waits_once() {
        let queue = WorkQueue::new();
        queue.add("a");
        queue.add("a");
        queue.add("b");
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.next().await, Some("a"));
        assert_eq!(queue.next().await, Some("b"));
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn the_depth_gauge_follows_the_waiting_keys() {
        let depth = Gauge::default();
        let queue = WorkQueue::with_depth_gauge(depth.clone());
        queue.add("a");
        queue.add("b");
        queue.add("a");
        assert_eq!(depth.get(), 2);
        let key = queue.next().await.unwrap();
        assert_eq!(depth.get(), 1);
        queue.add(key);
        assert_eq!(depth.get(), 1, "a running key is not waiting");
    }

    #[tokio::test]
    async fn a_key_added_while_running_runs_once_more_after_it_is_done() {
        let queue = WorkQueue::new();
        queue.add("a");
        let key = queue.next().await.unwrap();
        queue.add("a");
        queue.add("a");
        assert!(queue.is_empty(), "a running key is not handed out twice");
        queue.done(&key);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.next().await, Some("a"));
        queue.done(&"a");
        assert!(queue.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_key_arrives_after_its_delay() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.add_after("a", Duration::from_secs(5));
        assert!(queue.is_empty());
        assert_eq!(queue.next().await, Some("a"));
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn the_earliest_delay_wins_and_later_ones_are_dropped() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.add_after("a", Duration::from_secs(10));
        queue.add_after("a", Duration::from_secs(2));
        queue.add_after("a", Duration::from_secs(7));
        assert_eq!(queue.next().await, Some("a"));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        queue.done(&"a");
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(queue.is_empty(), "the 7 s and 10 s adds were superseded");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_is_handed_the_distinct_triggers_gathered_since_the_last_one() {
        let queue = WorkQueue::new();
        queue.add_because("a", "app/web changed".into());
        queue.add_because("a", "app/web changed".into());
        queue.add_because("a", "resync".into());
        let (key, why) = queue.next_with_triggers().await.unwrap();
        assert_eq!(why, ["app/web changed", "resync"]);
        queue.add_because("a", "instance/web-x1 deleted".into());
        queue.done(&key);
        let (_, why) = queue.next_with_triggers().await.unwrap();
        assert_eq!(
            why,
            ["instance/web-x1 deleted"],
            "added while running: the next run's"
        );
        queue.done(&"a");
        queue.add_after("a", Duration::from_secs(1));
        let (_, why) = queue.next_with_triggers().await.unwrap();
        assert_eq!(why, ["requeued"]);
    }

    #[tokio::test]
    async fn shutting_down_wakes_waiting_workers() {
        let queue: WorkQueue<&str> = WorkQueue::new();
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        tokio::task::yield_now().await;
        queue.shut_down();
        assert_eq!(waiting.await.unwrap(), None);
        queue.add("a");
        assert!(queue.is_empty(), "adds after shutdown are ignored");
    }
}
