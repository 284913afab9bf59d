//! The list of kinds, their names as written in manifests and on the command line, and their
//! scope.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Every kind of object minicloud stores.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Kind {
    /// A tenant and its quota.
    Tenant,
    /// An API key (only its hash is stored).
    ApiKey,
    /// A tenant's application.
    App,
    /// An immutable record of one App revision.
    Release,
    /// One running replica of an App.
    Instance,
    /// A persistent volume.
    Volume,
    /// A point-in-time archive of a volume.
    Snapshot,
    /// Key/value secrets.
    Secret,
    /// A host that runs containers.
    Node,
}

/// Where objects of a kind live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One object per name in the whole cluster; `metadata.tenant` is absent.
    Cluster,
    /// One object per name per tenant; `metadata.tenant` names it.
    Tenant,
    /// Either, decided per object by `metadata.tenant`. Only [`Kind::ApiKey`]: a key with a
    /// tenant is a tenant key (role `tenant-admin` or `tenant-read`), a key without one is a
    /// cluster key (role `admin`).
    TenantOrCluster,
}

/// A kind name that is not one of [`Kind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown kind {name:?}; valid kinds are {}", Kind::names())]
pub struct UnknownKind {
    /// The name that was not recognised.
    pub name: String,
}

impl Kind {
    /// All kinds, in dependency order (tenants first).
    pub const ALL: [Kind; 9] = [
        Kind::Tenant,
        Kind::ApiKey,
        Kind::Node,
        Kind::Secret,
        Kind::Volume,
        Kind::Snapshot,
        Kind::App,
        Kind::Release,
        Kind::Instance,
    ];

    /// The name as written in a manifest's `kind` field (`App`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Tenant => "Tenant",
            Kind::ApiKey => "ApiKey",
            Kind::App => "App",
            Kind::Release => "Release",
            Kind::Instance => "Instance",
            Kind::Volume => "Volume",
            Kind::Snapshot => "Snapshot",
            Kind::Secret => "Secret",
            Kind::Node => "Node",
        }
    }

    /// The lowercase plural used in URLs, store keys and the CLI (`apps`).
    pub const fn plural(self) -> &'static str {
        match self {
            Kind::Tenant => "tenants",
            Kind::ApiKey => "apikeys",
            Kind::App => "apps",
            Kind::Release => "releases",
            Kind::Instance => "instances",
            Kind::Volume => "volumes",
            Kind::Snapshot => "snapshots",
            Kind::Secret => "secrets",
            Kind::Node => "nodes",
        }
    }

    /// Whether objects of this kind belong to a tenant.
    pub const fn scope(self) -> Scope {
        match self {
            Kind::Tenant | Kind::Node => Scope::Cluster,
            Kind::ApiKey => Scope::TenantOrCluster,
            _ => Scope::Tenant,
        }
    }

    /// The exact manifest name, as accepted in a manifest's `kind` field.
    pub fn from_manifest_name(name: &str) -> Result<Kind, UnknownKind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| UnknownKind { name: name.into() })
    }

    /// The valid manifest names, comma-separated, for error messages.
    pub fn names() -> String {
        Kind::ALL.map(Kind::as_str).join(", ")
    }
}

/// Accepts the kind, singular or plural, in any case: `App`, `app`, `apps`, `APIKEYS`.
impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(name: &str) -> Result<Kind, UnknownKind> {
        Kind::ALL
            .into_iter()
            .find(|k| {
                name.eq_ignore_ascii_case(k.as_str()) || name.eq_ignore_ascii_case(k.plural())
            })
            .ok_or_else(|| UnknownKind { name: name.into() })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_singular_plural_and_any_case() {
        for text in ["App", "app", "apps", "APPS"] {
            assert_eq!(text.parse::<Kind>(), Ok(Kind::App));
        }
        assert_eq!("apikeys".parse::<Kind>(), Ok(Kind::ApiKey));
    }

    #[test]
    fn unknown_kind_lists_the_valid_ones() {
        let err = "pods".parse::<Kind>().unwrap_err().to_string();
        assert!(
            err.contains("\"pods\"") && err.contains("Tenant, ApiKey"),
            "{err}"
        );
    }

    #[test]
    fn manifest_names_are_exact() {
        assert_eq!(Kind::from_manifest_name("Volume"), Ok(Kind::Volume));
        assert!(Kind::from_manifest_name("volume").is_err());
    }

    #[test]
    fn every_kind_round_trips_through_its_names() {
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
            assert_eq!(kind.plural().parse::<Kind>(), Ok(kind));
        }
    }

    #[test]
    fn tenants_and_nodes_are_cluster_scoped() {
        assert_eq!(Kind::Tenant.scope(), Scope::Cluster);
        assert_eq!(Kind::Node.scope(), Scope::Cluster);
        assert_eq!(Kind::App.scope(), Scope::Tenant);
        assert_eq!(Kind::ApiKey.scope(), Scope::TenantOrCluster);
    }
}
