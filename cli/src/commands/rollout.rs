//! `mini rollout status|history|undo|restart APP`: follow an App's rollout, list its Releases,
//! go back to an earlier one, or roll every Instance again. The App's Releases are read from the
//! API; what is current, failed or updated is judged by the app controller's own rules
//! (`minicloud_controllers::app`).

mod history;
mod status;
mod undo;

use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use minicloud_manifests::{App, Kind, Release};
use minicloud_proto::object_labels;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::restart;
use crate::client::Client;

/// How often an App changed by someone else between reading and writing it is read again.
const ATTEMPTS: usize = 3;

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

/// An object the server sent, as its typed kind.
fn typed<T: DeserializeOwned>(kind: Kind, object: Value) -> Result<T> {
    serde_json::from_value(object)
        .with_context(|| format!("the server sent a {kind} this mini cannot read"))
}

/// The App `name` of the client's tenant.
async fn read_app(client: &mut Client, name: &str) -> Result<App> {
    let object = client.get(client.object_ref(Kind::App, name)).await?;
    typed(Kind::App, object)
}

/// Every object of `kind` labelled as `app`'s.
async fn list_of<T: DeserializeOwned>(
    client: &mut Client,
    kind: Kind,
    app: &App,
) -> Result<Vec<T>> {
    let tenant = app.metadata.tenant.clone().unwrap_or_default();
    let selector = format!("{}={}", object_labels::APP, app.metadata.name);
    let objects = client.list(kind, tenant, &selector).await?;
    objects.into_iter().map(|o| typed(kind, o)).collect()
}

/// What to do to an App, and what to tell the user about it.
pub enum Change<T> {
    /// Write this App.
    Write(Box<App>, T),
    /// Leave the App as it is.
    Skip(T),
}

/// Reads the App `name` and its Releases, lets `decide` say what to do, and writes the App it
/// returns as a compare-and-swap on the version read — reading again when someone else
/// changed the App in between, so that no concurrent change is lost. Returns what was done.
pub async fn change_app<T>(
    client: &mut Client,
    name: &str,
    decide: impl Fn(&App, &[Release]) -> Result<Change<T>>,
) -> Result<Change<T>> {
    for _ in 0..ATTEMPTS {
        let app = read_app(client, name).await?;
        let releases = list_of::<Release>(client, Kind::Release, &app).await?;
        let change = decide(&app, &releases)?;
        let Change::Write(changed, _) = &change else {
            return Ok(change);
        };
        let json = serde_json::to_value(changed).expect("Apps always serialize");
        match client.apply(&json, false).await {
            Ok(_) => return Ok(change),
            Err(error) if error.reason() == Some("Conflict") => continue,
            Err(error) => return Err(error.into()),
        }
    }
    bail!("app/{name} kept changing while it was being updated; try again")
}
