//! The archive format: a tar stream of a volume's `data/` directory (ownership, modes,
//! symlinks and hard links kept), compressed with zstd, checksummed with SHA-256 over the
//! compressed bytes. `zstd -d < archive | tar -x` restores one by hand.

pub mod pack;
pub mod unpack;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Content bytes handled so far, shared between the blocking worker and the progress reports.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds `n` bytes.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The bytes counted so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
