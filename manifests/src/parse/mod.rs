//! Reading manifests: YAML streams (several documents) and JSON (an object, or an array of
//! objects), strictly — unknown fields and duplicate keys are errors — and with bounded work
//! on hostile input. Every error names the document, the field path, the line and column,
//! and what was expected.

mod error;
mod format;
mod header;
mod json;
mod locate;
mod split;
mod yaml;

use serde::de::{DeserializeOwned, IgnoredAny};

pub use error::{DocumentRef, ParseError, Problem};

use crate::kind::Kind;
use crate::resource::Resource;
use crate::validate::{ValidationErrors, validate};
use format::Format;
use header::{Header, KindCheck};
use json::JsonDoc;
use yaml::YamlDoc;

/// Largest input accepted, matching the API server's request body limit.
pub const MAX_DOCUMENT_BYTES: usize = 3 * 1024 * 1024;
/// Most documents accepted in one input.
pub const MAX_DOCUMENTS: usize = 1_000;

/// Result type of parsing.
pub type Result<T, E = ParseError> = std::result::Result<T, E>;

/// Reads every document of a YAML stream or JSON input. Empty documents are skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Resource>> {
    documents(text)?
        .iter()
        .enumerate()
        .filter_map(|(i, doc)| parse_one(doc, Some(i + 1)).transpose())
        .collect()
}

/// Like [`parse_documents`], then validates each object; validation errors in YAML carry the
/// line and column of the offending field. Defaults are not applied.
pub fn parse_and_validate(text: &str) -> Result<Vec<Resource>> {
    let mut resources = Vec::new();
    for (i, doc) in documents(text)?.iter().enumerate() {
        let Some(resource) = parse_one(doc, Some(i + 1))? else {
            continue;
        };
        if let Err(mut errors) = validate(&resource) {
            doc.locate(&mut errors);
            return Err(ParseError::Invalid {
                document: reference(&resource, Some(i + 1)),
                errors,
            });
        }
        resources.push(resource);
    }
    Ok(resources)
}

/// Reads one object from JSON, as objects travel between minicloud components.
pub fn parse_json_object(bytes: &[u8]) -> Result<Resource> {
    check_size(bytes.len())?;
    let unreadable = |message: String| ParseError::Document {
        document: DocumentRef {
            index: None,
            kind: None,
            name: None,
        },
        problem: Problem::new(None, None, message),
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| unreadable(format!("the body is not UTF-8 ({e}); send UTF-8 JSON")))?;
    parse_one(&AnyDoc::Json(JsonDoc::whole(text)), None)?
        .ok_or_else(|| unreadable("the body is null; send a JSON object".into()))
}

