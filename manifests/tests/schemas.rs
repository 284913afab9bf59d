//! The checked-in JSON Schemas match what the types generate.

use std::fs;
use std::path::Path;

use minicloud_manifests::schema;

const REGENERATE: &str = "cargo run -p minicloud-manifests --bin schemagen";

#[test]
fn checked_in_schemas_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let generated = schema::files();
    for (name, content) in &generated {
        let on_disk = fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(
            on_disk == *content,
            "manifests/schemas/{name} is out of date with the types; regenerate with `{REGENERATE}`"
        );
    }
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("manifests/schemas exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = generated.into_iter().map(|(name, _)| name).collect();
    expected.sort();
    assert_eq!(
        names, expected,
        "stray files in manifests/schemas; regenerate with `{REGENERATE}`"
    );
}
