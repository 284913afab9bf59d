//! What runs beside the API: the node agent (serving `NodeAgent` and heartbeating its Node), its
//! ingress proxy, and the controllers. `mini server` runs them all in its own process; `mini
//! agent` and `mini controllers` run them apart, for more nodes or a separate control loop.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use minicloud_agent::ingress::{self, IngressMetrics, Proxy};
use minicloud_agent::logs::Retention;
use minicloud_agent::snapshot::SnapshotStoreUrl;
use minicloud_agent::{Agent, AgentConfig, DEFAULT_HEARTBEAT_INTERVAL, run_heartbeat};
use minicloud_common::metrics::Metrics;
use minicloud_controllers::{ControllersConfig, IngressAddress};
use minicloud_manifests::Bytes;
use minicloud_proto::bearer::{Authorized, Bearer, authorized};
use minicloud_proto::v1::resource_service_client::ResourceServiceClient;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

/// A running agent: its gRPC routes, to be served, and its heartbeat task.
pub struct RunningAgent {
    /// The `NodeAgent` gRPC service, to serve alone or beside the API's.
    pub routes: Routes,
    /// Registers the Node and renews it until shutdown.
    pub heartbeat: JoinHandle<()>,
    /// How the node enforces volume sizes, as printed at start
    /// (`volumes: loop-ext4 (hard size limits by a sparse ext4 image per volume)`).
    pub volumes: String,
    /// The counters the node's ingress counts into and the agent reports.
    pub ingress: IngressMetrics,
}

/// Flags of the agent's sampling of its instances' resource use and of its health alerts,
/// shared by `mini server` and `mini agent`.
#[derive(Args, Debug)]
pub struct SamplingArgs {
    /// How often the agent samples every instance's CPU, memory, network and block I/O (what
    /// `mini top` shows).
    #[arg(long, env = "MINI_METRICS_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub metrics_interval: Duration,
    /// Failed health probes in a row (counted across the agent's restarts of the container)
    /// that raise an alert: the Instance's Healthy=False event and the tenant's webhook.
    #[arg(long, env = "MINI_HEALTH_ALERT_AFTER", default_value_t = minicloud_agent::health::alert::DEFAULT_ALERT_AFTER, value_parser = clap::value_parser!(u32).range(1..))]
    pub health_alert_after: u32,
}

/// Flags of the agent's kept logs, shared by `mini server` and `mini agent`: the limits are
/// the same for every tenant, so one tenant's output never pushes out another's.
#[derive(Args, Debug)]
pub struct KeptLogArgs {
    /// The bytes of output each tenant keeps on a node; the oldest lines go first beyond it.
    #[arg(
        long,
        env = "MINI_LOG_RETENTION_SIZE",
        default_value = "256Mi",
        value_name = "BYTES"
    )]
    pub log_retention_size: Bytes,
    /// How long output is kept.
    #[arg(long, env = "MINI_LOG_RETENTION_AGE", default_value = "7days", value_parser = humantime::parse_duration)]
    pub log_retention_age: Duration,
}

impl KeptLogArgs {
    /// The retention these flags give.
    pub fn retention(&self) -> Retention {
        Retention {
            max_bytes: self.log_retention_size.get(),
            max_age: self.log_retention_age,
        }
    }
}

/// Connects an agent for `node_name` to the local Docker Engine, with its volumes in
/// `storage_dir`, their snapshots in `snapshot_store` (`<storage_dir>/snapshots` when `None`)
/// and its kept logs in `log_dir` (`<storage_dir>/logs` when `None`), sampling as `sampling`
/// says with the samples' series in `metrics`, and starts heartbeating its Node (reachable at
/// `endpoint`) to the API server at `api_url`.
pub async fn start_agent(
    node_name: &str,
    (storage_dir, snapshot_store, log_dir): (&Path, Option<SnapshotStoreUrl>, Option<&Path>),
    (sampling, logs, metrics): (&SamplingArgs, &KeptLogArgs, &Metrics),
    (endpoint, api_url, key): (&str, &str, &str),
    shutdown: CancellationToken,
) -> Result<RunningAgent> {
    let mut config = AgentConfig::new(node_name)
        .with_storage_dir(storage_dir)
        .with_metrics_interval(sampling.metrics_interval)
        .with_log_retention(logs.retention())
        .with_health_alert_after(sampling.health_alert_after);
    if let Some(store) = snapshot_store {
        config = config.with_snapshot_store(store);
    }
    if let Some(dir) = log_dir {
        config = config.with_log_dir(dir);
    }
    let agent = Agent::connect(config)
        .await
        .context("cannot start the node agent (is dockerd running? DOCKER_HOST is honoured)")?;
    agent.register_metrics(metrics);
    let node = agent
        .node_object(endpoint)
        .await
        .context("cannot read the host's capacity from the Docker Engine")?;
    let client = ResourceServiceClient::new(lazy_channel(api_url, key)?);
    let heartbeat = tokio::spawn(run_heartbeat(
        client,
        node,
        DEFAULT_HEARTBEAT_INTERVAL,
        shutdown.cancelled_owned(),
    ));
    tracing::info!(node = node_name, endpoint, "node agent running");
    let routes = Routes::new(agent.service());
    let volumes = agent.volumes().mechanism().summary();
    Ok(RunningAgent {
        routes,
        heartbeat,
        volumes,
        ingress: agent.ingress_metrics(),
    })
}

