//! How the server makes and keeps API keys, whose text (`mc_<tenant>_<prefix>_<secret>`) is
//! [`minicloud_proto::api_key`]'s: the secret is 128 random bits, shown once. Only
//! `sha256:<salt>:<hash>` of the secret is stored, compared in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use minicloud_proto::api_key::Token;

/// What only the server does with a key: make one, and keep its secret as a salted hash.
pub trait KeySecret {
    /// A new random key for `tenant` (`None`: a cluster key).
    fn generate(tenant: Option<&str>) -> Self;
    /// A fresh salted hash of the secret, as stored.
    fn hash(&self) -> String;
    /// Whether `stored` (from [`KeySecret::hash`]) is the hash of this key's secret.
    fn matches(&self, stored: &str) -> bool;
}

impl KeySecret for Token {
    fn generate(tenant: Option<&str>) -> Token {
        let mut rng = rand::rng();
        let mut prefix = [0u8; 4];
        let mut secret = [0u8; 16];
        rng.fill_bytes(&mut prefix);
        rng.fill_bytes(&mut secret);
        Token {
            tenant: tenant.map(str::to_owned),
            prefix: hex(&prefix),
            secret: hex(&secret),
        }
    }

    fn hash(&self) -> String {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = hex(&salt);
        format!("sha256:{salt}:{}", digest(&salt, &self.secret))
    }

    fn matches(&self, stored: &str) -> bool {
        let mut parts = stored.splitn(3, ':');
        let (Some("sha256"), Some(salt), Some(expected)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        digest(salt, &self.secret)
            .as_bytes()
            .ct_eq(expected.as_bytes())
            .into()
    }
}

fn digest(salt: &str, secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(b":");
    hasher.update(secret.as_bytes());
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_proto::api_key::parse_prefix;

    #[test]
    fn a_generated_key_parses_back_and_matches_its_hash_only() {
        let key = Token::generate(Some("acme"));
        let text = key.to_string();
        assert!(text.starts_with("mc_acme_"), "{text}");
        let parsed = Token::parse(&text).unwrap();
        assert_eq!(parsed, key);
        let stored = key.hash();
        assert!(parsed.matches(&stored));
        assert!(!Token::generate(Some("acme")).matches(&stored));
        assert!(!stored.contains(&key.secret));
    }

    #[test]
    fn cluster_keys_have_no_tenant() {
        let key = Token::generate(None);
        assert!(key.to_string().starts_with("mc_-_"));
        assert_eq!(Token::parse(&key.to_string()).unwrap().tenant, None);
    }

    #[test]
    fn the_same_secret_hashes_differently_each_time() {
        let key = Token::generate(None);
        assert_ne!(key.hash(), key.hash());
    }

    #[test]
    fn a_prefix_or_a_whole_key_names_tenant_and_prefix() {
        let key = Token::generate(Some("acme"));
        let expected = Some((Some("acme".to_owned()), key.prefix.clone()));
        assert_eq!(parse_prefix(&key.display_prefix()), expected);
        assert_eq!(parse_prefix(&key.to_string()), expected);
        assert_eq!(
            parse_prefix("mc_-_1a2b3c4d"),
            Some((None, "1a2b3c4d".to_owned()))
        );
        assert_eq!(parse_prefix("acme"), None);
    }

    #[test]
    fn a_corrupt_stored_hash_matches_nothing() {
        let key = Token::generate(None);
        for stored in ["", "sha256:", "md5:aa:bb", "sha256:salt"] {
            assert!(!key.matches(stored), "{stored:?}");
        }
    }
}
