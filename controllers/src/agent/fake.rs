//! A recording fake of a node agent for tests: it keeps an observed state in memory, applies
//! plans to it the way a real agent would (containers start running, and ready, at once),
//! records every plan, pushes a snapshot on every change, and can be scripted to fail or to hold
//! plans back (like a busy Docker Engine). Volumes report the containers mounting them.
//! Snapshots are archives kept in memory, published only once complete: taking one records its
//! location when the stream ends (it can be held mid-way, or scripted to fail), restoring checks
//! that it exists with the same checksum.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use minicloud_manifests::Node;
use minicloud_proto::v1::operation::Op;
use minicloud_proto::v1::{
    ObservedContainer, ObservedNetwork, ObservedState, ObservedVolume, Operation, OperationResult,
    Plan, PlanResult, RestoreVolumeRequest, SnapshotProgress, StartInstance, TakeSnapshotRequest,
    VolumeMountedBy,
};
use tokio::sync::watch;

use super::{AgentClient, AgentConnector, AgentError, ObservedStream, ProgressStream};
use crate::labels::docker;

/// What the fake holds besides its observed state.
#[derive(Default)]
struct Script {
    plans: Vec<Plan>,
    failures: VecDeque<tonic::Status>,
    next_id: u64,
    /// Archives in the fake snapshot store: location → SHA-256.
    archives: HashMap<String, String>,
    /// Every restore asked for, in order.
    restores: Vec<RestoreVolumeRequest>,
    /// Every snapshot asked for, in order.
    takes: Vec<TakeSnapshotRequest>,
    /// Scripted failures of the next snapshots.
    snapshot_failures: VecDeque<tonic::Status>,
    /// The volumes each container mounts: container id → (tenant, volume, read-only).
    mounts: HashMap<String, Vec<(String, String, bool)>>,
}

/// One fake node agent.
pub struct FakeAgent {
    node: String,
    state: watch::Sender<ObservedState>,
    script: Arc<Mutex<Script>>,
    /// Whether plans are applied (`false`: `apply` waits until it is `true` again).
    applying: watch::Sender<bool>,
    /// Whether snapshots finish (`false`: they report progress, then wait).
    finishing: watch::Sender<bool>,
}

impl FakeAgent {
    /// A fake agent of `node` with nothing on it.
    pub fn new(node: &str) -> Arc<Self> {
        let empty = ObservedState {
            node: node.into(),
            ..ObservedState::default()
        };
        Arc::new(Self {
            node: node.into(),
            state: watch::channel(empty).0,
            script: Arc::new(Mutex::new(Script::default())),
            applying: watch::channel(true).0,
            finishing: watch::channel(true).0,
        })
    }

    /// What the fake reports now.
    pub fn observed(&self) -> ObservedState {
        self.state.borrow().clone()
    }

    /// The locations of the archives in the fake snapshot store.
    pub fn archives(&self) -> Vec<String> {
        let mut locations: Vec<String> = self.lock().archives.keys().cloned().collect();
        locations.sort();
        locations
    }

    /// Every restore asked for so far, in order.
    pub fn restores(&self) -> Vec<RestoreVolumeRequest> {
        self.lock().restores.clone()
    }

    /// Every snapshot asked for so far, in order.
    pub fn takes(&self) -> Vec<TakeSnapshotRequest> {
        self.lock().takes.clone()
    }

    /// Makes the next `take_snapshot` fail with `status` (each call scripts one failure).
    pub fn fail_next_snapshot(&self, status: tonic::Status) {
        self.lock().snapshot_failures.push_back(status);
    }

    /// Holds every snapshot mid-way (after a first progress report) until
    /// [`FakeAgent::finish_snapshots`]; nothing is published meanwhile.
    pub fn hold_snapshots(&self) {
        self.finishing.send_replace(false);
    }

    /// Lets held snapshots, and new ones, finish.
    pub fn finish_snapshots(&self) {
        self.finishing.send_replace(true);
    }

    /// Every plan applied so far, in order.
    pub fn plans(&self) -> Vec<Plan> {
        self.lock().plans.clone()
    }

    /// Every operation applied so far, in order.
    pub fn operations(&self) -> Vec<Operation> {
        self.plans()
            .into_iter()
            .flat_map(|p| p.operations)
            .collect()
    }

    /// Makes the next `apply` fail with `status` (each call to this scripts one failure).
    pub fn fail_next_apply(&self, status: tonic::Status) {
        self.lock().failures.push_back(status);
    }

    /// Holds every plan back until [`FakeAgent::resume_applies`]: `apply` waits before doing
    /// anything.
    pub fn hold_applies(&self) {
        self.applying.send_replace(false);
    }

    /// Lets held plans, and new ones, be applied.
    pub fn resume_applies(&self) {
        self.applying.send_replace(true);
    }

    /// Changes the observed state as Docker would on its own (a container dies, someone
    /// starts an unrelated container), and pushes the new snapshot.
    pub fn modify(&self, change: impl FnOnce(&mut ObservedState)) {
        self.state.send_modify(change);
    }

