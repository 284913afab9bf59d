//! Container settings shared by an App's spec and an Instance's resolved container: env,
//! ports, resources, volume mounts and health checks — as a user writes them, and resolved,
//! with every default filled in ([`ContainerSpec`], [`ResolvedResources`],
//! [`ResolvedHealthCheck`]; the defaults themselves live in [`crate::defaults`]).

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::quantity::{Bytes, Cpu};

/// An environment variable: a literal `value` or a `valueFrom` reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    /// The variable's name (`[A-Za-z_][A-Za-z0-9_]*`).
    pub name: String,
    /// A literal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where to read the value from instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvSource>,
}

/// A source for an environment variable's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvSource {
    /// A key of a Secret in the same tenant.
    pub secret: SecretKeyRef,
}

/// One key of a Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key within the Secret's `data`.
    pub key: String,
}

/// A port the container listens on. Ports are never published on the host; traffic arrives
/// through the ingress proxy or the tenant network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    /// A name other fields can refer to (`http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The container port, 1–65535.
    pub port: u16,
    /// TCP (the default) or UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
}

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// A reference to a declared port, by name (`http`) or number (`8080`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PortRef {
    /// A port number.
    Number(u16),
    /// The name of a port in `spec.ports`.
    Name(String),
}

impl<'de> Deserialize<'de> for PortRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PortRefVisitor)
    }
}

/// Accepts a port number or a port name, with a clear message for anything else.
struct PortRefVisitor;

impl Visitor<'_> for PortRefVisitor {
    type Value = PortRef;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a port number (1-65535) or the name of a port in spec.ports")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortRef, E> {
        u16::try_from(v)
            .map(PortRef::Number)
            .map_err(|_| E::custom(format!("port {v} is out of range; use 1-65535")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortRef, E> {
        Err(E::custom(format!("port {v} is out of range; use 1-65535")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<PortRef, E> {
        Ok(PortRef::Name(v.to_owned()))
    }
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(name) => f.write_str(name),
        }
    }
}

/// Limits enforced on the container, as written. Omitted fields get defaults (250m CPU, 128Mi
/// memory, 256 processes): tenant containers always run with limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// CPU limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Bytes>,
    /// Maximum number of processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u32>,
}

/// A Volume mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeMount {
    /// The Volume's name, in the same tenant (`volume` is accepted too).
    #[serde(alias = "volume")]
    pub name: String,
    /// Absolute path inside the container.
    pub mount_path: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Never allowed; present so a spec asking to mount a path of the host gets a clear
    /// refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
}

/// A probe run by the agent: readiness gates traffic, repeated failure restarts the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheck {
    /// An HTTP GET that must answer 2xx or 3xx.
    pub http: HttpProbe,
    /// Seconds to wait after start before the first probe (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u32>,
    /// Seconds between probes (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<u32>,
    /// Seconds before a probe counts as failed (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// Consecutive failures before the container is unhealthy (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Consecutive successes before the container is healthy again (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<u32>,
}

/// An HTTP probe target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpProbe {
    /// The request path, starting with `/`.
    pub path: String,
    /// The port, by name or number; it must be declared in `ports`.
    pub port: PortRef,
}

/// Declares a struct with the container settings an App spec and an Instance's container
/// share — `command`, `args`, `env`, `ports`, `volumes` and `user`, written the same way in both
/// — placed where `..container_fields,` stands among the struct's own fields.
///
/// A macro rather than a `#[serde(flatten)]`ed struct: flattened fields are read through an
/// untyped buffer, which loses the field path and line/column of their errors and the list of
/// expected fields of an unknown one.
macro_rules! with_container_fields {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$before_meta:meta])* pub $before:ident: $before_ty:ty,)*
            ..container_fields,
            $($(#[$after_meta:meta])* pub $after:ident: $after_ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$before_meta])* pub $before: $before_ty,)*
            /// Overrides the image's entrypoint.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub command: Vec<String>,
            /// Overrides the image's arguments.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub args: Vec<String>,
            /// Environment variables; Secret references are resolved when the container starts.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub env: Vec<$crate::kinds::EnvVar>,
            /// Ports the container listens on.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub ports: Vec<$crate::kinds::Port>,
            /// Volumes to mount.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub volumes: Vec<$crate::kinds::VolumeMount>,
            /// Numeric user id to run as (`nobody`, 65534, when absent).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub user: Option<u32>,
            $($(#[$after_meta])* pub $after: $after_ty,)*
        }
    };
}

pub(crate) use with_container_fields;

/// Limits a container runs with, every one set: what resources resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolvedResources {
    /// CPU limit.
    pub cpu: Cpu,
    /// Memory limit.
    pub memory: Bytes,
    /// Maximum number of processes.
    pub pids: u32,
}

/// A health check with every timing and threshold set: what a health check resolves to. Its
/// port stays as written; the agent looks a named one up in the container's ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolvedHealthCheck {
    /// The HTTP GET to send.
    pub http: HttpProbe,
    /// Seconds to wait after start before the first probe.
    pub initial_delay_seconds: u32,
    /// Seconds between probes.
    pub period_seconds: u32,
    /// Seconds before a probe counts as failed.
    pub timeout_seconds: u32,
    /// Consecutive failures before the container is unhealthy.
    pub failure_threshold: u32,
    /// Consecutive successes before the container is healthy again.
    pub success_threshold: u32,
}

with_container_fields! {
    /// The container an Instance runs, resolved from its Release's App spec
    /// (`AppSpec::container`): defaults applied, so the
    /// scheduler, quota and agent take its values as they are.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct ContainerSpec {
        /// The image reference, by digest where known.
        pub image: String,
        ..container_fields,
        /// Limits, every one set.
        pub resources: ResolvedResources,
        /// The health check, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub health_check: Option<ResolvedHealthCheck>,
        /// Capabilities added back after all are dropped.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub capabilities: Vec<String>,
    }
}
