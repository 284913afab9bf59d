//! `mini describe KIND NAME`: one object for people — identity, metadata, the spec as YAML,
//! the rest of the status, its conditions as a table, and for an App its recent events: the
//! latest condition changes of the App, its Releases and its Instances. A Volume shows its
//! snapshots and its own events (restores, instances stopped and started) instead. Objects a
//! controller decided about end with their latest reconcile decisions: what triggered each,
//! what it did and how it ended.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use clap::Args;
use minicloud_manifests::Kind;
use minicloud_proto::object_labels;
use minicloud_proto::v1::ReconcileRecord;
use serde_json::{Map, Value};

use super::get::parse_kind;
use crate::client::{Client, ConnectArgs};
use crate::object::{self, cell, text};
use crate::output::{self, age, events, indent, table, units};

/// Width of the label column (`Annotations:` and a space).
const LABEL_WIDTH: usize = 18;
/// How many of the latest events a description shows.
const MAX_EVENTS: usize = 15;

/// Flags of `mini describe`.
#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// The kind, singular or plural, in any case.
    #[arg(value_parser = parse_kind)]
    kind: Kind,
    /// The object's name.
    name: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Prints the object.
pub async fn run(args: DescribeArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&args.connect).await?;
    let object = client.get(client.object_ref(args.kind, &args.name)).await?;
    let related = related(&mut client, args.kind, &object).await?;
    let mut text = render(&object, &related, SystemTime::now());
    let decisions = client.reconciles(args.kind, &args.name).await?.records;
    if args.kind == Kind::App || !decisions.is_empty() {
        text.push_str(
            "Reconciles:
",
        );
        text.push_str(&indent(&reconciles(&decisions, SystemTime::now()), 2));
        text.push('\n');
    }
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The latest reconcile decisions, oldest first.
fn reconciles(decisions: &[ReconcileRecord], now: SystemTime) -> String {
    let header = ["AGE", "CONTROLLER", "TRIGGER", "ACTIONS", "OUTCOME"].map(String::from);
    let rows: Vec<Vec<String>> = decisions
        .iter()
        .map(|d| {
            let outcome = match d.error.as_str() {
                "" => d.outcome.clone(),
                error => format!("{}: {error}", d.outcome),
            };
            vec![
                age::since(&d.time, now),
                d.controller.clone(),
                or_none(d.triggers.join(", ")),
                or_none(d.actions.join("; ")),
                outcome,
            ]
        })
        .collect();
    match rows.is_empty() {
        true => "<none>".to_owned(),
        false => table::render(&header, &rows),
    }
}

/// The objects whose changes are part of `object`'s story: an App's Releases and Instances,
/// a Volume's Snapshots.
async fn related(client: &mut Client, kind: Kind, object: &Value) -> Result<Vec<Value>> {
    let tenant = text(object, "/metadata/tenant").to_owned();
    if kind == Kind::Volume {
        let snapshots = client.list(Kind::Snapshot, tenant, "").await?;
        let name = object::name(object);
        return Ok(snapshots
            .into_iter()
            .filter(|s| text(s, "/spec/volume") == name)
            .collect());
    }
    if kind != Kind::App {
        return Ok(Vec::new());
    }
    let selector = format!("{}={}", object_labels::APP, object::name(object));
    let mut related = client
        .list(Kind::Release, tenant.clone(), &selector)
        .await?;
    related.extend(client.list(Kind::Instance, tenant, &selector).await?);
    Ok(related)
}

/// The whole description.
fn render(object: &Value, related: &[Value], now: SystemTime) -> String {
    let mut out = String::new();
    metadata(&mut out, object, now);
    if let Some(spec) = spec_yaml(object) {
        let _ = writeln!(out, "Spec:\n{spec}");
    }
    if let Some(data) = object.get("data").and_then(Value::as_object) {
        field(&mut out, "Data", &data_keys(data));
    }
    section(&mut out, "Status", other_status(object).as_ref());
    out.push_str("Conditions:\n");
    out.push_str(&indent(&conditions(object, now), 2));
    out.push('\n');
    if text(object, "/kind") == Kind::Volume.as_str() {
        out.push_str("Snapshots:\n");
        out.push_str(&indent(&snapshots(related, now), 2));
        out.push_str("\nEvents:\n");
        out.push_str(&indent(&volume_events(object, now), 2));
        out.push('\n');
    } else if !related.is_empty() {
        out.push_str("Events:\n");
        out.push_str(&indent(&events(object, related, now), 2));
        out.push('\n');
    }
    out
}