    /// Labels the fake puts on objects it creates for `tenant`.
    pub fn managed_labels(&self, tenant: &str) -> HashMap<String, String> {
        HashMap::from([
            (docker::MANAGED.into(), "true".into()),
            (docker::NODE.into(), self.node.clone()),
            (docker::TENANT.into(), tenant.into()),
        ])
    }

    fn script_handle(&self) -> Arc<Mutex<Script>> {
        self.script.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run(&self, op: &Op) -> OperationResult {
        let ok = |container_id: String| OperationResult {
            ok: true,
            error: String::new(),
            container_id,
        };
        match op {
            Op::StartInstance(start) => return ok(self.start(start)),
            Op::RemoveInstance(remove) => {
                self.lock().mounts.remove(&remove.container_id);
                self.modify(|s| s.containers.retain(|c| c.id != remove.container_id));
                self.refresh_mounts();
            }
            Op::EnsureNetwork(n) => {
                let network = ObservedNetwork {
                    id: format!("net-{}", n.tenant),
                    name: format!("minicloud-{}", n.tenant),
                    labels: self.managed_labels(&n.tenant),
                };
                self.modify(|s| {
                    s.networks.retain(|x| x.id != network.id);
                    s.networks.push(network);
                });
            }
            Op::RemoveNetwork(n) => {
                self.modify(|s| s.networks.retain(|x| x.id != format!("net-{}", n.tenant)))
            }
            Op::EnsureVolume(v) => {
                let mut labels = self.managed_labels(&v.tenant);
                labels.insert(docker::VOLUME.into(), v.name.clone());
                let volume = ObservedVolume {
                    name: docker_volume_name(&v.tenant, &v.name),
                    labels,
                    capacity_bytes: v.size_bytes,
                    ..ObservedVolume::default()
                };
                self.modify(
                    |s| match s.volumes.iter_mut().find(|x| x.name == volume.name) {
                        Some(existing) => {
                            existing.capacity_bytes = existing.capacity_bytes.max(v.size_bytes)
                        }
                        None => s.volumes.push(volume),
                    },
                );
                self.refresh_mounts();
            }
            Op::RemoveVolume(v) => {
                let name = docker_volume_name(&v.tenant, &v.name);
                self.modify(|s| s.volumes.retain(|x| x.name != name))
            }
        }
        ok(String::new())
    }

    /// Replaces the instance's container (unless a running one of the same spec exists).
    fn start(&self, start: &StartInstance) -> String {
        let current = self.observed().containers.into_iter().find(|c| {
            c.labels.get(docker::INSTANCE_UID) == Some(&start.instance_uid)
                && c.labels.get(docker::SPEC_HASH) == Some(&start.spec_hash)
                && c.state == "running"
        });
        if let Some(container) = current {
            return container.id;
        }
        let n = {
            let mut script = self.lock();
            script.next_id += 1;
            script.next_id
        };
        let mut labels = self.managed_labels(&start.tenant);
        for (key, value) in [
            (docker::APP, &start.app),
            (docker::INSTANCE, &start.instance),
            (docker::INSTANCE_UID, &start.instance_uid),
            (docker::RELEASE, &start.release),
            (docker::SPEC_HASH, &start.spec_hash),
        ] {
            labels.insert(key.into(), value.clone());
        }
        let container = ObservedContainer {
            id: format!("c{n}"),
            name: format!("{}-{}", start.tenant, start.instance),
            labels,
            state: "running".into(),
            ready: true,
            ip: format!("10.88.0.{n}"),
            started_at: crate::time::format(std::time::SystemTime::now()),
            ..ObservedContainer::default()
        };
        let id = container.id.clone();
        let mounts =
            serde_json::from_str::<minicloud_manifests::ContainerSpec>(&start.container_json)
                .map(|spec| {
                    spec.volumes
                        .iter()
                        .map(|m| (start.tenant.clone(), m.name.clone(), m.read_only))
                        .collect()
                })
                .unwrap_or_default();
        let replaced: Vec<String> = self
            .observed()
            .containers
            .iter()
            .filter(|c| c.labels.get(docker::INSTANCE_UID) == Some(&start.instance_uid))
            .map(|c| c.id.clone())
            .collect();
        {
            let mut script = self.lock();
            replaced
                .iter()
                .for_each(|old| drop(script.mounts.remove(old)));
            script.mounts.insert(id.clone(), mounts);
        }
        self.modify(|s| {
            s.containers
                .retain(|c| c.labels.get(docker::INSTANCE_UID) != Some(&start.instance_uid));
            s.containers.push(container);
        });
        self.refresh_mounts();
        id
    }

    /// Sets each volume's `mounted_by` from the containers that mount it.
    fn refresh_mounts(&self) {
        let mounts = self.lock().mounts.clone();
        self.modify(|s| {
            for volume in &mut s.volumes {
                let mut users: Vec<VolumeMountedBy> = mounts
                    .iter()
                    .flat_map(|(id, list)| {
                        list.iter()
                            .filter(|(t, name, _)| volume.name == docker_volume_name(t, name))
                            .map(|(_, _, read_only)| VolumeMountedBy {
                                container_id: id.clone(),
                                read_only: *read_only,
                            })
                    })
                    .collect();
                users.sort_by(|a, b| a.container_id.cmp(&b.container_id));
                volume.mounted_by = users;
            }
        });
    }
}

#[async_trait]
impl AgentClient for FakeAgent {
    async fn observe(&self) -> Result<ObservedState, AgentError> {
        Ok(self.observed())
    }

