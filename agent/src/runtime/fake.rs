//! A recording, in-memory [`Runtime`] for tests: it keeps containers, networks, volumes and
//! images in memory, records every call that changes something, emits events like Docker does,
//! and fails calls on request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::config::ContainerConfig;
use super::{
    ContainerInfo, ContainerStats, HostInfo, ListedContainer, LogChunk, LogOptions, NetworkInfo,
    NetworkSpec, ObjectType, Result, RunningContainer, Runtime, RuntimeError, RuntimeEvent,
    VolumeInfo, VolumeSpec,
};
use crate::labels;

/// A call the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `ensure_network(name)`.
    EnsureNetwork(String),
    /// `ensure_volume(name)`.
    EnsureVolume(String),
    /// `ensure_image(image)`.
    EnsureImage(String),
    /// `create_container(config)`.
    CreateContainer(Box<ContainerConfig>),
    /// `start_container(id)`.
    StartContainer(String),
    /// `restart_container(id, grace)`.
    RestartContainer(String, Duration),
    /// `stop_container(id, grace)`.
    StopContainer(String, Duration),
    /// `remove_container(id, grace)`.
    RemoveContainer(String, Duration),
    /// `remove_network(id)`.
    RemoveNetwork(String),
    /// `remove_volume(name)`.
    RemoveVolume(String),
}

#[derive(Default)]
struct State {
    containers: BTreeMap<String, ContainerInfo>,
    networks: BTreeMap<String, NetworkInfo>,
    volumes: BTreeMap<String, VolumeInfo>,
    volume_specs: BTreeMap<String, VolumeSpec>,
    images: BTreeSet<String>,
    failures: HashMap<&'static str, String>,
    calls: Vec<Call>,
    logs: HashMap<String, Vec<LogChunk>>,
    stats: HashMap<String, ContainerStats>,
    subscribers: Vec<mpsc::UnboundedSender<Result<RuntimeEvent>>>,
    next_id: u32,
}

/// The in-memory engine. Images named in [`FakeRuntime::add_image`] are present; any other
/// image is "pulled" successfully unless a failure is scripted for `ensure_image`.
#[derive(Clone, Default)]
pub struct FakeRuntime {
    state: Arc<Mutex<State>>,
}

