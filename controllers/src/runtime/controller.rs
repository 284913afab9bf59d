//! The controller driver: feeds a [`WorkQueue`] from cache changes, periodic resyncs and any
//! other trigger, and runs a reconcile function on N workers with per-key backoff on errors and
//! requeue-after on request, recording each reconcile's duration and outcome and the queue's
//! depth in [`ControllerMetrics`] and, when asked, each decision that acted or failed — with
//! its triggers and the notes it made — in a [`HistorySink`].

use std::fmt::{Debug, Display};
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::cache::{Cache, CacheEvent};
use super::history::{HistorySink, Subject, decision};
use super::metrics::{ControllerMetrics, Outcome};
use super::notes::gathered;
use super::queue::WorkQueue;
use crate::object::Object;

/// What a reconcile asks for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing until something changes.
    Done,
    /// Run again after this long, even if nothing changes.
    RequeueAfter(Duration),
}

/// How a controller runs.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// Reconciles running at once (each key still runs on one worker at a time).
    pub workers: usize,
    /// How often every key is queued again, whatever happened.
    pub resync: Duration,
    /// Retry delay after a key's first failure; it doubles on each further failure.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Where reconciles and queue depths are recorded (labelled with the controller's name).
    pub metrics: ControllerMetrics,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        Self {
            workers: 4,
            resync: Duration::from_secs(300),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            metrics: ControllerMetrics::default(),
        }
    }
}

/// Every key a source maps its objects to.
type AllKeys<K> = Arc<dyn Fn() -> Vec<K> + Send + Sync>;

/// A cache the controller follows.
struct Source<K> {
    ready: BoxFuture<'static, ()>,
    all_keys: AllKeys<K>,
    pump: BoxFuture<'static, ()>,
}

/// Where a controller's decisions go, and which object each key is.
struct History<K> {
    sink: Arc<dyn HistorySink>,
    subject: Arc<dyn Fn(&K) -> Subject + Send + Sync>,
}

impl<K> Clone for History<K> {
    fn clone(&self) -> Self {
        History {
            sink: self.sink.clone(),
            subject: self.subject.clone(),
        }
    }
}

/// A reconcile loop over keys of type `K`.
pub struct Controller<K> {
    name: &'static str,
    queue: WorkQueue<K>,
    options: ControllerOptions,
    sources: Vec<Source<K>>,
    history: Option<History<K>>,
}

