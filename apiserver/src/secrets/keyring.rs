//! The keys Secret values are sealed with: a primary key that seals every new value, and older
//! keys that still open values sealed before a rotation. A key's id is derived from the key, so
//! the same key has the same id whether it comes from the key file or the environment.
//!
//! The key file holds one `<key id> <base64 key>` line per key, the primary first.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// The length of a key in bytes.
pub const KEY_LEN: usize = 32;

const FILE_HEADER: &str = "\
# minicloud's Secret encryption keys. Keep this file private and backed up: without it no
# Secret can be read. One \"<key id> <base64 key>\" per line; the first seals new values.
";

/// Why a keyring cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// A key is not 32 bytes of base64.
    #[error("{origin}: {what} is not a key (expected {KEY_LEN} bytes in base64)")]
    NotAKey {
        /// Where the key came from (`secret.key line 3`).
        origin: String,
        /// Which key.
        what: String,
    },
    /// A key file line names an id its key does not have: the file was edited or damaged.
    #[error("{origin}: key id {id} does not match its key (expected {expected})")]
    WrongId {
        /// Where the key came from.
        origin: String,
        /// The id on the line.
        id: String,
        /// The key's own id.
        expected: String,
    },
    /// No key at all.
    #[error("{0} holds no key")]
    Empty(String),
}

/// One key; its bytes never appear in `Debug` output.
pub struct Key {
    id: String,
    bytes: [u8; KEY_LEN],
    cipher: XChaCha20Poly1305,
}

impl Key {
    /// A key from its bytes.
    pub fn new(bytes: [u8; KEY_LEN]) -> Self {
        Self {
            id: key_id(&bytes),
            cipher: XChaCha20Poly1305::new(&bytes.into()),
            bytes,
        }
    }

    /// A new random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self::new(bytes)
    }

    /// Parses a key written as base64; `origin` says where it came from, for errors.
    pub fn parse(text: &str, origin: &str, what: &str) -> Result<Self, KeyringError> {
        let not_a_key = || KeyringError::NotAKey {
            origin: origin.to_owned(),
            what: what.to_owned(),
        };
        let bytes = STANDARD.decode(text.trim()).map_err(|_| not_a_key())?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| not_a_key())?;
        Ok(Self::new(bytes))
    }

    /// The key's id: 8 hex digits of a hash of the key, naming it in every sealed value.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key in base64, as the key file and `MINICLOUD_SECRET_KEY` hold it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    pub(super) fn cipher(&self) -> &XChaCha20Poly1305 {
        &self.cipher
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn key_id(bytes: &[u8; KEY_LEN]) -> String {
    let digest = Sha256::new()
        .chain_update(b"minicloud secret key id\0")
        .chain_update(bytes)
        .finalize();
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The primary key and the older keys; cheap to clone.
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<Arc<Key>>,
}

impl Keyring {
    /// A keyring of `primary` and then `older` keys (duplicates dropped).
    pub fn new(primary: Key, older: impl IntoIterator<Item = Arc<Key>>) -> Self {
        Self::of(std::iter::once(Arc::new(primary)).chain(older))
    }

    fn of(all: impl IntoIterator<Item = Arc<Key>>) -> Self {
        let mut keys: Vec<Arc<Key>> = Vec::new();
        for key in all {
            if keys.iter().all(|k| k.id != key.id) {
                keys.push(key);
            }
        }
        Self { keys }
    }

    /// A keyring of one new random key.
    pub fn generate() -> Self {
        Self::new(Key::generate(), [])
    }

    /// The key that seals new values.
    pub fn primary(&self) -> &Key {
        &self.keys[0]
    }

