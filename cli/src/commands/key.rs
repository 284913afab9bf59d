//! `mini key create|list|revoke`: API keys. A key is shown once, when it is created; the server
//! keeps only a salted hash and the public prefix (`mc_acme_1a2b3c4d`) that names it.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use minicloud_manifests::Kind;
use minicloud_proto::api_key;
use minicloud_proto::v1::{self as pb};
use serde_json::Value;

use crate::client::{Client, ConnectArgs};
use crate::output;

/// Flags of `mini key`.
#[derive(Args, Debug)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Issue a key and print it (the only time it is shown).
    Create {
        /// admin, tenant-admin or tenant-read.
        #[arg(long)]
        role: String,
        /// What the key is for.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// List keys: prefix, role, tenant, created, last used.
    List {
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Revoke a key by its prefix (`mc_acme_1a2b3c4d`); it stops working at once.
    Revoke {
        /// The key's prefix, as `mini key list` shows it (the whole key works too).
        prefix: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

/// Runs `mini key`.
pub async fn run(args: KeyArgs) -> Result<ExitCode> {
    match args.command {
        KeyCommand::Create {
            role,
            description,
            connect,
        } => {
            let tenant = connect.tenant.clone().unwrap_or_default();
            let client = Client::connect(&connect).await?;
            let tenant = if role == "admin" {
                String::new()
            } else {
                tenant
            };
            let created = client.create_key(&role, &tenant, &description).await?;
            output::print(&format!("{}\n", created.key))?;
            eprintln!("This is the only time the key is shown; keep it somewhere safe.");
        }
        KeyCommand::List { connect } => {
            let mut client = Client::connect(&connect).await?;
            let me = client.who_am_i().await?;
            let scope = if me.tenant.is_empty() {
                "*".to_owned()
            } else {
                me.tenant
            };
            let keys = client.list(Kind::ApiKey, scope, "").await?;
            output::print(&table(&keys))?;
        }
        KeyCommand::Revoke { prefix, connect } => {
            let (tenant, name) = parse_prefix(&prefix)?;
            let mut client = Client::connect(&connect).await?;
            let target = pb::ObjectRef {
                kind: Kind::ApiKey.as_str().to_owned(),
                tenant,
                name,
            };
            client.delete(target).await?;
            output::print(&format!("key {prefix} revoked\n"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The tenant ("" for cluster keys) and ApiKey object name of a key prefix (or whole key).
fn parse_prefix(prefix: &str) -> Result<(String, String)> {
    let Some((tenant, prefix)) = api_key::parse_prefix(prefix) else {
        bail!("{prefix:?} is not a key prefix; `mini key list` shows them, like mc_acme_1a2b3c4d");
    };
    Ok((tenant.unwrap_or_default(), api_key::object_name(&prefix)))
}

/// The `mini key list` table, in the same column style as `mini get`.
fn table(keys: &[Value]) -> String {
    let field = |key: &Value, pointer: &str| {
        key.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|key| {
            [
                "/status/prefix",
                "/spec/role",
                "/metadata/tenant",
                "/status/createdAt",
                "/status/lastUsed",
                "/spec/description",
            ]
            .map(|pointer| field(key, pointer))
            .to_vec()
        })
        .collect();
    let header = [
        "PREFIX",
        "ROLE",
        "TENANT",
        "CREATED",
        "LAST USED",
        "DESCRIPTION",
    ]
    .map(String::from);
    output::table::render(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_names_the_tenant_and_the_object() {
        let (tenant, name) = parse_prefix("mc_acme_1a2b3c4d").unwrap();
        assert_eq!((tenant.as_str(), name.as_str()), ("acme", "key-1a2b3c4d"));
        let (tenant, _) = parse_prefix("mc_-_1a2b3c4d_00112233445566778899aabbccddeeff").unwrap();
        assert_eq!(tenant, "");
        assert!(parse_prefix("acme").is_err());
    }
}