impl<K> Controller<K>
where
    K: Clone + Eq + Hash + Debug + Send + Sync + 'static,
{
    /// A controller named `name` (for logs and metrics) with nothing to follow yet.
    pub fn new(name: &'static str, options: ControllerOptions) -> Self {
        Self {
            name,
            queue: WorkQueue::with_depth_gauge(options.metrics.queue_depth(name)),
            options,
            sources: Vec::new(),
            history: None,
        }
    }

    /// Records each decision that acted or failed in `sink`, about the object `subject`
    /// names for its key.
    pub fn records_history(
        mut self,
        sink: Arc<dyn HistorySink>,
        subject: impl Fn(&K) -> Subject + Send + Sync + 'static,
    ) -> Self {
        self.history = Some(History {
            sink,
            subject: Arc::new(subject),
        });
        self
    }

    /// The queue, for triggers other than caches (such as an agent's observed-state stream).
    pub fn queue(&self) -> WorkQueue<K> {
        self.queue.clone()
    }

    /// Follows `cache`: each change queues the keys `map` gives for the object.
    pub fn watches<T: Object>(
        mut self,
        cache: &Cache<T>,
        map: impl Fn(&T) -> Vec<K> + Send + Sync + 'static,
    ) -> Self {
        let map = Arc::new(map);
        let all_keys: AllKeys<K> = {
            let (cache, map) = (cache.clone(), map.clone());
            Arc::new(move || cache.snapshot().iter().flat_map(|o| map(o)).collect())
        };
        let mut events = cache.subscribe();
        let (queue, resync) = (self.queue.clone(), all_keys.clone());
        let kind = T::KIND.as_str().to_lowercase();
        let pump = async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        let what = match &event {
                            CacheEvent::Applied(_) => "changed",
                            CacheEvent::Deleted(_) => "deleted",
                        };
                        let object = event.object();
                        let why = format!("{kind}/{} {what}", object.meta().name);
                        let keys = map(object);
                        keys.into_iter()
                            .for_each(|k| queue.add_because(k, why.clone()));
                    }
                    Err(RecvError::Lagged(_)) => resync()
                        .into_iter()
                        .for_each(|k| queue.add_because(k, "resync (changes missed)".into())),
                    Err(RecvError::Closed) => return,
                }
            }
        };
        let ready = {
            let cache = cache.clone();
            async move { cache.ready().await }
        };
        self.sources.push(Source {
            ready: Box::pin(ready),
            all_keys,
            pump: Box::pin(pump),
        });
        self
    }

    /// Runs until `shutdown`: waits for the caches, queues every key, then reconciles. On
    /// shutdown, reconciles in progress finish; nothing new starts.
    pub async fn run<C, F, Fut, E>(self, ctx: Arc<C>, reconcile: F, shutdown: CancellationToken)
    where
        C: Send + Sync + 'static,
        F: Fn(K, Arc<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let (readies, all_keys, pumps) = split(self.sources);
        tokio::select! {
            _ = futures::future::join_all(readies) => {}
            () = shutdown.cancelled() => return,
        }
        let mut background = JoinSet::new();
        pumps
            .into_iter()
            .for_each(|pump| drop(background.spawn(pump)));
        background.spawn(resync(self.queue.clone(), all_keys, self.options.resync));
        let worker = Arc::new(Worker {
            name: self.name,
            queue: self.queue.clone(),
            backoff: Backoff::new(self.options.backoff_base, self.options.backoff_max),
            metrics: self.options.metrics.clone(),
            history: self.history,
            reconcile,
            ctx,
        });
        let mut workers = JoinSet::new();
        for _ in 0..self.options.workers.max(1) {
            workers.spawn(worker.clone().run());
        }
        shutdown.cancelled().await;
        self.queue.shut_down();
        while workers.join_next().await.is_some() {}
        background.abort_all();
    }
}

type Parts<K> = (
    Vec<BoxFuture<'static, ()>>,
    Vec<AllKeys<K>>,
    Vec<BoxFuture<'static, ()>>,
);

fn split<K>(sources: Vec<Source<K>>) -> Parts<K> {
    let mut parts = (Vec::new(), Vec::new(), Vec::new());
    for source in sources {
        parts.0.push(source.ready);
        parts.1.push(source.all_keys);
        parts.2.push(source.pump);
    }
    parts
}

/// Queues every key now and then every `period`.
async fn resync<K>(queue: WorkQueue<K>, all_keys: Vec<AllKeys<K>>, period: Duration)
where
    K: Clone + Eq + Hash + Send + 'static,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        for keys in &all_keys {
            keys()
                .into_iter()
                .for_each(|key| queue.add_because(key, "resync".into()));
        }
    }
}

/// What every worker shares.
struct Worker<K, C, F> {
    name: &'static str,
    queue: WorkQueue<K>,
    backoff: Backoff<K>,
    metrics: ControllerMetrics,
    history: Option<History<K>>,
    reconcile: F,
    ctx: Arc<C>,
}

