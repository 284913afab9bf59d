//! Applies a plan: each operation is idempotent, runs in order (consecutive starts or removals
//! of distinct instances side by side), and reports its own result, so a failed operation does
//! not stop the ones after it. Volumes are made by [`Volumes`] on the host first, then bound
//! into a Docker volume; a new volume from a snapshot is filled through the [`Filler`].

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use minicloud_proto::v1::operation::Op;
use minicloud_proto::v1::{
    EnsureNetwork, Operation, OperationResult, Plan, PlanResult, RemoveInstance, RemoveNetwork,
    StartInstance,
};

use crate::container_config::container_config;
use crate::error::{Error, Result};
use crate::labels;
use crate::logs::KeptLogs;
use crate::runtime::{ContainerConfig, ContainerInfo, NetworkSpec, Runtime};
use crate::storage::fill::{Filler, NoSnapshotStore};
use crate::storage::volumes::Volumes;

mod volume;

/// The group owning a volume's data directory when EnsureVolume names none (`fs_group` 0):
/// `nogroup`.
pub const DEFAULT_FS_GROUP: u32 = 65534;

/// Grace period for stopping a container that is replaced because its spec changed.
pub const REPLACE_GRACE: Duration = Duration::from_secs(10);

/// How long a removal waits for a stopped container's output to be kept at most.
pub const LOG_DRAIN: Duration = Duration::from_secs(5);

/// Starts or removals of distinct instances run at once, at most this many.
pub const PARALLEL_OPS: usize = 8;

/// The plan cut into batches that may run concurrently: each run of consecutive starts, or of
/// consecutive removals, is one batch; every other operation is a batch of its own.
fn batches(operations: &[Operation]) -> Vec<&[Operation]> {
    let kind = |operation: &Operation| match operation.op {
        Some(Op::StartInstance(_)) => 1,
        Some(Op::RemoveInstance(_)) => 2,
        _ => 0,
    };
    let mut batches = Vec::new();
    let mut start = 0;
    for end in 1..=operations.len() {
        let ends_here = end == operations.len()
            || kind(&operations[end]) == 0
            || kind(&operations[end]) != kind(&operations[start]);
        if ends_here {
            batches.push(&operations[start..end]);
            start = end;
        }
    }
    batches
}

