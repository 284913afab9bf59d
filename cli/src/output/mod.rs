//! Rendering objects for people and scripts: kubectl-style tables, YAML, JSON and diffs.

pub mod age;
pub mod columns;
pub mod diff;
pub mod events;
pub mod table;
pub mod units;

use std::io::Write;

use clap::ValueEnum;
use minicloud_manifests::{Resource, to_yaml};
use serde_json::Value;

/// The `-o` formats of `mini get`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Columns chosen per kind.
    #[default]
    Table,
    /// The table with extra columns.
    Wide,
    /// YAML documents.
    Yaml,
    /// Pretty JSON (one object, or `{"items": [...]}`); with `-w`, one compact event per line.
    Json,
}

/// The `-o` formats of commands that print a report rather than objects (`mini audit`,
/// `mini quota`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// JSON.
    Json,
}

/// Writes `text` to stdout and flushes it, so that a reader of a pipe sees it at once; a
/// closed pipe is an error (which `main` treats as a quiet exit), never a panic.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// One object as a YAML document, through the manifests model so that fields come out in
/// their usual order.
pub fn yaml(object: &Value) -> String {
    match Resource::from_json(object.clone()) {
        Ok(resource) => to_yaml(&resource),
        Err(_) => serde_saphyr::to_string(object).unwrap_or_else(|_| object.to_string()),
    }
}

/// Several objects as a YAML stream.
pub fn yaml_stream(objects: &[Value]) -> String {
    objects.iter().map(yaml).collect::<Vec<_>>().join("---\n")
}

/// Objects as pretty JSON: the object itself for one named object, else `{"items": [...]}`.
pub fn json(objects: &[Value], single: bool) -> String {
    let value = match objects {
        [object] if single => object.clone(),
        _ => serde_json::json!({ "items": objects }),
    };
    serde_json::to_string_pretty(&value).expect("JSON values always serialize")
}

/// Indents every non-empty line of `text` by `width` spaces.
pub fn indent(text: &str, width: usize) -> String {
    let pad = " ".repeat(width);
    text.lines()
        .map(|line| match line.is_empty() {
            true => String::new(),
            false => format!("{pad}{line}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(name: &str) -> Value {
        json!({"apiVersion": "minicloud/v1", "kind": "App",
               "metadata": {"name": name, "tenant": "default"}, "spec": {"image": "hello:1"}})
    }

    #[test]
    fn yaml_round_trips_through_the_manifest_parser() {
        let text = yaml(&app("web"));
        let parsed = minicloud_manifests::parse_documents(&text).unwrap();
        assert_eq!(parsed[0].to_json(), app("web"));
    }

    #[test]
    fn a_yaml_stream_separates_documents() {
        let text = yaml_stream(&[app("a"), app("b")]);
        assert_eq!(
            minicloud_manifests::parse_documents(&text).unwrap().len(),
            2
        );
    }

    #[test]
    fn json_prints_one_named_object_alone_and_lists_as_items() {
        let one: Value = serde_json::from_str(&json(&[app("a")], true)).unwrap();
        assert_eq!(one, app("a"));
        let list: Value = serde_json::from_str(&json(&[app("a")], false)).unwrap();
        assert_eq!(list, json!({"items": [app("a")]}));
    }

    #[test]
    fn indent_pads_lines_but_not_blank_ones() {
        assert_eq!(indent("a\n\nb", 2), "  a\n\n  b");
    }
}
