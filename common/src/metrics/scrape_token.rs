//! The scrape token: a secret that lets a Prometheus server read `/metrics` and nothing else,
//! so scraping needs no admin key. It is compared in constant time (as digests, so not even
//! its length shows) and never printed.

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The variable that may hold the scrape token itself (instead of a file holding it).
pub const METRICS_TOKEN_ENV: &str = "MINI_METRICS_TOKEN";

/// The secret a scraper presents as `Authorization: Bearer <token>` to read `/metrics`.
#[derive(Clone)]
pub struct ScrapeToken {
    digest: [u8; 32],
}

impl fmt::Debug for ScrapeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScrapeToken(<hidden>)")
    }
}

/// Why a scrape token cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeTokenError {
    /// The file could not be read.
    #[error("cannot read the metrics token file {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token is empty (after trimming white space).
    #[error("the metrics token from {0} is empty; put a long random string in it")]
    Empty(String),
}

impl ScrapeToken {
    /// The token `text` holds (surrounding white space, a final newline among it, trimmed);
    /// `from` names where it came from, for the error of an empty one.
    pub fn new(text: &str, from: &str) -> Result<ScrapeToken, ScrapeTokenError> {
        let token = text.trim();
        if token.is_empty() {
            return Err(ScrapeTokenError::Empty(from.to_owned()));
        }
        Ok(ScrapeToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// The token kept in the file at `path`.
    pub fn from_file(path: &Path) -> Result<ScrapeToken, ScrapeTokenError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ScrapeTokenError::Unreadable {
                path: shown.clone(),
                source,
            })?;
        ScrapeToken::new(&text, &shown)
    }

    /// Whether `presented` is this token, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.ct_eq(&presented).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_token_matches() {
        let token = ScrapeToken::new("s3cret-scrape\n", "test").unwrap();
        assert!(token.matches("s3cret-scrape"));
        assert!(!token.matches("s3cret-scrap"));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "ScrapeToken(<hidden>)");
    }

    #[test]
    fn an_empty_token_is_refused() {
        let error = ScrapeToken::new(" \n", "MINI_METRICS_TOKEN").unwrap_err();
        assert!(error.to_string().contains("MINI_METRICS_TOKEN"), "{error}");
    }
}