impl FakeRuntime {
    /// An empty engine.
    pub fn new() -> FakeRuntime {
        FakeRuntime::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The changing calls received so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Forgets the recorded calls.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Makes the next call of `method` (e.g. `"create_container"`) fail with `message`.
    pub fn fail_next(&self, method: &'static str, message: &str) {
        self.lock().failures.insert(method, message.to_owned());
    }

    /// Makes an image present.
    pub fn add_image(&self, image: &str) {
        self.lock().images.insert(image.to_owned());
    }

    /// The spec a volume was created with, driver options included.
    pub fn volume_spec(&self, name: &str) -> Option<VolumeSpec> {
        self.lock().volume_specs.get(name).cloned()
    }

    /// Adds a container as if created outside the agent (with whatever labels it has).
    pub fn insert_container(&self, info: ContainerInfo) {
        self.lock().containers.insert(info.id.clone(), info);
    }

    /// Changes a container in place, as Docker would when it exits or restarts it.
    pub fn update_container(&self, id: &str, change: impl FnOnce(&mut ContainerInfo)) {
        if let Some(info) = self.lock().containers.get_mut(id) {
            change(info);
        }
    }

    /// Sets what `logs` returns for a container.
    pub fn set_logs(&self, id: &str, chunks: Vec<LogChunk>) {
        self.lock().logs.insert(id.to_owned(), chunks);
    }

    /// Sets what [`Runtime::stats`] answers for container `id`.
    pub fn set_stats(&self, id: &str, stats: ContainerStats) {
        self.lock().stats.insert(id.to_owned(), stats);
    }

    /// Sends an event to every open event stream.
    pub fn emit(&self, event: RuntimeEvent) {
        broadcast(&mut self.lock(), event);
    }

    /// Ends every open event stream, as a dropped connection to Docker would.
    pub fn drop_event_streams(&self) {
        self.lock().subscribers.clear();
    }

    /// How many event streams are open.
    pub fn event_subscribers(&self) -> usize {
        let mut state = self.lock();
        state.subscribers.retain(|tx| !tx.is_closed());
        state.subscribers.len()
    }

    /// Records `call`, then fails if a failure is scripted for `method`.
    fn enter(&self, method: &'static str, call: Call) -> Result<MutexGuard<'_, State>> {
        let mut state = self.lock();
        state.calls.push(call);
        match state.failures.remove(method) {
            Some(message) => Err(RuntimeError::Refused {
                step: method.to_owned(),
                message,
            }),
            None => Ok(state),
        }
    }
}

/// An event about `id` of type `object`.
pub fn event(
    object: ObjectType,
    action: &str,
    id: &str,
    attributes: &BTreeMap<String, String>,
) -> RuntimeEvent {
    RuntimeEvent {
        object,
        action: action.to_owned(),
        id: id.to_owned(),
        attributes: attributes.clone(),
        time: SystemTime::now(),
    }
}

fn broadcast(state: &mut State, event: RuntimeEvent) {
    state
        .subscribers
        .retain(|tx| tx.send(Ok(event.clone())).is_ok());
}

#[async_trait]
impl Runtime for FakeRuntime {
    async fn info(&self) -> Result<HostInfo> {
        Ok(HostInfo {
            ncpu: 4,
            memory_bytes: 8 << 30,
        })
    }

    async fn list_containers(&self) -> Result<Vec<ContainerInfo>> {
        let state = self.lock();
        let managed = state
            .containers
            .values()
            .filter(|c| labels::is_managed(&c.labels));
        Ok(managed.cloned().collect())
    }

    async fn list_node_containers(&self, node: &str) -> Result<Vec<ContainerInfo>> {
        let mut containers = self.list_containers().await?;
        containers.retain(|c| c.labels.get(labels::NODE).is_some_and(|n| n == node));
        Ok(containers)
    }

    async fn list_networks(&self) -> Result<Vec<NetworkInfo>> {
        Ok(self.lock().networks.values().cloned().collect())
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        Ok(self.lock().volumes.values().cloned().collect())
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<bool> {
        let mut state = self.enter("ensure_network", Call::EnsureNetwork(spec.name.clone()))?;
        if state.networks.values().any(|n| n.name == spec.name) {
            return Ok(false);
        }
        let id = format!("net-{}", spec.name);
        let info = NetworkInfo {
            id: id.clone(),
            name: spec.name.clone(),
            labels: spec.labels.clone(),
        };
        state.networks.insert(id.clone(), info);
        let name = BTreeMap::from([("name".to_owned(), spec.name.clone())]);
        broadcast(&mut state, event(ObjectType::Network, "create", &id, &name));
        Ok(true)
    }

    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<bool> {
        let mut state = self.enter("ensure_volume", Call::EnsureVolume(spec.name.clone()))?;
        if state.volumes.contains_key(&spec.name) {
            return Ok(false);
        }
        let info = VolumeInfo {
            name: spec.name.clone(),
            labels: spec.labels.clone(),
        };
        state.volumes.insert(spec.name.clone(), info);
        state.volume_specs.insert(spec.name.clone(), spec.clone());
        broadcast(
            &mut state,
            event(ObjectType::Volume, "create", &spec.name, &BTreeMap::new()),
        );
        Ok(true)
    }

    async fn ensure_image(&self, image: &str) -> Result<()> {
        let mut state = self
            .enter("ensure_image", Call::EnsureImage(image.to_owned()))
            .map_err(|e| RuntimeError::PullFailed {
                image: image.to_owned(),
                message: e.to_string(),
            })?;
        state.images.insert(image.to_owned());
        Ok(())
    }

    async fn create_container(&self, config: &ContainerConfig) -> Result<String> {
        let call = Call::CreateContainer(Box::new(config.clone()));
        let mut state = self.enter("create_container", call)?;
        if state.containers.values().any(|c| c.name == config.name) {
            return Err(RuntimeError::Refused {
                step: format!("create container {}", config.name),
                message: "name already in use".to_owned(),
            });
        }
        state.next_id += 1;
        let id = format!("c{:04}", state.next_id);
        let ip = format!("10.0.0.{}", state.next_id);
        let info = ContainerInfo {
            id: id.clone(),
            name: config.name.clone(),
            labels: config.labels.clone(),
            state: "running".to_owned(),
            exit_code: Some(0),
            restart_count: 0,
            networks: BTreeMap::from([(config.network.clone(), ip)]),
            started_at: "2024-01-01T00:00:00Z".to_owned(),
            finished_at: String::new(),
            mounts: config.mounts.clone(),
        };
        state.containers.insert(id.clone(), info);
        broadcast(
            &mut state,
            event(ObjectType::Container, "start", &id, &config.labels),
        );
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let mut state = self.enter("start_container", Call::StartContainer(id.to_owned()))?;
        let container = state
            .containers
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NotFound(format!("container {id}")))?;
        container.state = "running".to_owned();
        let labels = container.labels.clone();
        broadcast(
            &mut state,
            event(ObjectType::Container, "start", id, &labels),
        );
        Ok(())
    }

    /// Restarts like Docker's restart: a new start time, the same restart count (Docker counts
    /// only the restarts its restart policy makes).
    async fn restart_container(&self, id: &str, grace: Duration) -> Result<()> {
        let call = Call::RestartContainer(id.to_owned(), grace);
        let mut state = self.enter("restart_container", call)?;
        let container = state
            .containers
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NotFound(format!("container {id}")))?;
        container.state = "running".to_owned();
        container.started_at = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
        let labels = container.labels.clone();
        broadcast(
            &mut state,
            event(ObjectType::Container, "restart", id, &labels),
        );
        Ok(())
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> Result<bool> {
        let call = Call::StopContainer(id.to_owned(), grace);
        let mut state = self.enter("stop_container", call)?;
        let Some(container) = state.containers.get_mut(id) else {
            return Ok(false);
        };
        container.state = "exited".to_owned();
        let labels = container.labels.clone();
        broadcast(&mut state, event(ObjectType::Container, "die", id, &labels));
        Ok(true)
    }

    async fn remove_container(&self, id: &str, grace: Duration) -> Result<bool> {
        let call = Call::RemoveContainer(id.to_owned(), grace);
        let mut state = self.enter("remove_container", call)?;
        let Some(removed) = state.containers.remove(id) else {
            return Ok(false);
        };
        broadcast(
            &mut state,
            event(ObjectType::Container, "destroy", id, &removed.labels),
        );
        Ok(true)
    }

    async fn remove_network(&self, id: &str) -> Result<bool> {
        let mut state = self.enter("remove_network", Call::RemoveNetwork(id.to_owned()))?;
        let Some(network) = state.networks.get(id).cloned() else {
            return Ok(false);
        };
        if state
            .containers
            .values()
            .any(|c| c.networks.contains_key(&network.name))
        {
            return Err(RuntimeError::Refused {
                step: format!("remove network {id}"),
                message: "network has active endpoints".to_owned(),
            });
        }
        state.networks.remove(id);
        broadcast(
            &mut state,
            event(ObjectType::Network, "destroy", id, &BTreeMap::new()),
        );
        Ok(true)
    }

    async fn remove_volume(&self, name: &str) -> Result<bool> {
        let mut state = self.enter("remove_volume", Call::RemoveVolume(name.to_owned()))?;
        state.volume_specs.remove(name);
        let removed = state.volumes.remove(name).is_some();
        if removed {
            broadcast(
                &mut state,
                event(ObjectType::Volume, "destroy", name, &BTreeMap::new()),
            );
        }
        Ok(removed)
    }

    fn events(&self, _since: Option<SystemTime>) -> BoxStream<'static, Result<RuntimeEvent>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().subscribers.push(tx);
        UnboundedReceiverStream::new(rx).boxed()
    }

    async fn list_all(&self, node: &str) -> Result<Vec<ListedContainer>> {
        let containers = self.list_node_containers(node).await?;
        Ok(containers
            .into_iter()
            .map(|c| ListedContainer {
                running: c.state == "running",
                id: c.id,
                labels: c.labels,
            })
            .collect())
    }

    async fn list_running(&self, node: &str) -> Result<Vec<RunningContainer>> {
        let containers = self.list_node_containers(node).await?;
        Ok(containers
            .into_iter()
            .filter(|c| c.state == "running")
            .map(|c| RunningContainer {
                id: c.id,
                labels: c.labels,
            })
            .collect())
    }

    async fn stats(&self, id: &str) -> Result<ContainerStats> {
        let state = self.lock();
        if !state.containers.contains_key(id) {
            return Err(RuntimeError::NotFound(format!("container {id}")));
        }
        state
            .stats
            .get(id)
            .copied()
            .ok_or_else(|| RuntimeError::Refused {
                step: format!("read the stats of {id}"),
                message: "no stats were set for it".into(),
            })
    }

    fn logs(&self, id: &str, options: LogOptions) -> BoxStream<'static, Result<LogChunk>> {
        let chunks = self.lock().logs.get(id).cloned().unwrap_or_default();
        let since_nanos = options.since.unwrap_or(0).saturating_mul(1_000_000_000);
        let chunks = chunks
            .into_iter()
            .filter(move |chunk| chunk.time_unix_nanos >= since_nanos);
        stream::iter(chunks.map(Ok)).boxed()
    }
}
