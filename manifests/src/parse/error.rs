//! Parse errors: which document, where in it, and what is wrong.

use std::fmt;

use thiserror::Error;

use crate::kind::Kind;
use crate::place::write_place;
use crate::validate::ValidationErrors;

/// Which document of an input an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRef {
    /// 1-based position in a multi-document input; `None` for a lone JSON object.
    pub index: Option<usize>,
    /// The document's kind, when it could be read.
    pub kind: Option<Kind>,
    /// The document's `metadata.name`, when it could be read.
    pub name: Option<String>,
}

/// One problem at one place in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field path (`spec.env[2].name`), when known.
    pub path: Option<String>,
    /// 1-based line and column in the whole input, when known.
    pub position: Option<(u64, u64)>,
    /// What is wrong and what is expected.
    pub message: String,
}

/// Why an input could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The input is over [`MAX_DOCUMENT_BYTES`](super::MAX_DOCUMENT_BYTES); refused before parsing.
    #[error("input is {size} bytes, over the limit of {limit} bytes; split it into smaller files")]
    TooLarge {
        /// The input's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The input has more than [`MAX_DOCUMENTS`](super::MAX_DOCUMENTS) documents.
    #[error("input has more than {limit} documents; split it into smaller files")]
    TooManyDocuments {
        /// The limit.
        limit: usize,
    },
    /// A document is not valid YAML/JSON or does not match its kind's shape.
    #[error("{document}: {problem}")]
    Document {
        /// Which document.
        document: DocumentRef,
        /// What is wrong with it.
        problem: Problem,
    },
    /// A document was read but breaks validation rules ([`parse_and_validate`](super::parse_and_validate) only).
    #[error("{document}: {errors}")]
    Invalid {
        /// Which document.
        document: DocumentRef,
        /// Every rule it breaks.
        errors: ValidationErrors,
    },
}

impl Problem {
    /// A problem; `path` is cleaned of serde_path_to_error's placeholders (`.`, `?`).
    pub fn new(path: Option<&str>, position: Option<(u64, u64)>, message: String) -> Problem {
        let path = path
            .map(|p| p.trim_end_matches('?').trim_end_matches('.'))
            .filter(|p| !p.is_empty() && *p != "?")
            .map(str::to_owned);
        Problem {
            path,
            position,
            message,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_place(f, self.path.as_deref(), self.position)?;
        f.write_str(&self.message)
    }
}

impl fmt::Display for DocumentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match (&self.kind, &self.name) {
            (Some(kind), Some(name)) => format!("{kind} {name:?}"),
            (Some(kind), None) => kind.to_string(),
            (None, Some(name)) => format!("{name:?}"),
            (None, None) => String::new(),
        };
        match (self.index, what.is_empty()) {
            (Some(i), true) => write!(f, "document {i}"),
            (Some(i), false) => write!(f, "document {i} ({what})"),
            (None, true) => f.write_str("object"),
            (None, false) => f.write_str(&what),
        }
    }
}
