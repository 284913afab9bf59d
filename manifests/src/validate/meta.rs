//! Rules for `metadata`: name syntax, tenant presence by scope, reserved tenant names, label
//! and annotation syntax and size.

use std::collections::BTreeMap;

use super::Errors;
use super::names::{
    DNS_LABEL_HELP, RESERVED_TENANT_NAMES, is_dns_label, is_dns_subdomain, is_label_key,
    is_label_value,
};
use crate::kind::{Kind, Scope};
use crate::meta::ObjectMeta;

/// Largest total size of all annotation keys and values.
pub(crate) const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

const LABEL_KEY_HELP: &str = "use an optional DNS prefix and '/', then at most 63 letters, \
                              digits, '-', '_' or '.', starting and ending with a letter or digit";

pub(super) fn check(errors: &mut Errors, kind: Kind, meta: &ObjectMeta) {
    name(errors, kind, &meta.name);
    tenant(errors, kind, meta.tenant.as_deref());
    labels(errors, &meta.labels);
    annotations(errors, &meta.annotations);
}

fn name(errors: &mut Errors, kind: Kind, name: &str) {
    // Nodes are named after their host, which may be a dotted host name.
    if kind == Kind::Node {
        if !is_dns_subdomain(name) {
            errors.add("metadata.name", format!(
                "{name:?} is not a valid node name; use a lowercase host name of DNS labels separated by '.'"
            ));
        }
    } else if !is_dns_label(name) {
        errors.add(
            "metadata.name",
            format!("{name:?} is not a valid name; {DNS_LABEL_HELP}"),
        );
    } else if kind == Kind::Tenant && RESERVED_TENANT_NAMES.contains(&name) {
        errors.add("metadata.name", format!(
            "tenant name {name:?} is reserved for minicloud; choose another name (reserved: {})",
            RESERVED_TENANT_NAMES.join(", ")
        ));
    }
}

fn tenant(errors: &mut Errors, kind: Kind, tenant: Option<&str>) {
    let Some(tenant) = tenant else { return };
    if kind.scope() == Scope::Cluster {
        errors.add(
            "metadata.tenant",
            format!(
                "{kind} objects are cluster-scoped and belong to no tenant; remove metadata.tenant"
            ),
        );
    } else if !is_dns_label(tenant) {
        errors.add(
            "metadata.tenant",
            format!("{tenant:?} is not a valid tenant name; {DNS_LABEL_HELP}"),
        );
    }
}

fn labels(errors: &mut Errors, labels: &BTreeMap<String, String>) {
    for (key, value) in labels {
        let path = format!("metadata.labels[{key:?}]");
        if !is_label_key(key) {
            errors.add(
                &path,
                format!("{key:?} is not a valid label key; {LABEL_KEY_HELP}"),
            );
        }
        if !is_label_value(value) {
            errors.add(path, format!(
                "{value:?} is not a valid label value; use at most 63 letters, digits, '-', '_' \
                 or '.', starting and ending with a letter or digit (or leave it empty)"
            ));
        }
    }
}

fn annotations(errors: &mut Errors, annotations: &BTreeMap<String, String>) {
    for key in annotations.keys().filter(|k| !is_label_key(k)) {
        errors.add(
            format!("metadata.annotations[{key:?}]"),
            format!("{key:?} is not a valid annotation key; {LABEL_KEY_HELP}"),
        );
    }
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_ANNOTATIONS_BYTES {
        errors.add(
            "metadata.annotations",
            format!(
                "annotations total {size} bytes, over the limit of {MAX_ANNOTATIONS_BYTES}; \
             keep large data elsewhere (a Secret or a Volume)"
            ),
        );
    }
}
