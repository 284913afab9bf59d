//! `mini audit [--tenant T] [--since 1h|RFC3339] [--limit N] [-o table|json]`: the audit log,
//! oldest first. Admin keys read every tenant's records; tenant-admin keys their own tenant's.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Result, bail};
use clap::Args;
use minicloud_proto::v1::{self as pb};
use serde_json::{Value, json};

use crate::client::{Client, ConnectArgs};
use crate::output::{self, ReportFormat, table};

/// Flags of `mini audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only records since then: a duration back from now (`30m`, `1h`, `7d`) or an RFC 3339
    /// time.
    #[arg(long)]
    since: Option<String>,
    /// At most this many records, the newest [default: the server's, 1000].
    #[arg(long, default_value_t = 0)]
    limit: u32,
    /// How to print the records (json: an array).
    #[arg(long, short = 'o', value_enum, default_value_t = ReportFormat::Table)]
    output: ReportFormat,
    /// --tenant narrows to one tenant's records (a tenant-admin key reads only its own).
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Runs `mini audit`.
pub async fn run(args: AuditArgs) -> Result<ExitCode> {
    let since = match &args.since {
        Some(since) => since_time(since, SystemTime::now())?,
        None => String::new(),
    };
    let tenant = args.connect.tenant.clone().unwrap_or_default();
    let client = Client::connect(&args.connect).await?;
    let records = client.audit(&tenant, &since, args.limit).await?;
    let text = match args.output {
        ReportFormat::Json => {
            let records: Vec<Value> = records.iter().map(to_json).collect();
            format!("{}\n", serde_json::to_string_pretty(&records)?)
        }
        ReportFormat::Table if records.is_empty() => {
            eprintln!("No audit records found.");
            return Ok(ExitCode::SUCCESS);
        }
        ReportFormat::Table => render_table(&records),
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `--since` as RFC 3339: a duration counts back from `now`.
fn since_time(since: &str, now: SystemTime) -> Result<String> {
    if humantime::parse_rfc3339_weak(since).is_ok() {
        return Ok(since.to_owned());
    }
    let Ok(ago) = humantime::parse_duration(since) else {
        bail!("--since {since:?} is neither a duration (30m, 1h, 7d) nor an RFC 3339 time");
    };
    let from = now.checked_sub(ago).unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(humantime::format_rfc3339_seconds(from).to_string())
}

fn to_json(record: &pb::AuditRecord) -> Value {
    let optional = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    json!({
        "time": record.time,
        "requestId": record.request_id,
        "key": optional(&record.key),
        "tenant": optional(&record.tenant),
        "verb": record.verb,
        "kind": optional(&record.kind),
        "name": optional(&record.name),
        "result": record.result,
        "message": optional(&record.message),
        "dryRun": record.dry_run,
        "client": optional(&record.client),
    })
}

fn render_table(records: &[pb::AuditRecord]) -> String {
    let header: Vec<String> = [
        "TIME", "REQUEST", "KEY", "TENANT", "VERB", "OBJECT", "RESULT", "MESSAGE",
    ]
    .map(str::to_owned)
    .to_vec();
    let dash = |text: &str| {
        if text.is_empty() {
            "-".to_owned()
        } else {
            text.to_owned()
        }
    };
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|record| {
            let object = match (record.kind.as_str(), record.name.as_str()) {
                ("", _) => "-".to_owned(),
                (kind, "") => kind.to_lowercase(),
                (kind, name) => format!("{}/{name}", kind.to_lowercase()),
            };
            let verb = if record.dry_run {
                format!("{} (dry run)", record.verb)
            } else {
                record.verb.clone()
            };
            let key = match (record.key.as_str(), record.client.as_str()) {
                ("", "") => "-".to_owned(),
                ("", client) => client.to_owned(),
                (key, _) => key.to_owned(),
            };
            vec![
                record.time.clone(),
                record.request_id.chars().take(8).collect(),
                key,
                dash(&record.tenant),
                verb,
                object,
                record.result.clone(),
                dash(&record.message),
            ]
        })
        .collect();
    table::render(&header, &rows)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn since_takes_a_duration_back_from_now_or_a_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(7200);
        assert_eq!(since_time("1h", now).unwrap(), "1970-01-01T01:00:00Z");
        assert_eq!(
            since_time("2026-01-02T03:04:05Z", now).unwrap(),
            "2026-01-02T03:04:05Z"
        );
        assert!(since_time("yesterday", now).is_err());
    }

    #[test]
    fn the_table_names_the_object_and_marks_dry_runs() {
        let record = pb::AuditRecord {
            time: "2026-01-02T03:04:05.000Z".into(),
            request_id: "0123456789abcdef".into(),
            key: "mc_acme_1a2b3c4d".into(),
            tenant: "acme".into(),
            verb: "apply".into(),
            kind: "App".into(),
            name: "web".into(),
            result: "OK".into(),
            message: "created".into(),
            dry_run: true,
            client: String::new(),
        };
        let text = render_table(&[record]);
        let line = text.lines().nth(1).unwrap();
        for part in ["01234567", "apply (dry run)", "app/web", "OK", "created"] {
            assert!(line.contains(part), "{line}");
        }
    }
}
