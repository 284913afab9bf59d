//! The text of an API key, as servers read it and clients show it: `mc_<tenant>_<prefix>_<secret>`
//! (`-` in place of the tenant for cluster keys). The prefix is public and names the key
//! everywhere (`mini key list`, the audit log, its ApiKey object); the secret is 32 hex digits.
//! Making keys and keeping their secrets is the server's business alone.

use std::fmt;

/// What every key starts with, so a leaked one is easy to recognise.
const SCHEME: &str = "mc";
/// The tenant field of cluster (admin) keys.
const CLUSTER: &str = "-";

/// The parts of a key as presented by a caller. Its `Debug` form hides the secret, so a token
/// that reaches a log line or an error leaks only its public prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The key's tenant; `None` for a cluster key.
    pub tenant: Option<String>,
    /// 8 hex digits naming the key.
    pub prefix: String,
    /// The secret part: 32 hex digits.
    pub secret: String,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("tenant", &self.tenant)
            .field("prefix", &self.prefix)
            .field("secret", &"********")
            .finish()
    }
}

impl Token {
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
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// The name of the ApiKey object of the key with this prefix.
pub fn object_name(prefix: &str) -> String {
    format!("key-{prefix}")
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_parses_into_its_parts_and_prints_back() {
        let text = "mc_acme_1A2B3C4D_00112233445566778899aabbccddeeff";
        let token = Token::parse(text).unwrap();
        assert_eq!(token.tenant.as_deref(), Some("acme"));
        assert_eq!(token.display_prefix(), "mc_acme_1a2b3c4d");
        assert_eq!(token.object_name(), "key-1a2b3c4d");
        assert_eq!(
            token.to_string(),
            "mc_acme_1a2b3c4d_00112233445566778899aabbccddeeff"
        );
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
    fn a_token_never_shows_its_secret_in_debug_output() {
        let secret = "0123456789abcdef0123456789abcdef";
        let token = Token::parse(&format!("mc_acme_1a2b3c4d_{secret}")).unwrap();
        let printed = format!("{token:?}");
        assert!(
            printed.contains("1a2b3c4d") && !printed.contains(secret),
            "{printed}"
        );
    }
}
