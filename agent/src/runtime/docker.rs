//! The [`Runtime`] on a real Docker Engine, through bollard — the only module that knows bollard.
//! Every listing filters on `minicloud.managed=true`, so objects minicloud did not create are
//! invisible to the agent.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, ContainerSummaryStateEnum,
    EndpointSettings, EventMessage, EventMessageTypeEnum, HostConfig, HostConfigLogConfig,
    Mount as DockerMount, MountType, NetworkCreateRequest, NetworkingConfig,
    RestartPolicy as DockerRestart, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    RestartContainerOptionsBuilder, StatsOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use super::config::{ContainerConfig, Mount, RestartPolicy};
use super::docker_stats::container_stats;
use super::firewall;
use super::{
    ContainerInfo, ContainerStats, HostInfo, ListedContainer, LogChunk, LogOptions, LogStream,
    NetworkInfo, NetworkSpec, ObjectType, Result, RunningContainer, Runtime, RuntimeError,
    RuntimeEvent, VolumeInfo, VolumeSpec,
};
use crate::labels;

/// The Docker Engine, reached through its local socket (or `DOCKER_HOST`).
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
}

impl DockerRuntime {
    /// Connects with Docker's defaults (`DOCKER_HOST`, else the local socket) and settles on an
    /// API version the engine speaks.
    pub async fn connect() -> Result<DockerRuntime> {
        let docker = Docker::connect_with_defaults().map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        let runtime = DockerRuntime { docker };
        runtime.isolate_networks().await?;
        Ok(runtime)
    }

    /// Rewrites the host firewall's isolation rules for every managed network (see
    /// [`firewall`]).
    async fn isolate_networks(&self) -> Result<()> {
        let lock = firewall::lock().await?;
        let bridges: Vec<String> = self
            .list_networks()
            .await?
            .iter()
            .map(|n| firewall::bridge_name(&n.id))
            .collect();
        firewall::sync(&bridges, &lock).await
    }

