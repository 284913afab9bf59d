//! `mini volume restore VOLUME --snapshot S`: the same in-place restore as
//! `mini snapshot restore S --volume VOLUME`, named from the volume's side.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::snapshot::{self, RestoreArgs};
use crate::client::ConnectArgs;

/// Flags of `mini volume`.
#[derive(Args, Debug)]
pub struct VolumeArgs {
    #[command(subcommand)]
    command: VolumeCommand,
}

#[derive(Subcommand, Debug)]
enum VolumeCommand {
    /// Replace a volume's content with a snapshot's, in place: the apps using it are stopped,
    /// it is restored, they start again.
    Restore(VolumeRestoreArgs),
}

/// Flags of `mini volume restore`.
#[derive(Args, Debug)]
pub struct VolumeRestoreArgs {
    /// The Volume to restore.
    volume: String,
    /// The Snapshot to restore from, of the same tenant.
    #[arg(long)]
    snapshot: String,
    /// Return once the restore is asked for, without waiting for it.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Runs `mini volume`.
pub async fn run(args: VolumeArgs) -> Result<ExitCode> {
    match args.command {
        VolumeCommand::Restore(args) => {
            let restore = RestoreArgs::into(args.volume, args.snapshot, args.no_wait, args.connect);
            snapshot::restore(restore).await
        }
    }
}
