//! `mini server`: the all-in-one server. The API (gRPC and REST on one port) over the embedded
//! store in the data directory, or over etcd when `--etcd` is given; the controllers; and a node
//! agent for the local Docker Engine, whose `NodeAgent` service shares the API's port, with its
//! ingress proxy on a port of its own. On the first start it issues an admin key, prints it once
//! and keeps it in `<data dir>/admin.key` (0600); its own components present that key. Secret
//! values are sealed with the keys in `MINICLOUD_SECRET_KEY`, or in `<data dir>/secret.key`
//! (0600), made on the first start. `GET /metrics` on the API's port serves the metrics of all
//! of it to admin keys and to the scrape token of `--metrics-token-file` or
//! `MINI_METRICS_TOKEN`.

use std::io::{IsTerminal, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use minicloud_agent::snapshot::SnapshotStoreUrl;
use minicloud_apiserver::api::{RequestContext, ResourceApi};
use minicloud_apiserver::api_keys::Authenticator;
use minicloud_apiserver::audit::AuditOptions;
use minicloud_apiserver::ratelimit::{RateLimit, parse_rate};
use minicloud_apiserver::secrets::{KeySource, SecretKeys};
use minicloud_apiserver::server::{ServerOptions, serve_with};
use minicloud_apiserver::store::Store;
use minicloud_apiserver::store::embedded::EmbeddedStore;
use minicloud_apiserver::store::etcd::EtcdStore;
use minicloud_apiserver::watch_cache::WatchCacheOptions;
use minicloud_common::metrics::{METRICS_TOKEN_ENV, Metrics, ScrapeToken};
use minicloud_common::private_file::write_private;
use minicloud_common::server_files::{ADMIN_KEY_FILE, SECRET_KEY_ENV, SECRET_KEY_FILE};
use minicloud_manifests::Role;
use minicloud_proto::bearer::Bearer;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::{data_dir, node};

/// Flags of `mini server`.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Where the embedded store keeps its files (all of minicloud's state when --etcd is not
    /// given), and the embedded agent its volumes (`<data dir>/storage`) and its instances'
    /// output (`<data dir>/logs`); created when missing.
    #[arg(long, env = "MINI_DATA_DIR", default_value = "./minicloud-data")]
    data_dir: PathBuf,
    /// Where the embedded agent archives snapshots: a directory (`/path` or `file:///path`), or
    /// an S3-compatible bucket (`s3://bucket/prefix`; endpoint and credentials from
    /// AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)
    /// [default: <data dir>/storage/snapshots].
    #[arg(long, env = "MINI_SNAPSHOT_STORE", value_name = "URL")]
    snapshot_store: Option<SnapshotStoreUrl>,
    /// The address the API (gRPC and REST) listens on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: String,
    /// Keep state in etcd at these comma-separated endpoints instead of the data directory.
    #[arg(long, value_delimiter = ',', value_name = "URL,...")]
    etcd: Vec<String>,
    /// A prefix for every etcd key, to share one etcd between several minicloud servers.
    #[arg(long, default_value = "", requires = "etcd")]
    etcd_prefix: String,
    /// The name of this host's Node (default: the host name).
    #[arg(long, env = "MINI_NODE_NAME")]
    node_name: Option<String>,
    /// Do not run a node agent here (no containers run on this host, and no ingress).
    #[arg(long)]
    no_agent: bool,
    /// The node agent's ingress proxy.
    #[command(flatten)]
    ingress: node::IngressArgs,
    /// The node agent's sampling of resource use.
    #[command(flatten)]
    sampling: node::SamplingArgs,
    /// The node agent's kept logs.
    #[command(flatten)]
    logs: node::KeptLogArgs,
    /// Do not run the controllers here (run `mini controllers` elsewhere).
    #[arg(long)]
    no_controllers: bool,
    /// The request rate each tenant key may sustain (N/s, N/m or N/h) — also the rate of
    /// failed authentications per client address; `off` limits nothing. Admin keys (the
    /// server's own components among them) are not limited.
    #[arg(long, default_value = "100/s", value_parser = parse_rate_limit)]
    rate_limit: RateFlag,
    /// How many requests a tenant key may send at once, above --rate-limit, after a quiet spell.
    #[arg(long, default_value_t = NonZeroU32::new(200).expect("non-zero"))]
    burst: NonZeroU32,
    /// Keep at most this many audit records; the oldest go first.
    #[arg(long, default_value_t = 100_000)]
    audit_max_records: u64,
    /// Drop audit records older than this (`90d`, `12h`); `0s` keeps them whatever their age.
    #[arg(long, default_value = "90d")]
    audit_max_age: humantime::Duration,
    /// A file holding a token that may read GET /metrics and nothing else (a Prometheus
    /// server's bearer token); MINI_METRICS_TOKEN may hold the token itself instead. Admin
    /// keys may always read /metrics.
    #[arg(long, value_name = "PATH")]
    metrics_token_file: Option<PathBuf>,
    /// How often to integrate every tenant's use into its usage records (`mini usage`); `0s`
    /// meters nothing here (another server over the same etcd may).
    #[arg(long, default_value = "30s")]
    metering_interval: humantime::Duration,
}

