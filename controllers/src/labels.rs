//! The names minicloud's controllers stamp on objects: Docker labels on what the agent creates,
//! labels on Instances and Releases, and the finalizer guarding an Instance's container.

/// Docker labels the agent sets on every object it creates for minicloud.
pub use minicloud_proto::labels as docker;

/// Labels on Releases and Instances naming their App and Release.
pub use minicloud_proto::object_labels::{APP, RELEASE};

/// Finalizer on every Instance: the node sync removes it once the container is gone.
pub const CONTAINER_FINALIZER: &str = "minicloud.dev/container";
