//! The resource API: the semantics of Apply, Get, List, Delete, UpdateStatus and Watch over the
//! store, independent of the wire (gRPC and REST both call this).
//!
//! The server owns `uid`, `creationTimestamp`, `generation`, `deletionTimestamp` and
//! `resourceVersion`; `generation` moves only when the user content (`spec`, or `data`) changes;
//! `status` is written only through [`ResourceApi::update_status`].
//!
//! Issuing API keys is in [`crate::api_keys`], resolving Secrets and rotating their key in
//! [`crate::secrets`].

mod apply;
mod authz;
mod change;
mod context;
mod delete;
mod error;
mod metrics;
pub(crate) mod objects;
mod quota;
mod record;
mod references;
mod resource_api;
mod selector;
mod status;
mod tenant_locks;
mod transitions;
mod watch;

pub(crate) use apply::initialise_server_fields;
pub use apply::{ApplyOutcome, ApplyResult};
pub use context::{RequestContext, TenantScope, new_request_id};
pub use delete::DeleteResult;
pub use error::{ApiError, Result};
pub use objects::{ObjectRef, parse_revision};
pub use resource_api::ResourceApi;
pub use selector::LabelSelector;
pub use watch::{EventType, ObjectEvent, ObjectEventStream};

/// The largest request body the API accepts, for manifests and status updates alike.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;