/// A Volume's snapshots, oldest first.
fn snapshots(snapshots: &[Value], now: SystemTime) -> String {
    let header = ["NAME", "STATUS", "ORIGIN", "SIZE", "TAKEN"].map(String::from);
    let mut rows: Vec<(String, Vec<String>)> = snapshots
        .iter()
        .map(|snapshot| {
            let taken = text(snapshot, "/status/completedAt");
            let size = snapshot
                .pointer("/status/sizeBytes")
                .and_then(Value::as_u64);
            let row = vec![
                object::name(snapshot).to_owned(),
                or_none(cell(snapshot, "/status/phase")),
                or_none(cell(snapshot, "/spec/origin")).replace("<none>", "Manual"),
                size.map_or_else(|| "<none>".into(), units::bytes),
                if taken.is_empty() {
                    "<none>".into()
                } else {
                    format!("{} ago", age::since(taken, now))
                },
            ];
            (
                text(snapshot, "/metadata/creationTimestamp").to_owned(),
                row,
            )
        })
        .collect();
    rows.sort();
    match rows.is_empty() {
        true => "<none>".to_owned(),
        false => table::render(
            &header,
            &rows.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
        ),
    }
}

/// A Volume's own events, oldest first.
fn volume_events(object: &Value, now: SystemTime) -> String {
    let header = ["AGE", "REASON", "MESSAGE"].map(String::from);
    let rows: Vec<Vec<String>> = object
        .pointer("/status/events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|event| {
            vec![
                age::since(text(event, "/time"), now),
                cell(event, "/reason"),
                cell(event, "/message"),
            ]
        })
        .collect();
    match rows.is_empty() {
        true => "<none>".to_owned(),
        false => table::render(&header, &rows),
    }
}

fn or_none(value: String) -> String {
    if value.is_empty() {
        "<none>".into()
    } else {
        value
    }
}

/// The latest condition changes of `object` and `related`, oldest first.
fn events(object: &Value, related: &[Value], now: SystemTime) -> String {
    let all = events::recorded(std::iter::once(object).chain(related));
    events::table(&all[all.len().saturating_sub(MAX_EVENTS)..], now)
}

/// Who the object is and the server's bookkeeping about it.
fn metadata(out: &mut String, object: &Value, now: SystemTime) {
    let meta = |field: &str| text(object, &format!("/metadata/{field}"));
    let created = meta("creationTimestamp");
    field(out, "Name", &[object::name(object).to_owned()]);
    field(out, "Kind", &[text(object, "/kind").to_owned()]);
    optional(out, "Tenant", meta("tenant"));
    field(out, "Labels", &pairs(object.pointer("/metadata/labels")));
    let annotations = pairs(object.pointer("/metadata/annotations"));
    field(out, "Annotations", &annotations);
    optional(out, "UID", meta("uid"));
    let age = age::since(created, now);
    field(out, "Created", &[format!("{created} ({age} ago)")]);
    field(out, "Generation", &[generation(object)]);
    optional(out, "ResourceVersion", meta("resourceVersion"));
    optional(out, "Deleting since", meta("deletionTimestamp"));
    optional(out, "Finalizers", &cell(object, "/metadata/finalizers"));
}

/// `Label:` padded, then the first value; further values aligned under it.
fn field(out: &mut String, label: &str, values: &[String]) {
    let label = format!("{label}:");
    let first = values.first().map_or("<none>", String::as_str);
    let _ = writeln!(out, "{label:LABEL_WIDTH$}{first}");
    for value in values.iter().skip(1) {
        let _ = writeln!(out, "{:LABEL_WIDTH$}{value}", "");
    }
}

fn optional(out: &mut String, label: &str, value: &str) {
    if !value.is_empty() {
        field(out, label, &[value.to_owned()]);
    }
}

/// The spec as YAML in the manifest's own field order (a JSON map would sort the fields):
/// the `spec:` block of the whole object's YAML, indented by two spaces as it is there.
fn spec_yaml(object: &Value) -> Option<String> {
    let yaml = output::yaml(object);
    let block: Vec<&str> = yaml
        .lines()
        .skip_while(|line| *line != "spec:")
        .skip(1)
        .take_while(|line| line.starts_with(' '))
        .collect();
    (!block.is_empty()).then(|| block.join("\n"))
}

