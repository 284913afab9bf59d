//! One run of one container — from a start until it stops or is restarted: probe it every
//! period once the initial delay has passed, record each outcome, and restart it when the
//! check fails for good.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::{Instant, MissedTickBehavior};

use super::check::{Checker, Target};
use super::state::{Policy, ProbeState, Verdict};
use super::table::HealthTable;
use crate::events::EventHub;
use crate::runtime::Runtime;

/// How long a container restarted for failing its check gets to stop before it is killed.
pub const RESTART_GRACE: Duration = Duration::from_secs(10);

/// What every run shares.
#[derive(Clone)]
pub struct Shared {
    /// The engine, for restarts.
    pub runtime: Arc<dyn Runtime>,
    /// Runs the probes.
    pub checker: Arc<dyn Checker>,
    /// Where outcomes go.
    pub table: HealthTable,
    /// Announces changes worth a fresh snapshot.
    pub hub: EventHub,
}

/// One container run to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The container id.
    pub id: String,
    /// Docker's `StartedAt` of this run: what tells runs apart.
    pub started_at: String,
    /// How long the container had been running when the run was found.
    pub age: Duration,
    /// Where to probe.
    pub target: Target,
    /// Timing and thresholds.
    pub policy: Policy,
}

/// Probes `run` until its task is aborted (the container stopped or started anew). Returns
/// early only when a restart the check called for failed, so that it can be tried again.
pub async fn probe(run: Run, shared: Shared) {
    // Every decision compares the time since start with the startup deadline at most, so an
    // older run counts as exactly that old.
    let age = run.age.min(run.policy.startup_deadline());
    let now = Instant::now();
    let started = now.checked_sub(age).unwrap_or(now);
    let first = (started + run.policy.initial_delay).max(now);
    let mut ticks = tokio::time::interval_at(first, run.policy.period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut state = ProbeState::default();
    loop {
        ticks.tick().await;
        let probing = Instant::now();
        let outcome = shared.checker.check(&run.target, run.policy.timeout).await;
        let latency = probing.elapsed();
        let verdict = state.record(&run.policy, outcome.ok, started.elapsed());
        let table = &shared.table;
        if table.record(
            &run.id,
            &run.started_at,
            (&state, &outcome),
            latency,
            SystemTime::now(),
        ) {
            shared.hub.announce();
        }
        match verdict {
            Verdict::Unchanged => {}
            Verdict::BecameReady => {
                tracing::info!(container = %run.id, "health check passed; the container is ready");
            }
            Verdict::Restart => {
                tracing::warn!(
                    container = %run.id,
                    probe = %outcome.message,
                    failures = state.consecutive_failures(),
                    "health check failed; restarting the container"
                );
                // Its own task: the run is aborted as soon as Docker reports the container
                // stopping, and the restart must neither be cut short nor go uncounted.
                let restart = tokio::spawn(restart(run.id.clone(), shared.clone()));
                if matches!(restart.await, Ok(true)) {
                    std::future::pending::<()>().await;
                }
                return;
            }
        }
    }
}

/// Restarts container `id`, counting it; false when the engine refused.
async fn restart(id: String, shared: Shared) -> bool {
    match shared.runtime.restart_container(&id, RESTART_GRACE).await {
        Ok(()) => {
            shared.table.count_restart(&id);
            shared.hub.announce();
            true
        }
        Err(error) => {
            tracing::warn!(container = %id, %error, "cannot restart a container failing its health check");
            false
        }
    }
}