/// Runs plans against a runtime and the node's volumes, one plan at a time.
pub struct Executor {
    runtime: Arc<dyn Runtime>,
    node: String,
    volumes: Arc<Volumes>,
    filler: Arc<dyn Filler>,
    logs: Option<KeptLogs>,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl Executor {
    /// An executor creating objects labelled with `node`. It has no volumes (EnsureVolume is
    /// refused, saying so) until [`Executor::with_volumes`], and no snapshot store (a volume
    /// from a snapshot is refused) until [`Executor::with_filler`].
    pub fn new(runtime: Arc<dyn Runtime>, node: String) -> Executor {
        let volumes = Volumes::unavailable("this agent was started without a storage directory");
        Executor {
            runtime,
            node,
            volumes: Arc::new(volumes),
            filler: Arc::new(NoSnapshotStore),
            logs: None,
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    /// The executor making volumes with `volumes`.
    pub fn with_volumes(mut self, volumes: Arc<Volumes>) -> Executor {
        self.volumes = volumes;
        self
    }

    /// The executor filling new volumes from snapshots with `filler`.
    pub fn with_filler(mut self, filler: Arc<dyn Filler>) -> Executor {
        self.filler = filler;
        self
    }

    /// The executor keeping a container's last output before removing it.
    pub fn with_logs(mut self, logs: KeptLogs) -> Executor {
        self.logs = Some(logs);
        self
    }

    /// Stops and removes a container; with kept logs, its output is all kept first (waiting
    /// [`LOG_DRAIN`] at most).
    async fn retire(&self, id: &str, grace: Duration) -> Result<()> {
        if let Some(logs) = &self.logs
            && self.runtime.stop_container(id, grace).await?
            && !logs.drain(id, LOG_DRAIN).await
        {
            tracing::warn!(container = %id, "removing a container whose last output is not all kept");
        }
        self.runtime.remove_container(id, grace).await?;
        Ok(())
    }

    /// Runs the operations in order; plans never interleave, so two plans racing for the same
    /// instance cannot both create it. Consecutive starts (or removals) concern distinct
    /// instances, so up to [`PARALLEL_OPS`] of them run at once: a plan of a hundred starts
    /// does not wait for each container in turn.
    pub async fn apply(&self, plan: &Plan) -> PlanResult {
        let _turn = self.one_at_a_time.lock().await;
        let mut results = Vec::with_capacity(plan.operations.len());
        for batch in batches(&plan.operations) {
            let runs: Vec<_> = batch.iter().map(|op| self.run_operation(op)).collect();
            let outcomes: Vec<Result<String>> = futures::stream::iter(runs)
                .buffered(PARALLEL_OPS)
                .collect()
                .await;
            results.extend(outcomes.into_iter().map(|outcome| match outcome {
                Ok(container_id) => OperationResult {
                    ok: true,
                    error: String::new(),
                    container_id,
                },
                Err(e) => OperationResult {
                    ok: false,
                    error: e.to_string(),
                    container_id: String::new(),
                },
            }));
        }
        PlanResult { results }
    }

    async fn run_operation(&self, operation: &Operation) -> Result<String> {
        match &operation.op {
            Some(op) => self.run(op).await,
            None => Err(Error::EmptyOperation),
        }
    }

    /// Runs one operation; the container id for StartInstance and RemoveInstance, else empty.
    async fn run(&self, op: &Op) -> Result<String> {
        match op {
            Op::EnsureNetwork(op) => self.ensure_network(op).await.map(|()| String::new()),
            Op::EnsureVolume(op) => self.ensure_volume(op).await.map(|()| String::new()),
            Op::StartInstance(op) => self.start_instance(op).await,
            Op::RemoveInstance(op) => self.remove_instance(op).await,
            Op::RemoveNetwork(op) => self.remove_network(op).await.map(|()| String::new()),
            Op::RemoveVolume(op) => self.remove_volume(op).await.map(|()| String::new()),
        }
    }

    async fn ensure_network(&self, op: &EnsureNetwork) -> Result<()> {
        require(&op.tenant, "tenant")?;
        let spec = NetworkSpec {
            name: labels::network_name(&op.tenant),
            labels: labels::tenant_labels(&self.node, &op.tenant),
        };
        self.runtime.ensure_network(&spec).await?;
        Ok(())
    }

    /// Creates the instance's container unless a usable one exists.
    async fn start_instance(&self, op: &StartInstance) -> Result<String> {
        let required = [
            (&op.tenant, "tenant"),
            (&op.app, "app"),
            (&op.instance, "instance"),
            (&op.instance_uid, "instance_uid"),
        ];
        for (value, field) in required {
            require(value, field)?;
        }
        let mut config = container_config(op, &self.node)?;
        if let Some(id) = self.reuse_or_clear(op, &config).await? {
            return Ok(id);
        }
        config.group_add = self.check_dependencies(&config).await?;
        self.runtime.ensure_image(&config.image).await?;
        Ok(self.runtime.create_container(&config).await?)
    }

    /// Keeps a container of the instance with the same spec hash (starting it if stopped) and
    /// returns its id; removes one with another hash; refuses when another instance holds the
    /// name. `None` means: create the container.
    async fn reuse_or_clear(
        &self,
        op: &StartInstance,
        config: &ContainerConfig,
    ) -> Result<Option<String>> {
        let containers = self.node_containers().await?;
        let existing = containers
            .iter()
            .find(|c| label(c, labels::INSTANCE_UID) == op.instance_uid);
        match existing {
            Some(c) if label(c, labels::SPEC_HASH) == op.spec_hash && reusable(c) => {
                if matches!(c.state.as_str(), "created" | "exited") {
                    self.runtime.start_container(&c.id).await?;
                }
                Ok(Some(c.id.clone()))
            }
            Some(c) => {
                self.retire(&c.id, REPLACE_GRACE).await?;
                Ok(None)
            }
            None => match containers.iter().find(|c| c.name == config.name) {
                Some(holder) => Err(Error::NameTaken {
                    name: config.name.clone(),
                    uid: label(holder, labels::INSTANCE_UID).to_owned(),
                }),
                None => Ok(None),
            },
        }
    }

    /// The tenant network and every mounted volume must exist as managed objects: Docker would
    /// otherwise create an unlabelled volume on the fly. Returns the mounted volumes' groups,
    /// the container's supplementary groups.
    async fn check_dependencies(&self, config: &ContainerConfig) -> Result<Vec<String>> {
        let networks = self.runtime.list_networks().await?;
        if !networks.iter().any(|n| n.name == config.network) {
            return Err(Error::MissingDependency(format!(
                "network {}",
                config.network
            )));
        }
        let volumes = self.runtime.list_volumes().await?;
        let mut groups = Vec::new();
        for mount in &config.mounts {
            let Some(volume) = volumes.iter().find(|v| v.name == mount.volume) else {
                return Err(Error::MissingDependency(format!("volume {}", mount.volume)));
            };
            if let Some(group) = volume.labels.get(labels::FS_GROUP)
                && !groups.contains(group)
            {
                groups.push(group.clone());
            }
        }
        Ok(groups)
    }

    async fn remove_instance(&self, op: &RemoveInstance) -> Result<String> {
        require(&op.container_id, "container_id")?;
        let containers = self.node_containers().await?;
        let Some(c) = find_container(&containers, &op.container_id) else {
            return Ok(String::new());
        };
        let grace = Duration::from_secs(op.grace_seconds.into());
        self.retire(&c.id, grace).await?;
        Ok(c.id.clone())
    }

    async fn remove_network(&self, op: &RemoveNetwork) -> Result<()> {
        require(&op.tenant, "tenant")?;
        let name = labels::network_name(&op.tenant);
        let attached: Vec<_> = self
            .runtime
            .list_containers()
            .await?
            .into_iter()
            .filter(|c| c.networks.contains_key(&name))
            .map(|c| c.name)
            .collect();
        if !attached.is_empty() {
            return Err(Error::NetworkInUse {
                network: name,
                containers: attached.join(", "),
            });
        }
        for network in self.runtime.list_networks().await? {
            if network.name == name {
                self.runtime.remove_network(&network.id).await?;
            }
        }
        Ok(())
    }

    /// Managed containers created by this node's agent.
    async fn node_containers(&self) -> Result<Vec<ContainerInfo>> {
        let mut containers = self.runtime.list_containers().await?;
        containers.retain(|c| label(c, labels::NODE) == self.node);
        Ok(containers)
    }
}

/// A managed container of this node by full id, unique id prefix or name.
pub fn find_container<'a>(containers: &'a [ContainerInfo], id: &str) -> Option<&'a ContainerInfo> {
    containers
        .iter()
        .find(|c| c.id == id || c.name == id)
        .or_else(|| {
            let mut matches = containers.iter().filter(|c| c.id.starts_with(id));
            let first = matches.next();
            first.filter(|_| id.len() >= 12 && matches.next().is_none())
        })
}

fn label<'a>(c: &'a ContainerInfo, key: &str) -> &'a str {
    c.labels.get(key).map_or("", String::as_str)
}

