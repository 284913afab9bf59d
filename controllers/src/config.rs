//! How to run the controllers, and where users reach apps through the ingress.

use std::time::Duration;

use minicloud_common::metrics::Metrics;

/// How to run the controllers.
#[derive(Clone, Debug)]
pub struct ControllersConfig {
    /// The API server's URL (`http://127.0.0.1:7070`).
    pub api_url: String,
    /// The admin key presented to the API server and to node agents.
    pub api_key: Option<String>,
    /// Reconciles each controller runs at once.
    pub workers: usize,
    /// How often every object is reconciled again, whatever happened.
    pub resync: Duration,
    /// Where the ingress serves apps, for App.status.url; `None`: apps get no URL.
    pub ingress: Option<IngressAddress>,
    /// The registry the controllers register their metrics in (the process's `/metrics`).
    pub metrics: Metrics,
}

/// Where users reach apps through the ingress proxy: `http://<app>.<tenant>.<domain>:<port>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngressAddress {
    /// The domain apps are served under (`localhost`).
    pub domain: String,
    /// The port the ingress listens on.
    pub port: u16,
}

impl IngressAddress {
    /// The URL of `app`, when it has `spec.ingress`.
    pub fn url_of(&self, app: &minicloud_manifests::App) -> Option<String> {
        minicloud_manifests::hosts::app_url(app, &self.domain, self.port)
    }
}

impl ControllersConfig {
    /// The defaults (4 workers, a resync every 60 s) for the API server at `api_url`.
    pub fn new(api_url: impl Into<String>) -> Self {
        Self {
            api_url: api_url.into(),
            api_key: None,
            workers: 4,
            resync: Duration::from_secs(60),
            ingress: None,
            metrics: Metrics::default(),
        }
    }
}
