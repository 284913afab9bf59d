//! The prober: one probing task per running container of this node that has a health check,
//! kept in step with Docker — after every change the event follower announces, and every
//! [`RESYNC`] in case one was missed. A container that stops or starts anew gets a fresh run.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::check::Target;
use super::run::{self, Run, Shared};
use super::spec;
use crate::events::DEBOUNCE;
use crate::labels;
use crate::runtime::ContainerInfo;

/// How often the prober lists containers even when nothing was announced.
pub const RESYNC: Duration = Duration::from_secs(10);

/// A run being probed.
struct Tracked {
    started_at: String,
    task: JoinHandle<()>,
}

/// The probing tasks of one node.
pub struct Prober {
    node: String,
    shared: Shared,
    runs: HashMap<String, Tracked>,
}

impl Prober {
    /// A prober of `node`'s containers with nothing tracked yet.
    pub fn new(node: String, shared: Shared) -> Prober {
        Prober {
            node,
            shared,
            runs: HashMap::new(),
        }
    }

    /// Starts following the engine on the current tokio runtime, until the returned receiver
    /// and its clones are dropped.
    pub fn spawn(self) -> watch::Receiver<()> {
        let (alive, keep) = watch::channel(());
        tokio::spawn(self.supervise(alive));
        keep
    }

    /// Follows the engine until `alive` has no receivers left; dropping the prober then stops
    /// every run.
    async fn supervise(mut self, alive: watch::Sender<()>) {
        let mut changes = self.shared.hub.subscribe();
        loop {
            changes.borrow_and_update();
            match self.shared.runtime.list_node_containers(&self.node).await {
                Ok(containers) => self.sync(&containers, SystemTime::now()),
                Err(error) => tracing::warn!(%error, "cannot list containers to probe"),
            }
            tokio::select! {
                () = alive.closed() => break,
                changed = changes.changed() => if changed.is_err() { break },
                () = tokio::time::sleep(RESYNC) => {}
            }
            tokio::time::sleep(DEBOUNCE).await;
        }
    }

    /// Starts a run for every container to probe that has none, ends the runs of containers
    /// that stopped, started anew or are gone, and forgets what is gone.
    pub fn sync(&mut self, containers: &[ContainerInfo], now: SystemTime) {
        let wanted: HashMap<String, Run> = wanted_runs(&self.node, containers, now)
            .into_iter()
            .map(|run| (run.id.clone(), run))
            .collect();
        self.runs.retain(|id, tracked| {
            let current = wanted
                .get(id)
                .is_some_and(|run| run.started_at == tracked.started_at);
            let keep = current && !tracked.task.is_finished();
            if !keep {
                tracked.task.abort();
            }
            keep
        });
        for (id, run) in wanted {
            if self.runs.contains_key(&id) {
                continue;
            }
            self.shared.table.begin(&id, &run.started_at);
            let started_at = run.started_at.clone();
            let task = tokio::spawn(run::probe(run, self.shared.clone()));
            self.runs.insert(id, Tracked { started_at, task });
        }
        self.shared
            .table
            .retain(|id| containers.iter().any(|c| c.id == id));
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        for tracked in self.runs.values() {
            tracked.task.abort();
        }
    }
}

/// The runs to probe at `now`: the running containers of `node` with a readable health check
/// and an address on their tenant network.
pub fn wanted_runs(node: &str, containers: &[ContainerInfo], now: SystemTime) -> Vec<Run> {
    containers
        .iter()
        .filter(|c| labels::is_managed(&c.labels))
        .filter(|c| c.labels.get(labels::NODE).is_some_and(|n| n == node))
        .filter(|c| c.state == "running")
        .filter_map(|c| {
            let spec = match spec::from_labels(&c.labels)? {
                Ok(spec) => spec,
                Err(error) => {
                    tracing::warn!(container = %c.id, %error, "cannot probe the container");
                    return None;
                }
            };
            let ip = tenant_ip(&c.labels, &c.networks)?;
            Some(Run {
                id: c.id.clone(),
                started_at: c.started_at.clone(),
                age: age(&c.started_at, now),
                target: Target {
                    address: SocketAddr::new(ip, spec.port),
                    path: spec.path,
                },
                policy: spec.policy,
            })
        })
        .collect()
}

/// The container's address on its tenant's network.
fn tenant_ip(
    labels: &BTreeMap<String, String>,
    networks: &BTreeMap<String, String>,
) -> Option<IpAddr> {
    let tenant = labels.get(labels::TENANT)?;
    networks.get(&labels::network_name(tenant))?.parse().ok()
}

