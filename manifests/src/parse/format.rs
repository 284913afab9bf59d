//! What the parser needs of a document, whatever its format (YAML or JSON).

use serde::de::DeserializeOwned;

use super::error::Problem;
use super::header::Header;

/// A document in one of the input formats.
pub(super) trait Format {
    /// The lenient header; `None` for an empty document.
    fn header(&self) -> Result<Option<Header>, Problem>;
    /// The whole document as `T`, strictly.
    fn strict<T: DeserializeOwned>(&self) -> Result<T, Problem>;
    /// The header of the document's lines before `line` (of the whole input), if readable.
    fn header_before(&self, _line: u64) -> Option<Header> {
        None
    }
}
