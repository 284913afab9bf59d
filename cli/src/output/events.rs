//! Events as people read them: what changed in objects' statuses — a condition moving (an
//! Instance scheduled, ready, unhealthy; an App progressing, rolled back) or a container
//! restarting — each naming its object, oldest first.

use std::time::SystemTime;

use serde_json::Value;

use super::{age, table};
use crate::object::{self, cell, text};

/// One thing that happened to one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When (RFC 3339), as the status recorded it.
    pub at: String,
    /// `kind/name`, e.g. `instance/web-x1`.
    pub object: String,
    /// What: `Ready=False`, `Restarted`, `Deleted`.
    pub event: String,
    /// The machine-readable reason.
    pub reason: String,
    /// The human message.
    pub message: String,
}

/// `kind/name` of an object.
pub fn object_name(object: &Value) -> String {
    format!(
        "{}/{}",
        text(object, "/kind").to_lowercase(),
        object::name(object)
    )
}

/// Every condition change recorded in the objects' statuses, oldest first.
pub fn recorded<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Vec<Event> {
    let mut events: Vec<Event> = objects
        .into_iter()
        .flat_map(|object| conditions(object).map(move |c| condition_event(object, c)))
        .filter(|event| !event.at.is_empty())
        .collect();
    events.sort_by(|a, b| (&a.at, &a.object).cmp(&(&b.at, &b.object)));
    events
}

/// What changed from `before` to `after` (two versions of one object seen by a watch):
/// conditions that moved and restarts that happened; `now` stamps restarts, which record no
/// time of their own.
pub fn changes(before: &Value, after: &Value, now: &str) -> Vec<Event> {
    let mut events: Vec<Event> = conditions(after)
        .filter(|condition| {
            let same = |old: &&Value| text(old, "/type") == text(condition, "/type");
            conditions(before).find(same).is_none_or(|old| {
                text(old, "/status") != text(condition, "/status")
                    || text(old, "/lastTransitionTime") != text(condition, "/lastTransitionTime")
            })
        })
        .map(|condition| condition_event(after, condition))
        .collect();
    let restarts = |object: &Value| {
        object
            .pointer("/status/restarts")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    if restarts(after) > restarts(before) {
        let exit = cell(after, "/status/lastExitCode");
        events.push(Event {
            at: now.to_owned(),
            object: object_name(after),
            event: "Restarted".to_owned(),
            reason: "ContainerRestarted".to_owned(),
            message: format!("restart {} (last exit code {exit})", restarts(after)),
        });
    }
    events
}

/// The event of an object going away.
pub fn deleted(object: &Value, now: &str) -> Event {
    Event {
        at: now.to_owned(),
        object: object_name(object),
        event: "Deleted".to_owned(),
        reason: String::new(),
        message: String::new(),
    }
}

/// A table of events with their ages; `<none>` when there are none.
pub fn table(events: &[Event], now: SystemTime) -> String {
    let header: Vec<String> = ["AGE", "OBJECT", "EVENT", "REASON", "MESSAGE"]
        .map(String::from)
        .into();
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let age = age::since(&e.at, now);
            vec![
                age,
                e.object.clone(),
                e.event.clone(),
                e.reason.clone(),
                e.message.clone(),
            ]
        })
        .collect();
    match rows.is_empty() {
        true => "<none>".to_owned(),
        false => table::render(&header, &rows),
    }
}

/// One event as a line of a followed stream: its time instead of an age.
pub fn line(event: &Event) -> String {
    let fields = [
        &event.at,
        &event.object,
        &event.event,
        &event.reason,
        &event.message,
    ];
    let line = fields.map(String::as_str).join("  ");
    format!("{}\n", line.trim_end())
}

fn conditions(object: &Value) -> impl Iterator<Item = &Value> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn condition_event(object: &Value, condition: &Value) -> Event {
    Event {
        at: text(condition, "/lastTransitionTime").to_owned(),
        object: object_name(object),
        event: format!(
            "{}={}",
            cell(condition, "/type"),
            cell(condition, "/status")
        ),
        reason: cell(condition, "/reason"),
        message: cell(condition, "/message"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn instance(ready: &str, at: &str, restarts: u64) -> Value {
        json!({"kind": "Instance", "metadata": {"name": "web-x1"},
            "status": {"restarts": restarts, "lastExitCode": 3, "conditions": [
                {"type": "Scheduled", "status": "True", "reason": "Bound",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "Ready", "status": ready, "reason": "R", "lastTransitionTime": at}]}})
    }

    #[test]
    fn recorded_events_come_oldest_first() {
        let events = recorded([&instance("True", "2026-01-01T00:00:05Z", 0)]);
        let what: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(what, ["Scheduled=True", "Ready=True"]);
        assert_eq!(events[0].object, "instance/web-x1");
    }

    #[test]
    fn a_watch_sees_moved_conditions_and_restarts_only() {
        let before = instance("True", "2026-01-01T00:00:05Z", 0);
        assert!(changes(&before, &before, "t").is_empty());
        let after = instance("False", "2026-01-01T00:01:00Z", 1);
        let events = changes(&before, &after, "2026-01-01T00:01:01Z");
        let what: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(what, ["Ready=False", "Restarted"]);
        assert_eq!(events[1].message, "restart 1 (last exit code 3)");
    }
}
