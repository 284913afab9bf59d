//! Validation: the rules a well-formed object must also satisfy (name syntax, ranges,
//! references between fields, security refusals). All problems are collected, each with its
//! field path and what to do.

mod app;
mod container;
mod errors;
mod meta;
mod names;
mod others;
mod volume;

use crate::resource::Resource;
use errors::Errors;

pub use app::ALLOWED_CAPABILITIES;
pub use errors::{FieldError, ValidationErrors};
pub use names::{RESERVED_TENANT_NAMES, is_dns_label, is_dns_subdomain, is_env_name};

/// Checks every rule for the object's kind.
pub fn validate(resource: &Resource) -> Result<(), ValidationErrors> {
    let mut errors = Errors::default();
    meta::check(&mut errors, resource.kind(), resource.metadata());
    match resource {
        Resource::Tenant(tenant) => others::tenant(&mut errors, tenant),
        Resource::ApiKey(key) => others::api_key(&mut errors, key),
        Resource::App(app) => app::spec(&mut errors, "spec", &app.spec),
        Resource::Release(release) => others::release(&mut errors, release),
        Resource::Instance(instance) => others::instance(&mut errors, instance),
        Resource::Volume(volume) => volume::volume(&mut errors, volume),
        Resource::Snapshot(snapshot) => volume::snapshot(&mut errors, snapshot),
        Resource::Secret(secret) => others::secret(&mut errors, secret),
        Resource::Node(node) => others::node(&mut errors, node),
    }
    errors.finish()
}
