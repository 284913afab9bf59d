//! The typed kinds. Each object is `apiVersion` + `kind` + `metadata` + `spec` + `status`
//! (Secret has `data` instead of spec and status).

mod api_key;
mod app;
mod container;
mod instance;
mod node;
mod release;
mod secret;
mod snapshot;
mod tenant;
mod volume;

pub use api_key::{ApiKey, ApiKeySpec, ApiKeyStatus, Role};
pub use app::{
    App, AppSpec, AppStatus, Build, Capabilities, Ingress, ResolvedUpdate, UpdateStrategy,
};
pub use container::{
    ContainerSpec, EnvSource, EnvVar, HealthCheck, HttpProbe, Port, PortRef, Protocol,
    ResolvedHealthCheck, ResolvedResources, Resources, SecretKeyRef, VolumeMount,
};
pub use instance::{Instance, InstancePhase, InstanceSpec, InstanceStatus};
pub use node::{Node, NodeAddress, NodeAddressType, NodeCapacity, NodeSpec, NodeStatus};
pub use release::{Release, ReleaseSpec};
pub use secret::Secret;
pub use snapshot::{Snapshot, SnapshotPhase, SnapshotSpec, SnapshotStatus};
pub use tenant::{Quota, Tenant, TenantSpec, TenantStatus, Usage};
pub use volume::{BackupPolicy, Volume, VolumeSpec, VolumeStatus};

/// The single-valued `kind` fields of the typed objects: each accepts only its own name, so a
/// typed object can never carry another kind's tag.
pub mod tags {
    pub use super::api_key::ApiKeyKind;
    pub use super::app::AppKind;
    pub use super::instance::InstanceKind;
    pub use super::node::NodeKind;
    pub use super::release::ReleaseKind;
    pub use super::secret::SecretKind;
    pub use super::snapshot::SnapshotKind;
    pub use super::tenant::TenantKind;
    pub use super::volume::VolumeKind;
}

/// Declares an object kind: its `kind` tag type and the object struct with spec and status.
macro_rules! object_kind {
    ($(#[$doc:meta])* $name:ident, tag: $tag:ident, spec: $spec:ty, status: $status:ty) => {
        #[doc = concat!("The `kind` field of [`", stringify!($name), "`] objects.")]
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize,
            schemars::JsonSchema,
        )]
        pub enum $tag {
            #[doc = concat!("`", stringify!($name), "`.")]
            #[default]
            $name,
        }

        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            /// Always `minicloud/v1`.
            #[serde(default)]
            pub api_version: $crate::meta::ApiVersion,
            #[doc = concat!("Always `", stringify!($name), "`.")]
            pub kind: $tag,
            /// Name, tenant and bookkeeping.
            pub metadata: $crate::meta::ObjectMeta,
            /// What the user wants.
            pub spec: $spec,
            /// What is, as observed by controllers.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub status: Option<$status>,
        }

        impl $name {
            /// A new object with no status.
            pub fn new(metadata: $crate::meta::ObjectMeta, spec: $spec) -> Self {
                Self {
                    api_version: $crate::meta::ApiVersion::V1,
                    kind: $tag::$name,
                    metadata,
                    spec,
                    status: None,
                }
            }
        }
    };
}

use object_kind;
