//! What the prober found, per container, for snapshots: readiness and the latest probe of the
//! container's current run (its latest start), how often the agent restarted it, whether its
//! probes keep failing (an alert), and its latest [`HISTORY_LEN`] probes across its runs, for
//! the health history.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use minicloud_proto::v1::{ContainerProbes, HealthAlert, ProbeResult};

use super::alert::{Change, DEFAULT_ALERT_AFTER, Streak};
use super::check::Outcome;
use super::state::ProbeState;
use crate::labels;
use crate::runtime::ContainerInfo;

/// What the agent reports about one container's health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthReport {
    /// It runs and, when it has a health check, passes it.
    pub ready: bool,
    /// The latest probe of its current run.
    pub last_probe: Option<ProbeResult>,
    /// Failed probes in a row in its current run.
    pub consecutive_failures: u32,
    /// Restarts this agent made after failed checks (Docker does not count them).
    pub restarts: u32,
    /// Standing while its probes keep failing.
    pub alert: Option<HealthAlert>,
}

/// How many of a container's latest probes the table keeps.
pub const HISTORY_LEN: usize = 100;

/// One container's entry.
#[derive(Debug, Clone, Default)]
struct Entry {
    /// The start time (Docker's `StartedAt`) of the run the fields below describe.
    run: String,
    ready: bool,
    last_probe: Option<ProbeResult>,
    consecutive_failures: u32,
    restarts: u32,
    /// Kept across runs, like `restarts`.
    history: VecDeque<ProbeResult>,
    streak: Streak,
}

/// The prober's findings, shared between its tasks and the observer.
#[derive(Debug, Clone)]
pub struct HealthTable {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    alert_after: u32,
}

impl Default for HealthTable {
    fn default() -> Self {
        HealthTable::new(DEFAULT_ALERT_AFTER)
    }
}