    /// The managed containers matching `filters`, inspected.
    async fn list_inspected(
        &self,
        filters: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<ContainerInfo>> {
        let summaries = self.summaries(filters, true).await?;
        let mut out = Vec::with_capacity(summaries.len());
        for id in summaries.into_iter().filter_map(|s| s.id) {
            out.extend(self.inspect(&id).await?);
        }
        Ok(out)
    }

    /// The containers `filters` select, as one listing shows them (stopped ones too when `all`).
    async fn summaries(
        &self,
        filters: &HashMap<String, Vec<String>>,
        all: bool,
    ) -> Result<Vec<ContainerSummary>> {
        let options = ListContainersOptionsBuilder::new()
            .all(all)
            .filters(filters)
            .build();
        self.docker
            .list_containers(Some(options))
            .await
            .map_err(|e| refused("list containers".into(), e))
    }

    async fn inspect(&self, id: &str) -> Result<Option<ContainerInfo>> {
        match self.docker.inspect_container(id, None).await {
            Ok(inspect) => Ok(Some(container_info(inspect))),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(refused(format!("inspect container {id}"), e)),
        }
    }
}

/// Managed objects labelled with `node`.
fn node_filter(node: &str) -> HashMap<String, Vec<String>> {
    let mut filters = managed_filter();
    filters
        .entry("label".to_owned())
        .or_default()
        .push(format!("{}={node}", labels::NODE));
    filters
}

fn managed_filter() -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_owned(),
        vec![format!("{}=true", labels::MANAGED)],
    )])
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn info(&self) -> Result<HostInfo> {
        let info = self.docker.info().await.map_err(unreachable)?;
        Ok(HostInfo {
            ncpu: info.ncpu.unwrap_or(1).try_into().unwrap_or(1),
            memory_bytes: info.mem_total.unwrap_or(0).try_into().unwrap_or(0),
        })
    }

    async fn list_containers(&self) -> Result<Vec<ContainerInfo>> {
        self.list_inspected(&managed_filter()).await
    }

    async fn list_node_containers(&self, node: &str) -> Result<Vec<ContainerInfo>> {
        self.list_inspected(&node_filter(node)).await
    }

    async fn list_networks(&self) -> Result<Vec<NetworkInfo>> {
        let options = ListNetworksOptionsBuilder::new()
            .filters(&managed_filter())
            .build();
        let networks = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|e| refused("list networks".into(), e))?;
        Ok(networks
            .into_iter()
            .map(|n| NetworkInfo {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: sorted(n.labels.unwrap_or_default()),
            })
            .collect())
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>> {
        let options = ListVolumesOptionsBuilder::new()
            .filters(&managed_filter())
            .build();
        let response = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(|e| refused("list volumes".into(), e))?;
        Ok(response
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| VolumeInfo {
                name: v.name,
                labels: sorted(v.labels),
            })
            .collect())
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<bool> {
        if self
            .list_networks()
            .await?
            .iter()
            .any(|n| n.name == spec.name)
        {
            self.isolate_networks().await?;
            return Ok(false);
        }
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some("bridge".to_owned()),
            labels: Some(spec.labels.clone().into_iter().collect()),
            ..Default::default()
        };
        self.docker
            .create_network(request)
            .await
            .map_err(|e| refused(format!("create network {}", spec.name), e))?;
        self.isolate_networks().await?;
        Ok(true)
    }

    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<bool> {
        if self
            .list_volumes()
            .await?
            .iter()
            .any(|v| v.name == spec.name)
        {
            return Ok(false);
        }
        let request = VolumeCreateRequest {
            name: Some(spec.name.clone()),
            driver: Some("local".to_owned()),
            driver_opts: Some(spec.options.clone().into_iter().collect()),
            labels: Some(spec.labels.clone().into_iter().collect()),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map_err(|e| refused(format!("create volume {}", spec.name), e))?;
        Ok(true)
    }

    async fn ensure_image(&self, image: &str) -> Result<()> {
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if status(&e) == Some(404) => {}
            Err(e) => return Err(refused(format!("inspect image {image}"), e)),
        }
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        self.docker
            .create_image(Some(options), None, None)
            .try_for_each(|_| async { Ok(()) })
            .await
            .map_err(|e| RuntimeError::PullFailed {
                image: image.to_owned(),
                message: message(&e),
            })
    }

    async fn create_container(&self, config: &ContainerConfig) -> Result<String> {
        let options = CreateContainerOptionsBuilder::new()
            .name(&config.name)
            .build();
        let created = self
            .docker
            .create_container(Some(options), create_body(config))
            .await
            .map_err(|e| refused(format!("create container {}", config.name), e))?;
        self.start_container(&created.id).await?;
        Ok(created.id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| refused(format!("start container {id}"), e))
    }

    async fn restart_container(&self, id: &str, grace: Duration) -> Result<()> {
        let seconds = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let options = RestartContainerOptionsBuilder::new().t(seconds).build();
        match self.docker.restart_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if status(&e) == Some(404) => {
                Err(RuntimeError::NotFound(format!("container {id}")))
            }
            Err(e) => Err(refused(format!("restart container {id}"), e)),
        }
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> Result<bool> {
        let seconds = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let stop = StopContainerOptionsBuilder::new().t(seconds).build();
        match self.docker.stop_container(id, Some(stop)).await {
            Ok(()) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) if status(&e) == Some(304) => Ok(true),
            Err(e) => Err(refused(format!("stop container {id}"), e)),
        }
    }

    async fn remove_container(&self, id: &str, grace: Duration) -> Result<bool> {
        if !self.stop_container(id, grace).await? {
            return Ok(false);
        }
        let remove = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(id, Some(remove)).await {
            Ok(()) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(refused(format!("remove container {id}"), e)),
        }
    }

    async fn remove_network(&self, id: &str) -> Result<bool> {
        match self.docker.remove_network(id).await {
            Ok(()) => self.isolate_networks().await.map(|()| true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(refused(format!("remove network {id}"), e)),
        }
    }

    async fn remove_volume(&self, name: &str) -> Result<bool> {
        let options = RemoveVolumeOptionsBuilder::new().force(false).build();
        match self.docker.remove_volume(name, Some(options)).await {
            Ok(()) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(refused(format!("remove volume {name}"), e)),
        }
    }

    fn events(&self, since: Option<SystemTime>) -> BoxStream<'static, Result<RuntimeEvent>> {
        let filters = HashMap::from([("type".to_owned(), vec!["container", "network", "volume"])]);
        let mut options = EventsOptionsBuilder::new().filters(&filters);
        if let Some(since) = since {
            let secs = since
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            options = options.since(&secs.to_string());
        }
        let docker = self.docker.clone();
        docker
            .events(Some(options.build()))
            .map(|event| event.map(runtime_event).map_err(unreachable))
            .boxed()
    }

    async fn list_all(&self, node: &str) -> Result<Vec<ListedContainer>> {
        let summaries = self.summaries(&node_filter(node), true).await?;
        Ok(summaries
            .into_iter()
            .filter_map(|s| {
                Some(ListedContainer {
                    running: s.state == Some(ContainerSummaryStateEnum::RUNNING),
                    id: s.id?,
                    labels: sorted(s.labels.unwrap_or_default()),
                })
            })
            .collect())
    }

    async fn list_running(&self, node: &str) -> Result<Vec<RunningContainer>> {
        let mut filters = node_filter(node);
        filters.insert("status".to_owned(), vec!["running".to_owned()]);
        let summaries = self.summaries(&filters, false).await?;
        Ok(summaries
            .into_iter()
            .filter_map(|s| {
                Some(RunningContainer {
                    id: s.id?,
                    labels: sorted(s.labels.unwrap_or_default()),
                })
            })
            .collect())
    }

    async fn stats(&self, id: &str) -> Result<ContainerStats> {
        let options = StatsOptionsBuilder::new()
            .stream(false)
            .one_shot(true)
            .build();
        let mut readings = self.docker.stats(id, Some(options));
        match readings.next().await {
            Some(Ok(response)) => Ok(container_stats(&response)),
            Some(Err(e)) if status(&e) == Some(404) => {
                Err(RuntimeError::NotFound(format!("container {id}")))
            }
            Some(Err(e)) => Err(refused(format!("read the stats of {id}"), e)),
            None => Err(RuntimeError::Refused {
                step: format!("read the stats of {id}"),
                message: "the engine sent no reading".into(),
            }),
        }
    }

    fn logs(&self, id: &str, options: LogOptions) -> BoxStream<'static, Result<LogChunk>> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .follow(options.follow)
            .since(
                options
                    .since
                    .map_or(0, |s| i32::try_from(s).unwrap_or(i32::MAX)),
            )
            .build();
        let id = id.to_owned();
        self.docker
            .logs(&id, Some(options))
            .filter_map(move |item| {
                let result = match item {
                    Ok(output) => log_chunk(output).map(Ok),
                    Err(e) => Some(Err(refused(format!("read logs of {id}"), e))),
                };
                futures::future::ready(result)
            })
            .boxed()
    }
}

