//! Rules for the smaller kinds: Tenant, ApiKey, Release, Instance, Secret, Node.

use super::names::{is_dns_subdomain, is_secret_key, name_ref};
use super::{Errors, app, container};
use crate::kinds::{ApiKey, HealthCheck, Instance, Node, Release, Resources, Role, Secret, Tenant};

/// Largest total size of a Secret's keys and values.
pub(crate) const MAX_SECRET_BYTES: usize = 1024 * 1024;

pub(super) fn tenant(errors: &mut Errors, tenant: &Tenant) {
    let Some(alerts) = &tenant.spec.alerts else {
        return;
    };
    let webhook = &alerts.webhook;
    let url = webhook.url.as_str();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    if rest.is_none_or(|rest| rest.is_empty() || rest.contains(char::is_whitespace)) {
        errors.add(
            "spec.alerts.webhook.url",
            format!("{url:?} is not an http:// or https:// URL"),
        );
    }
    name_ref(
        errors,
        "spec.alerts.webhook.secret.name",
        "Secret",
        &webhook.secret.name,
    );
    if !is_secret_key(&webhook.secret.key) {
        errors.add(
            "spec.alerts.webhook.secret.key",
            format!("{:?} is not a Secret key", webhook.secret.key),
        );
    }
}

pub(super) fn api_key(errors: &mut Errors, key: &ApiKey) {
    if key.spec.role == Role::Admin && key.metadata.tenant.is_some() {
        errors.add(
            "spec.role",
            "role admin is for cluster keys, which have no tenant; remove metadata.tenant \
             or use role tenant-admin",
        );
    }
}

pub(super) fn release(errors: &mut Errors, release: &Release) {
    name_ref(errors, "spec.app", "App", &release.spec.app);
    if release.spec.revision == 0 {
        errors.add("spec.revision", "revisions count from 1");
    }
    app::spec(errors, "spec.appSpec", &release.spec.app_spec);
}

pub(super) fn instance(errors: &mut Errors, instance: &Instance) {
    let spec = &instance.spec;
    name_ref(errors, "spec.app", "App", &spec.app);
    name_ref(errors, "spec.release", "Release", &spec.release);
    if let Some(node) = spec.node.as_deref().filter(|n| !is_dns_subdomain(n)) {
        errors.add("spec.node", format!("{node:?} is not a valid node name"));
    }
    let c = &spec.container;
    container::image(errors, "spec.container.image", &c.image);
    container::env(errors, "spec.container", &c.env);
    container::ports(errors, "spec.container", &c.ports);
    container::resources(
        errors,
        "spec.container.resources",
        &Resources::from(c.resources),
    );
    container::mounts(errors, "spec.container", &c.volumes);
    if let Some(check) = &c.health_check {
        let check = HealthCheck::from(check.clone());
        container::health_check(errors, "spec.container.healthCheck", &check, &c.ports);
    }
}

pub(super) fn secret(errors: &mut Errors, secret: &Secret) {
    for key in secret.data.keys().filter(|k| !is_secret_key(k)) {
        errors.add(format!("data[{key:?}]"), format!(
            "{key:?} is not a valid Secret key; use at most 253 letters, digits, '-', '_' and '.'"
        ));
    }
    let size: usize = secret.data.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_SECRET_BYTES {
        errors.add(
            "data",
            format!(
                "the Secret holds {size} bytes, over the limit of {MAX_SECRET_BYTES}; split it"
            ),
        );
    }
}

pub(super) fn node(errors: &mut Errors, node: &Node) {
    for (i, address) in node.spec.addresses.iter().enumerate() {
        if address.address.trim().is_empty() {
            errors.add(
                format!("spec.addresses[{i}].address"),
                "the address is empty",
            );
        }
    }
    if let Some(endpoint) = &node.spec.agent_endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        errors.add(
            "spec.agentEndpoint",
            format!("{endpoint:?} is not an http(s) URL; write it like \"http://10.0.0.5:7071\""),
        );
    }
}
