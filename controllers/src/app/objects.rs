//! The objects the app controller writes — Releases and Instances — built from an App, with
//! their names, labels, owner reference and finalizer.

use std::collections::BTreeMap;

use minicloud_manifests::{
    App, AppSpec, Instance, InstanceSpec, Kind, ObjectMeta, OwnerReference, Release, ReleaseSpec,
};
use rand::Rng;

use crate::hash::stable_hash;
use crate::labels;

/// Longest object name (a DNS-1123 label).
const MAX_NAME: usize = 63;
/// Hex digits of the template hash in Instance names.
const SHORT_HASH: usize = 8;
/// Characters of the random Instance name suffix.
const SUFFIX_LEN: usize = 5;
const SUFFIX_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Annotation `mini restart` sets on an App to the time of the restart. It is part of the
/// release hash, so a new value rolls every instance to a new Release of the same spec; the
/// Release made for it carries the same annotation, so going back to it restores the value.
pub const RESTARTED_AT: &str = "minicloud.dev/restartedAt";

/// The hash deciding whether an App needs a new Release: its template hash, combined with its
/// restart annotation when it has one (an App never restarted hashes as its template alone).
pub fn release_hash(app: &App) -> String {
    let template = template_hash(&app.spec);
    match app.metadata.annotations.get(RESTARTED_AT) {
        Some(restarted_at) => stable_hash(&(template, restarted_at)),
        None => template,
    }
}

/// The hash of what makes the containers: the defaulted spec without the fields that do not
/// change them (`replicas`, `update`), so scaling rolls nothing.
fn template_hash(spec: &AppSpec) -> String {
    let mut template = spec.with_defaults();
    template.replicas = None;
    template.update = None;
    stable_hash(&template)
}

/// The name of an App's Release `revision`: `<app>-<revision>`.
pub fn release_name(app: &str, revision: u64) -> String {
    let suffix = format!("-{revision}");
    format!("{}{suffix}", prefix(app, MAX_NAME - suffix.len()))
}

/// A new Release `revision` of `app` with template hash `hash`.
pub fn release(app: &App, revision: u64, hash: &str) -> Release {
    let app_spec = app.spec.with_defaults();
    let mut meta = owned_meta(app, release_name(&app.metadata.name, revision));
    if let Some(restarted_at) = app.metadata.annotations.get(RESTARTED_AT) {
        meta.annotations
            .insert(RESTARTED_AT.into(), restarted_at.clone());
    }
    Release::new(
        meta,
        ReleaseSpec {
            app: app.metadata.name.clone(),
            revision,
            spec_hash: hash.to_owned(),
            app_spec,
            image_digest: None,
        },
    )
}

/// A new, unscheduled Instance of `app` running `release`, named
/// `<app>-<short hash>-<random suffix>`.
pub fn instance(app: &App, release: &Release, suffix: &str) -> Instance {
    let hash = &release.spec.spec_hash[..SHORT_HASH.min(release.spec.spec_hash.len())];
    let tail = format!("-{hash}-{suffix}");
    let name = format!(
        "{}{tail}",
        prefix(&app.metadata.name, MAX_NAME - tail.len())
    );
    let mut meta = owned_meta(app, name);
    meta.labels
        .insert(labels::RELEASE.into(), release.metadata.name.clone());
    meta.finalizers = vec![labels::CONTAINER_FINALIZER.into()];
    let spec = InstanceSpec {
        app: app.metadata.name.clone(),
        release: release.metadata.name.clone(),
        node: None,
        container: release.spec.app_spec.container(),
    };
    Instance::new(meta, spec)
}

/// A random Instance name suffix of lowercase letters and digits.
pub fn random_suffix() -> String {
    let mut rng = rand::rng();
    (0..SUFFIX_LEN)
        .map(|_| char::from(SUFFIX_ALPHABET[rng.random_range(0..SUFFIX_ALPHABET.len())]))
        .collect()
}

