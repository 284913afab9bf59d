//! `mini agent`: a node agent on its own, making this host's Docker Engine a node of the server
//! it joins, with its ingress proxy. Its port (the `NodeAgent` gRPC service, and `GET /metrics`
//! with its instances' resource series and its ingress's requests) answers admin keys of that
//! server only.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use minicloud_agent::snapshot::SnapshotStoreUrl;
use minicloud_common::metrics::Metrics;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::agent_access::{AdminKeys, admins_only};
use crate::client::{api_key, server_url};
use crate::commands::server::{init_logging, shutdown_signal};
use crate::node::{
    IngressArgs, KeptLogArgs, SamplingArgs, default_node_name, local_url, start_agent,
    start_ingress,
};

/// Flags of `mini agent`.
#[derive(Args, Debug)]
pub struct AgentArgs {
    /// The API server to register with [default: the config file's current context, else
    /// http://127.0.0.1:7070].
    #[arg(long, env = "MINI_SERVER")]
    server: Option<String>,
    /// An admin key [default: the config file's].
    #[arg(long, env = "MINI_KEY", hide_env_values = true)]
    key: Option<String>,
    /// The address the NodeAgent gRPC service listens on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7071")]
    listen: String,
    /// The URL the controllers reach this agent at [default: http://<listen address>].
    #[arg(long)]
    advertise: Option<String>,
    /// The name of this host's Node (default: the host name).
    #[arg(long, env = "MINI_NODE_NAME")]
    node_name: Option<String>,
    /// Where the node's volumes live: a sparse ext4 image and a mount point per volume.
    #[arg(long, env = "MINI_STORAGE_DIR", default_value = minicloud_agent::DEFAULT_STORAGE_DIR)]
    storage_dir: PathBuf,
    /// Where snapshots are archived: a directory (`/path` or `file:///path`), or an
    /// S3-compatible bucket (`s3://bucket/prefix`; endpoint and credentials from
    /// AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)
    /// [default: <storage dir>/snapshots].
    #[arg(long, env = "MINI_SNAPSHOT_STORE", value_name = "URL")]
    snapshot_store: Option<SnapshotStoreUrl>,
    /// Where the instances' output is kept [default: <storage dir>/logs].
    #[arg(long, env = "MINI_LOG_DIR", value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// The kept logs' limits.
    #[command(flatten)]
    logs: KeptLogArgs,
    /// The ingress proxy.
    #[command(flatten)]
    ingress: IngressArgs,
    /// The sampling of resource use.
    #[command(flatten)]
    sampling: SamplingArgs,
}

/// Runs the agent until SIGINT or SIGTERM.
pub async fn run(args: AgentArgs) -> Result<ExitCode> {
    init_logging();
    let stop = shutdown_signal()?;
    let api = server_url(args.server)?;
    let key = api_key(args.key)?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let endpoint = args.advertise.unwrap_or_else(|| local_url(address));
    let name = args.node_name.unwrap_or_else(default_node_name);
    let shutdown = CancellationToken::new();
    let metrics = Metrics::default();
    let agent = start_agent(
        &name,
        (
            &args.storage_dir,
            args.snapshot_store,
            args.log_dir.as_deref(),
        ),
        (&args.sampling, &args.logs, &metrics),
        (&endpoint, &api, &key),
        shutdown.clone(),
    )
    .await?;
    let counters = (&metrics, agent.ingress.clone());
    let ingress = start_ingress(&args.ingress, &api, &key, counters, shutdown.clone()).await?;
    println!("minicloud agent listening on http://{address}");
    if let Some(ingress) = &ingress {
        println!("minicloud ingress listening on http://{}", ingress.address);
    }
    println!("{}", agent.volumes);
    std::io::stdout().flush()?;
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY");
        }
    });
    let stopping = shutdown.clone();
    let router = agent
        .routes
        .prepare()
        .into_axum_router()
        .merge(minicloud_apiserver::metrics::router(metrics))
        .layer(axum::middleware::from_fn_with_state(
            AdminKeys::new(&api)?,
            admins_only,
        ));
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            stop.await;
            stopping.cancel();
        })
        .await;
    shutdown.cancel();
    let _ = agent.heartbeat.await;
    if let Some(ingress) = ingress {
        let _ = ingress.task.await;
    }
    served.context("the agent's server failed")?;
    Ok(ExitCode::SUCCESS)
}
