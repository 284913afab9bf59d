//! `mini controllers`: the controllers on their own, against a server started with
//! `mini server --no-controllers`.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use minicloud_common::metrics::Metrics;
use minicloud_controllers::IngressAddress;

use crate::client::{api_key, server_url};
use crate::commands::server::{init_logging, shutdown_signal};
use crate::node::spawn_controllers;

/// Flags of `mini controllers`.
#[derive(Args, Debug)]
pub struct ControllersArgs {
    /// The API server [default: the config file's current context, else http://127.0.0.1:7070].
    #[arg(long, env = "MINI_SERVER")]
    server: Option<String>,
    /// An admin key [default: the config file's].
    #[arg(long, env = "MINI_KEY", hide_env_values = true)]
    key: Option<String>,
    /// The port the node agents' ingress proxies serve apps on; with it, each App with
    /// `spec.ingress` shows its URL in its status.
    #[arg(long, env = "MINI_INGRESS_PORT")]
    ingress_port: Option<u16>,
    /// The domain the ingress proxies serve apps under (`--domain` of `mini agent`).
    #[arg(long, env = "MINI_DOMAIN", default_value = "localhost")]
    domain: String,
}

/// Runs the controllers until SIGINT or SIGTERM.
pub async fn run(args: ControllersArgs) -> Result<ExitCode> {
    init_logging();
    let stop = shutdown_signal()?;
    let url = server_url(args.server)?;
    let key = api_key(args.key)?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let ingress = args.ingress_port.map(|port| IngressAddress {
        domain: args.domain,
        port,
    });
    let controllers = spawn_controllers(&url, &key, ingress, &Metrics::default(), shutdown.clone());
    println!("minicloud controllers following {url}");
    stop.await;
    shutdown.cancel();
    controllers
        .await
        .context("the controllers panicked")?
        .context("the controllers failed")?;
    Ok(ExitCode::SUCCESS)
}
