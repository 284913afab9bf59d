//! `mini health APP [--instance I] [--last N] [-o json]`: each instance's latest HTTP probes —
//! time, pass or fail, HTTP status or error, latency — as its node's agent kept them, under a
//! summary line (pass rate, last failure). A tenant key sees its own tenant only.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use clap::Args;
use minicloud_proto::v1::{HealthReport, InstanceHealth, ProbeResult};
use serde_json::{Value, json};

use crate::client::{Client, ConnectArgs};
use crate::output::{self, ReportFormat, age, indent, table};

/// Flags of `mini health`.
#[derive(Args, Debug)]
pub struct HealthArgs {
    /// The App.
    app: String,
    /// Only this instance.
    #[arg(long)]
    instance: Option<String>,
    /// How many of each instance's latest probes to list (the summary counts all kept).
    #[arg(long, default_value_t = 10)]
    last: usize,
    /// How to print it (json: every probe kept, with each instance's summary).
    #[arg(long, short = 'o', value_enum, default_value_t = ReportFormat::Table)]
    output: ReportFormat,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Runs `mini health`.
pub async fn run(args: HealthArgs) -> Result<ExitCode> {
    let client = Client::connect(&args.connect).await?;
    let instance = args.instance.as_deref().unwrap_or_default();
    let report = client.health(&args.app, instance).await?;
    let text = match args.output {
        ReportFormat::Json => format!("{:#}\n", to_json(&report)),
        ReportFormat::Table => render(&report, args.last, SystemTime::now()),
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// What an instance's probes add up to.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Probes kept.
    pub probes: usize,
    /// Of which passed.
    pub passed: usize,
    /// The latest failed one.
    pub last_failure: Option<ProbeResult>,
}

impl Summary {
    /// The summary of `probes` (oldest first).
    pub fn of(probes: &[ProbeResult]) -> Summary {
        Summary {
            probes: probes.len(),
            passed: probes.iter().filter(|p| p.ok).count(),
            last_failure: probes.iter().rev().find(|p| !p.ok).cloned(),
        }
    }

    /// The share that passed, in percent; `None` without probes.
    pub fn pass_rate(&self) -> Option<f64> {
        (self.probes > 0).then(|| 100.0 * self.passed as f64 / self.probes as f64)
    }
}

/// The report as tables: per instance a summary line, then its latest `last` probes.
fn render(report: &HealthReport, last: usize, now: SystemTime) -> String {
    if report.instances.is_empty() {
        return format!("app {} has no instances\n", report.app);
    }
    let mut out = String::new();
    for instance in &report.instances {
        let _ = writeln!(out, "{}", headline(instance, now));
        if !instance.unavailable.is_empty() {
            let _ = writeln!(out, "  {}", instance.unavailable);
            continue;
        }
        if instance.probes.is_empty() {
            let _ = writeln!(
                out,
                "  no probes yet (no health check, or not probed so far)"
            );
            continue;
        }
        let header = ["TIME", "RESULT", "CODE", "LATENCY", "MESSAGE"].map(String::from);
        let shown = &instance.probes[instance.probes.len().saturating_sub(last)..];
        let rows: Vec<Vec<String>> = shown.iter().map(probe_row).collect();
        out.push_str(&indent(&table::render(&header, &rows), 2));
        out.push('\n');
    }
    out
}

/// `web-x1 (node n1): 8 of 10 passed (80%), last failure 4s ago: HTTP 500`.
fn headline(instance: &InstanceHealth, now: SystemTime) -> String {
    let mut line = format!("{} (node {})", instance.instance, or_none(&instance.node));
    let summary = Summary::of(&instance.probes);
    if let Some(rate) = summary.pass_rate() {
        let _ = write!(
            line,
            ": {} of {} passed ({rate:.0}%)",
            summary.passed, summary.probes
        );
        match &summary.last_failure {
            Some(failure) => {
                let ago = age::since(&failure.time, now);
                let _ = write!(line, ", last failure {ago} ago: {}", failure.message);
            }
            None => line.push_str(", no failure"),
        }
    }
    line
}

fn probe_row(probe: &ProbeResult) -> Vec<String> {
    vec![
        probe.time.clone(),
        if probe.ok { "ok" } else { "fail" }.to_owned(),
        match probe.status_code {
            0 => "-".to_owned(),
            code => code.to_string(),
        },
        latency(probe.latency_micros),
        probe.message.clone(),
    ]
}

/// A latency in microseconds, as people read it: `850µs`, `3.2ms`, `1.5s`.
fn latency(micros: u64) -> String {
    match micros {
        0..1_000 => format!("{micros}µs"),
        1_000..1_000_000 => format!("{:.1}ms", micros as f64 / 1e3),
        _ => format!("{:.1}s", micros as f64 / 1e6),
    }
}

fn or_none(text: &str) -> &str {
    if text.is_empty() { "<none>" } else { text }
}

/// The report as one JSON document.
fn to_json(report: &HealthReport) -> Value {
    let instances: Vec<Value> = report
        .instances
        .iter()
        .map(|instance| {
            let summary = Summary::of(&instance.probes);
            let probes: Vec<Value> = instance.probes.iter().map(probe_json).collect();
            json!({
                "instance": instance.instance,
                "node": instance.node,
                "containerId": instance.container_id,
                "unavailable": instance.unavailable,
                "summary": {
                    "probes": summary.probes,
                    "passed": summary.passed,
                    "passRate": summary.pass_rate(),
                    "lastFailure": summary.last_failure.as_ref().map(probe_json),
                },
                "probes": probes,
            })
        })
        .collect();
    json!({"tenant": report.tenant, "app": report.app, "instances": instances})
}

fn probe_json(probe: &ProbeResult) -> Value {
    json!({
        "time": probe.time,
        "ok": probe.ok,
        "statusCode": (probe.status_code != 0).then_some(probe.status_code),
        "latencyMicros": probe.latency_micros,
        "message": probe.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(time: &str, ok: bool, code: u32, micros: u64) -> ProbeResult {
        ProbeResult {
            time: time.into(),
            ok,
            message: if code == 0 {
                "connection refused".into()
            } else {
                format!("HTTP {code}")
            },
            status_code: code,
            latency_micros: micros,
        }
    }

    fn report() -> HealthReport {
        HealthReport {
            tenant: "acme".into(),
            app: "web".into(),
            instances: vec![InstanceHealth {
                instance: "web-x1".into(),
                node: "n1".into(),
                container_id: "c1".into(),
                probes: vec![
                    probe("2026-01-01T00:00:00.000Z", true, 200, 850),
                    probe("2026-01-01T00:00:01.000Z", false, 500, 3_200),
                    probe("2026-01-01T00:00:02.000Z", false, 0, 1_500_000),
                    probe("2026-01-01T00:00:03.000Z", true, 200, 900),
                ],
                unavailable: String::new(),
            }],
        }
    }

    fn now() -> SystemTime {
        humantime::parse_rfc3339("2026-01-01T00:00:10Z").unwrap()
    }

    #[test]
    fn the_summary_gives_the_pass_rate_and_the_last_failure() {
        let summary = Summary::of(&report().instances[0].probes);
        assert_eq!((summary.probes, summary.passed), (4, 2));
        assert_eq!(summary.pass_rate(), Some(50.0));
        assert_eq!(summary.last_failure.unwrap().message, "connection refused");
        assert_eq!(Summary::of(&[]).pass_rate(), None);
    }

    #[test]
    fn each_instance_gets_a_headline_and_its_latest_probes() {
        let text = render(&report(), 3, now());
        assert!(
            text.starts_with(
                "web-x1 (node n1): 2 of 4 passed (50%), last failure 8s ago: connection refused\n"
            ),
            "{text}"
        );
        assert!(!text.contains("850µs"), "only the latest 3: {text}");
        assert!(text.contains("fail     500    3.2ms"), "{text}");
        assert!(text.contains("fail     -      1.5s"), "{text}");
        assert!(text.contains("ok       200    900µs"), "{text}");
    }

    #[test]
    fn json_carries_every_probe_and_the_summary() {
        let json = to_json(&report());
        let instance = &json["instances"][0];
        assert_eq!(instance["summary"]["passRate"], 50.0);
        assert_eq!(instance["probes"].as_array().unwrap().len(), 4);
        assert_eq!(instance["probes"][2]["statusCode"], Value::Null);
        assert_eq!(instance["probes"][1]["latencyMicros"], 3_200);
    }

    #[test]
    fn an_unreachable_agent_is_said_instead_of_probes() {
        let mut report = report();
        report.instances[0].probes.clear();
        report.instances[0].unavailable = "its agent did not answer within 3s".into();
        let text = render(&report, 10, now());
        assert_eq!(
            text,
            "web-x1 (node n1)\n  its agent did not answer within 3s\n"
        );
    }
}
