//! `mini login`: checks a key against a server and saves both in the config file (0600), so
//! later commands need neither flag.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;

use crate::client::{Client, ConnectArgs, server_url};
use crate::config::{self, Context};
use crate::output;

/// Flags of `mini login`.
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Read the key from this file (like <data dir>/admin.key) instead of --key.
    #[arg(long, conflicts_with = "key")]
    key_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Verifies the key and saves the server, the key and (for tenant keys) the tenant.
pub async fn run(mut args: LoginArgs) -> Result<ExitCode> {
    if let Some(file) = &args.key_file {
        let key = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the key file {}", file.display()))?;
        args.connect.key = Some(key.trim().to_owned());
    }
    let server = server_url(args.connect.server.clone())?;
    args.connect.server = Some(server.clone());
    let client = Client::connect(&args.connect).await?;
    let me = client.who_am_i().await?;
    let tenant = (!me.tenant.is_empty()).then(|| me.tenant.clone());
    let saved = config::save(&Context {
        server: Some(server.clone()),
        tenant: tenant.or(args.connect.tenant.clone()),
        key: args.connect.key.clone(),
    })?;
    let whom = match me.tenant.as_str() {
        "" => me.role,
        tenant => format!("{} of tenant {tenant}", me.role),
    };
    output::print(&format!(
        "logged in to {server} as {} ({whom}); saved in {}\n",
        me.key,
        saved.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
