//! `mini rollout status|history|undo|restart APP`: follow an App's rollout, list its Releases,
//! go back to an earlier one, or roll every Instance again. The App's Releases are read from the
//! API; what is current, failed or updated is judged by the app controller's own rules
//! (`minicloud_controllers::app`).

mod history;
mod status;
mod undo;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::restart;

/// Flags of `mini rollout`.
#[derive(Args, Debug)]
pub struct RolloutArgs {
    #[command(subcommand)]
    command: RolloutCommand,
}

#[derive(Subcommand, Debug)]
enum RolloutCommand {
    /// Follow an App's rollout until it finishes (exit 0) or fails or is rolled back (exit 1).
    Status(status::StatusArgs),
    /// List an App's releases: revision, image, age, and which one runs.
    History(history::HistoryArgs),
    /// Go back to the previous release (or to --to-revision N), as a new revision.
    Undo(undo::UndoArgs),
    /// Replace every instance of an App with a new one, in a rolling update (as `mini restart`).
    Restart(restart::RestartArgs),
}

/// Runs the subcommand.
pub async fn run(args: RolloutArgs) -> Result<ExitCode> {
    match args.command {
        RolloutCommand::Status(args) => status::run(args).await,
        RolloutCommand::History(args) => history::run(args).await,
        RolloutCommand::Undo(args) => undo::run(args).await,
        RolloutCommand::Restart(args) => restart::run(args).await,
    }
}
