//! App: what a tenant deploys — an image (or a build), how many replicas, and how to run,
//! reach, check and update them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::container::{HealthCheck, PortRef, Resources, with_container_fields};
use super::object_kind;
use crate::meta::Condition;

object_kind!(
    /// A tenant's application: a set of identical replicas of one container.
    App, tag: AppKind, spec: AppSpec, status: AppStatus
);

with_container_fields! {
    /// The desired state of an App, as written; omitted settings get their defaults.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct AppSpec {
        /// The image to run (`hello:1`, `registry.example/app@sha256:…`). Required unless
        /// `build` is given; with `build`, the name the built image is tagged with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub image: Option<String>,
        /// Build the image from source instead of pulling it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub build: Option<Build>,
        /// Number of instances (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub replicas: Option<u32>,
        ..container_fields,
        /// Route `<app>.<tenant>.<domain>` (or `host`) to a port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ingress: Option<Ingress>,
        /// Per-instance limits (defaults when omitted).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resources: Option<Resources>,
        /// How the agent checks instance health.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub health_check: Option<HealthCheck>,
        /// How new releases replace old instances.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub update: Option<UpdateStrategy>,
        /// Never allowed; present so a spec asking for it gets a clear refusal.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub privileged: bool,
        /// Never allowed; present so a spec asking for it gets a clear refusal.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub host_network: bool,
        /// Never allowed; present so a spec asking for it gets a clear refusal.
        #[serde(
            rename = "hostPID",
            default,
            skip_serializing_if = "std::ops::Not::not"
        )]
        pub host_pid: bool,
        /// Never allowed; present so a spec asking for it gets a clear refusal.
        #[serde(
            rename = "hostIPC",
            default,
            skip_serializing_if = "std::ops::Not::not"
        )]
        pub host_ipc: bool,
        /// Capabilities to give back (all are dropped): only those of
        /// [`ALLOWED_CAPABILITIES`](crate::validate::ALLOWED_CAPABILITIES).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub capabilities: Option<Capabilities>,
    }
}

/// Where to build the image from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Build {
    /// The build context directory, relative to the manifest.
    pub context: String,
    /// The Dockerfile, relative to the context (default `Dockerfile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
}

/// HTTP routing from the ingress proxy to the App's ready instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ingress {
    /// The port to route to, by name or number; it must be declared in `ports`.
    pub port: PortRef,
    /// The host name; the server fills `<app>.<tenant>.<domain>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// Rolling-update parameters, as written; omitted ones get their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateStrategy {
    /// Instances allowed above `replicas` during an update (default 1). A transient allowance:
    /// the tenant's quota counts `replicas` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<u32>,
    /// Instances allowed to be unavailable during an update (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<u32>,
    /// Seconds a new release may take to become healthy before it is rolled back
    /// (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<u32>,
}

/// Linux capability changes; minicloud drops all capabilities and adds back only a few harmless
/// ones on request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capabilities {
    /// Capabilities to add back, by name without `CAP_` (`NET_BIND_SERVICE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    /// Capabilities to drop: all already are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}

/// Rolling-update parameters with every default filled in: what [`UpdateStrategy`] resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedUpdate {
    /// Instances allowed above `replicas` during an update.
    pub max_surge: u32,
    /// Instances allowed to be unavailable during an update.
    pub max_unavailable: u32,
    /// Seconds a new release may take to become healthy before it is rolled back.
    pub progress_deadline_seconds: u32,
}

/// Observed state of an App.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppStatus {
    /// Instances that exist.
    #[serde(default)]
    pub replicas: u32,
    /// Instances passing their health check.
    #[serde(default)]
    pub ready_replicas: u32,
    /// Instances running the current release.
    #[serde(default)]
    pub updated_replicas: u32,
    /// Where the App is reachable (`http://web.acme.localhost:8080`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The name of the Release instances converge to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_release: Option<String>,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<u64>,
    /// Typed observations (`Available`, `Progressing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