/// Metadata of an object the App controls: same tenant, `app` label, owner reference.
fn owned_meta(app: &App, name: String) -> ObjectMeta {
    let mut meta = ObjectMeta::named(name, app.metadata.tenant.as_deref());
    meta.labels = BTreeMap::from([(labels::APP.into(), app.metadata.name.clone())]);
    meta.owner_references = vec![OwnerReference {
        kind: Kind::App,
        name: app.metadata.name.clone(),
        uid: app.metadata.uid.clone().unwrap_or_default(),
        controller: true,
    }];
    meta
}

/// At most `max` leading characters of `name`, without a trailing `-`.
fn prefix(name: &str, max: usize) -> &str {
    name[..name.len().min(max)].trim_end_matches('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_manifests::{Cpu, defaults::DEFAULT_MEMORY};

    fn app(name: &str) -> App {
        let mut meta = ObjectMeta::named(name, Some("acme"));
        meta.uid = Some("app-uid".into());
        let spec = AppSpec {
            image: Some("hello:1".into()),
            ..AppSpec::default()
        };
        App::new(meta, spec)
    }

    #[test]
    fn scaling_does_not_change_the_template_hash_but_the_image_does() {
        let one = app("web").spec;
        let three = AppSpec {
            replicas: Some(3),
            ..one.clone()
        };
        let other = AppSpec {
            image: Some("hello:2".into()),
            ..one.clone()
        };
        assert_eq!(template_hash(&one), template_hash(&three));
        assert_ne!(template_hash(&one), template_hash(&other));
    }

    #[test]
    fn a_restart_changes_the_release_hash_and_its_release_keeps_the_annotation() {
        let plain = app("web");
        assert_eq!(release_hash(&plain), template_hash(&plain.spec));
        let mut restarted = plain.clone();
        restarted
            .metadata
            .annotations
            .insert(RESTARTED_AT.into(), "2024-05-01T10:00:00Z".into());
        let hash = release_hash(&restarted);
        assert_ne!(hash, release_hash(&plain));
        let made = release(&restarted, 2, &hash);
        assert_eq!(
            made.metadata.annotations[RESTARTED_AT],
            "2024-05-01T10:00:00Z"
        );
        assert!(release(&plain, 1, "h").metadata.annotations.is_empty());
    }

    #[test]
    fn an_instance_is_owned_labelled_and_guarded_by_the_finalizer() {
        let app = app("web");
        let release = release(&app, 2, "0123456789abcdef");
        let instance = instance(&app, &release, "x7k2q");
        assert_eq!(instance.metadata.name, "web-01234567-x7k2q");
        assert_eq!(instance.metadata.labels["app"], "web");
        assert_eq!(instance.metadata.labels["release"], "web-2");
        assert_eq!(instance.metadata.finalizers, [labels::CONTAINER_FINALIZER]);
        let owner = &instance.metadata.owner_references[0];
        assert!(owner.controller && owner.uid == "app-uid");
        assert_eq!(instance.spec.node, None);
    }

    #[test]
    fn the_container_gets_the_defaults() {
        let app = app("web");
        let container = instance(&app, &release(&app, 1, "h"), "x7k2q")
            .spec
            .container;
        assert_eq!(container.image, "hello:1");
        assert_eq!(container.resources.memory, DEFAULT_MEMORY);
        assert_eq!(container.resources.cpu, Cpu::from_millis(250));
    }

    #[test]
    fn names_of_long_apps_still_fit_in_63_characters() {
        let long = "a".repeat(60);
        let app = app(&long);
        let release = release(&app, 12, "0123456789abcdef");
        assert_eq!(release.metadata.name.len(), 63);
        assert!(release.metadata.name.ends_with("a-12"));
        let instance = instance(&app, &release, &random_suffix());
        assert_eq!(instance.metadata.name.len(), 63);
    }

    #[test]
    fn random_suffixes_are_five_lowercase_alphanumerics() {
        let suffix = random_suffix();
        assert_eq!(suffix.len(), 5);
        assert!(suffix.bytes().all(|b| SUFFIX_ALPHABET.contains(&b)));
    }
}
