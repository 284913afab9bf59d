//! The sampling loop: every interval, list the node's running containers (one call), read
//! each one's stats (a bounded number at a time), turn counters into rates against the
//! previous round, and publish the round as the latest [`NodeSample`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::labels;
use futures::StreamExt;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::rate::cpu_millicores;
use crate::runtime::{ContainerStats, RunningContainer, Runtime};

/// How often the agent samples unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Stats readings in flight at once: the engine answers each in a few milliseconds, and a
/// bound keeps a node with hundreds of containers from opening hundreds of connections.
const READINGS_IN_FLIGHT: usize = 8;

/// One instance's resource use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSample {
    /// The container sampled.
    pub container_id: String,
    /// Its tenant, App and Instance, from its labels.
    pub tenant: String,
    /// The App.
    pub app: String,
    /// The Instance object.
    pub instance: String,
    /// CPU over the last interval in thousandths of a core; `None` on a container's first
    /// reading, before there is an interval.
    pub cpu_millicores: Option<u64>,
    /// The reading itself.
    pub stats: ContainerStats,
}

/// One round over the node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSample {
    /// When the round started; `None` before the first round.
    pub sampled_at: Option<SystemTime>,
    /// The sampling interval.
    pub interval: Duration,
    /// How long the round took.
    pub took: Duration,
    /// Every running instance that could be read, by container id.
    pub instances: Vec<InstanceSample>,
}

/// The handle to a running sampler: the latest round. The loop stops when the last handle
/// is dropped.
#[derive(Clone, Debug)]
pub struct Sampler {
    latest: watch::Receiver<Arc<NodeSample>>,
}

impl Sampler {
    /// Samples the containers `runtime` runs for `node` every `interval`, the first round at
    /// once. Must be called within a tokio runtime.
    pub fn spawn(runtime: Arc<dyn Runtime>, node: String, interval: Duration) -> Sampler {
        let first = NodeSample {
            interval,
            ..NodeSample::default()
        };
        let (sender, latest) = watch::channel(Arc::new(first));
        tokio::spawn(run(runtime, node, interval, sender));
        Sampler { latest }
    }

    /// The latest round.
    pub fn latest(&self) -> Arc<NodeSample> {
        self.latest.borrow().clone()
    }

    /// Waits for the next round and returns it.
    pub async fn next(&mut self) -> Arc<NodeSample> {
        let _ = self.latest.changed().await;
        self.latest.borrow_and_update().clone()
    }
}

async fn run(
    runtime: Arc<dyn Runtime>,
    node: String,
    interval: Duration,
    sender: watch::Sender<Arc<NodeSample>>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut previous: HashMap<String, ContainerStats> = HashMap::new();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = sender.closed() => return,
        }
        let started = Instant::now();
        let sampled_at = SystemTime::now();
        let running = match runtime.list_running(&node).await {
            Ok(running) => running,
            Err(error) => {
                tracing::warn!(%error, "cannot list the containers to sample");
                continue;
            }
        };
        let readings: Vec<(RunningContainer, ContainerStats)> = futures::stream::iter(running)
            .map(|container| {
                let runtime = runtime.clone();
                async move {
                    let stats = runtime.stats(&container.id).await;
                    stats.ok().map(|stats| (container, stats))
                }
            })
            .buffer_unordered(READINGS_IN_FLIGHT)
            .filter_map(futures::future::ready)
            .collect()
            .await;
        let instances = readings
            .into_iter()
            .map(|(container, stats)| {
                let rate = previous
                    .get(&container.id)
                    .and_then(|before| cpu_millicores(before, &stats));
                instance_sample(container, stats, rate)
            })
            .collect::<Vec<_>>();
        previous = instances
            .iter()
            .map(|i| (i.container_id.clone(), i.stats))
            .collect();
        let round = NodeSample {
            sampled_at: Some(sampled_at),
            interval,
            took: started.elapsed(),
            instances,
        };
        if sender.send(Arc::new(round)).is_err() {
            return;
        }
    }
}

fn instance_sample(
    container: RunningContainer,
    stats: ContainerStats,
    cpu_millicores: Option<u64>,
) -> InstanceSample {
    let label = |key: &str| container.labels.get(key).cloned().unwrap_or_default();
    InstanceSample {
        tenant: label(labels::TENANT),
        app: label(labels::APP),
        instance: label(labels::INSTANCE),
        container_id: container.id,
        cpu_millicores,
        stats,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::runtime::ContainerInfo;
    use crate::runtime::fake::FakeRuntime;

    fn container(id: &str, node: &str, state: &str) -> ContainerInfo {
        ContainerInfo {
            id: id.into(),
            name: format!("mc-{id}"),
            state: state.into(),
            labels: BTreeMap::from([
                (labels::MANAGED.to_owned(), "true".to_owned()),
                (labels::NODE.to_owned(), node.to_owned()),
                (labels::TENANT.to_owned(), "acme".to_owned()),
                (labels::APP.to_owned(), "web".to_owned()),
                (labels::INSTANCE.to_owned(), format!("web-{id}")),
            ]),
            ..ContainerInfo::default()
        }
    }

    fn stats(at: SystemTime, cpu_nanos: u64) -> ContainerStats {
        ContainerStats {
            read_at: at,
            cpu_usage_nanos: cpu_nanos,
            memory_working_set_bytes: 64 << 20,
            memory_limit_bytes: 256 << 20,
            network_rx_bytes: 1,
            network_tx_bytes: 2,
            block_read_bytes: 3,
            block_write_bytes: 4,
            pids: 5,
        }
    }

    #[tokio::test]
    async fn rounds_sample_running_containers_of_this_node_with_rates_from_the_second_on() {
        let fake = FakeRuntime::new();
        fake.insert_container(container("a", "n1", "running"));
        fake.insert_container(container("b", "n1", "exited"));
        fake.insert_container(container("c", "n2", "running"));
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        fake.set_stats("a", stats(start, 0));
        let mut sampler = Sampler::spawn(
            Arc::new(fake.clone()),
            "n1".into(),
            Duration::from_millis(50),
        );
        let first = sampler.next().await;
        assert_eq!(first.instances.len(), 1, "{first:?}");
        let a = &first.instances[0];
        assert_eq!((a.tenant.as_str(), a.app.as_str()), ("acme", "web"));
        assert_eq!(a.instance, "web-a");
        assert_eq!(a.cpu_millicores, None);
        fake.set_stats("a", stats(start + Duration::from_secs(2), 1_000_000_000));
        let second = sampler.next().await;
        assert_eq!(second.instances[0].cpu_millicores, Some(500));
        assert_eq!(second.instances[0].stats.pids, 5);
        assert!(second.sampled_at.is_some());
    }
}
