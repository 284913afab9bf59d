//! Strict YAML reading of one document with serde-saphyr, under a budget that bounds the work
//! hostile input can cause (alias bombs, deep nesting, huge node counts).

use serde::de::DeserializeOwned;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::granit_parser::ErrorKind;
use serde_saphyr::options::AliasLimits;
use serde_saphyr::{
    DuplicateKeyPolicy, Error, ExternalMessageSource, MessageFormatter, Options,
    UserMessageFormatter,
};

use super::header::Header;
use super::split::DocText;
use super::{Format, Problem};

/// Deepest nesting accepted; real manifests stay under 10 levels.
pub(super) const MAX_DEPTH: usize = 50;
/// Most values (scalars and collections) in one document.
const MAX_NODES: usize = 100_000;
/// Most aliases and anchors in one document; manifests rarely need any.
const MAX_ALIASES: usize = 1_000;
/// Most events replayed by alias expansion in one document, which stops alias bombs early.
const MAX_REPLAYED_EVENTS: usize = 10_000;

pub(super) fn options() -> Options {
    let mut alias_limits = AliasLimits::default();
    alias_limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            flow_nesting_limit: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_aliases: MAX_ALIASES,
            max_anchors: MAX_ALIASES,
            max_documents: 1,
        },
        alias_limits: alias_limits,
        duplicate_keys: DuplicateKeyPolicy::Error,
        with_snippet: false,
    }
}

/// One YAML document, ready to be read.
pub(super) struct YamlDoc<'a>(pub(super) DocText<'a>);

impl Format for YamlDoc<'_> {
    fn header(&self) -> Result<Option<Header>, Problem> {
        self.read::<Option<Header>>(options())
    }

    fn header_before(&self, line: u64) -> Option<Header> {
        let keep = line.checked_sub(self.0.first_line)? as usize;
        let end = self
            .0
            .text
            .split_inclusive('\n')
            .take(keep)
            .map(str::len)
            .sum();
        let prefix = YamlDoc(DocText {
            text: &self.0.text[..end],
            first_line: self.0.first_line,
        });
        prefix.read::<Option<Header>>(options()).ok().flatten()
    }

    fn strict<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        self.read::<T>(options())
    }
}

impl YamlDoc<'_> {
    fn read<T: DeserializeOwned>(&self, options: Options) -> Result<T, Problem> {
        let mut path = None;
        let result =
            serde_saphyr::with_deserializer_from_str_with_options(self.0.text, options, |de| {
                serde_path_to_error::deserialize(de).map_err(|e| {
                    path = Some(e.path().to_string());
                    e.into_inner()
                })
            });
        result.map_err(|err| self.problem(&err, path))
    }

    fn problem(&self, err: &Error, path: Option<String>) -> Problem {
        let position = err
            .location()
            .filter(|loc| loc.line() > 0)
            .map(|loc| (loc.line() + self.0.first_line - 1, loc.column()));
        Problem::new(path.as_deref(), position, self.describe(err))
    }

    /// The error's message in user terms, without position (which [`Problem`] adds).
    fn describe(&self, err: &Error) -> String {
        let mut inner = err;
        while let Error::AliasError { error, .. } | Error::WithSnippet { error, .. } = inner {
            inner = error;
        }
        match inner {
            Error::Budget { breach, .. } => describe_breach(breach),
            Error::AliasReplayLimitExceeded { .. }
            | Error::AliasExpansionLimitExceeded { .. }
            | Error::AliasReplayStackDepthExceeded { .. } => format!(
                "aliases expand to more than {MAX_REPLAYED_EVENTS} values (an alias bomb?); \
                 write the values out or use fewer aliases"
            ),
            Error::ExternalMessage { source, .. } if is_nesting_limit(source) => {
                describe_breach(&BudgetBreach::Depth {
                    depth: MAX_DEPTH + 1,
                })
            }
            Error::InvalidScalar { ty, location } => {
                let span = location.span();
                let found = span
                    .byte_offset()
                    .zip(span.byte_len())
                    .and_then(|(start, len)| {
                        self.0.text.get(start as usize..(start + len) as usize)
                    })
                    .map_or_else(|| "the value".to_owned(), |text| format!("{text:?}"));
                format!("{found} is not {}", describe_type(ty))
            }
            other => UserMessageFormatter.format_message(other).into_owned(),
        }
    }
}

/// What a scalar of Rust type `ty` looks like, for people.
fn describe_type(ty: &str) -> String {
    match ty {
        "u8" => "a whole number from 0 to 255".into(),
        "u16" => "a whole number from 0 to 65535".into(),
        "u32" => format!("a whole number from 0 to {}", u32::MAX),
        "u64" | "usize" => format!("a whole number from 0 to {}", u64::MAX),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "bool" | "boolean" => "true or false".into(),
        other => format!("a valid {other}"),
    }
}

/// Whether the parser stopped at its own collection nesting limit.
fn is_nesting_limit(source: &ExternalMessageSource) -> bool {
    matches!(source, ExternalMessageSource::Parser(e) if *e.kind() == ErrorKind::RecursionLimitExceeded)
}

fn describe_breach(breach: &BudgetBreach) -> String {
    let what = match breach {
        BudgetBreach::Depth { .. } => format!("nesting is deeper than {MAX_DEPTH} levels"),
        BudgetBreach::Nodes { .. } => format!("the document has more than {MAX_NODES} values"),
        BudgetBreach::Aliases { .. } | BudgetBreach::Anchors { .. } => {
            format!("the document uses more than {MAX_ALIASES} aliases or anchors")
        }
        other => format!("the document is too large or complex ({other:?})"),
    };
    format!("{what}; this is beyond what any manifest needs, so the document was refused")
}
