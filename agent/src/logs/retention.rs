//! How much of each tenant's output a node keeps: the admin's limits, the same for every
//! tenant, so one tenant's flood only ever drops that tenant's oldest lines.

use std::time::Duration;

/// Bytes each tenant keeps on a node unless the admin says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// How long lines are kept unless the admin says otherwise.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Per-tenant limits of the kept logs; the oldest lines go first beyond either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The bytes of lines a tenant keeps on a node.
    pub max_bytes: u64,
    /// How long a line is kept.
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            max_bytes: DEFAULT_MAX_BYTES,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}