/// The Docker request for `config`: isolation settings in the host config, the tenant network
/// with its aliases as the only endpoint.
fn create_body(config: &ContainerConfig) -> ContainerCreateBody {
    let endpoint = EndpointSettings {
        aliases: Some(config.aliases.clone()),
        ..Default::default()
    };
    ContainerCreateBody {
        hostname: Some(config.hostname.clone()),
        user: Some(config.user.clone()),
        image: Some(config.image.clone()),
        entrypoint: config.entrypoint.clone(),
        cmd: config.cmd.clone(),
        env: Some(config.env.to_docker()),
        labels: Some(config.labels.clone().into_iter().collect()),
        exposed_ports: Some(config.exposed_ports.clone()),
        host_config: Some(host_config(config)),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(config.network.clone(), endpoint)])),
        }),
        ..Default::default()
    }
}

fn host_config(config: &ContainerConfig) -> HostConfig {
    let limits = config.limits;
    HostConfig {
        memory: Some(i64::try_from(limits.memory_bytes).unwrap_or(i64::MAX)),
        memory_swap: Some(i64::try_from(limits.memory_bytes).unwrap_or(i64::MAX)),
        nano_cpus: Some(i64::try_from(limits.nano_cpus).unwrap_or(i64::MAX)),
        pids_limit: Some(i64::from(limits.pids)),
        network_mode: Some(config.network.clone()),
        cap_drop: Some(config.cap_drop.clone()),
        cap_add: Some(config.cap_add.clone()),
        security_opt: Some(config.security_opt.clone()),
        readonly_rootfs: Some(config.read_only_root),
        init: Some(config.init),
        tmpfs: Some(config.tmpfs.clone().into_iter().collect()),
        mounts: Some(config.mounts.iter().map(volume_mount).collect()),
        group_add: Some(config.group_add.clone()),
        privileged: Some(false),
        publish_all_ports: Some(false),
        log_config: Some(HostConfigLogConfig {
            typ: Some(config.log.driver.clone()),
            config: Some(config.log.options.clone().into_iter().collect()),
        }),
        restart_policy: Some(DockerRestart {
            name: Some(match config.restart {
                RestartPolicy::Always => RestartPolicyNameEnum::ALWAYS,
            }),
            maximum_retry_count: None,
        }),
        ..Default::default()
    }
}