impl<K, C, F, Fut, E> Worker<K, C, F>
where
    K: Clone + Eq + Hash + Debug + Send + Sync + 'static,
    C: Send + Sync + 'static,
    F: Fn(K, Arc<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: Display + Send + 'static,
{
    async fn run(self: Arc<Self>) {
        while let Some((key, triggers)) = self.queue.next_with_triggers().await {
            let started = Instant::now();
            let run = (self.reconcile)(key.clone(), self.ctx.clone());
            let (outcome, actions) = gathered(run).await;
            let took = started.elapsed();
            let counted = match &outcome {
                Ok(Action::Done) => Outcome::Done,
                Ok(Action::RequeueAfter(_)) => Outcome::Requeue,
                Err(_) => Outcome::Error,
            };
            self.metrics.reconciled(self.name, took, counted);
            self.record(&key, triggers, actions, &outcome, took);
            self.queue.done(&key);
            match outcome {
                Ok(Action::Done) => self.backoff.succeeded(&key),
                Ok(Action::RequeueAfter(delay)) => {
                    self.backoff.succeeded(&key);
                    self.queue.add_after(key, delay);
                }
                Err(error) => {
                    let delay = self.backoff.failed(key.clone());
                    tracing::warn!(controller = self.name, ?key, %error, ?delay, "reconcile failed; retrying");
                    self.queue
                        .add_after_because(key, delay, "retry after an error".into());
                }
            }
        }
    }

    /// Hands the run's decision to the history sink, if this controller keeps one.
    fn record(
        &self,
        key: &K,
        triggers: Vec<String>,
        actions: Vec<String>,
        outcome: &Result<Action, E>,
        took: Duration,
    ) {
        let Some(history) = &self.history else {
            return;
        };
        let outcome = match outcome {
            Ok(Action::Done) => Ok(None),
            Ok(Action::RequeueAfter(after)) => Ok(Some(*after)),
            Err(error) => Err(error.to_string()),
        };
        let subject = (self.name, (history.subject)(key));
        if let Some(decision) = decision(subject, triggers, actions, outcome, took) {
            history.sink.record(decision);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use minicloud_common::metrics::Metrics;
    use minicloud_manifests::{Node, NodeSpec, ObjectMeta};

    use super::*;

    /// Records when each key was reconciled.
    #[derive(Default)]
    struct Calls {
        at: Mutex<Vec<(&'static str, Duration)>>,
        start: Mutex<Option<Instant>>,
    }

    impl Calls {
        fn record(&self, key: &'static str) -> usize {
            let start = *self.start.lock().unwrap().get_or_insert_with(Instant::now);
            let mut at = self.at.lock().unwrap();
            at.push((key, start.elapsed()));
            at.iter().filter(|(k, _)| *k == key).count()
        }

        fn times(&self, key: &str) -> Vec<Duration> {
            let at = self.at.lock().unwrap();
            at.iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, t)| *t)
                .collect()
        }
    }

    fn options() -> ControllerOptions {
        ControllerOptions {
            workers: 4,
            resync: Duration::from_secs(3600),
            ..ControllerOptions::default()
        }
    }

    async fn run_for<F, Fut>(
        controller: Controller<&'static str>,
        calls: Arc<Calls>,
        f: F,
        secs: u64,
    ) where
        F: Fn(&'static str, Arc<Calls>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, String>> + Send + 'static,
    {
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(controller.run(calls, f, shutdown.clone()));
        tokio::time::sleep(Duration::from_secs(secs)).await;
        shutdown.cancel();
        running.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_key_is_retried_with_doubling_delays_until_it_succeeds() {
        let controller = Controller::new("test", options());
        controller.queue().add("a");
        let calls = Arc::new(Calls::default());
        let reconcile = |key, calls: Arc<Calls>| async move {
            match calls.record(key) {
                n if n <= 3 => Err(format!("failure {n}")),
                _ => Ok(Action::Done),
            }
        };
        run_for(controller, calls.clone(), reconcile, 10).await;
        let ms: Vec<_> = calls.times("a").iter().map(|t| t.as_millis()).collect();
        assert_eq!(ms, [0, 100, 300, 700]);
    }

    #[tokio::test(start_paused = true)]
    async fn requeue_after_runs_the_key_again_after_the_delay() {
        let controller = Controller::new("test", options());
        controller.queue().add("a");
        let calls = Arc::new(Calls::default());
        let reconcile = |key, calls: Arc<Calls>| async move {
            calls.record(key);
            Ok::<_, String>(Action::RequeueAfter(Duration::from_secs(5)))
        };
        run_for(controller, calls.clone(), reconcile, 12).await;
        let secs: Vec<_> = calls.times("a").iter().map(|t| t.as_secs()).collect();
        assert_eq!(secs, [0, 5, 10]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_never_runs_on_two_workers_at_once() {
        let controller = Controller::new("test", options());
        let queue = controller.queue();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(Calls::default());
        let (r, m) = (running.clone(), most.clone());
        let reconcile = move |key, calls: Arc<Calls>| {
            let (running, most) = (r.clone(), m.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                calls.record(key);
                tokio::time::sleep(Duration::from_secs(1)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, String>(Action::Done)
            }
        };
        let adder = tokio::spawn(async move {
            for _ in 0..20 {
                queue.add("a");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        run_for(controller, calls.clone(), reconcile, 10).await;
        adder.await.unwrap();
        assert_eq!(most.load(Ordering::SeqCst), 1);
        let runs = calls.times("a").len();
        assert!(
            (2..=3).contains(&runs),
            "20 adds over 2 s collapse into {runs} runs"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn every_cached_key_is_queued_at_start_and_at_each_resync() {
        let cache = Cache::new();
        cache.replace(vec![
            Node::new(ObjectMeta::named("a", None), NodeSpec::default()),
            Node::new(ObjectMeta::named("b", None), NodeSpec::default()),
        ]);
        let options = ControllerOptions {
            resync: Duration::from_secs(60),
            ..options()
        };
        let controller = Controller::new("test", options).watches(&cache, |node: &Node| {
            vec![if node.metadata.name == "a" { "a" } else { "b" }]
        });
        let calls = Arc::new(Calls::default());
        let reconcile = |key, calls: Arc<Calls>| async move {
            calls.record(key);
            Ok::<_, String>(Action::Done)
        };
        run_for(controller, calls.clone(), reconcile, 125).await;
        let counts: HashMap<_, _> = ["a", "b"].map(|k| (k, calls.times(k).len())).into();
        assert_eq!(counts, HashMap::from([("a", 3), ("b", 3)]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cache_change_queues_the_keys_it_maps_to() {
        let cache: Cache<Node> = Cache::new();
        cache.replace(Vec::new());
        let controller = Controller::new("test", options()).watches(&cache, |_: &Node| vec!["x"]);
        let calls = Arc::new(Calls::default());
        let reconcile = |key, calls: Arc<Calls>| async move {
            calls.record(key);
            Ok::<_, String>(Action::Done)
        };
        let changer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            cache.applied(Node::new(ObjectMeta::named("n", None), NodeSpec::default()));
        });
        run_for(controller, calls.clone(), reconcile, 3).await;
        changer.await.unwrap();
        assert_eq!(calls.times("x").len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn reconciles_and_the_queue_depth_are_recorded_per_controller() {
        let metrics = Metrics::default();
        let options = ControllerOptions {
            workers: 1,
            ..options()
        };
        options.metrics.register(&metrics);
        let controller = Controller::new("test", options);
        for key in ["a", "b", "c"] {
            controller.queue().add(key);
        }
        let waiting = metrics.encode();
        assert!(
            waiting.contains("minicloud_controller_queue_depth{controller=\"test\"} 3"),
            "{waiting}"
        );
        let calls = Arc::new(Calls::default());
        let reconcile = |key, calls: Arc<Calls>| async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            match calls.record(key) {
                1 if key == "c" => Err("c fails once".to_owned()),
                _ => Ok(Action::Done),
            }
        };
        run_for(controller, calls, reconcile, 7).await;
        let text = metrics.encode();
        for expected in [
            "minicloud_controller_queue_depth{controller=\"test\"} 0",
            "minicloud_controller_reconciles_total{controller=\"test\",outcome=\"done\"} 3",
            "minicloud_controller_reconciles_total{controller=\"test\",outcome=\"error\"} 1",
            "minicloud_controller_reconcile_duration_seconds_sum{controller=\"test\"} 8.0",
            "minicloud_controller_reconcile_duration_seconds_bucket{le=\"2.048\",controller=\"test\"} 4",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }
}
