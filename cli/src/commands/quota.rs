//! `mini quota`: what a tenant uses against what its quota allows.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use minicloud_manifests::Kind;
use minicloud_proto::metadata::reason;
use serde_json::{Value, json};

use crate::client::{Client, ConnectArgs, RequestFailed};
use crate::output::{self, ReportFormat, table};

/// Flags of `mini quota`.
#[derive(Args, Debug)]
pub struct QuotaArgs {
    /// How to print it (json: `{"tenant", "quota", "usage"}`).
    #[arg(long, short = 'o', value_enum, default_value_t = ReportFormat::Table)]
    output: ReportFormat,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// The resources a quota bounds, in the order they are shown.
const RESOURCES: [&str; 4] = ["containers", "cpu", "memory", "storage"];

/// Runs `mini quota`.
pub async fn run(args: QuotaArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&args.connect).await?;
    let tenant = client.tenant().to_owned();
    let object = match client.get(client.object_ref(Kind::Tenant, &tenant)).await {
        Ok(object) => object,
        Err(error) if is_not_found(&error) => bail!(
            "tenant {tenant:?} has no Tenant object, so no quota to show; an admin creates it \
             with `mini tenant create {tenant}` (or name another tenant with -t)"
        ),
        Err(error) => return Err(error),
    };
    let quota = object.pointer("/spec/quota").cloned().unwrap_or(json!({}));
    let usage = object
        .pointer("/status/usage")
        .cloned()
        .unwrap_or(json!({}));
    if args.output == ReportFormat::Json {
        let report = json!({"tenant": tenant, "quota": quota, "usage": usage});
        output::print(&format!("{report:#}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    output::print(&render(&tenant, &quota, &usage))?;
    Ok(ExitCode::SUCCESS)
}

fn is_not_found(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<RequestFailed>()
        .is_some_and(|failed| failed.reason() == Some(reason::NOT_FOUND))
}

/// The table: one row per resource, `unlimited` where the quota sets no bound.
fn render(tenant: &str, quota: &Value, usage: &Value) -> String {
    let show = |value: Option<&Value>| match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    };
    let rows: Vec<Vec<String>> = RESOURCES
        .iter()
        .map(|resource| {
            let used = show(usage.get(resource));
            let limit = show(quota.get(resource));
            vec![
                resource.to_string(),
                if used.is_empty() { "0".into() } else { used },
                if limit.is_empty() {
                    "unlimited".into()
                } else {
                    limit
                },
            ]
        })
        .collect();
    let header = ["RESOURCE", "USED", "LIMIT"].map(String::from);
    format!("tenant {tenant}\n{}", table::render(&header, &rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_shows_usage_and_limit() {
        let quota = json!({"containers": 10, "memory": "2Gi"});
        let usage = json!({"containers": 3, "cpu": "750m", "memory": "384Mi", "storage": "0"});
        assert_eq!(
            render("acme", &quota, &usage),
            "tenant acme\n\
             RESOURCE     USED    LIMIT\n\
             containers   3       10\n\
             cpu          750m    unlimited\n\
             memory       384Mi   2Gi\n\
             storage      0       unlimited\n"
        );
    }
}
