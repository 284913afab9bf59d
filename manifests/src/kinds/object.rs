//! The shape every object kind shares, declared once by [`object_kind!`].

/// Declares an object kind: its `kind` tag type and the object struct with spec and status.
macro_rules! object_kind {
    ($(#[$doc:meta])* $name:ident, tag: $tag:ident, spec: $spec:ty, status: $status:ty) => {
        #[doc = concat!("The `kind` field of [`", stringify!($name), "`] objects.")]
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize,
            schemars::JsonSchema,
        )]
        pub enum $tag {
            #[doc = concat!("`", stringify!($name), "`.")]
            #[default]
            $name,
        }

        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            /// Always `minicloud/v1`.
            #[serde(default)]
            pub api_version: $crate::meta::ApiVersion,
            #[doc = concat!("Always `", stringify!($name), "`.")]
            pub kind: $tag,
            /// Name, tenant and bookkeeping.
            pub metadata: $crate::meta::ObjectMeta,
            /// What the user wants.
            pub spec: $spec,
            /// What is, as observed by controllers.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub status: Option<$status>,
        }

        impl $name {
            /// A new object with no status.
            pub fn new(metadata: $crate::meta::ObjectMeta, spec: $spec) -> Self {
                Self {
                    api_version: $crate::meta::ApiVersion::V1,
                    kind: $tag::$name,
                    metadata,
                    spec,
                    status: None,
                }
            }
        }
    };
}

pub(crate) use object_kind;
