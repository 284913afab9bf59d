//! Errors of the storage layer, shared by every backend.

use super::kv::Revision;

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key does not exist.
    #[error("{key} does not exist")]
    NotFound {
        /// The missing key.
        key: String,
    },
    /// A create found the key already there.
    #[error("{key} already exists")]
    AlreadyExists {
        /// The existing key.
        key: String,
    },
    /// A compare-and-swap write carried a stale revision.
    #[error(
        "{key} was modified concurrently: expected revision {expected}, it is at {actual}; read it again and retry"
    )]
    Conflict {
        /// The contended key.
        key: String,
        /// The revision the writer expected.
        expected: Revision,
        /// The key's current revision.
        actual: Revision,
    },
    /// The requested history is gone.
    #[error(
        "revision {requested} has been compacted (history starts at {compacted}); list again and watch from the listed revision"
    )]
    Compacted {
        /// The revision the caller asked for.
        requested: Revision,
        /// The oldest revision still available.
        compacted: Revision,
    },
    /// A transaction broke a shape rule.
    #[error("invalid transaction: {0}")]
    InvalidTxn(String),
    /// The etcd cluster refused or failed a request.
    #[error("etcd request failed: {0}")]
    Etcd(#[source] etcd_client::Error),
    /// The etcd cluster could not be reached.
    #[error("cannot reach etcd at {endpoints}: {source}; check that etcd is running there")]
    EtcdUnreachable {
        /// The endpoints that were tried.
        endpoints: String,
        /// The connection error.
        #[source]
        source: etcd_client::Error,
    },
    /// A watch stream stopped for a reason other than compaction.
    #[error("watch ended: {0}; watch again from the last revision seen plus one")]
    WatchEnded(String),
    /// Reading or writing the embedded store's files failed.
    #[error("store file {path}: {source}")]
    Io {
        /// The file involved.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The embedded store's files are damaged beyond the recoverable torn tail of the log.
    #[error("store file {path} is corrupt: {reason}")]
    Corrupt {
        /// The damaged file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<etcd_client::Error> for StoreError {
    fn from(error: etcd_client::Error) -> Self {
        StoreError::Etcd(error)
    }
}
