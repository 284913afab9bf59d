//! `mini apply -f FILE|DIR|-`: create or update every object the manifests define, one line
//! per object (`app/web created|configured|unchanged`). Nothing is sent unless every document
//! parses and validates.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use minicloud_proto::v1::{ApplyOutcome, ApplyResponse};

use crate::client::{Client, ConnectArgs};
use crate::files::{self, Manifest};
use crate::object;
use crate::output::{self, diff};

/// Flags of `mini apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A manifest file, a directory of them (read recursively), or - for standard input.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    files: Vec<String>,
    /// Check everything and show what would change, without writing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Applies every manifest; exits non-zero when any object could not be applied.
pub async fn run(args: ApplyArgs) -> Result<ExitCode> {
    let manifests = files::load(&args.files)?;
    let mut client = Client::connect(&args.connect).await?;
    let mut failed = false;
    for manifest in &manifests {
        let label = label(manifest);
        match client
            .apply(&manifest.resource.to_json(), args.dry_run)
            .await
        {
            Ok(response) => report(&label, &response, args.dry_run)?,
            Err(error) => {
                eprintln!("error: {}: {label}: {error}", manifest.source);
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `app/web`, for the object a manifest defines.
pub fn label(manifest: &Manifest) -> String {
    object::label(manifest.resource.kind(), manifest.resource.name())
}

/// The word for what an apply did (or would do).
pub fn outcome_word(response: &ApplyResponse) -> &'static str {
    match response.outcome() {
        ApplyOutcome::Created => "created",
        ApplyOutcome::Configured => "configured",
        ApplyOutcome::Unchanged => "unchanged",
        ApplyOutcome::Unspecified => "applied",
    }
}

fn report(label: &str, response: &ApplyResponse, dry_run: bool) -> Result<()> {
    let suffix = if dry_run { " (dry run)" } else { "" };
    output::print(&format!("{label} {}{suffix}\n", outcome_word(response)))?;
    if dry_run && !response.diff.is_empty() {
        diff::print(&response.diff)?;
    }
    Ok(())
}
