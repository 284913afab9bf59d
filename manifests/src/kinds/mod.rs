//! The typed kinds. Each object is `apiVersion` + `kind` + `metadata` + `spec` + `status`
//! (Secret has `data` instead of spec and status).

mod api_key;
mod app;
mod container;
mod instance;
mod node;
mod object;
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
pub use node::{
    Node, NodeAddress, NodeAddressType, NodeCapacity, NodeSpec, NodeStatus, NodeStorage,
};
pub use release::{Release, ReleaseSpec};
pub use secret::Secret;
pub use snapshot::{Snapshot, SnapshotOrigin, SnapshotPhase, SnapshotSpec, SnapshotStatus};
pub use tenant::{Alerts, Quota, Tenant, TenantSpec, TenantStatus, Usage, Webhook};
pub use volume::{
    AccessMode, KeepPolicy, ReclaimPolicy, RestoreRequest, SnapshotSchedule, VOLUME_EVENTS_KEPT,
    Volume, VolumeEvent, VolumePhase, VolumeSecurityContext, VolumeSpec, VolumeStatus, VolumeUser,
};

use object::object_kind;

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
