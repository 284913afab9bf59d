//! [`WatchCacheError`]: why a cached watch could not start or continue.

use crate::store::{Revision, StoreError};

/// Why a cached watch could not start or continue.
#[derive(Debug, thiserror::Error)]
pub enum WatchCacheError {
    /// The requested revision is older than any history still kept.
    #[error(
        "resourceVersion {requested} is too old (history now starts at {oldest}); list again and watch from the listed resourceVersion"
    )]
    Expired {
        /// The revision the client asked to resume after.
        requested: Revision,
        /// The oldest revision still available.
        oldest: Revision,
    },
    /// The client read too slowly and was disconnected.
    #[error(
        "the watch fell more than {buffer} events behind and was cut off; resume after resourceVersion {last}"
    )]
    TooSlow {
        /// The last revision delivered to the client.
        last: Revision,
        /// The buffer size the client exceeded.
        buffer: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
