//! JSON Schemas of the manifests, generated from the types. `cargo run -p minicloud-manifests
//! --bin schemagen` writes them to `manifests/schemas/`; a test fails when they drift.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema, schema_for};

use crate::kind::Kind;
use crate::kinds::{ApiKey, App, Instance, Node, Release, Secret, Snapshot, Tenant, Volume};
use crate::resource::Resource;

/// The JSON Schema of one kind's manifests.
pub fn schema(kind: Kind) -> Schema {
    match kind {
        Kind::Tenant => schema_for!(Tenant),
        Kind::ApiKey => schema_for!(ApiKey),
        Kind::App => schema_for!(App),
        Kind::Release => schema_for!(Release),
        Kind::Instance => schema_for!(Instance),
        Kind::Volume => schema_for!(Volume),
        Kind::Snapshot => schema_for!(Snapshot),
        Kind::Secret => schema_for!(Secret),
        Kind::Node => schema_for!(Node),
    }
}

/// The schema files: `<kind>.json` for each kind, and `all.json` accepting any kind.
pub fn files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Kind::ALL
        .into_iter()
        .map(|kind| {
            (
                format!("{}.json", kind.as_str().to_lowercase()),
                render(&schema(kind)),
            )
        })
        .collect();
    files.push(("all.json".into(), render(&schema_for!(Resource))));
    files
}

fn render(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("schemas are plain JSON");
    text.push('\n');
    text
}

impl JsonSchema for Resource {
    fn schema_name() -> Cow<'static, str> {
        "Resource".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let variants = [
            generator.subschema_for::<Tenant>(),
            generator.subschema_for::<ApiKey>(),
            generator.subschema_for::<App>(),
            generator.subschema_for::<Release>(),
            generator.subschema_for::<Instance>(),
            generator.subschema_for::<Volume>(),
            generator.subschema_for::<Snapshot>(),
            generator.subschema_for::<Secret>(),
            generator.subschema_for::<Node>(),
        ];
        json_schema!({
            "description": "Any minicloud object; `kind` selects the shape.",
            "oneOf": variants,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_schema_file_plus_one_for_all() {
        let names: Vec<String> = files().into_iter().map(|(name, _)| name).collect();
        assert_eq!(names.len(), Kind::ALL.len() + 1);
        assert!(
            names.contains(&"apikey.json".to_owned()) && names.contains(&"all.json".to_owned())
        );
    }

    #[test]
    fn app_schema_requires_kind_metadata_and_spec() {
        let schema = serde_json::to_value(schema(Kind::App)).unwrap();
        let required = schema["required"].as_array().unwrap();
        for field in ["kind", "metadata", "spec"] {
            assert!(required.contains(&field.into()), "{required:?}");
        }
        assert_eq!(schema["additionalProperties"], false);
    }
}
