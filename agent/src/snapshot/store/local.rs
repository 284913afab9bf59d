//! The snapshot store in a local directory: an archive is written to
//! `<location>.partial-<random>`, fsynced, renamed into place and its directory fsynced, so a
//! crash leaves a partial file (removed by [`ArchiveStore::cleanup`]) and never a half archive.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::contract::{ArchiveStore, ByteStream, StoreError, StoreResult, check_location};

/// How much a read of an archive hands over at once.
const READ_CHUNK: usize = 1 << 20;

/// A snapshot store in a directory of this host.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// The store in `root` (created on the first write).
    pub fn new(root: PathBuf) -> LocalStore {
        LocalStore { root }
    }

    /// The file an archive is kept in.
    pub fn path_of(&self, location: &str) -> StoreResult<PathBuf> {
        check_location(location)?;
        Ok(self.root.join(location))
    }

    fn failed(&self, action: &'static str, location: &str, error: io::Error) -> StoreError {
        StoreError::Backend {
            action,
            location: location.to_owned(),
            store: self.root.display().to_string(),
            source: Box::new(error),
        }
    }

    /// Copies `bytes` into `file`, returning the count; `Ok(Err)` when the stream failed.
    async fn fill(
        file: &mut tokio::fs::File,
        mut bytes: ByteStream,
    ) -> io::Result<Result<u64, io::Error>> {
        let mut written = 0;
        while let Some(chunk) = bytes.next().await {
            match chunk {
                Ok(chunk) => {
                    file.write_all(&chunk).await?;
                    written += chunk.len() as u64;
                }
                Err(error) => return Ok(Err(error)),
            }
        }
        file.flush().await?;
        file.sync_all().await?;
        Ok(Ok(written))
    }
}

/// Removes a partial file unless it was renamed into place, so a failed or dropped write
/// leaves nothing.
struct Partial {
    path: Option<PathBuf>,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Best effort: a partial file that stays is removed by the next cleanup.
            let _ = std::fs::remove_file(path);
        }
    }
}

#[async_trait]
impl ArchiveStore for LocalStore {
    async fn put(&self, location: &str, bytes: ByteStream) -> StoreResult<u64> {
        let path = self.path_of(location)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| self.failed("writing", location, e))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let partial = dir.join(format!("{name}.partial-{:016x}", rand::random::<u64>()));
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .await
            .map_err(|e| self.failed("writing", location, e))?;
        let mut guard = Partial {
            path: Some(partial.clone()),
        };
        let written = LocalStore::fill(&mut file, bytes)
            .await
            .map_err(|e| self.failed("writing", location, e))?
            .map_err(|source| StoreError::SourceFailed {
                location: location.to_owned(),
                source,
            })?;
        drop(file);
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| self.failed("publishing", location, e))?;
        guard.path = None;
        sync_dir(&dir)
            .await
            .map_err(|e| self.failed("publishing", location, e))?;
        Ok(written)
    }

    async fn get(&self, location: &str) -> StoreResult<ByteStream> {
        let path = self.path_of(location)?;
        match tokio::fs::File::open(&path).await {
            Ok(file) => Ok(ReaderStream::with_capacity(file, READ_CHUNK).boxed()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound {
                location: location.to_owned(),
                store: self.root.display().to_string(),
            }),
            Err(e) => Err(self.failed("reading", location, e)),
        }
    }

    async fn delete(&self, location: &str) -> StoreResult<bool> {
        let path = self.path_of(location)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.failed("deleting", location, e)),
        }
    }

    async fn cleanup(&self) -> StoreResult<usize> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || remove_partials(&root))
            .await
            .map_err(io::Error::other)
            .and_then(|removed| removed)
            .map_err(|e| self.failed("cleaning up", "*.partial-*", e))
    }
}

/// Makes a rename in `dir` durable.
async fn sync_dir(dir: &Path) -> io::Result<()> {
    tokio::fs::File::open(dir).await?.sync_all().await
}

/// Removes every `*.partial-*` file under `dir`; a missing `dir` has none.
fn remove_partials(dir: &Path) -> io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            removed += remove_partials(&path)?;
        } else if entry.file_name().to_string_lossy().contains(".partial-") {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures::stream;

    use super::*;

    fn chunks(parts: Vec<io::Result<&'static [u8]>>) -> ByteStream {
        stream::iter(parts.into_iter().map(|p| p.map(Bytes::from_static))).boxed()
    }

    fn files_under(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    async fn read_all(store: &LocalStore, location: &str) -> Vec<u8> {
        let mut bytes = store.get(location).await.unwrap();
        let mut all = Vec::new();
        while let Some(chunk) = bytes.next().await {
            all.extend_from_slice(&chunk.unwrap());
        }
        all
    }

    #[tokio::test]
    async fn a_complete_write_is_published_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("snapshots"));
        let written = store
            .put("acme/data/s1", chunks(vec![Ok(b"hello "), Ok(b"world")]))
            .await
            .unwrap();
        assert_eq!(written, 11);
        assert_eq!(read_all(&store, "acme/data/s1").await, b"hello world");
        let volume_dir = dir.path().join("snapshots/acme/data");
        assert_eq!(files_under(&volume_dir), ["s1"]);
    }

    #[tokio::test]
    async fn a_failed_stream_leaves_nothing_and_keeps_the_previous_archive() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        store.put("a/s1", chunks(vec![Ok(b"old")])).await.unwrap();
        let broken = chunks(vec![Ok(b"new"), Err(io::Error::other("tar failed"))]);
        let error = store.put("a/s1", broken).await.unwrap_err();
        assert!(matches!(error, StoreError::SourceFailed { .. }), "{error}");
        assert_eq!(read_all(&store, "a/s1").await, b"old");
        assert_eq!(files_under(&dir.path().join("a")), ["s1"]);
    }

    #[tokio::test]
    async fn a_dropped_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        let endless = stream::once(async { Ok(Bytes::from_static(b"part")) })
            .chain(stream::pending())
            .boxed();
        let put = store.put("a/s1", endless);
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(100), put).await;
        assert!(timed_out.is_err());
        assert!(files_under(&dir.path().join("a")).is_empty());
    }

    #[tokio::test]
    async fn cleanup_removes_partials_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        store.put("a/s1", chunks(vec![Ok(b"kept")])).await.unwrap();
        std::fs::write(dir.path().join("a/s2.partial-00ff"), b"half").unwrap();
        assert_eq!(store.cleanup().await.unwrap(), 1);
        assert_eq!(files_under(&dir.path().join("a")), ["s1"]);
    }

    #[tokio::test]
    async fn deleting_is_idempotent_and_reading_a_missing_archive_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        store.put("a/s1", chunks(vec![Ok(b"x")])).await.unwrap();
        assert!(store.delete("a/s1").await.unwrap());
        assert!(!store.delete("a/s1").await.unwrap());
        let error = store.get("a/s1").await.err().unwrap();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
    }
}