/// A heading and the value as indented YAML, when there is a value.
fn section(out: &mut String, heading: &str, value: Option<&Value>) {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return;
    };
    let yaml = serde_saphyr::to_string(value).unwrap_or_else(|_| value.to_string());
    let _ = writeln!(out, "{heading}:\n{}", indent(&yaml, 2));
}

fn pairs(map: Option<&Value>) -> Vec<String> {
    let map = map.and_then(Value::as_object).into_iter().flatten();
    map.map(|(key, value)| format!("{key}={}", cell(value, "")))
        .collect()
}

fn generation(object: &Value) -> String {
    let observed = cell(object, "/status/observedGeneration");
    let observed = if observed.is_empty() {
        "<none>".into()
    } else {
        observed
    };
    format!(
        "{} (observed: {observed})",
        cell(object, "/metadata/generation")
    )
}

/// A Secret's keys, never its values (the server masks them anyway).
fn data_keys(data: &Map<String, Value>) -> Vec<String> {
    data.keys().cloned().collect()
}

/// The status without what is shown elsewhere (conditions, observedGeneration).
fn other_status(object: &Value) -> Option<Value> {
    let mut status = object.get("status")?.as_object()?.clone();
    status.remove("conditions");
    status.remove("observedGeneration");
    status.remove("events");
    (!status.is_empty()).then_some(Value::Object(status))
}

