//! Volumes with hard size limits: each volume is a sparse ext4 image on a loop device, mounted
//! on the host and bound into containers, so the kernel refuses a write past its size.
//!
//! - [`layout`]: where a volume's image and mount point are.
//! - [`host`]: the host operations volumes are made of (images, loop mounts, freeze, growth).
//! - [`mechanism`]: the probe at agent start that finds out whether volumes work here.
//! - [`disk`]: the host operations behind a trait; [`fake`] records them for tests.
//! - [`volumes`]: a node's volumes — create (optionally filled), attach, grow, remove, measure.
//! - [`fill`]: the seam through which a snapshot store fills a new volume.

pub mod disk;
pub mod fake;
pub mod fill;
pub mod host;
pub mod layout;
pub mod mechanism;
pub mod volumes;
