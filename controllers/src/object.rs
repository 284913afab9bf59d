//! The typed kinds the controllers read and write, the key naming one object, and small
//! questions every controller asks about metadata.

use std::fmt;

use minicloud_manifests::{
    App, Instance, Kind, Node, ObjectMeta, Release, Secret, Snapshot, Tenant, Volume,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A typed minicloud kind that travels as JSON through the resource API.
pub trait Object: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind of every value of this type.
    const KIND: Kind;

    /// The object's metadata.
    fn meta(&self) -> &ObjectMeta;

    /// The object's metadata, for changing labels, finalizers or versions.
    fn meta_mut(&mut self) -> &mut ObjectMeta;
}

/// Implements [`Object`] for kinds whose struct carries a `metadata` field.
macro_rules! object {
    ($($ty:ident),*) => {
        $(impl Object for $ty {
            const KIND: Kind = Kind::$ty;

            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        })*
    };
}

object!(
    App, Release, Instance, Node, Volume, Snapshot, Secret, Tenant
);

/// Names one object of a known kind: its tenant (absent for cluster kinds) and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The tenant, for tenant-scoped kinds.
    pub tenant: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The key of `name` in `tenant`.
    pub fn new(tenant: Option<&str>, name: &str) -> Self {
        Self {
            tenant: tenant.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// The key of an object.
    pub fn of<T: Object>(object: &T) -> Self {
        let meta = object.meta();
        Self::new(meta.tenant.as_deref(), &meta.name)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tenant {
            Some(tenant) => write!(f, "{tenant}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Whether deletion of the object was requested (it lingers while finalizers remain).
pub fn is_deleting(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// Whether `meta` names the object with `owner_uid` among its owners.
pub fn is_owned_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    meta.owner_references.iter().any(|o| o.uid == owner_uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_manifests::{Kind, OwnerReference};

    #[test]
    fn keys_print_tenant_and_name() {
        assert_eq!(ObjectKey::new(Some("acme"), "web").to_string(), "acme/web");
        assert_eq!(ObjectKey::new(None, "node-a").to_string(), "node-a");
    }

    #[test]
    fn ownership_is_decided_by_uid_not_name() {
        let mut meta = ObjectMeta::named("web-1", Some("acme"));
        meta.owner_references.push(OwnerReference {
            kind: Kind::App,
            name: "web".into(),
            uid: "u1".into(),
            controller: true,
        });
        assert!(is_owned_by(&meta, "u1"));
        assert!(!is_owned_by(&meta, "u2"));
    }
}