/// Flags of the ingress proxy, shared by `mini server` and `mini agent`.
#[derive(Args, Debug)]
pub struct IngressArgs {
    /// The address the ingress proxy listens on for `http://<app>.<tenant>.<domain>`; port 0
    /// picks a free port; `off` runs no ingress.
    #[arg(long, env = "MINI_INGRESS_LISTEN", default_value = "0.0.0.0:8080")]
    ingress_listen: String,
    /// The domain apps are served under: `<app>.<tenant>.<domain>` (`localhost` resolves to
    /// this host with no DNS set-up).
    #[arg(long, env = "MINI_DOMAIN", default_value = "localhost")]
    domain: String,
}

/// A running ingress proxy.
pub struct RunningIngress {
    /// The address it listens on.
    pub address: SocketAddr,
    /// The domain it serves apps under.
    pub domain: String,
    /// Serves until shutdown, then lets requests in flight finish.
    pub task: JoinHandle<()>,
}

impl RunningIngress {
    /// Where users reach apps through it, for App.status.url.
    pub fn app_urls(&self) -> IngressAddress {
        IngressAddress {
            domain: self.domain.clone(),
            port: self.address.port(),
        }
    }
}

/// Starts the ingress proxy as `args` say (`None` when they turn it off), routing by the Apps
/// and Instances of the API server at `api_url` until `shutdown`, counting into `counters`
/// (its agent's, which reports them) with its request metrics in `metrics`.
pub async fn start_ingress(
    args: &IngressArgs,
    api_url: &str,
    key: &str,
    (metrics, counters): (&Metrics, IngressMetrics),
    shutdown: CancellationToken,
) -> Result<Option<RunningIngress>> {
    if args.ingress_listen.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let domain = args.domain.trim_end_matches('.').to_ascii_lowercase();
    if domain.is_empty() {
        anyhow::bail!(
            "--domain is empty; give the domain apps are served under, like localhost or \
             apps.example.com"
        );
    }
    let listen = &args.ingress_listen;
    let listener = TcpListener::bind(listen).await.with_context(|| {
        format!("cannot listen for the ingress on {listen} (--ingress-listen ADDR or off)")
    })?;
    let address = listener.local_addr()?;
    let (writer, routes) = ingress::route_channel();
    let client = ResourceServiceClient::new(lazy_channel(api_url, key)?);
    tracing::info!(%address, "ingress serving http://<app>.<tenant>.{domain}:{}", address.port());
    let follow = tokio::spawn(ingress::follow::follow(
        client,
        domain.clone(),
        writer,
        shutdown.clone().cancelled_owned(),
    ));
    let proxy = Proxy::new(routes).with_metrics(counters);
    proxy.metrics().register(metrics);
    let task = tokio::spawn(async move {
        ingress::serve(listener, proxy, shutdown.cancelled_owned()).await;
        let _ = follow.await;
    });
    Ok(Some(RunningIngress {
        address,
        domain,
        task,
    }))
}

/// Runs the controllers against the API server at `api_url` until `shutdown`, with their
/// metrics in `metrics`; Apps get URLs when `ingress` says where they are served.
pub fn spawn_controllers(
    api_url: &str,
    key: &str,
    ingress: Option<IngressAddress>,
    metrics: &Metrics,
    shutdown: CancellationToken,
) -> JoinHandle<minicloud_controllers::Result<()>> {
    let config = ControllersConfig {
        ingress,
        api_key: Some(key.to_owned()),
        metrics: metrics.clone(),
        ..ControllersConfig::new(api_url)
    };
    tokio::spawn(minicloud_controllers::run(config, shutdown))
}

/// The URL by which processes on this host reach a listener bound to `address`: the loopback
/// address when it listens on every interface.
pub fn local_url(address: SocketAddr) -> String {
    let mut address = address;
    if address.ip().is_unspecified() {
        let loopback: std::net::IpAddr = if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        address.set_ip(loopback);
    }
    format!("http://{address}")
}

/// This host's name made into a valid node name (lowercase DNS label), `node` when it has none.
pub fn default_node_name() -> String {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    node_name_from_hostname(&hostname)
}

fn node_name_from_hostname(hostname: &str) -> String {
    let label: String = hostname
        .trim()
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let label = label.trim_matches('-');
    if label.is_empty() {
        "node".to_owned()
    } else {
        label.to_owned()
    }
}

/// A channel to the API server at `url` that connects on first use and presents `key`.
fn lazy_channel(url: &str, key: &str) -> Result<Authorized> {
    Ok(authorized(lazy_api_channel(url)?, Bearer::new(Some(key))?))
}

/// A channel to the API server at `url` that connects on first use, presenting no key of its
/// own.
pub fn lazy_api_channel(url: &str) -> Result<tonic::transport::Channel> {
    Ok(tonic::transport::Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("{url} is not a valid server URL"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .connect_lazy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_become_dns_labels() {
        assert_eq!(
            node_name_from_hostname("Build-Box.example.com\n"),
            "build-box"
        );
        assert_eq!(node_name_from_hostname("my_host"), "my-host");
        assert_eq!(node_name_from_hostname("--"), "node");
        assert_eq!(node_name_from_hostname(""), "node");
    }

    #[test]
    fn wildcard_listeners_are_reached_over_loopback() {
        assert_eq!(
            local_url("0.0.0.0:7070".parse().unwrap()),
            "http://127.0.0.1:7070"
        );
        assert_eq!(local_url("[::]:7070".parse().unwrap()), "http://[::1]:7070");
        assert_eq!(
            local_url("10.0.0.5:7070".parse().unwrap()),
            "http://10.0.0.5:7070"
        );
    }
}