fn volume_mount(mount: &Mount) -> DockerMount {
    DockerMount {
        target: Some(mount.target.clone()),
        source: Some(mount.volume.clone()),
        typ: Some(MountType::VOLUME),
        read_only: Some(mount.read_only),
        ..Default::default()
    }
}

fn container_info(inspect: ContainerInspectResponse) -> ContainerInfo {
    let state = inspect.state.unwrap_or_default();
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    let mounts = inspect
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .map(|m| Mount {
            volume: m.name.unwrap_or_default(),
            target: m.destination.unwrap_or_default(),
            read_only: m.rw == Some(false),
        })
        .collect();
    let networks = inspect
        .network_settings
        .and_then(|s| s.networks)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, endpoint)| (name, endpoint.ip_address.unwrap_or_default()))
        .collect();
    ContainerInfo {
        id: inspect.id.unwrap_or_default(),
        name: inspect
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        labels: sorted(labels),
        state: state.status.map(|s| s.to_string()).unwrap_or_default(),
        exit_code: state.exit_code.and_then(|c| i32::try_from(c).ok()),
        restart_count: inspect.restart_count.unwrap_or(0).try_into().unwrap_or(0),
        networks,
        started_at: docker_time(state.started_at),
        finished_at: docker_time(state.finished_at),
        mounts,
    }
}

/// Docker reports "never" as the zero time `0001-01-01T00:00:00Z`; the agent reports it empty.
fn docker_time(time: Option<String>) -> String {
    time.filter(|t| !t.starts_with("0001-")).unwrap_or_default()
}

fn runtime_event(event: EventMessage) -> RuntimeEvent {
    let object = match event.typ {
        Some(EventMessageTypeEnum::CONTAINER) => ObjectType::Container,
        Some(EventMessageTypeEnum::NETWORK) => ObjectType::Network,
        Some(EventMessageTypeEnum::VOLUME) => ObjectType::Volume,
        _ => ObjectType::Other,
    };
    let actor = event.actor.unwrap_or_default();
    let nanos = event
        .time_nano
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    RuntimeEvent {
        object,
        action: event.action.unwrap_or_default(),
        id: actor.id.unwrap_or_default(),
        attributes: sorted(actor.attributes.unwrap_or_default()),
        time: UNIX_EPOCH + Duration::from_nanos(nanos),
    }
}

/// A logged message, `<RFC 3339 time> <bytes>` as the engine sends it with timestamps.
fn log_chunk(output: LogOutput) -> Option<LogChunk> {
    let (stream, message) = match output {
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            (LogStream::Stdout, message)
        }
        LogOutput::StdErr { message } => (LogStream::Stderr, message),
        LogOutput::StdIn { .. } => return None,
    };
    let space = message.iter().position(|b| *b == b' ')?;
    let time = std::str::from_utf8(&message[..space]).ok()?;
    let time = humantime::parse_rfc3339(time).ok()?;
    let nanos = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    Some(LogChunk {
        stream,
        time_unix_nanos: i64::try_from(nanos).unwrap_or(i64::MAX),
        data: message[space + 1..].to_vec(),
    })
}

fn sorted(map: HashMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter().collect()
}

fn status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        DockerError::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

fn unreachable(e: DockerError) -> RuntimeError {
    RuntimeError::Unreachable(Box::new(e))
}

/// A server's refusal keeps its message; a transport failure means the engine is unreachable.
fn refused(step: String, e: DockerError) -> RuntimeError {
    match e {
        DockerError::DockerResponseServerError { message, .. } => {
            RuntimeError::Refused { step, message }
        }
        other => unreachable(other),
    }
}