fn check_size(size: usize) -> Result<()> {
    if size > MAX_DOCUMENT_BYTES {
        return Err(ParseError::TooLarge {
            size,
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(())
}

/// Cuts the input into documents, choosing JSON when the whole input is JSON.
fn documents(text: &str) -> Result<Vec<AnyDoc<'_>>> {
    check_size(text.len())?;
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = body.trim_start();
    let is_json =
        trimmed.starts_with(['{', '[']) && serde_json::from_str::<IgnoredAny>(body).is_ok();
    let docs: Vec<AnyDoc<'_>> = if !is_json {
        split::split_documents(text)
            .into_iter()
            .map(|d| AnyDoc::Yaml(YamlDoc(d)))
            .collect()
    } else if trimmed.starts_with('[') {
        JsonDoc::elements(body)
            .map_err(|problem| ParseError::Document {
                document: unnamed(Some(1)),
                problem,
            })?
            .into_iter()
            .map(AnyDoc::Json)
            .collect()
    } else {
        vec![AnyDoc::Json(JsonDoc::whole(body))]
    };
    if docs.len() > MAX_DOCUMENTS {
        return Err(ParseError::TooManyDocuments {
            limit: MAX_DOCUMENTS,
        });
    }
    Ok(docs)
}

/// Reads a document's header leniently, then the whole document strictly as its kind.
fn parse_one(doc: &AnyDoc<'_>, index: Option<usize>) -> Result<Option<Resource>> {
    let header = doc.header().map_err(|problem| ParseError::Document {
        document: name_before(doc, index, problem.position),
        problem,
    })?;
    let Some(header) = header else {
        return Ok(None);
    };
    let mut document = DocumentRef {
        index,
        kind: None,
        name: header.name(),
    };
    let fail = |document, problem| ParseError::Document { document, problem };
    let kind = match resolve_kind(doc, &header) {
        Ok(kind) => kind,
        Err(problem) => return Err(fail(document, problem)),
    };
    document.kind = Some(kind);
    read_kind(doc, kind)
        .map(Some)
        .map_err(|problem| fail(document, problem))
}

/// Names a document whose header could not be read, from the lines before the error: cheap,
/// since a duplicate key is reported at its second occurrence, however many follow.
fn name_before(doc: &AnyDoc<'_>, index: Option<usize>, error: Option<(u64, u64)>) -> DocumentRef {
    let header = error.and_then(|(line, _)| doc.header_before(line));
    let kind = header.as_ref().and_then(|h| match h.kind() {
        KindCheck::Known(kind) => Some(kind),
        _ => None,
    });
    DocumentRef {
        index,
        kind,
        name: header.and_then(|h| h.name()),
    }
}

fn resolve_kind(doc: &AnyDoc<'_>, header: &Header) -> Result<Kind, Problem> {
    match header.kind() {
        KindCheck::Known(kind) => Ok(kind),
        KindCheck::Missing => {
            let message = format!("missing field `kind`; set it to one of {}", Kind::names());
            Err(Problem::new(Some("kind"), None, message))
        }
        KindCheck::Unknown { name, position } => {
            let message = crate::kind::UnknownKind { name }.to_string();
            let position = position.map(|(line, column)| (line + doc.first_line() - 1, column));
            Err(Problem::new(Some("kind"), position, message))
        }
    }
}

fn read_kind(doc: &impl Format, kind: Kind) -> Result<Resource, Problem> {
    Ok(match kind {
        Kind::Tenant => Resource::Tenant(doc.strict()?),
        Kind::ApiKey => Resource::ApiKey(doc.strict()?),
        Kind::App => Resource::App(doc.strict()?),
        Kind::Release => Resource::Release(doc.strict()?),
        Kind::Instance => Resource::Instance(doc.strict()?),
        Kind::Volume => Resource::Volume(doc.strict()?),
        Kind::Snapshot => Resource::Snapshot(doc.strict()?),
        Kind::Secret => Resource::Secret(doc.strict()?),
        Kind::Node => Resource::Node(doc.strict()?),
    })
}

fn unnamed(index: Option<usize>) -> DocumentRef {
    DocumentRef {
        index,
        kind: None,
        name: None,
    }
}

fn reference(resource: &Resource, index: Option<usize>) -> DocumentRef {
    DocumentRef {
        index,
        kind: Some(resource.kind()),
        name: Some(resource.name().to_owned()),
    }
}

enum AnyDoc<'a> {
    Yaml(YamlDoc<'a>),
    Json(JsonDoc<'a>),
}

impl AnyDoc<'_> {
    /// The line the document starts on; header positions are relative to it.
    fn first_line(&self) -> u64 {
        match self {
            AnyDoc::Yaml(doc) => doc.0.first_line,
            AnyDoc::Json(_) => 1,
        }
    }

    /// Fills in the positions of validation errors, where the format allows.
    fn locate(&self, errors: &mut ValidationErrors) {
        if let AnyDoc::Yaml(doc) = self {
            locate::locate(doc.0, errors);
        }
    }
}

impl Format for AnyDoc<'_> {
    fn header(&self) -> Result<Option<Header>, Problem> {
        match self {
            AnyDoc::Yaml(doc) => doc.header(),
            AnyDoc::Json(doc) => doc.header(),
        }
    }

    fn strict<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        match self {
            AnyDoc::Yaml(doc) => doc.strict(),
            AnyDoc::Json(doc) => doc.strict(),
        }
    }

    fn header_before(&self, line: u64) -> Option<Header> {
        match self {
            AnyDoc::Yaml(doc) => doc.header_before(line),
            AnyDoc::Json(_) => None,
        }
    }
}
