//! Storage: Volumes bound to a node and provisioned there by node sync, their snapshots taken,
//! scheduled and pruned, in-place restores, and what deleting a Volume does to its data. Pure
//! decisions in one file each; two thin controllers ([`volumes`], [`snapshots`]) carry them out.
//!
//! Who writes what of a Volume's status: node sync the observed fields ([`observed_status`]),
//! the snapshot controller `lastSnapshot`, the volume controller everything else.

mod access;
mod binding;
mod context;
mod events;
mod finalizers;
mod lifecycle;
mod names;
mod observed;
mod placement;
mod provision;
mod reclaim;
mod restore;
mod retention;
mod schedule;
pub mod snapshots;
mod status;
mod take;
mod volume_release;
mod volume_restore;
mod volume_schedule;
pub mod volumes;

pub use access::{exclusive_conflict, exclusive_volume, read_write_users};
pub use context::StorageContext;
pub use observed::{Seen, observed_status};
pub use placement::{mount_problem, volume_node};
pub use provision::{DEFAULT_FS_GROUP, provision};
pub use retention::prune;
pub use status::modify_volume_status;
