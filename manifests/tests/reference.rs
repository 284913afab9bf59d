//! The reference manifests from DESIGN.md parse, validate, default and round-trip cleanly.

use minicloud_manifests::{
    Bytes, Cpu, Kind, Resource, apply_defaults, parse_and_validate, parse_documents, to_yaml,
    validate,
};

const REFERENCE: &str = include_str!("fixtures/reference.yaml");

fn reference() -> Vec<Resource> {
    parse_documents(REFERENCE).expect("the reference manifests parse")
}

#[test]
fn reference_manifests_parse_into_their_kinds() {
    let kinds: Vec<(Kind, String)> = reference()
        .iter()
        .map(|r| (r.kind(), r.name().to_owned()))
        .collect();
    assert_eq!(
        kinds,
        [
            (Kind::Tenant, "acme".to_owned()),
            (Kind::App, "web".to_owned()),
            (Kind::Volume, "data".to_owned()),
            (Kind::Secret, "db".to_owned()),
        ]
    );
}

#[test]
fn reference_manifests_validate_before_and_after_defaults() {
    parse_and_validate(REFERENCE).expect("the reference manifests validate");
    for mut resource in reference() {
        apply_defaults(&mut resource);
        validate(&resource).unwrap_or_else(|e| panic!("{} invalid: {e}", resource.name()));
    }
}

#[test]
fn reference_app_fields_are_typed() {
    let Resource::App(app) = &reference()[1] else {
        panic!("second document is the App")
    };
    let resources = app.spec.resources.as_ref().unwrap();
    assert_eq!(resources.cpu, Some(Cpu::from_millis(250)));
    assert_eq!(resources.memory, Some(Bytes::mebibytes(64)));
    assert_eq!(
        app.spec.env[1].value_from.as_ref().unwrap().secret.key,
        "password"
    );
    assert_eq!(app.metadata.labels["team"], "blue");
}

#[test]
fn reference_manifests_round_trip_through_yaml() {
    for resource in reference() {
        let yaml = to_yaml(&resource);
        let again = parse_documents(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(again, [resource], "{yaml}");
    }
}

#[test]
fn reference_manifests_round_trip_through_json() {
    for resource in reference() {
        let json = serde_json::to_vec(&resource).unwrap();
        assert_eq!(
            minicloud_manifests::parse_json_object(&json).unwrap(),
            resource
        );
    }
}

#[test]
fn defaulted_manifests_round_trip_through_yaml() {
    for mut resource in reference() {
        apply_defaults(&mut resource);
        let again = parse_documents(&to_yaml(&resource)).unwrap();
        assert_eq!(again, [resource]);
    }
}
