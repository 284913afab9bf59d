//! The server's keyring and where it lives: `MINICLOUD_SECRET_KEY` (comma-separated base64
//! keys, the primary first) or `<data dir>/secret.key` (0600), created with a new key on the
//! first start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{OwnedRwLockReadGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::keyring::{Keyring, KeyringError};
use minicloud_common::private_file::write_private;
use minicloud_common::server_files::SECRET_KEY_ENV;

/// Where the keyring lives, which decides what a rotation can do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The key file: a rotation writes the new keyring there.
    File(PathBuf),
    /// `MINICLOUD_SECRET_KEY`: the operator changes the keys; a rotation re-seals under the
    /// first and says which others are no longer needed.
    Environment,
    /// Held in memory only (in-process servers of tests and benchmarks).
    Memory,
}

/// Why the keyring cannot be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum SecretKeysError {
    /// The key file cannot be read.
    #[error("cannot read the Secret key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file cannot be written.
    #[error("cannot write the Secret key file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The keys themselves are not valid.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
}

/// The server's keyring and where it lives. Writers of Secret values hold it for reading while
/// they seal and store; a rotation holds it for writing, so no value is sealed under a key the
/// rotation is about to retire.
#[derive(Debug)]
pub struct SecretKeys {
    ring: Arc<RwLock<Keyring>>,
    source: KeySource,
}

impl SecretKeys {
    /// The keyring in `MINICLOUD_SECRET_KEY`'s form (`text`).
    pub fn from_env(text: &str) -> Result<Self, SecretKeysError> {
        Ok(Self::new(
            Keyring::from_list(text, SECRET_KEY_ENV)?,
            KeySource::Environment,
        ))
    }

    /// The keyring in the key file at `path`, created with one new key (mode 0600) when missing.
    pub fn from_file(path: &Path) -> Result<Self, SecretKeysError> {
        let ring = match std::fs::read_to_string(path) {
            Ok(text) => Keyring::from_file(&text, &path.display().to_string())?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let ring = Keyring::generate();
                write_key_file(path, &ring)?;
                ring
            }
            Err(source) => {
                return Err(SecretKeysError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Ok(Self::new(ring, KeySource::File(path.to_owned())))
    }

    /// A keyring held in memory only.
    pub fn in_memory(ring: Keyring) -> Self {
        Self::new(ring, KeySource::Memory)
    }

    fn new(ring: Keyring, source: KeySource) -> Self {
        Self {
            ring: Arc::new(RwLock::new(ring)),
            source,
        }
    }

    /// Where the keyring lives.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The keyring, shared with other readers; rotations wait until it is released.
    pub async fn read(&self) -> RwLockReadGuard<'_, Keyring> {
        self.ring.read().await
    }

    /// [`SecretKeys::read`], as a guard that can be kept beyond a borrow of `self`.
    pub(crate) async fn read_owned(&self) -> OwnedRwLockReadGuard<Keyring> {
        self.ring.clone().read_owned().await
    }

    /// The keyring, exclusively (for a rotation).
    pub(crate) async fn write(&self) -> RwLockWriteGuard<'_, Keyring> {
        self.ring.write().await
    }

    /// Saves `ring` where the keyring lives (only the key file is written).
    pub(crate) fn persist(&self, ring: &Keyring) -> Result<(), SecretKeysError> {
        match &self.source {
            KeySource::File(path) => write_key_file(path, ring),
            KeySource::Environment | KeySource::Memory => Ok(()),
        }
    }
}

/// Replaces the key file atomically, mode 0600 (see [`write_private`]): a crash leaves the old
/// keyring or the new one, never a torn file that would lose every Secret.
fn write_key_file(path: &Path, ring: &Keyring) -> Result<(), SecretKeysError> {
    write_private(path, ring.to_file().as_bytes()).map_err(|source| SecretKeysError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_common::server_files::SECRET_KEY_FILE;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(SECRET_KEY_FILE);
        let created = SecretKeys::from_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = SecretKeys::from_file(&path).unwrap();
        let ids = |keys: &SecretKeys| keys.ring.try_read().unwrap().ids();
        assert_eq!(ids(&created), ids(&again));
        assert_eq!(again.source(), &KeySource::File(path));
    }

    #[test]
    fn a_persisted_rotation_is_what_the_next_start_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRET_KEY_FILE);
        let keys = SecretKeys::from_file(&path).unwrap();
        let rotated = keys.ring.try_read().unwrap().rotated();
        keys.persist(&rotated).unwrap();
        let read = SecretKeys::from_file(&path).unwrap();
        assert_eq!(read.ring.try_read().unwrap().ids(), rotated.ids());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only the key file"
        );
    }
}