/// How long before `now` the RFC 3339 time `started_at` was; zero when it cannot be read.
fn age(started_at: &str, now: SystemTime) -> Duration {
    humantime::parse_rfc3339_weak(started_at)
        .ok()
        .and_then(|started| now.duration_since(started).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use serde_json::json;
    use tokio::time::Instant;

    use super::*;
    use crate::events::EventHub;
    use crate::health::check::{Checker, Outcome};
    use crate::health::table::{HealthReport, HealthTable};
    use crate::runtime::Runtime;
    use crate::runtime::fake::{Call, FakeRuntime};

    /// A checker answering whatever it is told to, recording when and where it probed.
    struct Scripted {
        answer: Mutex<Outcome>,
        probes: Mutex<Vec<(Target, Instant)>>,
    }

    impl Scripted {
        fn new(answer: Outcome) -> Arc<Scripted> {
            Arc::new(Scripted {
                answer: Mutex::new(answer),
                probes: Mutex::new(Vec::new()),
            })
        }

        fn answer(&self, outcome: Outcome) {
            *self.answer.lock().unwrap() = outcome;
        }

        fn probes(&self) -> Vec<(Target, Instant)> {
            self.probes.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Checker for Scripted {
        async fn check(&self, target: &Target, _timeout: Duration) -> Outcome {
            self.probes
                .lock()
                .unwrap()
                .push((target.clone(), Instant::now()));
            self.answer.lock().unwrap().clone()
        }
    }

    fn container(id: &str, node: &str, check: Option<serde_json::Value>) -> ContainerInfo {
        let mut labels = labels::tenant_labels(node, "acme");
        if let Some(check) = check {
            labels.insert(labels::HEALTH.into(), check.to_string());
        }
        ContainerInfo {
            id: id.into(),
            name: format!("mc-acme-{id}"),
            labels,
            state: "running".into(),
            networks: BTreeMap::from([("mc-acme".to_owned(), "10.1.0.5".to_owned())]),
            started_at: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
            ..ContainerInfo::default()
        }
    }

    fn check(initial_delay: u32, period: u32, failure_threshold: u32) -> serde_json::Value {
        json!({
            "http": {"path": "/healthz", "port": 8080},
            "initialDelaySeconds": initial_delay, "periodSeconds": period,
            "failureThreshold": failure_threshold, "timeoutSeconds": 1, "successThreshold": 1,
        })
    }

    struct Setup {
        fake: FakeRuntime,
        hub: EventHub,
        table: HealthTable,
        alive: watch::Receiver<()>,
        checker: Arc<Scripted>,
    }

    impl Setup {
        /// A prober of node `n1` over a fake holding `containers`, answering `answer`.
        async fn start(containers: Vec<ContainerInfo>, answer: Outcome) -> Setup {
            let fake = FakeRuntime::new();
            for c in containers {
                fake.insert_container(c);
            }
            let runtime: Arc<dyn Runtime> = Arc::new(fake.clone());
            let hub = EventHub::spawn(runtime.clone());
            while fake.event_subscribers() == 0 {
                tokio::task::yield_now().await;
            }
            let checker = Scripted::new(answer);
            let table = HealthTable::default();
            let shared = Shared {
                runtime,
                checker: checker.clone(),
                table: table.clone(),
                hub: hub.clone(),
            };
            let alive = Prober::new("n1".into(), shared).spawn();
            Setup {
                fake,
                hub,
                table,
                alive,
                checker,
            }
        }

        async fn report(&self, id: &str) -> HealthReport {
            let containers = self.fake.list_containers().await.unwrap();
            let container = containers.iter().find(|c| c.id == id).unwrap();
            self.table.report(container)
        }

        fn restarts(&self) -> usize {
            let calls = self.fake.calls();
            let restarts = calls.iter().filter(
                |c| matches!(c, Call::RestartContainer(_, grace) if *grace == run::RESTART_GRACE),
            );
            restarts.count()
        }
    }

    async fn sleep_ms(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn probes_start_after_the_initial_delay_and_follow_the_period() {
        let start = Instant::now();
        let c = container("c1", "n1", Some(check(5, 2, 3)));
        let setup = Setup::start(vec![c], Outcome::passed("HTTP 200")).await;
        sleep_ms(4_900).await;
        assert!(setup.checker.probes().is_empty());
        sleep_ms(2_200).await;
        let probes = setup.checker.probes();
        assert_eq!(probes.len(), 2);
        let target = &probes[0].0;
        assert_eq!(target.address, "10.1.0.5:8080".parse().unwrap());
        assert_eq!(target.path, "/healthz");
        let seconds: Vec<f64> = probes
            .iter()
            .map(|(_, at)| (*at - start).as_secs_f64().round())
            .collect();
        assert_eq!(seconds, [5.0, 7.0]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_passing_probe_makes_the_container_ready_and_is_announced() {
        let c = container("c1", "n1", Some(check(0, 1, 3)));
        let setup = Setup::start(vec![c], Outcome::passed("HTTP 200")).await;
        let mut changes = setup.hub.subscribe();
        changes.borrow_and_update();
        sleep_ms(500).await;
        assert!(changes.has_changed().unwrap());
        let report = setup.report("c1").await;
        assert!(report.ready);
        assert_eq!(report.last_probe.unwrap().message, "HTTP 200");
    }

    #[tokio::test(start_paused = true)]
    async fn a_container_never_ready_is_restarted_after_its_startup_deadline_and_again() {
        let c = container("c1", "n1", Some(check(0, 1, 2)));
        let setup = Setup::start(vec![c], Outcome::failed("HTTP 404")).await;
        sleep_ms(1_500).await;
        let report = setup.report("c1").await;
        assert!(!report.ready);
        assert_eq!(report.last_probe.unwrap().message, "HTTP 404");
        assert_eq!(report.consecutive_failures, 2);
        assert_eq!(setup.restarts(), 0);
        sleep_ms(1_000).await;
        assert_eq!(
            setup.restarts(),
            1,
            "restarted at the probe 2 s after start"
        );
        assert_eq!(setup.report("c1").await.restarts, 1);
        sleep_ms(3_000).await;
        assert_eq!(
            setup.restarts(),
            2,
            "the new run is probed and restarted too"
        );
        assert_eq!(setup.report("c1").await.restarts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_container_failing_failure_threshold_times_loses_readiness_and_restarts() {
        let c = container("c1", "n1", Some(check(0, 1, 3)));
        let setup = Setup::start(vec![c], Outcome::passed("HTTP 200")).await;
        sleep_ms(10_500).await;
        assert!(setup.report("c1").await.ready);
        assert_eq!(setup.restarts(), 0);
        setup.checker.answer(Outcome::failed("timed out after 1s"));
        sleep_ms(2_000).await;
        let report = setup.report("c1").await;
        assert!(report.ready, "two failures are below the threshold");
        assert_eq!(report.consecutive_failures, 2);
        sleep_ms(1_000).await;
        assert_eq!(setup.restarts(), 1);
        let report = setup.report("c1").await;
        assert!(!report.ready);
        assert_eq!(report.restarts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_restart_is_tried_again() {
        let c = container("c1", "n1", Some(check(0, 1, 1)));
        let setup = Setup::start(vec![c], Outcome::failed("connection refused")).await;
        setup
            .fake
            .fail_next("restart_container", "no such container");
        sleep_ms(1_500).await;
        assert_eq!(setup.restarts(), 1);
        assert_eq!(setup.report("c1").await.restarts, 0);
        sleep_ms(RESYNC.as_millis() as u64).await;
        assert!(setup.restarts() >= 2);
        assert!(setup.report("c1").await.restarts >= 1);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_last_handle_stops_probing() {
        let c = container("c1", "n1", Some(check(0, 1, 3)));
        let setup = Setup::start(vec![c], Outcome::passed("HTTP 200")).await;
        sleep_ms(2_500).await;
        let before = setup.checker.probes().len();
        assert_eq!(before, 3);
        drop(setup.alive);
        sleep_ms(5_000).await;
        assert_eq!(setup.checker.probes().len(), before);
    }

    #[test]
    fn only_running_containers_of_this_node_with_a_check_are_probed() {
        let now = SystemTime::now();
        let probed = container("a", "n1", Some(check(0, 1, 3)));
        let unchecked = container("b", "n1", None);
        let elsewhere = container("c", "n2", Some(check(0, 1, 3)));
        let mut stopped = container("d", "n1", Some(check(0, 1, 3)));
        stopped.state = "exited".into();
        let mut broken = container("e", "n1", None);
        broken.labels.insert(labels::HEALTH.into(), "{".into());
        let all = [probed, unchecked, elsewhere, stopped, broken];
        let runs = wanted_runs("n1", &all, now);
        let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a"]);
        assert!(runs[0].age < Duration::from_secs(60));
    }

    #[test]
    fn the_age_of_a_run_comes_from_dockers_start_time() {
        let now = humantime::parse_rfc3339("2024-01-01T00:01:00Z").unwrap();
        assert_eq!(
            age("2024-01-01T00:00:30.500000000Z", now),
            Duration::from_millis(29_500)
        );
        assert_eq!(age("", now), Duration::ZERO);
    }
}