impl HealthTable {
    /// An empty table raising alerts after `alert_after` failed probes in a row.
    pub fn new(alert_after: u32) -> HealthTable {
        HealthTable {
            entries: Arc::default(),
            alert_after,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a new run of container `id`, started at `run`: not ready, not probed yet.
    pub fn begin(&self, id: &str, run: &str) {
        let mut entries = self.lock();
        let entry = entries.entry(id.to_owned()).or_default();
        *entry = Entry {
            run: run.to_owned(),
            restarts: entry.restarts,
            history: std::mem::take(&mut entry.history),
            streak: std::mem::take(&mut entry.streak),
            ..Entry::default()
        };
    }

    /// Records a probe of run `run` of container `id` that took `latency` and finished at
    /// `at`, with the state it led to. Returns whether readiness, the outcome (pass or fail,
    /// and its message) or the alert changed — what is worth a fresh snapshot; a probe of a
    /// run that is not current changes nothing.
    pub fn record(
        &self,
        id: &str,
        run: &str,
        (state, outcome): (&ProbeState, &Outcome),
        latency: Duration,
        at: SystemTime,
    ) -> bool {
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(id).filter(|e| e.run == run) else {
            return false;
        };
        let changed = entry.ready != state.ready()
            || entry
                .last_probe
                .as_ref()
                .is_none_or(|p| p.ok != outcome.ok || p.message != outcome.message);
        let probe = ProbeResult {
            time: humantime::format_rfc3339_millis(at).to_string(),
            ok: outcome.ok,
            message: outcome.message.clone(),
            status_code: outcome.status_code.map_or(0, u32::from),
            latency_micros: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        };
        let alerted =
            entry
                .streak
                .record(outcome.ok, &outcome.message, &probe.time, self.alert_after);
        entry.ready = state.ready();
        entry.consecutive_failures = state.consecutive_failures();
        if entry.history.len() == HISTORY_LEN {
            entry.history.pop_front();
        }
        entry.history.push_back(probe.clone());
        entry.last_probe = Some(probe);
        changed || alerted != Change::None
    }

    /// The probes kept of the containers `ids` names (every probed one when empty), oldest
    /// first; containers never probed are left out.
    pub fn history(&self, ids: &[String]) -> Vec<ContainerProbes> {
        let entries = self.lock();
        let mut found: Vec<ContainerProbes> = entries
            .iter()
            .filter(|(id, _)| ids.is_empty() || ids.contains(id))
            .filter(|(_, entry)| !entry.history.is_empty())
            .map(|(id, entry)| ContainerProbes {
                container_id: id.clone(),
                probes: entry.history.iter().cloned().collect(),
            })
            .collect();
        found.sort_by(|a, b| a.container_id.cmp(&b.container_id));
        found
    }

    /// Counts a restart the agent made of container `id`.
    pub fn count_restart(&self, id: &str) {
        let mut entries = self.lock();
        let entry = entries.entry(id.to_owned()).or_default();
        entry.restarts = entry.restarts.saturating_add(1);
    }

    /// Forgets the containers `keep` rejects (they are gone).
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.lock().retain(|id, _| keep(id));
    }

    /// The report on `container`: without a health check it is ready when it runs; with one,
    /// when it runs and its current run passed the check.
    pub fn report(&self, container: &ContainerInfo) -> HealthReport {
        let entries = self.lock();
        let entry = entries.get(&container.id);
        let restarts = entry.map_or(0, |e| e.restarts);
        let running = container.state == "running";
        if !container.labels.contains_key(labels::HEALTH) {
            return HealthReport {
                ready: running,
                restarts,
                ..HealthReport::default()
            };
        }
        let current = entry.filter(|e| e.run == container.started_at);
        HealthReport {
            ready: running && current.is_some_and(|e| e.ready),
            last_probe: current.and_then(|e| e.last_probe.clone()),
            consecutive_failures: current.map_or(0, |e| e.consecutive_failures),
            restarts,
            alert: entry.and_then(|e| e.streak.alert().cloned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::health::state::Policy;

    fn container(state: &str, started_at: &str, checked: bool) -> ContainerInfo {
        let mut labels = BTreeMap::new();
        if checked {
            labels.insert(labels::HEALTH.to_owned(), "{}".to_owned());
        }
        ContainerInfo {
            id: "c1".into(),
            labels,
            state: state.into(),
            started_at: started_at.into(),
            ..ContainerInfo::default()
        }
    }

    fn passed_once() -> ProbeState {
        let policy = Policy {
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            failure_threshold: 3,
            success_threshold: 1,
        };
        let mut state = ProbeState::default();
        state.record(&policy, true, Duration::ZERO);
        state
    }

    #[test]
    fn without_a_check_a_running_container_is_ready() {
        let table = HealthTable::default();
        assert!(table.report(&container("running", "t1", false)).ready);
        assert!(!table.report(&container("exited", "t1", false)).ready);
    }

    #[test]
    fn with_a_check_a_container_is_ready_once_its_current_run_passed() {
        let table = HealthTable::default();
        let running = container("running", "t1", true);
        assert_eq!(table.report(&running), HealthReport::default());
        table.begin("c1", "t1");
        let outcome = Outcome::passed("HTTP 200");
        let passed = (&passed_once(), &outcome);
        assert!(table.record("c1", "t1", passed, Duration::ZERO, SystemTime::UNIX_EPOCH));
        let report = table.report(&running);
        assert!(report.ready);
        let probe = report.last_probe.unwrap();
        assert_eq!(probe.message, "HTTP 200");
        assert_eq!(probe.time, "1970-01-01T00:00:00.000Z");
        assert!(!table.report(&container("exited", "t1", true)).ready);
        assert!(!table.report(&container("running", "t2", true)).ready);
    }

    #[test]
    fn only_changes_of_readiness_or_outcome_are_worth_a_snapshot() {
        let table = HealthTable::default();
        table.begin("c1", "t1");
        let failing = ProbeState::default();
        let refused = Outcome::failed("connection refused");
        let now = SystemTime::now();
        let ms = Duration::from_millis(1);
        assert!(table.record("c1", "t1", (&failing, &refused), ms, now));
        assert!(!table.record("c1", "t1", (&failing, &refused), ms, now));
        let unavailable = Outcome::failed("HTTP 503").with_status(503);
        assert!(table.record("c1", "t1", (&failing, &unavailable), ms, now));
        assert!(!table.record("c1", "t0", (&failing, &refused), ms, now));
    }

    #[test]
    fn reaching_the_alert_threshold_is_worth_a_snapshot_and_the_report_carries_it() {
        let table = HealthTable::new(3);
        table.begin("c1", "t1");
        let failing = ProbeState::default();
        let refused = Outcome::failed("connection refused");
        let now = SystemTime::now();
        let ms = Duration::from_millis(1);
        assert!(table.record("c1", "t1", (&failing, &refused), ms, now));
        assert!(!table.record("c1", "t1", (&failing, &refused), ms, now));
        assert!(table.record("c1", "t1", (&failing, &refused), ms, now));
        let alert = table.report(&container("running", "t1", true)).alert;
        assert_eq!(alert.unwrap().failures, 3);
    }

    #[test]
    fn the_history_keeps_the_latest_probes_across_runs_with_code_and_latency() {
        let table = HealthTable::default();
        table.begin("c1", "t1");
        let now = SystemTime::now();
        let state = ProbeState::default();
        let ok = Outcome::passed("HTTP 200").with_status(200);
        table.record("c1", "t1", (&state, &ok), Duration::from_millis(3), now);
        table.begin("c1", "t2");
        let failed = Outcome::failed("HTTP 500").with_status(500);
        let latency = Duration::from_micros(1500);
        for _ in 0..HISTORY_LEN {
            table.record("c1", "t2", (&state, &failed), latency, now);
        }
        let history = table.history(&[]);
        assert_eq!(history.len(), 1);
        let probes = &history[0].probes;
        assert_eq!(probes.len(), HISTORY_LEN, "the oldest probe went first");
        assert!(probes.iter().all(|p| !p.ok && p.status_code == 500));
        assert_eq!(probes[0].latency_micros, 1500);
        assert!(table.history(&["c2".to_owned()]).is_empty());
    }

    #[test]
    fn restarts_survive_new_runs_and_go_with_the_container() {
        let table = HealthTable::default();
        table.begin("c1", "t1");
        table.count_restart("c1");
        table.begin("c1", "t2");
        assert_eq!(table.report(&container("running", "t2", true)).restarts, 1);
        table.retain(|id| id != "c1");
        assert_eq!(table.report(&container("running", "t2", true)).restarts, 0);
    }
}
