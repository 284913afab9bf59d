//! [`ControllerMetrics`]: per controller, how long reconciles take and how they end, and how
//! many keys wait in its queue.

use std::time::Duration;

use minicloud_common::metrics::{HistogramFamily, Metrics, histogram_family};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

/// Which controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: &'static str,
}

/// How a reconcile ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    controller: &'static str,
    outcome: &'static str,
}

/// How one reconcile ended, as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// It asked for nothing more.
    Done,
    /// It asked to run again after a while.
    Requeue,
    /// It failed, and runs again after a backoff.
    Error,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Requeue => "requeue",
            Outcome::Error => "error",
        }
    }
}

/// The controllers' metric families, shared by every controller of a process; cheap to clone.
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    duration: HistogramFamily<ControllerLabels>,
    reconciles: Family<OutcomeLabels, Counter>,
    queue_depth: Family<ControllerLabels, Gauge>,
}

impl Default for ControllerMetrics {
    fn default() -> Self {
        ControllerMetrics {
            duration: histogram_family(),
            reconciles: Family::default(),
            queue_depth: Family::default(),
        }
    }
}

impl ControllerMetrics {
    /// Adds `minicloud_controller_reconcile_duration_seconds{controller}`,
    /// `minicloud_controller_reconciles_total{controller, outcome}` and
    /// `minicloud_controller_queue_depth{controller}` to `metrics`.
    pub fn register(&self, metrics: &Metrics) {
        metrics.register(|registry| {
            registry.register(
                "controller_reconcile_duration_seconds",
                "How long reconciles took, by controller",
                self.duration.clone(),
            );
            registry.register(
                "controller_reconciles",
                "Reconciles run, by controller and outcome (done, requeue or error)",
                self.reconciles.clone(),
            );
            registry.register(
                "controller_queue_depth",
                "Keys waiting in the controller's work queue (not counting running ones)",
                self.queue_depth.clone(),
            );
        });
    }

    /// The gauge of `controller`'s queue depth.
    pub(super) fn queue_depth(&self, controller: &'static str) -> Gauge {
        self.queue_depth
            .get_or_create(&ControllerLabels { controller })
            .clone()
    }

    /// Records one reconcile of `controller`.
    pub(super) fn reconciled(&self, controller: &'static str, took: Duration, outcome: Outcome) {
        self.duration
            .get_or_create(&ControllerLabels { controller })
            .observe(took.as_secs_f64());
        let labels = OutcomeLabels {
            controller,
            outcome: outcome.as_str(),
        };
        self.reconciles.get_or_create(&labels).inc();
    }
}
