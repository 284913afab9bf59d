//! Who is calling: the [`Identity`] an API key stands for. The gate in front of every route
//! ([`crate::gate`]) attaches it to each request once [`crate::api_keys::Authenticator`] has
//! checked the key; what an identity may do is decided in [`crate::api`] (see `authz`).

use minicloud_manifests::Role;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The key's public prefix (`mc_acme_1a2b3c4d`), as recorded in logs and the audit log.
    pub key: String,
    /// What the key may do.
    pub role: Role,
    /// The tenant of a tenant key; `None` for admin keys.
    pub tenant: Option<String>,
}

impl Identity {
    /// An admin identity named `key` (the server's own components, and tests).
    pub fn admin(key: &str) -> Identity {
        Identity {
            key: key.to_owned(),
            role: Role::Admin,
            tenant: None,
        }
    }

    /// Whether this identity may do everything.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}
