//! One Secret value sealed with XChaCha20-Poly1305: `mc:v1:<key id>:<base64(nonce ‖ ciphertext)>`.
//!
//! The associated data is the object's store key and the entry's name, so a sealed value copied
//! into another Secret, another tenant or another entry no longer opens. Nonces are 24 random
//! bytes: XChaCha's nonce is long enough that random nonces never need bookkeeping.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::XNonce;
use chacha20poly1305::aead::{Aead, Payload};
use rand::RngCore as _;

use super::keyring::{Key, Keyring};

/// What every sealed value starts with: the format and its version.
pub const PREFIX: &str = "mc:v1:";

const NONCE_LEN: usize = 24;

/// Why a stored value does not open. No variant carries any part of the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The value is not in the sealed format (written before values were encrypted, or by
    /// something other than the API server).
    #[error("the stored value is not encrypted")]
    NotSealed,
    /// The value names a key the keyring does not hold.
    #[error("the stored value was encrypted with key {0}, which this server does not have")]
    UnknownKey(String),
    /// The value has the format's prefix but not its shape.
    #[error("the stored value is malformed")]
    Malformed,
    /// Authentication failed: the value was altered, or belongs to another object or entry.
    #[error("the stored value does not authenticate (altered, or moved from another Secret)")]
    Rejected,
}

/// The associated data binding a value to `store_key` and `entry`.
fn associated_data(store_key: &str, entry: &str) -> Vec<u8> {
    format!("{store_key}\0{entry}").into_bytes()
}

/// Seals `plaintext` as entry `entry` of the object at `store_key`, under `key`.
pub fn seal(key: &Key, store_key: &str, entry: &str, plaintext: &str) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let aad = associated_data(store_key, entry);
    let payload = Payload {
        msg: plaintext.as_bytes(),
        aad: &aad,
    };
    let ciphertext = key
        .cipher()
        .encrypt(XNonce::from_slice(&nonce), payload)
        .expect("XChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&ciphertext);
    format!("{PREFIX}{}:{}", key.id(), STANDARD.encode(blob))
}

/// The id of the key `sealed` was sealed under, or `None` when it is not a sealed value.
pub fn key_id(sealed: &str) -> Option<&str> {
    let rest = sealed.strip_prefix(PREFIX)?;
    rest.split_once(':').map(|(id, _)| id)
}

/// Opens `sealed`, entry `entry` of the object at `store_key`, with the keyring's keys.
pub fn open(
    ring: &Keyring,
    store_key: &str,
    entry: &str,
    sealed: &str,
) -> Result<String, OpenError> {
    let rest = sealed.strip_prefix(PREFIX).ok_or(OpenError::NotSealed)?;
    let (id, encoded) = rest.split_once(':').ok_or(OpenError::Malformed)?;
    let key = ring
        .get(id)
        .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
    let blob = STANDARD.decode(encoded).map_err(|_| OpenError::Malformed)?;
    if blob.len() < NONCE_LEN {
        return Err(OpenError::Malformed);
    }
    let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
    let aad = associated_data(store_key, entry);
    let payload = Payload {
        msg: ciphertext,
        aad: &aad,
    };
    let plaintext = key
        .cipher()
        .decrypt(XNonce::from_slice(nonce), payload)
        .map_err(|_| OpenError::Rejected)?;
    String::from_utf8(plaintext).map_err(|_| OpenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "/minicloud/secrets/acme/db";

    fn ring() -> Keyring {
        Keyring::generate()
    }

    #[test]
    fn a_sealed_value_opens_to_the_plaintext() {
        let ring = ring();
        let sealed = seal(ring.primary(), KEY, "password", "s3cr3t");
        assert!(sealed.starts_with(&format!("{PREFIX}{}:", ring.primary().id())));
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(open(&ring, KEY, "password", &sealed).unwrap(), "s3cr3t");
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let ring = ring();
        let first = seal(ring.primary(), KEY, "password", "s3cr3t");
        let second = seal(ring.primary(), KEY, "password", "s3cr3t");
        assert_ne!(first, second);
    }

    #[test]
    fn a_tampered_ciphertext_is_rejected() {
        let ring = ring();
        let sealed = seal(ring.primary(), KEY, "password", "s3cr3t");
        let (head, encoded) = sealed.rsplit_once(':').unwrap();
        let mut blob = STANDARD.decode(encoded).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let tampered = format!("{head}:{}", STANDARD.encode(blob));
        assert_eq!(
            open(&ring, KEY, "password", &tampered),
            Err(OpenError::Rejected)
        );
    }

    #[test]
    fn a_value_moved_to_another_object_or_entry_is_rejected() {
        let ring = ring();
        let sealed = seal(ring.primary(), KEY, "password", "s3cr3t");
        let elsewhere = "/minicloud/secrets/other/db";
        assert_eq!(
            open(&ring, elsewhere, "password", &sealed),
            Err(OpenError::Rejected)
        );
        assert_eq!(open(&ring, KEY, "user", &sealed), Err(OpenError::Rejected));
    }

    #[test]
    fn a_value_under_an_unknown_key_names_the_key() {
        let sealed = seal(ring().primary(), KEY, "password", "s3cr3t");
        let other = ring();
        let id = key_id(&sealed).unwrap().to_owned();
        assert_eq!(
            open(&other, KEY, "password", &sealed),
            Err(OpenError::UnknownKey(id))
        );
    }

    #[test]
    fn plaintext_and_garbage_are_not_opened() {
        let ring = ring();
        assert_eq!(
            open(&ring, KEY, "password", "s3cr3t"),
            Err(OpenError::NotSealed)
        );
        let id = ring.primary().id().to_owned();
        let short = format!("{PREFIX}{id}:AAAA");
        assert_eq!(
            open(&ring, KEY, "password", &short),
            Err(OpenError::Malformed)
        );
        let not_base64 = format!("{PREFIX}{id}:!!!");
        assert_eq!(
            open(&ring, KEY, "password", &not_base64),
            Err(OpenError::Malformed)
        );
        assert_eq!(key_id("s3cr3t"), None);
    }
}
