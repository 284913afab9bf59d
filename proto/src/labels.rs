//! The Docker labels on every object an agent creates for minicloud: part of the `NodeAgent`
//! contract, since controllers read observed state back through them. An object without
//! [`MANAGED`]` = true` is never listed or touched.

/// `true` on every object minicloud manages.
pub const MANAGED: &str = "minicloud.managed";
/// The node whose agent created the object.
pub const NODE: &str = "minicloud.node";
/// The tenant the object belongs to.
pub const TENANT: &str = "minicloud.tenant";
/// The App a container runs.
pub const APP: &str = "minicloud.app";
/// The Instance name of a container.
pub const INSTANCE: &str = "minicloud.instance";
/// The Instance uid of a container: what ties it to exactly one Instance object.
pub const INSTANCE_UID: &str = "minicloud.instance-uid";
/// The Release a container was created from.
pub const RELEASE: &str = "minicloud.release";
/// The hash of the container spec a container was created from.
pub const SPEC_HASH: &str = "minicloud.spec-hash";
/// The Volume name of a Docker volume (its Docker name also carries the tenant).
pub const VOLUME: &str = "minicloud.volume";
/// On a Docker volume: the group owning the volume's data directory; every container mounting
/// the volume runs with it as a supplementary group.
pub const FS_GROUP: &str = "minicloud.fs-group";
/// On a Docker volume: the volume's size in bytes when its Docker volume was created (the
/// observed `capacity_bytes` is its size now, after any growth).
pub const SIZE_BYTES: &str = "minicloud.size-bytes";
/// The container ports, as `8080/tcp,9090/udp`; documentation only, never published.
pub const PORTS: &str = "minicloud.ports";
/// The container's health check as JSON (a minicloud-manifests `ResolvedHealthCheck`, with its
/// port as a number), so the agent knows what to probe from Docker alone.
pub const HEALTH: &str = "minicloud.health";
