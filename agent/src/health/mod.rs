//! Health checks: the agent probes every running container of its node that has a health
//! check (HTTP GET, 2xx or 3xx passes), tracks consecutive outcomes, reports readiness and the
//! latest probe in its snapshots, and restarts a container whose check fails for good.
//!
//! - [`spec`]: the check, resolved into the container's `minicloud.health` label and read back;
//! - [`state`]: the state machine on plain values (thresholds, startup deadline);
//! - [`alert`]: failed probes in a row that raise an alert, and the pass that clears it;
//! - [`check`] and [`http`]: running one probe;
//! - [`run`]: probing one container run; [`prober`]: keeping one run per container;
//! - [`table`]: what was found, for snapshots and the health history.

pub mod alert;
pub mod check;
pub mod http;
pub mod prober;
pub mod run;
pub mod spec;
pub mod state;
pub mod table;

use std::sync::Arc;

use tokio::sync::watch;

use crate::events::EventHub;
use crate::runtime::{ContainerInfo, Runtime};
use check::Checker;
use minicloud_proto::v1::ContainerProbes;
use prober::Prober;
use run::Shared;
use table::{HealthReport, HealthTable};

/// A handle on a running prober. The prober stops when the last handle is dropped.
#[derive(Clone)]
pub struct Health {
    table: HealthTable,
    _alive: watch::Receiver<()>,
}

impl Health {
    /// Starts probing `node`'s containers on `runtime` with `checker`, announcing changes on
    /// `hub` and alerting after `alert_after` failed probes in a row. Must be called within a
    /// tokio runtime.
    pub fn spawn(
        runtime: Arc<dyn Runtime>,
        (node, hub): (String, EventHub),
        checker: Arc<dyn Checker>,
        alert_after: u32,
    ) -> Health {
        let table = HealthTable::new(alert_after);
        let shared = Shared {
            runtime,
            checker,
            table: table.clone(),
            hub,
        };
        Health {
            table,
            _alive: Prober::new(node, shared).spawn(),
        }
    }

    /// What the prober found about `container`.
    pub fn report(&self, container: &ContainerInfo) -> HealthReport {
        self.table.report(container)
    }

    /// The latest probes of the containers `ids` names (every probed one when empty).
    pub fn history(&self, ids: &[String]) -> Vec<ContainerProbes> {
        self.table.history(ids)
    }
}
