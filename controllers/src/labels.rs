//! The names minicloud's controllers stamp on objects: Docker labels on what the agent creates,
//! labels on Instances and Releases, and the finalizers guarding an Instance's container, a
//! Volume's data and a Snapshot's archive.

/// Docker labels the agent sets on every object it creates for minicloud.
pub use minicloud_proto::labels as docker;

/// Labels on Releases and Instances naming their App and Release.
pub use minicloud_proto::object_labels::{APP, RELEASE};

/// Finalizer on every Instance: the node sync removes it once the container is gone.
pub const CONTAINER_FINALIZER: &str = "minicloud.dev/container";

/// Finalizer on every Volume: the volume controller removes it once the volume's reclaim
/// policy was carried out on its node.
pub const VOLUME_FINALIZER: &str = "minicloud.dev/volume-data";

/// Finalizer on every Snapshot: the snapshot controller removes it once the archive is deleted
/// from the snapshot store.
pub const SNAPSHOT_FINALIZER: &str = "minicloud.dev/snapshot-archive";
