//! Volumes with hard size limits: each volume is a sparse ext4 image on a loop device, mounted
//! on the host and bound into containers, so the kernel refuses a write past its size.
//!
//! - [`layout`]: where a volume's image and mount point are.
//! - [`host`]: the host operations volumes are made of (images, loop mounts, freeze, growth).

pub mod host;
pub mod layout;
