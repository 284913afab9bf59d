//! A container's health check as the agent runs it. When the container is created, the check
//! (its defaults already filled in by the Instance's resolved container) gets its named port
//! turned into its number and is stored in the container's `minicloud.health` label; the prober
//! reads it back from there, so what to probe is known from Docker alone, also after the agent
//! restarts.

use std::collections::BTreeMap;

use minicloud_manifests::{Port, PortRef, ResolvedHealthCheck};

use super::state::Policy;
use crate::labels;

/// What to probe on one container, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// The request path (`/healthz`).
    pub path: String,
    /// The container port.
    pub port: u16,
    /// Timing and thresholds.
    pub policy: Policy,
}

/// Why a container's `minicloud.health` label cannot be probed.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The label is not a health check's JSON.
    #[error("the {label} label is not a health check: {0}", label = labels::HEALTH)]
    Invalid(#[source] serde_json::Error),
    /// The label names its port instead of giving its number.
    #[error(
        "the {label} label names port {0:?} instead of giving its number",
        label = labels::HEALTH
    )]
    NamedPort(String),
}

/// `check` with its port as a number, `None` when it names a port `ports` does not declare.
pub fn resolve(check: &ResolvedHealthCheck, ports: &[Port]) -> Option<ResolvedHealthCheck> {
    let mut resolved = check.clone();
    if let PortRef::Name(name) = &resolved.http.port {
        let port = ports.iter().find(|p| p.name.as_ref() == Some(name))?;
        resolved.http.port = PortRef::Number(port.port);
    }
    Some(resolved)
}

/// The health check a container's labels carry; `None` when it has none.
pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Result<ProbeSpec, LabelError>> {
    let text = labels.get(labels::HEALTH)?;
    Some(parse(text))
}

fn parse(text: &str) -> Result<ProbeSpec, LabelError> {
    let check: ResolvedHealthCheck = serde_json::from_str(text).map_err(LabelError::Invalid)?;
    let port = match &check.http.port {
        PortRef::Number(port) => *port,
        PortRef::Name(name) => return Err(LabelError::NamedPort(name.clone())),
    };
    Ok(ProbeSpec {
        path: check.http.path.clone(),
        port,
        policy: Policy::from_check(&check),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use minicloud_manifests::{HealthCheck, HttpProbe};

    use super::*;

    fn check(port: PortRef) -> ResolvedHealthCheck {
        HealthCheck {
            http: HttpProbe {
                path: "/healthz".into(),
                port,
            },
            initial_delay_seconds: None,
            period_seconds: Some(2),
            timeout_seconds: None,
            failure_threshold: None,
            success_threshold: None,
        }
        .resolve()
    }

    fn http_port() -> Vec<Port> {
        vec![Port {
            name: Some("http".into()),
            port: 8080,
            protocol: None,
        }]
    }

    #[test]
    fn a_named_port_becomes_its_number_and_defaults_are_filled_in() {
        let resolved = resolve(&check(PortRef::Name("http".into())), &http_port()).unwrap();
        assert_eq!(resolved.http.port, PortRef::Number(8080));
        assert_eq!(resolved.period_seconds, 2);
        assert_eq!(resolved.timeout_seconds, 1);
        assert_eq!(resolved.failure_threshold, 3);
        assert_eq!(resolved.success_threshold, 1);
        assert_eq!(resolved.initial_delay_seconds, 0);
    }

    #[test]
    fn an_undeclared_port_name_does_not_resolve() {
        assert_eq!(resolve(&check(PortRef::Name("web".into())), &[]), None);
    }

    #[test]
    fn the_label_reads_back_as_what_to_probe() {
        let resolved = resolve(&check(PortRef::Name("http".into())), &http_port()).unwrap();
        let labels = BTreeMap::from([(
            labels::HEALTH.to_owned(),
            serde_json::to_string(&resolved).unwrap(),
        )]);
        let spec = from_labels(&labels).unwrap().unwrap();
        assert_eq!((spec.path.as_str(), spec.port), ("/healthz", 8080));
        assert_eq!(spec.policy.period, Duration::from_secs(2));
        assert_eq!(spec.policy.failure_threshold, 3);
    }

    #[test]
    fn no_label_means_no_check_and_a_broken_one_is_an_error() {
        assert!(from_labels(&BTreeMap::new()).is_none());
        let broken = BTreeMap::from([(labels::HEALTH.to_owned(), "{".to_owned())]);
        assert!(matches!(
            from_labels(&broken),
            Some(Err(LabelError::Invalid(_)))
        ));
        let named = serde_json::to_string(&check(PortRef::Name("http".into()))).unwrap();
        let named = BTreeMap::from([(labels::HEALTH.to_owned(), named)]);
        assert!(matches!(
            from_labels(&named),
            Some(Err(LabelError::NamedPort(name))) if name == "http"
        ));
    }
}
