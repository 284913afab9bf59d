//! How an error says where it is, for parse and validation errors alike: `path at line L,
//! column C: `.

use std::fmt;

/// Writes `path at line L, column C: ` (each part only when known).
pub(crate) fn write_place(
    f: &mut fmt::Formatter<'_>,
    path: Option<&str>,
    position: Option<(u64, u64)>,
) -> fmt::Result {
    match (path, position) {
        (Some(path), Some((line, column))) => write!(f, "{path} at line {line}, column {column}: "),
        (Some(path), None) => write!(f, "{path}: "),
        (None, Some((line, column))) => write!(f, "line {line}, column {column}: "),
        (None, None) => Ok(()),
    }
}
