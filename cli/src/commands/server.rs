//! `mini server`: the all-in-one server. Today that is the API (gRPC and REST on one port) over
//! the embedded store in the data directory, or over etcd when `--etcd` is given.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;
use minicloud_apiserver::api::ResourceApi;
use minicloud_apiserver::server::serve;
use minicloud_apiserver::store::Store;
use minicloud_apiserver::store::embedded::EmbeddedStore;
use minicloud_apiserver::store::etcd::EtcdStore;
use minicloud_apiserver::watch_cache::WatchCacheOptions;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

/// Flags of `mini server`.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Where the embedded store keeps its files (all of minicloud's state when --etcd is not
    /// given); created when missing.
    #[arg(long, env = "MINI_DATA_DIR", default_value = "./minicloud-data")]
    data_dir: PathBuf,
    /// The address the API (gRPC and REST) listens on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: String,
    /// Keep state in etcd at these comma-separated endpoints instead of the data directory.
    #[arg(long, value_delimiter = ',', value_name = "URL,...")]
    etcd: Vec<String>,
    /// A prefix for every etcd key, to share one etcd between several minicloud servers.
    #[arg(long, default_value = "", requires = "etcd")]
    etcd_prefix: String,
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(args: ServerArgs) -> Result<ExitCode> {
    init_logging();
    let stop = shutdown_signal()?;
    let store = open_store(&args).await?;
    let api = Arc::new(ResourceApi::new(store, WatchCacheOptions::default()));
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "API server started");
    println!("minicloud API listening on http://{address}");
    std::io::stdout().flush()?;
    serve(listener, api, stop)
        .await
        .context("the API server failed")?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Logs to stderr; `RUST_LOG` picks what, `info` by default.
fn init_logging() {
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
fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
        }
    })
}
