//! The text of an API key and how it is kept: `mc_<tenant>_<prefix>_<secret>` (`-` in place of
//! the tenant for cluster keys). The prefix is public, names the key everywhere (`mini key
//! list`, the audit log) and finds its ApiKey object; the secret is 128 random bits, shown once.
//! Only `sha256:<salt>:<hash>` of the secret is stored, compared in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every key starts with, so a leaked one is easy to recognise.
const SCHEME: &str = "mc";
/// The tenant field of cluster (admin) keys.
const CLUSTER: &str = "-";

/// The parts of a key as presented by a caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The key's tenant; `None` for a cluster key.
    pub tenant: Option<String>,
    /// 8 hex digits naming the key.
    pub prefix: String,
    /// The secret part.
    pub secret: String,
}

impl Token {
    /// A new random key for `tenant` (`None`: a cluster key).
    pub fn generate(tenant: Option<&str>) -> Token {
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

    /// Parses a key as a caller sent it; `None` when it is not shaped like one.
    pub fn parse(text: &str) -> Option<Token> {
        let (tenant, prefix) = parse_prefix(text)?;
        let secret = text.trim().splitn(4, '_').nth(3)?;
        if !is_hex(secret, 32) {
            return None;
        }
        Some(Token {
            tenant,
            prefix,
            secret: secret.to_ascii_lowercase(),
        })
    }

    /// The public part that names the key: `mc_acme_1a2b3c4d`.
    pub fn display_prefix(&self) -> String {
        display_prefix(self.tenant.as_deref(), &self.prefix)
    }

    /// The name of the key's ApiKey object.
    pub fn object_name(&self) -> String {
        object_name(&self.prefix)
    }

    /// A fresh salted hash of the secret, as stored.
    pub fn hash(&self) -> String {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = hex(&salt);
        format!("sha256:{salt}:{}", digest(&salt, &self.secret))
    }

    /// Whether `stored` (from [`Token::hash`]) is the hash of this key's secret.
    pub fn matches(&self, stored: &str) -> bool {
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

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.display_prefix(), self.secret)
    }
}

/// The public part that names a key: `mc_acme_1a2b3c4d`, `mc_-_1a2b3c4d` for a cluster key.
pub fn display_prefix(tenant: Option<&str>, prefix: &str) -> String {
    format!("{SCHEME}_{}_{prefix}", tenant.unwrap_or(CLUSTER))
}

/// The tenant (`None` for a cluster key) and the prefix named by a key's public part
/// (`mc_acme_1a2b3c4d`) or by a whole key; `None` when it is not shaped like one.
pub fn parse_prefix(text: &str) -> Option<(Option<String>, String)> {
    let mut parts = text.trim().splitn(4, '_');
    let (scheme, tenant, prefix) = (parts.next()?, parts.next()?, parts.next()?);
    if scheme != SCHEME || tenant.is_empty() || !is_hex(prefix, 8) {
        return None;
    }
    let tenant = (tenant != CLUSTER).then(|| tenant.to_owned());
    Some((tenant, prefix.to_ascii_lowercase()))
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The name of the ApiKey object of the key with this prefix.
pub fn object_name(prefix: &str) -> String {
    format!("key-{prefix}")
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
    fn malformed_keys_are_refused() {
        for text in [
            "",
            "mc_acme_1a2b3c4d",
            "xx_acme_1a2b3c4d_00112233445566778899aabbccddeeff",
            "mc__1a2b3c4d_00112233445566778899aabbccddeeff",
            "mc_acme_1a2b3c4_00112233445566778899aabbccddeeff",
            "mc_acme_1a2b3c4d_00112233445566778899aabbccddeefg",
        ] {
            assert!(Token::parse(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn a_corrupt_stored_hash_matches_nothing() {
        let key = Token::generate(None);
        for stored in ["", "sha256:", "md5:aa:bb", "sha256:salt"] {
            assert!(!key.matches(stored), "{stored:?}");
        }
    }
}