impl ServerArgs {
    fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit.0.map(|(requests, per)| RateLimit {
            requests,
            per,
            burst: self.burst,
        })
    }

    fn audit_options(&self) -> AuditOptions {
        let max_age: Duration = self.audit_max_age.into();
        AuditOptions {
            max_records: self.audit_max_records,
            max_age: (!max_age.is_zero()).then_some(max_age),
        }
    }
}

/// The scrape token: from `--metrics-token-file`, else `MINI_METRICS_TOKEN`, else none.
fn scrape_token(file: Option<&Path>) -> Result<Option<ScrapeToken>> {
    if let Some(path) = file {
        return Ok(Some(ScrapeToken::from_file(path)?));
    }
    match std::env::var(METRICS_TOKEN_ENV) {
        Ok(text) => Ok(Some(ScrapeToken::new(&text, METRICS_TOKEN_ENV)?)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("{METRICS_TOKEN_ENV} is not valid UTF-8")
        }
    }
}

/// `--rate-limit`: requests per period, or none for `off`.
#[derive(Clone, Copy, Debug)]
struct RateFlag(Option<(NonZeroU32, Duration)>);

/// Parses `--rate-limit`: `N/s`, `N/m`, `N/h`, or `off`.
fn parse_rate_limit(text: &str) -> Result<RateFlag, String> {
    match text {
        "off" => Ok(RateFlag(None)),
        text => parse_rate(text).map(|rate| RateFlag(Some(rate))),
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(args: ServerArgs) -> Result<ExitCode> {
    init_logging();
    data_dir::refuse_if_published(&args.data_dir)?;
    let stop = shutdown_signal()?;
    let scrape_token = scrape_token(args.metrics_token_file.as_deref())?;
    let metrics = Metrics::default();
    let store = open_store(&args).await?;
    let secrets = Arc::new(secret_keys(&args.data_dir)?);
    let api = Arc::new(ResourceApi::with_audit(
        store,
        WatchCacheOptions::default(),
        secrets,
        args.audit_options(),
    ));
    let key = admin_key(&api, &args.data_dir).await?;
    match api.recount_usage().await {
        Ok(corrected) if corrected.is_empty() => {}
        Ok(corrected) => tracing::info!(tenants = ?corrected, "quota usage recounted"),
        Err(error) => tracing::warn!(%error, "cannot recount the tenants' quota usage"),
    }
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let url = node::local_url(address);
    let shutdown = CancellationToken::new();
    let mut agent_routes = tonic::service::Routes::default();
    let mut background = Vec::new();
    let mut ingress = None;
    let mut volumes = None;
    if !args.no_agent {
        let name = args
            .node_name
            .clone()
            .unwrap_or_else(node::default_node_name);
        let storage = args.data_dir.join("storage");
        let store = args.snapshot_store.clone();
        let agent = node::start_agent(
            &name,
            (&storage, store, Some(&args.data_dir.join("logs"))),
            (&args.sampling, &args.logs, &metrics),
            (&url, &url, &key),
            shutdown.clone(),
        )
        .await?;
        volumes = Some(agent.volumes);
        agent_routes = agent.routes;
        background.push(agent.heartbeat);
        let counters = (&metrics, agent.ingress);
        ingress =
            node::start_ingress(&args.ingress, &url, &key, counters, shutdown.clone()).await?;
    }
    if !args.no_controllers {
        let urls = ingress.as_ref().map(node::RunningIngress::app_urls);
        let controllers = node::spawn_controllers(&url, &key, urls, &metrics, shutdown.clone());
        background.push(tokio::spawn(async move {
            if let Ok(Err(error)) = controllers.await {
                tracing::error!(%error, "the controllers stopped");
            }
        }));
    }
    tracing::info!(%address, "API server started");
    println!("minicloud API listening on http://{address}");
    if let Some(ingress) = ingress {
        println!("minicloud ingress listening on http://{}", ingress.address);
        background.push(ingress.task);
    }
    if let Some(volumes) = volumes {
        println!("{volumes}");
    }
    std::io::stdout().flush()?;
    let stopping = shutdown.clone();
    let agents = Bearer::new(Some(&key))?;
    let options = ServerOptions {
        more_grpc: agent_routes,
        agents,
        rate_limit: args.rate_limit(),
        metrics,
        scrape_token,
        metering: Some(args.metering_interval.into()).filter(|every: &Duration| !every.is_zero()),
    };
    let served = serve_with(listener, api, options, async move {
        stop.await;
        stopping.cancel();
    })
    .await;
    shutdown.cancel();
    for task in background {
        let _ = task.await;
    }
    served.context("the API server failed")?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The server's admin key, kept in `<data_dir>/admin.key` (0600): the one there when the store
/// still honours it, else a new one, printed once. The server's own components present it too.
async fn admin_key(api: &ResourceApi, data_dir: &Path) -> Result<String> {
    let path = data_dir.join(ADMIN_KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let key = text.trim();
        let authenticator = Authenticator::new(api.store());
        if let Ok(identity) = authenticator.authenticate(Some(key)).await
            && identity.is_admin()
        {
            return Ok(key.to_owned());
        }
        tracing::warn!(path = %path.display(), "the saved admin key is no longer valid; issuing a new one");
    }
    let issued = api
        .issue_key(
            &RequestContext::admin("default"),
            Role::Admin,
            None,
            "the server's admin key",
        )
        .await
        .context("cannot issue the admin key")?;
    let key = issued.token.to_string();
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    write_private(&path, format!("{key}\n").as_bytes())
        .with_context(|| format!("cannot save the admin key in {}", path.display()))?;
    println!(
        "minicloud admin key (shown once, saved in {}): {key}",
        path.display()
    );
    Ok(key)
}

/// The keyring sealing Secret values: `MINICLOUD_SECRET_KEY` when set, else
/// `<data_dir>/secret.key`, created (0600) with a new key on the first start.
fn secret_keys(data_dir: &Path) -> Result<SecretKeys> {
    let keys = match std::env::var(SECRET_KEY_ENV) {
        Ok(text) => SecretKeys::from_env(&text)?,
        Err(std::env::VarError::NotPresent) => {
            SecretKeys::from_file(&data_dir.join(SECRET_KEY_FILE))?
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!(
                "{SECRET_KEY_ENV} is not valid UTF-8; it holds base64 keys separated by commas"
            )
        }
    };
    match keys.source() {
        KeySource::File(path) => {
            tracing::info!(path = %path.display(), "Secret values are sealed with the key file")
        }
        _ => tracing::info!("Secret values are sealed with the keys in {SECRET_KEY_ENV}"),
    }
    Ok(keys)
}

/// Logs to stderr; `RUST_LOG` picks what, `info` by default.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

async fn open_store(args: &ServerArgs) -> Result<Arc<dyn Store>> {
    if !args.etcd.is_empty() {
        let store = EtcdStore::connect(&args.etcd, &args.etcd_prefix).await?;
        tracing::info!(endpoints = %args.etcd.join(","), prefix = %args.etcd_prefix, "using etcd");
        return Ok(Arc::new(store));
    }
    let dir = args.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || EmbeddedStore::open(dir)).await??;
    tracing::info!(data_dir = %args.data_dir.display(), "using the embedded store");
    Ok(Arc::new(store))
}

/// Completes on the first SIGINT (Ctrl-C) or SIGTERM.
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
        }
    })
}
