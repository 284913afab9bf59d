//! [`Resource`]: any object, as the rest of the system passes it around. Its JSON is exactly
//! the manifest object; the `kind` field picks the variant.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::kind::Kind;
use crate::kinds::{ApiKey, App, Instance, Node, Release, Secret, Snapshot, Tenant, Volume};
use crate::meta::ObjectMeta;

/// Any minicloud object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A [`Tenant`].
    Tenant(Tenant),
    /// An [`ApiKey`].
    ApiKey(ApiKey),
    /// An [`App`].
    App(App),
    /// A [`Release`].
    Release(Release),
    /// An [`Instance`].
    Instance(Instance),
    /// A [`Volume`].
    Volume(Volume),
    /// A [`Snapshot`].
    Snapshot(Snapshot),
    /// A [`Secret`].
    Secret(Secret),
    /// A [`Node`].
    Node(Node),
}

/// Runs `$body` with `$obj` bound to the inner object, whatever the variant.
macro_rules! each_variant {
    ($value:expr, $obj:ident => $body:expr) => {
        match $value {
            Resource::Tenant($obj) => $body,
            Resource::ApiKey($obj) => $body,
            Resource::App($obj) => $body,
            Resource::Release($obj) => $body,
            Resource::Instance($obj) => $body,
            Resource::Volume($obj) => $body,
            Resource::Snapshot($obj) => $body,
            Resource::Secret($obj) => $body,
            Resource::Node($obj) => $body,
        }
    };
}

impl Resource {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Resource::Tenant(_) => Kind::Tenant,
            Resource::ApiKey(_) => Kind::ApiKey,
            Resource::App(_) => Kind::App,
            Resource::Release(_) => Kind::Release,
            Resource::Instance(_) => Kind::Instance,
            Resource::Volume(_) => Kind::Volume,
            Resource::Snapshot(_) => Kind::Snapshot,
            Resource::Secret(_) => Kind::Secret,
            Resource::Node(_) => Kind::Node,
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        each_variant!(self, o => &o.metadata)
    }

    /// The object's metadata, for the server to fill in uid, versions and timestamps.
    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        each_variant!(self, o => &mut o.metadata)
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        &self.metadata().name
    }

    /// The object's tenant, if it has one.
    pub fn tenant(&self) -> Option<&str> {
        self.metadata().tenant.as_deref()
    }

    /// The object as its plain JSON manifest.
    pub fn to_json(&self) -> serde_json::Value {
        each_variant!(self, o => serde_json::to_value(o))
            .expect("objects always serialize: every map key is a string")
    }

    /// Reads an object from its plain JSON form, dispatching on `kind`. For user input prefer
    /// [`crate::parse_json_object`], whose errors carry field paths and positions.
    pub fn from_json(value: serde_json::Value) -> Result<Resource, serde_json::Error> {
        let kind = match value.get("kind").and_then(|k| k.as_str()) {
            Some(name) => Kind::from_manifest_name(name).map_err(serde_json::Error::custom)?,
            None => return Err(serde_json::Error::custom("missing field `kind`")),
        };
        Ok(match kind {
            Kind::Tenant => Resource::Tenant(serde_json::from_value(value)?),
            Kind::ApiKey => Resource::ApiKey(serde_json::from_value(value)?),
            Kind::App => Resource::App(serde_json::from_value(value)?),
            Kind::Release => Resource::Release(serde_json::from_value(value)?),
            Kind::Instance => Resource::Instance(serde_json::from_value(value)?),
            Kind::Volume => Resource::Volume(serde_json::from_value(value)?),
            Kind::Snapshot => Resource::Snapshot(serde_json::from_value(value)?),
            Kind::Secret => Resource::Secret(serde_json::from_value(value)?),
            Kind::Node => Resource::Node(serde_json::from_value(value)?),
        })
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        each_variant!(self, o => o.serialize(serializer))
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Resource::from_json(value).map_err(D::Error::custom)
    }
}

/// `From<Kind> for Resource` for each kind type.
macro_rules! from_kind {
    ($($ty:ident),*) => {
        $(impl From<$ty> for Resource {
            fn from(object: $ty) -> Resource {
                Resource::$ty(object)
            }
        })*
    };
}

from_kind!(
    Tenant, ApiKey, App, Release, Instance, Volume, Snapshot, Secret, Node
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{VolumeSpec, tags::VolumeKind};
    use crate::quantity::Bytes;

    fn volume() -> Resource {
        Volume::new(
            ObjectMeta::named("data", Some("acme")),
            VolumeSpec {
                size: Bytes::gibibytes(1),
                access_mode: Default::default(),
                reclaim_policy: Default::default(),
                snapshots: None,
                restore: None,
                security_context: None,
                from_snapshot: None,
            },
        )
        .into()
    }

    #[test]
    fn json_is_the_plain_manifest_object() {
        let json = volume().to_json();
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "minicloud/v1",
                "kind": "Volume",
                "metadata": {"name": "data", "tenant": "acme"},
                "spec": {"size": "1Gi"}
            })
        );
    }

    #[test]
    fn json_round_trips_through_serde() {
        let text = serde_json::to_string(&volume()).unwrap();
        assert_eq!(serde_json::from_str::<Resource>(&text).unwrap(), volume());
    }

    #[test]
    fn metadata_is_reachable_whatever_the_kind() {
        let mut resource = volume();
        resource.metadata_mut().uid = Some("u1".into());
        assert_eq!(resource.metadata().uid.as_deref(), Some("u1"));
        assert_eq!(
            (resource.kind(), resource.name(), resource.tenant()),
            (Kind::Volume, "data", Some("acme"))
        );
    }

    #[test]
    fn a_kind_tag_accepts_only_its_own_name() {
        assert_eq!(
            serde_json::from_str::<VolumeKind>(r#""Volume""#).unwrap(),
            VolumeKind::Volume
        );
        assert!(serde_json::from_str::<VolumeKind>(r#""App""#).is_err());
    }

    #[test]
    fn unknown_kinds_are_refused_from_json() {
        let err = Resource::from_json(serde_json::json!({"kind": "Pod"})).unwrap_err();
        assert!(err.to_string().contains("valid kinds are"), "{err}");
    }
}
