//! What the prober found, per container, for snapshots: readiness and the latest probe of the
//! container's current run (its latest start), and how often the agent restarted it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use minicloud_proto::v1::ProbeResult;

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
}

/// One container's entry.
#[derive(Debug, Clone, Default)]
struct Entry {
    /// The start time (Docker's `StartedAt`) of the run the fields below describe.
    run: String,
    ready: bool,
    last_probe: Option<ProbeResult>,
    consecutive_failures: u32,
    restarts: u32,
}

/// The prober's findings, shared between its tasks and the observer.
#[derive(Debug, Clone, Default)]
pub struct HealthTable {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl HealthTable {
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
            ..Entry::default()
        };
    }

    /// Records a probe of run `run` of container `id` finished at `at`, with the state it led
    /// to. Returns whether readiness or the outcome (pass or fail, and its message) changed —
    /// what is worth a fresh snapshot; a probe of a run that is not current changes nothing.
    pub fn record(
        &self,
        id: &str,
        run: &str,
        state: &ProbeState,
        outcome: &Outcome,
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
        entry.ready = state.ready();
        entry.consecutive_failures = state.consecutive_failures();
        entry.last_probe = Some(ProbeResult {
            time: humantime::format_rfc3339_seconds(at).to_string(),
            ok: outcome.ok,
            message: outcome.message.clone(),
        });
        changed
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
        assert!(table.record("c1", "t1", &passed_once(), &outcome, SystemTime::UNIX_EPOCH));
        let report = table.report(&running);
        assert!(report.ready);
        let probe = report.last_probe.unwrap();
        assert_eq!(probe.message, "HTTP 200");
        assert_eq!(probe.time, "1970-01-01T00:00:00Z");
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
        assert!(table.record("c1", "t1", &failing, &refused, now));
        assert!(!table.record("c1", "t1", &failing, &refused, now));
        assert!(table.record("c1", "t1", &failing, &Outcome::failed("HTTP 503"), now));
        assert!(!table.record("c1", "t0", &failing, &refused, now));
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
