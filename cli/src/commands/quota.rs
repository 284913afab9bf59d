//! `mini quota`: what a tenant uses against what its quota allows.
//!
//! USED is what admission counts: every App at its steady state (replicas × limits) and every
//! Volume's size. SURGE is what rollouts run above that right now — at most `maxSurge` extra
//! instances per App, only while it rolls, so it is allowed past the quota for that time.
//! Snapshots are shown with the bytes their archives take; they are not counted against
//! `storage`.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use minicloud_manifests::{App, Instance, Kind, Snapshot};
use minicloud_proto::metadata::reason;
use serde_json::{Value, json};

use crate::apps::typed;
use crate::client::{Client, ConnectArgs, RequestFailed};
use crate::output::{self, ReportFormat, table, units};

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
    let surge = surge(&mut client, &tenant).await?;
    let snapshots = snapshot_bytes(&mut client, &tenant).await?;
    if args.output == ReportFormat::Json {
        let report = json!({"tenant": tenant, "quota": quota, "usage": usage,
            "surge": surge.json(), "snapshotBytes": snapshots});
        output::print(&format!("{report:#}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    output::print(&render(&tenant, &quota, &usage, &surge, snapshots))?;
    Ok(ExitCode::SUCCESS)
}

fn is_not_found(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<RequestFailed>()
        .is_some_and(|failed| failed.reason() == Some(reason::NOT_FOUND))
}

/// What rollouts run above the tenant's steady state now.
#[derive(Debug, Default, PartialEq)]
struct Surge {
    containers: u64,
    cpu_millis: u64,
    memory: u64,
}

impl Surge {
    /// The extra instances of each App beyond its replicas, with the App's limits.
    fn of(apps: &[App], instances: &[Instance]) -> Surge {
        let mut surge = Surge::default();
        for app in apps {
            let running = instances
                .iter()
                .filter(|i| {
                    i.spec.app == app.metadata.name && i.metadata.deletion_timestamp.is_none()
                })
                .count() as u64;
            let extra = running.saturating_sub(u64::from(app.spec.replica_count()));
            let limits = app.spec.resolved_resources();
            surge.containers += extra;
            surge.cpu_millis += extra * limits.cpu.millis();
            surge.memory += extra * limits.memory.get();
        }
        surge
    }

    fn cell(&self, resource: &str) -> String {
        match resource {
            "containers" => self.containers.to_string(),
            "cpu" => minicloud_manifests::Cpu::from_millis(self.cpu_millis).to_string(),
            "memory" => units::bytes(self.memory),
            _ => "-".into(),
        }
    }

    fn json(&self) -> Value {
        json!({"containers": self.containers, "cpu": self.cell("cpu"), "memory": self.memory})
    }
}

async fn surge(client: &mut Client, tenant: &str) -> Result<Surge> {
    let apps = client.list(Kind::App, tenant.to_owned(), "").await?;
    let apps: Vec<App> = apps
        .into_iter()
        .map(|a| typed(Kind::App, a))
        .collect::<Result<_>>()?;
    let instances = client.list(Kind::Instance, tenant.to_owned(), "").await?;
    let instances: Vec<Instance> = instances
        .into_iter()
        .map(|i| typed(Kind::Instance, i))
        .collect::<Result<_>>()?;
    Ok(Surge::of(&apps, &instances))
}

/// The bytes the tenant's snapshot archives take in the snapshot store.
async fn snapshot_bytes(client: &mut Client, tenant: &str) -> Result<u64> {
    let snapshots = client.list(Kind::Snapshot, tenant.to_owned(), "").await?;
    let mut total = 0;
    for snapshot in snapshots {
        let snapshot: Snapshot = typed(Kind::Snapshot, snapshot)?;
        total += snapshot.status.map_or(0, |s| s.size_bytes);
    }
    Ok(total)
}

/// The table: one row per resource, `unlimited` where the quota sets no bound, then the
/// snapshots' bytes, which no quota line bounds.
fn render(tenant: &str, quota: &Value, usage: &Value, surge: &Surge, snapshots: u64) -> String {
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
                surge.cell(resource),
            ]
        })
        .chain([vec![
            "snapshots".to_owned(),
            units::bytes(snapshots),
            "not counted".to_owned(),
            "-".to_owned(),
        ]])
        .collect();
    let header = ["RESOURCE", "USED", "LIMIT", "SURGE"].map(String::from);
    format!("tenant {tenant}\n{}", table::render(&header, &rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_shows_usage_and_limit() {
        let quota = json!({"containers": 10, "memory": "2Gi"});
        let usage = json!({"containers": 3, "cpu": "750m", "memory": "384Mi", "storage": "0"});
        let surge = Surge {
            containers: 1,
            cpu_millis: 250,
            memory: 128 << 20,
        };
        assert_eq!(
            render("acme", &quota, &usage, &surge, 3 << 20),
            "tenant acme\n\
             RESOURCE     USED    LIMIT         SURGE\n\
             containers   3       10            1\n\
             cpu          750m    unlimited     250m\n\
             memory       384Mi   2Gi           128Mi\n\
             storage      0       unlimited     -\n\
             snapshots    3Mi     not counted   -\n"
        );
    }
}
