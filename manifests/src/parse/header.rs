//! The lenient first look at a document: just `kind` and `metadata.name`, so that errors from
//! the strict parse can name the object and the right type can be picked.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::kind::Kind;

/// What a document says it is. Unknown fields are ignored here; the strict parse reports them.
#[derive(Debug, Deserialize)]
pub(super) struct Header {
    kind: Option<Spanned<String>>,
    metadata: Option<HeaderMeta>,
}

#[derive(Debug, Deserialize)]
struct HeaderMeta {
    name: Option<NameOnly>,
}

/// A name if it is a string; anything else is left for the strict parse to report.
#[derive(Debug)]
struct NameOnly(Option<String>);

impl<'de> Deserialize<'de> for NameOnly {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NameOnlyVisitor)
    }
}

struct NameOnlyVisitor;

impl<'de> Visitor<'de> for NameOnlyVisitor {
    type Value = NameOnly;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NameOnly, E> {
        Ok(NameOnly(Some(v.to_owned())))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<NameOnly, E> {
        Ok(NameOnly(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<NameOnly, E> {
        Ok(NameOnly(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<NameOnly, E> {
        Ok(NameOnly(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<NameOnly, E> {
        Ok(NameOnly(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<NameOnly, E> {
        Ok(NameOnly(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<NameOnly, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| NameOnly(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NameOnly, A::Error> {
        IgnoredAny.visit_map(map).map(|_| NameOnly(None))
    }
}

/// Where a header's `kind` points, after checking it names a kind.
pub(super) enum KindCheck {
    /// A known kind.
    Known(Kind),
    /// No `kind` field.
    Missing,
    /// A `kind` that is not one of [`Kind::ALL`], with its 1-based line and column.
    Unknown {
        /// The value found.
        name: String,
        /// Its position, when the input format provides one.
        position: Option<(u64, u64)>,
    },
}

impl Header {
    /// The object's name, when it is a string.
    pub(super) fn name(&self) -> Option<String> {
        self.metadata.as_ref()?.name.as_ref()?.0.clone()
    }

    /// The kind the document declares.
    pub(super) fn kind(&self) -> KindCheck {
        let Some(spanned) = &self.kind else {
            return KindCheck::Missing;
        };
        match Kind::from_manifest_name(&spanned.value) {
            Ok(kind) => KindCheck::Known(kind),
            Err(_) => {
                let loc = spanned.referenced;
                KindCheck::Unknown {
                    name: spanned.value.clone(),
                    position: (loc.line() > 0).then(|| (loc.line(), loc.column())),
                }
            }
        }
    }
}