    async fn watch_observed(&self) -> Result<ObservedStream, AgentError> {
        let updates = self.state.subscribe();
        let stream = stream::unfold((updates, true), |(mut updates, first)| async move {
            if !first && updates.changed().await.is_err() {
                return None;
            }
            let snapshot = updates.borrow_and_update().clone();
            Some((Ok(snapshot), (updates, false)))
        });
        Ok(stream.boxed())
    }

    async fn apply(&self, plan: Plan) -> Result<PlanResult, AgentError> {
        let mut applying = self.applying.subscribe();
        let _ = applying.wait_for(|applying| *applying).await;
        let scripted = {
            let mut script = self.lock();
            script.plans.push(plan.clone());
            script.failures.pop_front()
        };
        if let Some(status) = scripted {
            return Err(status.into());
        }
        let results = plan
            .operations
            .iter()
            .filter_map(|op| op.op.as_ref())
            .map(|op| self.run(op))
            .collect();
        Ok(PlanResult { results })
    }

    async fn take_snapshot(
        &self,
        request: TakeSnapshotRequest,
    ) -> Result<ProgressStream, AgentError> {
        let scripted = {
            let mut script = self.lock();
            script.takes.push(request.clone());
            script.snapshot_failures.pop_front()
        };
        if let Some(status) = scripted {
            return Err(status.into());
        }
        let exists = self
            .observed()
            .volumes
            .iter()
            .any(|v| v.name == docker_volume_name(&request.tenant, &request.volume));
        if !exists {
            let missing = format!("volume {} does not exist on {}", request.volume, self.node);
            return Err(tonic::Status::not_found(missing).into());
        }
        let halfway = SnapshotProgress {
            bytes_done: 512,
            bytes_total: 1024,
            ..SnapshotProgress::default()
        };
        let script = self.script_handle();
        let mut finishing = self.finishing.subscribe();
        let done = async move {
            let _ = finishing.wait_for(|finishing| *finishing).await;
            let sha256 = {
                let mut script = script.lock().unwrap_or_else(|p| p.into_inner());
                let sha256 = format!("{:064x}", script.archives.len() + 1);
                script
                    .archives
                    .insert(request.location.clone(), sha256.clone());
                sha256
            };
            Ok(SnapshotProgress {
                bytes_done: 1024,
                bytes_total: 1024,
                done: true,
                archive_bytes: 512,
                sha256,
                pause_millis: 1,
                location: request.location,
            })
        };
        Ok(stream::iter([Ok(halfway)])
            .chain(stream::once(done))
            .boxed())
    }

    async fn restore_volume(
        &self,
        request: RestoreVolumeRequest,
    ) -> Result<ProgressStream, AgentError> {
        let archive = request.archive.clone().unwrap_or_default();
        let stored = self.lock().archives.get(&archive.location).cloned();
        match stored {
            None => Err(tonic::Status::not_found(format!(
                "no archive at {:?} in the snapshot store",
                archive.location
            ))
            .into()),
            Some(sha256) if sha256 != archive.sha256 => Err(tonic::Status::data_loss(format!(
                "archive {:?} has SHA-256 {sha256}, not {}",
                archive.location, archive.sha256
            ))
            .into()),
            Some(_) => {
                self.lock().restores.push(request);
                let done = SnapshotProgress {
                    bytes_done: 1024,
                    bytes_total: 1024,
                    done: true,
                    location: archive.location,
                    ..SnapshotProgress::default()
                };
                Ok(stream::iter([Ok(done)]).boxed())
            }
        }
    }

    async fn delete_snapshot(&self, location: &str) -> Result<bool, AgentError> {
        Ok(self.lock().archives.remove(location).is_some())
    }
}

/// The Docker name the agent gives a tenant's volume, as the real agent does.
fn docker_volume_name(tenant: &str, volume: &str) -> String {
    format!("mc-{tenant}-{volume}")
}

/// Hands out one [`FakeAgent`] per node name, creating it on first use.
#[derive(Default)]
pub struct FakeConnector {
    agents: Mutex<HashMap<String, Arc<FakeAgent>>>,
}

impl FakeConnector {
    /// The fake agent of `node`.
    pub fn agent(&self, node: &str) -> Arc<FakeAgent> {
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        agents
            .entry(node.into())
            .or_insert_with(|| FakeAgent::new(node))
            .clone()
    }
}

impl AgentConnector for FakeConnector {
    fn connect(&self, node: &Node) -> Result<Arc<dyn AgentClient>, AgentError> {
        Ok(self.agent(&node.metadata.name))
    }
}
