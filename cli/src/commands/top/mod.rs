//! `mini top [apps|instances|tenants|nodes]`: what instances use now, as their nodes' agents
//! sampled it, against what they may use. Refreshes like `top` until interrupted; `--once`
//! prints one table (or one JSON document) for scripts. A tenant key sees its own tenant;
//! `-A` (admins) every tenant; `nodes` is for admins.
//!
//! CPU is what was used over the agents' last sampling interval; an instance read only once so
//! far shows none yet. The tenants view puts use beside ALLOC (what admission counts against the
//! quota: the limits) and the QUOTA itself.

mod render;
mod views;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use minicloud_manifests::{Kind, Tenant};

use crate::apps::typed;
use crate::client::{Client, ConnectArgs};
use crate::output::{self, ReportFormat};
pub use views::{SortBy, View};

/// Flags of `mini top`.
#[derive(Args, Debug)]
pub struct TopArgs {
    /// What to show a row for.
    #[arg(value_enum, default_value_t = View::Apps)]
    view: View,
    /// Print once and exit, instead of refreshing.
    #[arg(long)]
    once: bool,
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    every: u64,
    /// What to sort by.
    #[arg(long, value_enum, default_value_t = SortBy::Cpu)]
    sort: SortBy,
    /// Every tenant (admins).
    #[arg(short = 'A', long)]
    all_tenants: bool,
    /// How to print it (json: one document per refresh, with the rows and the nodes).
    #[arg(long, short = 'o', value_enum, default_value_t = ReportFormat::Table)]
    output: ReportFormat,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Runs `mini top`.
pub async fn run(args: TopArgs) -> Result<ExitCode> {
    let client = Client::connect(&args.connect).await?;
    let tenant = if args.all_tenants {
        "*".to_owned()
    } else {
        client.tenant().to_owned()
    };
    let live = !args.once;
    let clear = live && args.output == ReportFormat::Table && std::io::stdout().is_terminal();
    loop {
        let report = client.top(&tenant, args.view == View::Nodes).await?;
        let quotas = if args.view == View::Tenants {
            tenants(&client, &tenant).await
        } else {
            Vec::new()
        };
        let text = match args.output {
            ReportFormat::Json => render::json(&report, args.view, args.sort, &quotas, live),
            ReportFormat::Table => {
                let title = render::title(&report, args.view, &tenant);
                let table = render::table(&report, args.view, args.sort, &quotas);
                format!("{title}\n{table}")
            }
        };
        if clear {
            output::print("\x1b[H\x1b[2J")?;
        }
        output::print(&text)?;
        if !live {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(args.every)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}

/// The Tenant objects in view, for their quotas; none when the key may not read them.
async fn tenants(client: &Client, tenant: &str) -> Vec<Tenant> {
    let mut client = client.clone();
    let objects = if tenant == "*" {
        client.list(Kind::Tenant, String::new(), "").await
    } else {
        let target = client.object_ref(Kind::Tenant, tenant);
        client.get(target).await.map(|object| vec![object])
    };
    objects
        .unwrap_or_default()
        .into_iter()
        .filter_map(|object| typed::<Tenant>(Kind::Tenant, object).ok())
        .collect()
}
