//! `mini secret rotate-key`: seal every Secret under a new key and retire the keys no value
//! needs any more (admin only). Secrets themselves are applied, listed and deleted like any
//! other object; their values are never shown.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use minicloud_common::server_files::{SECRET_KEY_ENV, SECRET_KEY_FILE};
use minicloud_proto::v1::{self as pb};

use crate::client::{Client, ConnectArgs};
use crate::output;

/// Flags of `mini secret`.
#[derive(Args, Debug)]
pub struct SecretArgs {
    #[command(subcommand)]
    command: SecretCommand,
}

#[derive(Subcommand, Debug)]
enum SecretCommand {
    /// Make a new encryption key the one every Secret value is sealed under, re-encrypt every
    /// Secret with it and drop older keys from <data dir>/secret.key. With keys from
    /// MINICLOUD_SECRET_KEY, re-encrypt under its first key and name the keys to remove.
    RotateKey {
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

/// Runs `mini secret`.
pub async fn run(args: SecretArgs) -> Result<ExitCode> {
    match args.command {
        SecretCommand::RotateKey { connect } => {
            let client = Client::connect(&connect).await?;
            let rotation = client.rotate_secret_key().await?;
            output::print(&report(&rotation))?;
            if rotation.unreadable.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "{} Secret(s) hold values no key opens and were left as they were: {}; apply \
                 them again",
                rotation.unreadable.len(),
                rotation.unreadable.join(", ")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// What the rotation did, for people.
fn report(rotation: &pb::RotateKeyResponse) -> String {
    let mut text = format!(
        "{} secret(s) re-encrypted; every value is sealed under key {}\n",
        rotation.reencrypted, rotation.primary_key_id
    );
    let retired = rotation.retired_key_ids.join(", ");
    match (
        rotation.retired_key_ids.is_empty(),
        rotation.keys_from_environment,
    ) {
        (true, _) => {}
        (false, false) => {
            text.push_str(&format!(
                "retired key(s) {retired}, removed from {SECRET_KEY_FILE}\n"
            ));
        }
        (false, true) => text.push_str(&format!(
            "no value needs key(s) {retired} any more: remove them from {SECRET_KEY_ENV}\n"
        )),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_says_what_was_retired_and_where() {
        let mut rotation = pb::RotateKeyResponse {
            primary_key_id: "1a2b3c4d".into(),
            reencrypted: 3,
            retired_key_ids: vec!["0f0f0f0f".into()],
            keys_from_environment: false,
            unreadable: Vec::new(),
        };
        assert_eq!(
            report(&rotation),
            "3 secret(s) re-encrypted; every value is sealed under key 1a2b3c4d\n\
             retired key(s) 0f0f0f0f, removed from secret.key\n"
        );
        rotation.keys_from_environment = true;
        assert!(report(&rotation).ends_with("remove them from MINICLOUD_SECRET_KEY\n"));
    }
}
