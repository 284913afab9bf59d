//! `mini diff -f …`: what `mini apply` would change, as unified YAML diffs of the live objects
//! against the applied ones. Exits 0 when nothing would change and 1 when something would,
//! like `kubectl diff`; other failures exit 2 or more.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use minicloud_proto::v1::ApplyOutcome;

use super::apply::label;
use crate::client::{Client, ConnectArgs};
use crate::files;
use crate::output::diff;

/// The exit status when some object would change.
const CHANGES: u8 = 1;
/// The exit status when some object could not be checked, or nothing could be.
pub const ERROR_STATUS: u8 = 2;

/// Flags of `mini diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// A manifest file, a directory of them (read recursively), or - for standard input.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    files: Vec<String>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Prints the diff of every object that would change.
pub async fn run(args: DiffArgs) -> Result<ExitCode> {
    let manifests = files::load(&args.files)?;
    let mut client = Client::connect(&args.connect).await?;
    let (mut changes, mut failed) = (false, false);
    for manifest in &manifests {
        match client.apply(&manifest.resource.to_json(), true).await {
            Ok(response) if response.outcome() == ApplyOutcome::Unchanged => {}
            Ok(response) => {
                changes = true;
                diff::print(&diff::relabel(&response.diff, &label(manifest)))?;
            }
            Err(error) => {
                eprintln!("error: {}: {}: {error}", manifest.source, label(manifest));
                failed = true;
            }
        }
    }
    Ok(match (failed, changes) {
        (true, _) => ExitCode::from(ERROR_STATUS),
        (false, true) => ExitCode::from(CHANGES),
        (false, false) => ExitCode::SUCCESS,
    })
}
