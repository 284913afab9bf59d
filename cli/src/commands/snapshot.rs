//! `mini snapshot create VOLUME` takes a snapshot now and follows it to Ready;
//! `mini snapshot restore SNAPSHOT` puts a snapshot's content back into its volume (or into
//! `--volume`) in place: the apps using the volume are stopped, it is restored, they start
//! again.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::client::{Client, ConnectArgs};
use crate::output::{self, units};
use crate::volumes;

/// Flags of `mini snapshot`.
#[derive(Args, Debug)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    command: SnapshotCommand,
}

#[derive(Subcommand, Debug)]
enum SnapshotCommand {
    /// Take a snapshot of a volume now, and wait until it is Ready.
    Create(CreateArgs),
    /// Restore a snapshot into its volume (or another of the tenant's), in place.
    Restore(RestoreArgs),
}

/// Flags of `mini snapshot create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The Volume to snapshot.
    volume: String,
    /// The Snapshot's name; `<volume>-<YYYYMMDD-HHMMSS>` when absent.
    #[arg(long)]
    name: Option<String>,
    /// Return once the Snapshot is created, without waiting for it to be Ready.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Flags of `mini snapshot restore` (and `mini volume restore`).
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The Snapshot to restore.
    snapshot: String,
    /// The Volume to restore into; the snapshot's own volume when absent.
    #[arg(long)]
    volume: Option<String>,
    /// Return once the restore is asked for, without waiting for it.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

impl RestoreArgs {
    /// The arguments of `mini volume restore VOLUME --snapshot S`.
    pub fn into(volume: String, snapshot: String, no_wait: bool, connect: ConnectArgs) -> Self {
        RestoreArgs {
            snapshot,
            volume: Some(volume),
            no_wait,
            connect,
        }
    }
}

/// Runs `mini snapshot`.
pub async fn run(args: SnapshotArgs) -> Result<ExitCode> {
    match args.command {
        SnapshotCommand::Create(args) => create(args).await,
        SnapshotCommand::Restore(args) => restore(args).await,
    }
}

async fn create(args: CreateArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&args.connect).await?;
    let name = args
        .name
        .unwrap_or_else(|| volumes::snapshot_name(&args.volume, SystemTime::now()));
    volumes::create_snapshot(&mut client, &args.volume, &name).await?;
    if args.no_wait {
        output::print(&format!("snapshot/{name} created\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let snapshot = volumes::follow_snapshot(&mut client, &name).await?;
    let status = snapshot.status.unwrap_or_default();
    output::print(&format!(
        "snapshot/{name} Ready: {} of files in a {} archive (sha256 {}), writers paused {}\n",
        size(status.content_bytes),
        size(status.size_bytes),
        status.sha256.get(..12).unwrap_or(&status.sha256),
        units::millis(status.pause_millis.unwrap_or_default()),
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// A byte count for a sentence: `3 bytes`, `20Ki`.
fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        _ => units::bytes(bytes),
    }
}

/// Restores a snapshot in place and follows it, printing the volume's events as they come.
pub async fn restore(args: RestoreArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&args.connect).await?;
    let snapshot = volumes::read_snapshot(&mut client, &args.snapshot).await?;
    let volume = args.volume.unwrap_or(snapshot.spec.volume);
    let request =
        volumes::request_restore(&client, &volume, &args.snapshot, SystemTime::now()).await?;
    output::print(&format!(
        "volume/{volume}: restore from snapshot/{} asked for\n",
        args.snapshot
    ))?;
    if args.no_wait {
        return Ok(ExitCode::SUCCESS);
    }
    volumes::follow_restore(&mut client, &volume, &request, |event| {
        let _ = output::print(&format!("  {}: {}\n", event.reason, event.message));
    })
    .await?;
    output::print(&format!(
        "volume/{volume} restored from snapshot/{}\n",
        args.snapshot
    ))?;
    Ok(ExitCode::SUCCESS)
}
