//! `mini tenant create`: an admin creates a Tenant with its quota and gets the tenant's first
//! tenant-admin key, shown once.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::client::{Client, ConnectArgs};
use crate::output;

/// Flags of `mini tenant`.
#[derive(Args, Debug)]
pub struct TenantArgs {
    #[command(subcommand)]
    command: TenantCommand,
}

#[derive(Subcommand, Debug)]
enum TenantCommand {
    /// Create a tenant (or change its quota) and print a new tenant-admin key for it.
    Create {
        /// The tenant's name.
        name: String,
        /// Total CPU its containers may have (`2`, `500m`).
        #[arg(long)]
        cpu: Option<String>,
        /// Total memory its containers may have (`2Gi`).
        #[arg(long)]
        memory: Option<String>,
        /// How many containers it may run.
        #[arg(long)]
        containers: Option<u32>,
        /// Total size of its volumes (`5Gi`).
        #[arg(long)]
        storage: Option<String>,
        /// Let its Apps run as root (`user: 0`).
        #[arg(long)]
        allow_root: bool,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

/// Runs `mini tenant`.
pub async fn run(args: TenantArgs) -> Result<ExitCode> {
    let TenantCommand::Create {
        name,
        cpu,
        memory,
        containers,
        storage,
        allow_root,
        connect,
    } = args.command;
    let mut quota = Map::new();
    for (field, value) in [("cpu", cpu), ("memory", memory), ("storage", storage)] {
        if let Some(value) = value {
            quota.insert(field.to_owned(), Value::String(value));
        }
    }
    if let Some(containers) = containers {
        quota.insert("containers".to_owned(), json!(containers));
    }
    let mut spec = json!({"quota": quota});
    if allow_root {
        spec["allowRoot"] = json!(true);
    }
    let tenant = json!({
        "apiVersion": "minicloud/v1",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": spec,
    });
    let mut client = Client::connect(&connect).await?;
    client.apply(&tenant, false).await?;
    let key = client
        .create_key("tenant-admin", &name, "created with the tenant")
        .await?;
    output::print(&format!("tenant/{name} created\n{}\n", key.key))?;
    eprintln!("The tenant-admin key above is shown only this once; keep it somewhere safe.");
    Ok(ExitCode::SUCCESS)
}
