//! Why a metering round, or reading its records, failed.

use minicloud_common::read_modify_write::{Conflicting, KeptChanging};

use crate::api::ApiError;
use crate::store::StoreError;

/// A metering failure.
#[derive(Debug, thiserror::Error)]
pub enum MeteringError {
    /// Listing the objects a round meters failed.
    #[error("cannot list the {what} to meter: {source}")]
    ListFailed {
        /// What was being listed.
        what: &'static str,
        /// Why.
        #[source]
        source: ApiError,
    },
    /// The store failed a read or a write.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    /// A stored record does not decode.
    #[error("the usage record at {key} is damaged: {source}")]
    Damaged {
        /// Its key.
        key: String,
        /// Why it does not decode.
        #[source]
        source: serde_json::Error,
    },
    /// Another writer changed the tenant's records between the read and the write.
    #[error("the usage records of tenant {0:?} changed while being written")]
    Conflict(String),
    /// Every attempt lost to another writer.
    #[error(transparent)]
    KeptChanging(#[from] KeptChanging),
}

/// Convenience alias.
pub type Result<T, E = MeteringError> = std::result::Result<T, E>;

impl Conflicting for MeteringError {
    fn is_conflict(&self) -> bool {
        matches!(self, MeteringError::Conflict(_))
    }
}

impl From<MeteringError> for ApiError {
    fn from(error: MeteringError) -> Self {
        match error {
            MeteringError::ListFailed { source, .. } => source,
            MeteringError::Store(store) => store.into(),
            MeteringError::Conflict(_) | MeteringError::KeptChanging(_) => {
                ApiError::Conflict(error.to_string())
            }
            MeteringError::Damaged { .. } => ApiError::Internal(error.to_string()),
        }
    }
}
