//! Reading the common fields of an object as the server sends it (plain JSON), so that output
//! works for every kind, and naming objects the way the CLI prints them (`app/web`).

use minicloud_manifests::Kind;
use serde_json::Value;

/// The string at a `/`-separated JSON pointer (`/metadata/name`), or "".
pub fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The value at a JSON pointer, rendered for a table cell: strings bare, numbers and booleans
/// as written, arrays comma-joined, missing or null as "".
pub fn cell(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| cell(item, ""))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// The object's `metadata.name`.
pub fn name(object: &Value) -> &str {
    text(object, "/metadata/name")
}

/// How the CLI names an object in its one-line reports: `app/web`.
pub fn label(kind: Kind, name: &str) -> String {
    format!("{}/{name}", kind.as_str().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_render_every_json_shape() {
        let object = json!({"a": "x", "b": 2, "c": true, "d": ["p", 1], "e": null});
        let cells: Vec<String> = ["/a", "/b", "/c", "/d", "/e", "/missing"]
            .iter()
            .map(|pointer| cell(&object, pointer))
            .collect();
        assert_eq!(cells, ["x", "2", "true", "p,1", "", ""]);
    }

    #[test]
    fn labels_are_lowercase_kind_slash_name() {
        assert_eq!(label(Kind::App, "web"), "app/web");
        assert_eq!(label(Kind::ApiKey, "ci"), "apikey/ci");
    }

    #[test]
    fn the_name_comes_from_the_metadata() {
        assert_eq!(name(&json!({"metadata": {"name": "web"}})), "web");
        assert_eq!(name(&json!({})), "");
    }
}