    /// The key with `id`, primary or older.
    pub fn get(&self, id: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id).map(|k| &**k)
    }

    /// Every key's id, the primary first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    /// A keyring with a new random primary key, keeping every key of this one as older keys.
    pub fn rotated(&self) -> Self {
        Self::new(Key::generate(), self.keys.iter().cloned())
    }

    /// This keyring without the older keys `keep` rejects; the primary always stays.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) -> Self {
        let mut keys = self.keys.clone();
        let primary = keys.remove(0);
        keys.retain(|k| keep(&k.id));
        keys.insert(0, primary);
        Self { keys }
    }

    /// The key file's text.
    pub fn to_file(&self) -> String {
        let mut text = FILE_HEADER.to_owned();
        for key in &self.keys {
            text.push_str(&format!("{} {}\n", key.id, key.to_base64()));
        }
        text
    }

    /// Parses a key file's text; `origin` names the file in errors.
    pub fn from_file(text: &str, origin: &str) -> Result<Self, KeyringError> {
        let mut keys = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{origin} line {}", number + 1);
            let (id, encoded) = line.split_once(' ').unwrap_or(("", line));
            let key = Key::parse(encoded, &at, "the text after the key id")?;
            if key.id != id {
                return Err(KeyringError::WrongId {
                    origin: at,
                    id: id.to_owned(),
                    expected: key.id,
                });
            }
            keys.push(Arc::new(key));
        }
        Self::from_keys(keys, origin)
    }

    /// Parses comma-separated base64 keys, the primary first (`MINICLOUD_SECRET_KEY`'s form).
    pub fn from_list(text: &str, origin: &str) -> Result<Self, KeyringError> {
        let keys = text
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .enumerate()
            .map(|(index, part)| {
                Key::parse(part, origin, &format!("key {}", index + 1)).map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_keys(keys, origin)
    }

    fn from_keys(keys: Vec<Arc<Key>>, origin: &str) -> Result<Self, KeyringError> {
        match keys.is_empty() {
            true => Err(KeyringError::Empty(origin.to_owned())),
            false => Ok(Self::of(keys)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyring_survives_its_key_file() {
        let ring = Keyring::generate().rotated();
        let text = ring.to_file();
        let read = Keyring::from_file(&text, "secret.key").unwrap();
        assert_eq!(read.ids(), ring.ids());
        assert_eq!(read.primary().to_base64(), ring.primary().to_base64());
    }

    #[test]
    fn an_edited_key_file_is_refused_with_its_line() {
        let ring = Keyring::generate();
        let text = ring.to_file().replace(ring.primary().id(), "00000000");
        let error = Keyring::from_file(&text, "secret.key").unwrap_err();
        assert!(error.to_string().contains("secret.key line 3"), "{error}");
        assert!(Keyring::from_file("# nothing\n", "secret.key").is_err());
    }

    #[test]
    fn the_environment_form_lists_the_primary_first() {
        let (new, old) = (Key::generate(), Key::generate());
        let text = format!("{}, {}", new.to_base64(), old.to_base64());
        let ring = Keyring::from_list(&text, "MINICLOUD_SECRET_KEY").unwrap();
        assert_eq!(ring.ids(), [new.id().to_owned(), old.id().to_owned()]);
        let error = Keyring::from_list("c2hvcnQ=", "MINICLOUD_SECRET_KEY").unwrap_err();
        assert_eq!(
            error.to_string(),
            "MINICLOUD_SECRET_KEY: key 1 is not a key (expected 32 bytes in base64)"
        );
    }

    #[test]
    fn ids_come_from_the_key_and_debug_shows_only_them() {
        let key = Key::new([7; KEY_LEN]);
        assert_eq!(key.id(), Key::new([7; KEY_LEN]).id());
        assert_eq!(key.id().len(), 8);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.to_base64()));
        assert!(shown.contains(key.id()));
    }

    #[test]
    fn rotation_keeps_older_keys_until_they_are_retained_away() {
        let ring = Keyring::generate();
        let rotated = ring.rotated();
        assert_eq!(rotated.ids().len(), 2);
        assert!(rotated.get(ring.primary().id()).is_some());
        let trimmed = rotated.retain(|_| false);
        assert_eq!(trimmed.ids(), [rotated.primary().id().to_owned()]);
    }
}
