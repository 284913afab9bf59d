//! Which alert an Instance is due, a pure decision: its `Healthy` condition moved (an episode
//! of failed probes began, or ended) since the webhook last heard of it (`status.alertedAt`).
//! Also the JSON body the webhook receives.

use minicloud_manifests::{ConditionStatus, Instance};
use serde::Serialize;

use crate::condition;
use crate::nodesync::HEALTHY;

/// One alert to send: a move of an Instance's `Healthy` condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// `firing` when the episode began, `resolved` when it ended.
    pub status: &'static str,
    /// The tenant, App and Instance it is about, and the node it ran on.
    pub tenant: String,
    /// The App the Instance belongs to.
    pub app: String,
    /// The Instance.
    pub instance: String,
    /// The node it runs on.
    pub node: String,
    /// `RepeatedHealthFailures` or `HealthRecovered`.
    pub reason: String,
    /// What happened, for people.
    pub message: String,
    /// When the condition moved (RFC 3339): what `status.alertedAt` records once sent.
    pub at: String,
    /// Unique per alert (the Instance's uid and `at`), for receivers that deduplicate.
    pub id: String,
}

/// The alert `instance` is due, if any.
pub fn due(instance: &Instance) -> Option<Alert> {
    let status = instance.status.as_ref()?;
    let healthy = condition::find(&status.conditions, HEALTHY)?;
    let at = healthy.last_transition_time.clone()?;
    if status.alerted_at.as_deref() == Some(at.as_str()) {
        return None;
    }
    let meta = &instance.metadata;
    let uid = meta.uid.clone().unwrap_or_default();
    Some(Alert {
        status: match healthy.status {
            ConditionStatus::False => "firing",
            _ => "resolved",
        },
        tenant: meta.tenant.clone().unwrap_or_default(),
        app: instance.spec.app.clone(),
        instance: meta.name.clone(),
        node: instance.spec.node.clone().unwrap_or_default(),
        reason: healthy.reason.clone(),
        message: healthy.message.clone(),
        id: format!("{uid}/{at}"),
        at,
    })
}

/// The body POSTed for `alert`.
pub fn body(alert: &Alert) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "type")]
        type_: &'static str,
        #[serde(flatten)]
        alert: &'a Alert,
    }
    let body = Body {
        type_: "HealthAlert",
        alert,
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use minicloud_manifests::{Condition, InstanceStatus};

    use super::*;
    use crate::fixtures;

    fn instance(status: ConditionStatus, alerted_at: Option<&str>) -> Instance {
        let container = fixtures::container("hello:1");
        let mut i = fixtures::instance("web-x1", "web", "web-1", Some("n1"), container);
        i.metadata.uid = Some("u1".into());
        i.status = Some(InstanceStatus {
            conditions: vec![Condition {
                type_: HEALTHY.into(),
                status,
                reason: "RepeatedHealthFailures".into(),
                message: "5 health probes failed in a row".into(),
                last_transition_time: Some("2026-01-01T00:00:00Z".into()),
            }],
            alerted_at: alerted_at.map(str::to_owned),
            ..InstanceStatus::default()
        });
        i
    }

    #[test]
    fn a_moved_healthy_condition_is_due_once() {
        let alert = due(&instance(ConditionStatus::False, None)).unwrap();
        assert_eq!(alert.status, "firing");
        assert_eq!((alert.app.as_str(), alert.node.as_str()), ("web", "n1"));
        assert_eq!(alert.id, "u1/2026-01-01T00:00:00Z");
        let sent = instance(ConditionStatus::False, Some("2026-01-01T00:00:00Z"));
        assert_eq!(due(&sent), None);
        let older = instance(ConditionStatus::True, Some("2025-12-31T00:00:00Z"));
        assert_eq!(due(&older).unwrap().status, "resolved");
    }

    #[test]
    fn an_instance_that_never_had_an_episode_is_due_nothing() {
        let container = fixtures::container("hello:1");
        let i = fixtures::instance("web-x1", "web", "web-1", Some("n1"), container);
        assert_eq!(due(&i), None);
    }

    #[test]
    fn the_body_names_its_type_and_the_instance() {
        let alert = due(&instance(ConditionStatus::False, None)).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body(&alert)).unwrap();
        assert_eq!(body["type"], "HealthAlert");
        assert_eq!(body["status"], "firing");
        assert_eq!(body["instance"], "web-x1");
    }
}
