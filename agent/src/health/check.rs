//! One probe: where it goes, what came of it, and the trait that runs it — HTTP on the network
//! ([`super::http::HttpChecker`]), or scripted outcomes in tests.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;

/// Where a probe goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The container's address and port.
    pub address: SocketAddr,
    /// The request path (`/healthz`).
    pub path: String,
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether it passed.
    pub ok: bool,
    /// What happened, for people: `HTTP 200`, `connection refused`, `timed out after 1s`.
    pub message: String,
    /// The HTTP status of the answer, when there was one.
    pub status_code: Option<u16>,
}

impl Outcome {
    /// A passing probe.
    pub fn passed(message: impl Into<String>) -> Outcome {
        Outcome {
            ok: true,
            message: message.into(),
            status_code: None,
        }
    }

    /// A failing probe.
    pub fn failed(message: impl Into<String>) -> Outcome {
        Outcome {
            ok: false,
            message: message.into(),
            status_code: None,
        }
    }

    /// The same outcome, of an answer with HTTP status `code`.
    pub fn with_status(self, code: u16) -> Outcome {
        Outcome {
            status_code: Some(code),
            ..self
        }
    }
}

/// Runs probes.
#[async_trait]
pub trait Checker: Send + Sync + 'static {
    /// Probes `target`, giving up after `timeout`.
    async fn check(&self, target: &Target, timeout: Duration) -> Outcome;
}