fn conditions(object: &Value, now: SystemTime) -> String {
    let header: Vec<String> = ["TYPE", "STATUS", "REASON", "MESSAGE", "AGE"]
        .map(String::from)
        .into();
    let rows: Vec<Vec<String>> = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|condition| {
            let since = text(condition, "/lastTransitionTime");
            let age = if since.is_empty() {
                String::new()
            } else {
                age::since(since, now)
            };
            let fields = ["/type", "/status", "/reason", "/message"];
            let mut row: Vec<String> = fields.iter().map(|p| cell(condition, p)).collect();
            row.push(age);
            row
        })
        .collect();
    match rows.is_empty() {
        true => "<none>".to_owned(),
        false => table::render(&header, &rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app() -> Value {
        json!({"apiVersion": "minicloud/v1", "kind": "App",
            "metadata": {"name": "web", "tenant": "acme", "labels": {"team": "blue", "tier": "web"},
                         "generation": 2, "creationTimestamp": "2026-01-01T00:00:00Z",
                         "resourceVersion": "9"},
            "spec": {"image": "hello:1", "replicas": 2},
            "status": {"readyReplicas": 1, "observedGeneration": 1,
                "conditions": [{"type": "Available", "status": "False", "reason": "Starting",
                                "message": "0 of 2 ready", "lastTransitionTime": "2026-01-01T00:01:00Z"}]}})
    }

    fn now() -> SystemTime {
        humantime::parse_rfc3339("2026-01-01T00:05:00Z").unwrap()
    }

    #[test]
    fn the_description_shows_identity_labels_and_generations() {
        let text = render(&app(), &[], now());
        assert!(
            text.starts_with("Name:             web\nKind:             App\n"),
            "{text}"
        );
        assert!(
            text.contains("Labels:           team=blue\n                  tier=web\n"),
            "{text}"
        );
        assert!(text.contains("Annotations:      <none>\n"), "{text}");
        assert!(
            text.contains("Created:          2026-01-01T00:00:00Z (5m ago)\n"),
            "{text}"
        );
        assert!(
            text.contains("Generation:       2 (observed: 1)\n"),
            "{text}"
        );
    }

    #[test]
    fn the_spec_is_yaml_and_status_leaves_out_conditions() {
        let text = render(&app(), &[], now());
        assert!(
            text.contains("Spec:\n  image: hello:1\n  replicas: 2\n"),
            "{text}"
        );
        assert!(text.contains("Status:\n  readyReplicas: 1\n"), "{text}");
        assert!(!text.contains("observedGeneration"), "{text}");
    }

    #[test]
    fn conditions_are_a_table_with_ages() {
        let text = render(&app(), &[], now());
        assert!(
            text.contains("  TYPE        STATUS   REASON     MESSAGE        AGE\n"),
            "{text}"
        );
        assert!(
            text.contains("  Available   False    Starting   0 of 2 ready   4m\n"),
            "{text}"
        );
    }

    #[test]
    fn an_app_shows_the_latest_changes_of_its_instances_as_events() {
        let instance = json!({"kind": "Instance", "metadata": {"name": "web-x1"},
            "status": {"conditions": [
                {"type": "Ready", "status": "False", "reason": "ContainerExited",
                 "message": "exit code 3", "lastTransitionTime": "2026-01-01T00:04:00Z"},
                {"type": "Scheduled", "status": "True", "reason": "Bound",
                 "message": "bound to node n1", "lastTransitionTime": "2026-01-01T00:00:30Z"}]}});
        let text = render(&app(), &[instance], now());
        let events = text.split("Events:\n").nth(1).expect("an Events section");
        let lines: Vec<&str> = events.lines().map(str::trim).collect();
        assert!(lines[0].starts_with("AGE"), "{text}");
        assert!(
            lines[1].contains("instance/web-x1") && lines[1].contains("Scheduled=True"),
            "{text}"
        );
        assert!(
            lines[2].contains("app/web") && lines[2].contains("Available=False"),
            "{text}"
        );
        assert!(
            lines[3].contains("Ready=False") && lines[3].contains("exit code 3"),
            "{text}"
        );
    }

    #[test]
    fn a_volume_shows_its_snapshots_and_its_events() {
        let volume = json!({"kind": "Volume", "metadata": {"name": "data", "tenant": "acme"},
            "spec": {"size": "1Gi"},
            "status": {"phase": "Ready", "usedBytes": 1024, "events": [
                {"time": "2026-01-01T00:03:00Z", "reason": "Restored",
                 "message": "from data-1 (2Mi)"}]}});
        let snapshot = json!({"kind": "Snapshot", "metadata": {"name": "data-1",
                "creationTimestamp": "2026-01-01T00:01:00Z"},
            "spec": {"volume": "data"},
            "status": {"phase": "Ready", "sizeBytes": 2_097_152u64,
                "completedAt": "2026-01-01T00:02:00Z"}});
        let text = render(&volume, &[snapshot], now());
        let snapshots = text
            .split("Snapshots:\n")
            .nth(1)
            .expect("a Snapshots section");
        assert!(
            snapshots.contains("data-1   Ready    Manual   2Mi    3m ago"),
            "{text}"
        );
        let events = text.split("Events:\n").nth(1).expect("an Events section");
        assert!(
            events.contains("2m    Restored   from data-1 (2Mi)"),
            "{text}"
        );
        assert!(!text.contains("  events:"), "{text}");
    }

    #[test]
    fn reconcile_decisions_show_their_trigger_actions_and_outcome() {
        let decisions = [
            ReconcileRecord {
                controller: "app".into(),
                time: "2026-01-01T00:04:00.000Z".into(),
                triggers: vec!["app/web changed".into()],
                actions: vec!["created Instance web-x1".into(), "wrote status".into()],
                outcome: "done".into(),
                ..ReconcileRecord::default()
            },
            ReconcileRecord {
                controller: "app".into(),
                time: "2026-01-01T00:04:30.000Z".into(),
                triggers: vec!["resync".into()],
                outcome: "error".into(),
                error: "cannot list the App's Instances".into(),
                ..ReconcileRecord::default()
            },
        ];
        let text = reconciles(&decisions, now());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("AGE   CONTROLLER   TRIGGER"), "{text}");
        assert!(
            lines[1].contains("app/web changed")
                && lines[1].contains("created Instance web-x1; wrote status")
                && lines[1].ends_with("done"),
            "{text}"
        );
        assert!(
            lines[2].contains("<none>")
                && lines[2].ends_with("error: cannot list the App's Instances"),
            "{text}"
        );
    }

    #[test]
    fn an_object_without_conditions_says_none() {
        let object = json!({"kind": "Tenant", "metadata": {"name": "acme"}});
        assert!(render(&object, &[], now()).ends_with("Conditions:\n  <none>\n"));
    }

    #[test]
    fn secret_values_are_never_shown() {
        let secret =
            json!({"kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "s3cr3t"}});
        let text = render(&secret, &[], now());
        assert!(text.contains("Data:             password\n"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
