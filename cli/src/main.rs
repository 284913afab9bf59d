//! `mini`, minicloud's single binary: client commands and the all-in-one server.

mod agent_access;
mod apps;
mod client;
mod commands;
mod config;
mod data_dir;
mod files;
mod node;
mod object;
mod output;
mod volumes;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{
    agent, apply, audit, controllers, delete, describe, diff, events, get, health, key, login,
    logs, quota, restart, rollout, secret, server, snapshot, tenant, top, usage, volume,
};

/// minicloud: a self-hosted, multi-tenant container platform.
///
/// Client commands reach the server named by --server, else $MINI_SERVER, else the current
/// context of the config file ($XDG_CONFIG_HOME/minicloud/config, by default
/// ~/.config/minicloud/config), else http://127.0.0.1:7070, presenting the key named by --key,
/// else $MINI_KEY, else the config file's (`mini login` saves it).
#[derive(Parser)]
#[command(name = "mini", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the all-in-one server: the API (gRPC and REST) on one port, the controllers, and a
    /// node agent for the local Docker Engine.
    Server(server::ServerArgs),
    /// Run a node agent that joins a server, making this host's Docker Engine a node.
    Agent(agent::AgentArgs),
    /// Run the controllers against a server started with --no-controllers.
    Controllers(controllers::ControllersArgs),
    /// Create or update objects from manifests.
    Apply(apply::ApplyArgs),
    /// Show what `mini apply` would change; exits 1 when something would.
    Diff(diff::DiffArgs),
    /// List objects of a kind, show one, or watch them change.
    Get(get::GetArgs),
    /// Show one object in detail.
    Describe(describe::DescribeArgs),
    /// Delete objects by name or by the manifests that define them.
    Delete(delete::DeleteArgs),
    /// Show the output of an App's instances, merged; -f follows it.
    Logs(logs::LogsArgs),
    /// Show what happened to Apps and Instances; -w follows it.
    Events(events::EventsArgs),
    /// Follow, list, undo or restart an App's rollout of releases.
    Rollout(rollout::RolloutArgs),
    /// Replace every instance of an App with a new one, in a rolling update.
    Restart(restart::RestartArgs),
    /// Check an API key against a server and save both in the config file.
    Login(login::LoginArgs),
    /// Create, list or revoke API keys.
    Key(key::KeyArgs),
    /// Show the audit log: who changed what, and every refused request.
    Audit(audit::AuditArgs),
    /// Create a tenant with its quota, and its first tenant-admin key.
    Tenant(tenant::TenantArgs),
    /// Show what a tenant uses against its quota.
    Quota(quota::QuotaArgs),
    /// Show what instances use now (CPU, memory, network), by app, instance, tenant or node.
    Top(top::TopArgs),
    /// Show a tenant's usage records (core-seconds, GiB-seconds, instance-hours) over a range.
    Usage(usage::UsageArgs),
    /// Show an App's latest health probes per instance, with pass rate and last failure.
    Health(health::HealthArgs),
    /// Re-encrypt every Secret under a new key (`mini secret rotate-key`).
    Secret(secret::SecretArgs),
    /// Take a volume's snapshot now, or restore one in place.
    Snapshot(snapshot::SnapshotArgs),
    /// Restore a volume in place from one of its tenant's snapshots.
    Volume(volume::VolumeArgs),
}

impl Command {
    /// The exit status of a command that fails: `mini diff` keeps 1 for "something differs".
    fn error_status(&self) -> ExitCode {
        match self {
            Command::Diff(_) => diff::ERROR_STATUS.into(),
            _ => ExitCode::FAILURE,
        }
    }
}

/// Whether stdout was closed by its reader (`mini get -w -o json | head -1`): not a failure.
fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|error| error.kind() == std::io::ErrorKind::BrokenPipe)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let error_status = cli.command.error_status();
    let outcome = match cli.command {
        Command::Server(args) => server::run(args).await,
        Command::Agent(args) => agent::run(args).await,
        Command::Controllers(args) => controllers::run(args).await,
        Command::Apply(args) => apply::run(args).await,
        Command::Diff(args) => diff::run(args).await,
        Command::Get(args) => get::run(args).await,
        Command::Describe(args) => describe::run(args).await,
        Command::Delete(args) => delete::run(args).await,
        Command::Logs(args) => logs::run(args).await,
        Command::Events(args) => events::run(args).await,
        Command::Rollout(args) => rollout::run(args).await,
        Command::Restart(args) => restart::run(args).await,
        Command::Login(args) => login::run(args).await,
        Command::Key(args) => key::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Tenant(args) => tenant::run(args).await,
        Command::Quota(args) => quota::run(args).await,
        Command::Top(args) => top::run(args).await,
        Command::Usage(args) => usage::run(args).await,
        Command::Health(args) => health::run(args).await,
        Command::Secret(args) => secret::run(args).await,
        Command::Snapshot(args) => snapshot::run(args).await,
        Command::Volume(args) => volume::run(args).await,
    };
    outcome.unwrap_or_else(|error| {
        if is_closed_pipe(&error) {
            return ExitCode::SUCCESS;
        }
        for line in format!("{error:#}").lines() {
            eprintln!("error: {line}");
        }
        error_status
    })
}
