//! Validation: the rules a well-formed object must also satisfy (name syntax, ranges,
//! references between fields, security refusals). All problems are collected, each with its
//! field path and what to do.

mod app;
mod container;
mod meta;
mod names;
mod others;

use std::fmt;

use thiserror::Error;

use crate::place::write_place;
use crate::resource::Resource;

pub use app::ALLOWED_CAPABILITIES;
pub use names::{RESERVED_TENANT_NAMES, is_dns_label, is_dns_subdomain, is_env_name};

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field path (`spec.env[2].name`).
    pub path: String,
    /// What is wrong and what to do.
    pub message: String,
    /// 1-based line and column in the source YAML, when known (see
    /// [`crate::parse_and_validate`]).
    pub position: Option<(u64, u64)>,
}

/// Every rule an object breaks (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Whether some error is about exactly `path`.
    pub fn has_path(&self, path: &str) -> bool {
        self.0.iter().any(|e| e.path == path)
    }
}

/// Checks every rule for the object's kind.
pub fn validate(resource: &Resource) -> Result<(), ValidationErrors> {
    let mut errors = Errors::default();
    meta::check(&mut errors, resource.kind(), resource.metadata());
    match resource {
        Resource::Tenant(_) => {}
        Resource::ApiKey(key) => others::api_key(&mut errors, key),
        Resource::App(app) => app::spec(&mut errors, "spec", &app.spec),
        Resource::Release(release) => others::release(&mut errors, release),
        Resource::Instance(instance) => others::instance(&mut errors, instance),
        Resource::Volume(volume) => others::volume(&mut errors, volume),
        Resource::Snapshot(snapshot) => others::snapshot(&mut errors, snapshot),
        Resource::Secret(secret) => others::secret(&mut errors, secret),
        Resource::Node(node) => others::node(&mut errors, node),
    }
    errors.finish()
}

/// Collects errors while walking an object.
#[derive(Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    /// Records that the field at `path` breaks a rule.
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
            position: None,
        });
    }

    fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.0))
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_place(f, Some(&self.path), self.position)?;
        f.write_str(&self.message)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}
