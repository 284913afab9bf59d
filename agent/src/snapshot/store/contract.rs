//! The snapshot store's contract: the [`ArchiveStore`] trait every store implements, its
//! errors, and the rule for locations.

use std::fmt;
use std::io;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

/// A stream of archive bytes; an `Err` item aborts the write it feeds.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// What failed in the snapshot store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `--snapshot-store` was not a form the agent understands.
    #[error(
        "snapshot store {url:?} is not understood: {reason}; use file:///path, an absolute \
         path, or s3://bucket/prefix"
    )]
    BadUrl {
        /// What was given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A location that is not a plain relative path.
    #[error(
        "archive location {0:?} is not valid: use non-empty relative segments such as \
         <tenant>/<volume>/<snapshot-uid>, without `.`, `..` or `.partial-`"
    )]
    BadLocation(String),
    /// Nothing is stored at the location.
    #[error("archive {location} does not exist in the snapshot store {store}")]
    NotFound {
        /// The location asked for.
        location: String,
        /// The store, for the message.
        store: String,
    },
    /// The stream being written failed, so the write was abandoned.
    #[error("writing archive {location} was abandoned: {source}")]
    SourceFailed {
        /// The location being written.
        location: String,
        /// Why the stream failed.
        #[source]
        source: io::Error,
    },
    /// The store itself failed.
    #[error("{action} archive {location} in the snapshot store {store} failed: {source}")]
    Backend {
        /// What was being done: "writing", "reading", "deleting", "cleaning up".
        action: &'static str,
        /// The location (or the store's root for a cleanup).
        location: String,
        /// The store, for the message.
        store: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The result of a store call.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// Where archives are kept.
#[async_trait]
pub trait ArchiveStore: Send + Sync + fmt::Debug {
    /// Writes `bytes` to `location`, visible there only once all of it is durably stored;
    /// returns how many bytes were written. An `Err` item, or dropping the future, leaves
    /// nothing at `location` (and whatever was there before stays).
    async fn put(&self, location: &str, bytes: ByteStream) -> StoreResult<u64>;
    /// Streams the archive at `location`.
    async fn get(&self, location: &str) -> StoreResult<ByteStream>;
    /// Deletes the archive at `location`; `false` when there was none.
    async fn delete(&self, location: &str) -> StoreResult<bool>;
    /// Removes what interrupted writes left behind; returns how many leftovers went.
    async fn cleanup(&self) -> StoreResult<usize>;
}

/// Checks that `location` is a relative path of plain segments.
pub fn check_location(location: &str) -> StoreResult<()> {
    let plain = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && !segment.contains(".partial-")
            && !segment.contains('\0')
            && !segment.contains('\\')
    };
    if location.split('/').all(plain) {
        Ok(())
    } else {
        Err(StoreError::BadLocation(location.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_locations_are_accepted() {
        check_location("acme/data/0b6c").unwrap();
        check_location("one").unwrap();
    }

    #[test]
    fn locations_that_could_escape_or_collide_are_refused() {
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/../b",
            "./a",
            "a/",
            "a/b.partial-1",
            "a\\b",
        ] {
            assert!(check_location(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
