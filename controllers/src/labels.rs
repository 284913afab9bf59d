//! The names minicloud's controllers stamp on objects: Docker labels on what the agent creates,
//! labels on Instances and Releases, and the finalizer guarding an Instance's container.

/// Docker labels the agent sets on every object it creates for minicloud.
pub mod docker {
    /// `true` on every object minicloud manages; nothing without it is ever touched.
    pub const MANAGED: &str = "minicloud.managed";
    /// The node the object was created on.
    pub const NODE: &str = "minicloud.node";
    /// The tenant the object belongs to.
    pub const TENANT: &str = "minicloud.tenant";
    /// The App of a container.
    pub const APP: &str = "minicloud.app";
    /// The Instance name of a container.
    pub const INSTANCE: &str = "minicloud.instance";
    /// The Instance uid of a container: what ties it to exactly one Instance object.
    pub const INSTANCE_UID: &str = "minicloud.instance-uid";
    /// The Release of a container.
    pub const RELEASE: &str = "minicloud.release";
    /// The hash of the container spec the container was created from.
    pub const SPEC_HASH: &str = "minicloud.spec-hash";
}

/// Label on Releases and Instances naming their App.
pub const APP: &str = "app";
/// Label on Instances naming their Release.
pub const RELEASE: &str = "release";

/// Finalizer on every Instance: the node sync removes it once the container is gone.
pub const CONTAINER_FINALIZER: &str = "minicloud.dev/container";
