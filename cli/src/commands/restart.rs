//! `mini restart APP`: replace every instance of an App with a new one, in a rolling update
//! within the App's update strategy — the same image and spec, new containers. It stamps the
//! App with the `minicloud.dev/restartedAt` annotation, which makes a new Release; that is also
//! how a spec whose release was rolled back is tried again.
//!
//! The annotation lives in the App's metadata: a later `mini apply` of a manifest without it
//! removes it, which rolls the App once more.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use clap::Args;
use minicloud_controllers::app::restarted;

use crate::apps::{Change, change_app};
use crate::client::{Client, ConnectArgs};
use crate::output;

/// Flags of `mini restart` (and `mini rollout restart`).
#[derive(Args, Debug)]
pub struct RestartArgs {
    /// The App's name.
    app: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Restarts the App; `mini rollout status APP` follows the rollout.
pub async fn run(args: RestartArgs) -> Result<ExitCode> {
    let client = Client::connect(&args.connect).await?;
    let now = SystemTime::now();
    change_app(&client, &args.app, |app, _| {
        Ok(Change::Write(Box::new(restarted(app, now)), ()))
    })
    .await?;
    output::print(&format!("app/{} restarted\n", args.app))?;
    Ok(ExitCode::SUCCESS)
}