/// Dead or half-removed containers cannot be started again and are replaced instead.
fn reusable(c: &ContainerInfo) -> bool {
    !matches!(c.state.as_str(), "dead" | "removing")
}

fn require(value: &str, field: &'static str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::MissingField(field));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use minicloud_proto::v1::{EnsureVolume, RemoveVolume};

    use crate::runtime::fake::{Call, FakeRuntime};
    use crate::storage::fake::FakeDisk;
    use crate::storage::layout::Layout;
    use crate::storage::mechanism::Mechanism;

    #[test]
    fn consecutive_starts_and_removals_batch_together_and_nothing_else_does() {
        let remove = |id: &str| {
            Op::RemoveInstance(RemoveInstance {
                container_id: id.into(),
                grace_seconds: 1,
            })
        };
        let start = || Op::StartInstance(StartInstance::default());
        let ops = plan(vec![
            remove("a"),
            remove("b"),
            network(),
            volume(),
            start(),
            start(),
            start(),
            remove("c"),
        ]);
        let sizes: Vec<usize> = batches(&ops.operations).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 1, 1, 3, 1]);
        assert!(batches(&[]).is_empty());
    }

    /// An executor over a fake engine and fake disk, its storage in a temporary directory.
    pub(super) fn executor() -> (FakeRuntime, Executor, tempfile::TempDir) {
        let (fake, executor, _disk, dir) = executor_with_disk();
        (fake, executor, dir)
    }

    pub(super) fn executor_with_disk() -> (FakeRuntime, Executor, FakeDisk, tempfile::TempDir) {
        let fake = FakeRuntime::new();
        let disk = FakeDisk::new();
        let dir = tempfile::tempdir().unwrap();
        let mechanism = Mechanism::LoopExt4 {
            online_growth: false,
        };
        let volumes = Volumes::new(Layout::new(dir.path()), mechanism, Arc::new(disk.clone()));
        let executor =
            Executor::new(Arc::new(fake.clone()), "n1".into()).with_volumes(Arc::new(volumes));
        (fake, executor, disk, dir)
    }

    pub(super) fn plan(ops: Vec<Op>) -> Plan {
        let operations = ops
            .into_iter()
            .map(|op| Operation { op: Some(op) })
            .collect();
        Plan { operations }
    }

    pub(super) fn network() -> Op {
        Op::EnsureNetwork(EnsureNetwork {
            tenant: "acme".into(),
        })
    }

    fn volume() -> Op {
        Op::EnsureVolume(EnsureVolume {
            tenant: "acme".into(),
            name: "data".into(),
            size_bytes: 1 << 20,
            ..EnsureVolume::default()
        })
    }

    pub(super) fn start(hash: &str) -> Op {
        let spec: minicloud_manifests::AppSpec = serde_json::from_value(json!({
            "image": "hello:1",
            "volumes": [{"volume": "data", "mountPath": "/data"}]
        }))
        .unwrap();
        let container = serde_json::to_value(spec.container()).unwrap();
        Op::StartInstance(StartInstance {
            tenant: "acme".into(),
            app: "web".into(),
            instance: "web-1".into(),
            instance_uid: "uid-1".into(),
            release: "r1".into(),
            container_json: container.to_string(),
            secret_env: Default::default(),
            spec_hash: hash.into(),
        })
    }

    pub(super) fn errors(result: &PlanResult) -> Vec<&str> {
        result.results.iter().map(|r| r.error.as_str()).collect()
    }

    fn changes(fake: &FakeRuntime) -> Vec<Call> {
        let changing = |c: &Call| {
            matches!(
                c,
                Call::CreateContainer(_) | Call::StartContainer(_) | Call::RemoveContainer(..)
            )
        };
        fake.calls().into_iter().filter(changing).collect()
    }

    #[tokio::test]
    async fn the_same_plan_twice_changes_nothing_the_second_time() {
        let (fake, executor, _dir) = executor();
        let full = plan(vec![network(), volume(), start("h1")]);
        let first = executor.apply(&full).await;
        assert_eq!(errors(&first), ["", "", ""]);
        assert!(first.results.iter().all(|r| r.ok));
        fake.clear_calls();
        let second = executor.apply(&full).await;
        assert_eq!(errors(&second), ["", "", ""]);
        assert_eq!(
            second.results[2].container_id,
            first.results[2].container_id
        );
        assert_eq!(changes(&fake), []);
        assert_eq!(fake.list_containers().await.unwrap().len(), 1);
        assert_eq!(fake.list_networks().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_changed_spec_hash_replaces_the_container() {
        let (fake, executor, _dir) = executor();
        let first = executor
            .apply(&plan(vec![network(), volume(), start("h1")]))
            .await;
        let old = first.results[2].container_id.clone();
        fake.clear_calls();
        let second = executor.apply(&plan(vec![start("h2")])).await;
        let new = second.results[0].container_id.clone();
        assert!(second.results[0].ok && new != old);
        let calls = changes(&fake);
        assert_eq!(calls[0], Call::RemoveContainer(old, REPLACE_GRACE));
        assert!(
            matches!(&calls[1], Call::CreateContainer(c) if c.labels["minicloud.spec-hash"] == "h2")
        );
    }

    #[tokio::test]
    async fn a_stopped_container_with_the_same_spec_is_started_not_recreated() {
        let (fake, executor, _dir) = executor();
        let first = executor
            .apply(&plan(vec![network(), volume(), start("h1")]))
            .await;
        let id = first.results[2].container_id.clone();
        fake.update_container(&id, |c| c.state = "exited".into());
        fake.clear_calls();
        let again = executor.apply(&plan(vec![start("h1")])).await;
        assert_eq!(again.results[0].container_id, id);
        assert_eq!(changes(&fake), [Call::StartContainer(id)]);
    }

    #[tokio::test]
    async fn removing_what_is_missing_succeeds_without_calls() {
        let (fake, executor, _dir) = executor();
        let ops = vec![
            Op::RemoveInstance(RemoveInstance {
                container_id: "nope".into(),
                grace_seconds: 1,
            }),
            Op::RemoveNetwork(RemoveNetwork {
                tenant: "acme".into(),
            }),
            Op::RemoveVolume(RemoveVolume {
                tenant: "acme".into(),
                name: "data".into(),
                keep_data: false,
            }),
        ];
        let result = executor.apply(&plan(ops)).await;
        assert!(result.results.iter().all(|r| r.ok));
        assert_eq!(fake.calls(), []);
    }

    #[tokio::test]
    async fn a_failed_operation_does_not_stop_later_ones() {
        let (fake, executor, _dir) = executor();
        fake.fail_next("create_container", "disk full");
        let result = executor
            .apply(&plan(vec![
                network(),
                volume(),
                start("h1"),
                Op::EnsureNetwork(EnsureNetwork {
                    tenant: "other".into(),
                }),
            ]))
            .await;
        assert!(!result.results[2].ok);
        assert!(result.results[2].error.contains("disk full"));
        assert!(result.results[3].ok);
        let empty = executor
            .apply(&Plan {
                operations: vec![Operation::default()],
            })
            .await;
        assert!(empty.results[0].error.contains("empty"));
    }

    #[tokio::test]
    async fn starting_without_the_network_or_volume_names_what_is_missing() {
        let (_fake, executor, _dir) = executor();
        let result = executor
            .apply(&plan(vec![start("h1"), network(), start("h1")]))
            .await;
        assert!(
            result.results[0]
                .error
                .contains("network mc-acme does not exist")
        );
        assert!(
            result.results[2]
                .error
                .contains("volume mc-acme-data does not exist")
        );
    }

    #[tokio::test]
    async fn a_failed_pull_is_reported_with_the_image_name() {
        let (fake, executor, _dir) = executor();
        fake.fail_next("ensure_image", "registry unreachable");
        let result = executor
            .apply(&plan(vec![network(), volume(), start("h1")]))
            .await;
        let error = &result.results[2].error;
        assert!(
            error.contains("image hello:1") && error.contains("registry unreachable"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_network_with_containers_is_not_removed() {
        let (fake, executor, _dir) = executor();
        executor
            .apply(&plan(vec![network(), volume(), start("h1")]))
            .await;
        let result = executor
            .apply(&plan(vec![Op::RemoveNetwork(RemoveNetwork {
                tenant: "acme".into(),
            })]))
            .await;
        assert!(
            result.results[0]
                .error
                .contains("still has containers attached: mc-acme-web-1")
        );
        assert_eq!(fake.list_networks().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn unmanaged_containers_are_never_removed() {
        let (fake, executor, _dir) = executor();
        fake.insert_container(ContainerInfo {
            id: "foreign".into(),
            name: "mc-acme-web-1".into(),
            labels: BTreeMap::new(),
            ..ContainerInfo::default()
        });
        let ops = vec![Op::RemoveInstance(RemoveInstance {
            container_id: "foreign".into(),
            grace_seconds: 0,
        })];
        let result = executor.apply(&plan(ops)).await;
        assert!(result.results[0].ok && result.results[0].container_id.is_empty());
        assert_eq!(fake.calls(), []);
    }

    #[tokio::test]
    async fn a_name_held_by_another_instance_is_reported() {
        let (fake, executor, _dir) = executor();
        executor
            .apply(&plan(vec![network(), volume(), start("h1")]))
            .await;
        let Op::StartInstance(mut other) = start("h1") else {
            unreachable!()
        };
        other.instance_uid = "uid-2".into();
        fake.clear_calls();
        let result = executor.apply(&plan(vec![Op::StartInstance(other)])).await;
        assert!(
            result.results[0]
                .error
                .contains("taken by instance uid uid-1")
        );
        assert_eq!(changes(&fake), []);
    }

    #[test]
    fn containers_are_found_by_id_name_or_a_unique_long_prefix() {
        let c = |id: &str, name: &str| ContainerInfo {
            id: id.into(),
            name: name.into(),
            ..ContainerInfo::default()
        };
        let all = [
            c("abcdef0123456789", "mc-a-x"),
            c("abcdef0123999999", "mc-a-y"),
        ];
        assert_eq!(
            find_container(&all, "mc-a-y").unwrap().id,
            "abcdef0123999999"
        );
        assert_eq!(find_container(&all, "abcdef012345").unwrap().name, "mc-a-x");
        assert!(find_container(&all, "abcdef0123").is_none());
        assert!(find_container(&all, "abc").is_none());
    }
}
