//! Parsing: multi-document YAML, JSON, and errors that name document, path, line and column.

use minicloud_manifests::{Kind, ParseError, Resource, parse_documents, parse_json_object};

fn error(text: &str) -> String {
    parse_documents(text)
        .expect_err("the input is invalid")
        .to_string()
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{message:?} does not mention {part:?}"
        );
    }
}

const VOLUME: &str = "kind: Volume\nmetadata: {name: data, tenant: acme}\nspec: {size: 1Gi}\n";

#[test]
fn several_yaml_documents_parse_in_order_skipping_empty_ones() {
    let text = format!(
        "---\n{VOLUME}---\n# nothing here\n---\n{}",
        VOLUME.replace("name: data", "name: logs")
    );
    let names: Vec<String> = parse_documents(&text)
        .unwrap()
        .iter()
        .map(|r| r.name().into())
        .collect();
    assert_eq!(names, ["data", "logs"]);
}

#[test]
fn missing_api_version_defaults_to_v1() {
    let [Resource::Volume(volume)] = &parse_documents(VOLUME).unwrap()[..] else {
        panic!()
    };
    assert_eq!(volume.api_version.as_str(), "minicloud/v1");
}

#[test]
fn errors_name_document_kind_name_path_line_and_column() {
    let text = format!(
        "{VOLUME}---\nkind: App\nmetadata: {{name: web}}\nspec:\n  image: x\n  env:\n    - {{name: A, valu: b}}\n"
    );
    assert_mentions(
        &error(&text),
        &[
            "document 2 (App \"web\")",
            "spec.env[0].valu",
            "line 10, column 17",
            "unknown field `valu`",
            "expected one of",
        ],
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    let text = "kind: App\nmetadata: {name: web}\nspec:\n  image: x\n  replicas: many\n";
    assert_mentions(
        &error(text),
        &[
            "spec.replicas at line 5, column 13",
            "\"many\"",
            "whole number",
        ],
    );
}

#[test]
fn bad_quantities_explain_the_accepted_forms() {
    let text = "kind: App\nmetadata: {name: web}\nspec:\n  image: x\n  resources: {memory: 1GB}\n";
    assert_mentions(
        &error(text),
        &[
            "spec.resources.memory at line 5, column 23",
            "\"1GB\"",
            "Mi",
        ],
    );
}

#[test]
fn missing_fields_are_reported_at_their_parent() {
    let text = "kind: Volume\nmetadata: {name: data}\nspec: {}\n";
    assert_mentions(
        &error(text),
        &[
            "document 1 (Volume \"data\")",
            "spec",
            "missing field `size`",
        ],
    );
}

#[test]
fn duplicate_keys_are_errors() {
    let text = "kind: App\nmetadata: {name: web}\nspec:\n  image: x\n  image: y\n";
    assert_mentions(
        &error(text),
        &[
            "document 1 (App \"web\")",
            "line 5, column 3",
            "duplicate",
            "image",
        ],
    );
}

#[test]
fn wrong_api_version_names_the_right_one() {
    let text = VOLUME.replace("kind: Volume", "apiVersion: v1\nkind: Volume");
    assert_mentions(
        &error(&text),
        &["apiVersion at line 1, column 13", "\"v1\"", "minicloud/v1"],
    );
}

#[test]
fn unknown_kind_lists_the_valid_kinds() {
    let text = format!("{VOLUME}---\nkind: Deployment\nmetadata: {{name: x}}\n");
    assert_mentions(
        &error(&text),
        &[
            "document 2 (\"x\")",
            "kind at line 5, column 7",
            "\"Deployment\"",
            "Tenant, ApiKey, Node",
        ],
    );
}

#[test]
fn missing_kind_is_an_error() {
    assert_mentions(
        &error("metadata: {name: x}\n"),
        &["kind", "missing field `kind`", "App"],
    );
}

#[test]
fn yaml_syntax_errors_carry_positions_in_the_whole_input() {
    let text = format!("{VOLUME}---\nkind: App\nmetadata: {{name: [}}\n");
    assert_mentions(&error(&text), &["document 2", "line 6"]);
}

#[test]
fn json_objects_parse_with_serde_json() {
    let text = r#"{"kind": "Volume", "metadata": {"name": "data"}, "spec": {"size": 1024}}"#;
    assert_eq!(parse_documents(text).unwrap()[0].kind(), Kind::Volume);
}

#[test]
fn json_arrays_are_several_documents_with_positions() {
    let text = "[\n  {\"kind\": \"Volume\", \"metadata\": {\"name\": \"a\"}, \"spec\": {\"size\": \"1Gi\"}},\n  {\"kind\": \"Volume\", \"metadata\": {\"name\": \"b\"}, \"spec\": {\"size\": \"1Gi\", \"sise\": 1}}\n]";
    // serde_json points just past the offending key.
    assert_mentions(
        &error(text),
        &[
            "document 2 (Volume \"b\")",
            "spec.sise at line 3, column 78",
            "unknown field",
        ],
    );
}

#[test]
fn yaml_flow_mappings_that_are_not_json_still_parse() {
    let text = "{kind: Volume, metadata: {name: data}, spec: {size: 1Gi}}";
    assert_eq!(parse_documents(text).unwrap()[0].name(), "data");
}

#[test]
fn json_objects_from_the_api_parse_strictly() {
    let body = br#"{"kind": "Volume", "metadata": {"name": "data"},
        "spec": {"size": "1Gi"}, "extra": 1}"#;
    let message = parse_json_object(body).unwrap_err().to_string();
    assert_mentions(
        &message,
        &[
            "Volume \"data\"",
            "extra at line 2, column",
            "unknown field",
        ],
    );
}

#[test]
fn json_duplicate_map_keys_are_errors() {
    let body = br#"{"kind": "Secret", "metadata": {"name": "db"}, "data": {"a": "1", "a": "2"}}"#;
    assert_mentions(
        &parse_json_object(body).unwrap_err().to_string(),
        &["data", "duplicate key \"a\""],
    );
}

#[test]
fn non_utf8_bodies_are_refused() {
    let err = parse_json_object(b"\xff\xfe").unwrap_err();
    assert!(matches!(err, ParseError::Document { .. }), "{err}");
    assert_mentions(&err.to_string(), &["UTF-8"]);
}

#[test]
fn ports_may_be_referenced_by_name_or_number() {
    let text = "kind: App\nmetadata: {name: web}\nspec:\n  image: x\n  ports: [{port: 80}]\n  ingress: {port: 80}\n";
    let [Resource::App(app)] = &parse_documents(text).unwrap()[..] else {
        panic!()
    };
    assert_eq!(app.spec.ingress.as_ref().unwrap().port.to_string(), "80");
    let bad = text.replace("{port: 80}\n", "{port: 70000}\n");
    assert_mentions(&error(&bad), &["spec.ingress.port", "70000", "1-65535"]);
}

#[test]
fn quantities_accept_yaml_numbers_and_strings() {
    let text = "kind: App\nmetadata: {name: web}\nspec:\n  image: x\n  resources: {cpu: 0.5, memory: 1000}\n";
    let [Resource::App(app)] = &parse_documents(text).unwrap()[..] else {
        panic!()
    };
    let resources = app.spec.resources.as_ref().unwrap();
    assert_eq!(resources.cpu.unwrap().to_string(), "500m");
    assert_eq!(resources.memory.unwrap().get(), 1000);
}
