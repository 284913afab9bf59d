//! `mini get -w`: follow a kind's changes. Without `--resource-version` the server first sends
//! the current objects (ADDED) and a BOOKMARK; the table waits for that bookmark to size its
//! columns, then prints one row per change. With `-o json` every event is one compact line,
//! flushed at once, for scripts.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use minicloud_manifests::Kind;
use minicloud_proto::metadata::reason;
use minicloud_proto::v1::{EventType, WatchEvent, WatchRequest};
use serde_json::{Value, json};

use crate::client::{self, Client, RequestFailed};
use crate::object;
use crate::output::columns::Columns;
use crate::output::{self, Format, table};

/// Column width of a resumed watch's table, which has no initial rows to measure.
const RESUMED_COLUMN_WIDTH: usize = 10;

/// What to watch and how to print it.
pub struct WatchOptions {
    /// The kind to watch.
    pub kind: Kind,
    /// The tenant, "*" for all, "" for cluster-scoped kinds.
    pub tenant: String,
    /// A label selector, or "".
    pub selector: String,
    /// Only this object, when given.
    pub name: Option<String>,
    /// The output format.
    pub format: Format,
    /// The table layout (for the table formats).
    pub columns: Columns,
    /// Resume after this version.
    pub resource_version: Option<String>,
    /// Print BOOKMARK events in JSON mode.
    pub bookmarks: bool,
}

/// Prints events until the stream ends (or the user interrupts).
pub async fn run(client: &mut Client, options: WatchOptions) -> Result<ExitCode> {
    let request = WatchRequest {
        kind: options.kind.as_str().to_owned(),
        tenant: options.tenant.clone(),
        label_selector: options.selector.clone(),
        resource_version: options.resource_version.clone().unwrap_or_default(),
    };
    let resume = options.resource_version.clone();
    let expired = |error: RequestFailed| explain(error, resume.as_deref());
    let mut stream = client.watch(request).await.map_err(expired)?;
    let mut printer = Printer::new(options);
    printer.start()?;
    while let Some(event) = stream
        .message()
        .await
        .map_err(|status| expired(status.into()))?
    {
        printer.event(&event)?;
    }
    printer.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// Turns the server's `Expired` answer into advice on what to do.
fn explain(error: RequestFailed, resume: Option<&str>) -> anyhow::Error {
    match (error.reason(), resume) {
        (Some(reason::EXPIRED), Some(version)) => anyhow::anyhow!(
            "resourceVersion {version} is too old to resume from (the server no longer keeps that \
             history); run the command again without --resource-version to start from the current state"
        ),
        _ => error.into(),
    }
}

/// Prints events in the chosen format.
struct Printer {
    options: WatchOptions,
    /// Column widths, once the header is printed.
    widths: Option<Vec<usize>>,
    /// Rows of the initial listing, held until its bookmark to size the columns.
    pending: Vec<Vec<String>>,
}

impl Printer {
    fn new(options: WatchOptions) -> Self {
        Self {
            options,
            widths: None,
            pending: Vec::new(),
        }
    }

    /// A resumed watch gets no initial listing to size the table by: the header goes first.
    fn start(&mut self) -> Result<()> {
        let table = matches!(self.options.format, Format::Table | Format::Wide);
        match table && self.options.resource_version.is_some() {
            true => self.print_header(),
            false => Ok(()),
        }
    }

    fn event(&mut self, event: &WatchEvent) -> Result<()> {
        let kind = event.r#type();
        let object = match &event.object {
            Some(object) if kind != EventType::Bookmark => client::decode(object)?,
            _ => return self.bookmark(&event.resource_version),
        };
        if self
            .options
            .name
            .as_deref()
            .is_some_and(|name| name != object::name(&object))
        {
            return Ok(());
        }
        match self.options.format {
            Format::Json => line(&event_json(kind, object)),
            Format::Yaml => Ok(output::print(&format!("---\n{}", output::yaml(&object)))?),
            Format::Table | Format::Wide => self.row(&object),
        }
    }

    fn bookmark(&mut self, version: &str) -> Result<()> {
        match self.options.format {
            Format::Json if self.options.bookmarks => {
                let object = json!({"metadata": {"resourceVersion": version}});
                line(&event_json(EventType::Bookmark, object))
            }
            Format::Table | Format::Wide => self.print_header(),
            _ => Ok(()),
        }
    }

    fn row(&mut self, object: &Value) -> Result<()> {
        let row = self.options.columns.row(object, SystemTime::now());
        if self.widths.is_none() && self.options.resource_version.is_none() {
            self.pending.push(row);
            return Ok(());
        }
        self.print_header()?;
        let widths = self.widths.as_deref().unwrap_or_default();
        line(&table::format_row(&row, widths))
    }

    /// Prints the header and the held rows, once. A resumed watch has no rows to size the
    /// columns by, so they get a usual width instead.
    fn print_header(&mut self) -> Result<()> {
        if self.widths.is_some() {
            return Ok(());
        }
        let header = self.options.columns.header();
        let widths = match self.options.resource_version {
            Some(_) => table::widths_at_least(&header, RESUMED_COLUMN_WIDTH),
            None => table::widths(&header, &self.pending),
        };
        let rows = std::mem::take(&mut self.pending);
        output::print(&table::render_with(&header, &rows, &widths))?;
        self.widths = Some(widths);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        match self.options.format {
            Format::Table | Format::Wide if !self.pending.is_empty() => self.print_header(),
            _ => Ok(()),
        }
    }
}

/// `{"type": "ADDED", "object": {...}}`, with `type` first for people reading along.
fn event_json(kind: EventType, object: Value) -> String {
    let kind = Value::from(kind.as_str_name());
    format!("{{\"type\":{kind},\"object\":{object}}}")
}

fn line(text: &str) -> Result<()> {
    Ok(output::print(&format!("{text}\n"))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::refused;

    #[test]
    fn an_event_line_puts_the_type_first() {
        let text = event_json(EventType::Added, json!({"kind": "App"}));
        assert_eq!(text, r#"{"type":"ADDED","object":{"kind":"App"}}"#);
    }

    #[test]
    fn an_expired_version_tells_the_user_to_start_over() {
        let failed = refused(tonic::Code::OutOfRange, reason::EXPIRED, "gone");
        let message = explain(failed, Some("7")).to_string();
        assert!(message.contains("without --resource-version"), "{message}");
    }

    #[test]
    fn other_failures_keep_the_server_message() {
        let failed = refused(tonic::Code::OutOfRange, reason::TOO_SLOW, "too slow");
        assert_eq!(explain(failed, Some("7")).to_string(), "too slow");
    }
}
