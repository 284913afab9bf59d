//! Strict JSON reading with serde_json: a single object, or an array of objects (one per
//! document). serde_json is much faster than a YAML parser on big inputs and bounds nesting
//! to 128 levels on its own.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::header::Header;
use super::{Format, Problem};

/// One JSON object and where it starts in the whole input.
pub(super) struct JsonDoc<'a> {
    text: &'a str,
    first_line: u64,
    first_column: u64,
}

impl<'a> JsonDoc<'a> {
    /// A document that is the whole input.
    pub(super) fn whole(text: &'a str) -> JsonDoc<'a> {
        JsonDoc {
            text,
            first_line: 1,
            first_column: 1,
        }
    }

    /// The elements of a top-level JSON array, each a document.
    pub(super) fn elements(input: &'a str) -> Result<Vec<JsonDoc<'a>>, Problem> {
        let raws: Vec<&RawValue> =
            serde_json::from_str(input).map_err(|e| Problem::from_json(&e, None, (1, 1)))?;
        Ok(raws
            .into_iter()
            .map(|raw| JsonDoc::within(input, raw.get()))
            .collect())
    }

    fn within(input: &'a str, text: &'a str) -> JsonDoc<'a> {
        let offset = text.as_ptr() as usize - input.as_ptr() as usize;
        let before = &input[..offset];
        let first_line = before.bytes().filter(|&b| b == b'\n').count() as u64 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        JsonDoc {
            text,
            first_line,
            first_column: (offset - line_start) as u64 + 1,
        }
    }

    fn read<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        let mut de = serde_json::Deserializer::from_str(self.text);
        let origin = (self.first_line, self.first_column);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            Problem::from_json(e.inner(), Some(&path), origin)
        })?;
        de.end().map_err(|e| Problem::from_json(&e, None, origin))?;
        Ok(value)
    }
}

impl Format for JsonDoc<'_> {
    fn header(&self) -> Result<Option<Header>, Problem> {
        self.read()
    }

    fn strict<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        self.read()
    }
}

impl Problem {
    /// A problem from a serde_json error in a document starting at `origin` (line, column).
    fn from_json(err: &serde_json::Error, path: Option<&str>, origin: (u64, u64)) -> Problem {
        let position = (err.line() > 0).then(|| {
            if err.line() == 1 {
                (origin.0, origin.1 + err.column() as u64 - 1)
            } else {
                (origin.0 + err.line() as u64 - 1, err.column() as u64)
            }
        });
        Problem::new(path, position, strip_position(&err.to_string()))
    }
}

/// serde_json appends " at line L column C" to its messages; [`Problem`] prints its own.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}
