//! What an identity may do, checked by every [`ResourceApi`](super::ResourceApi) call before it
//! touches the store.
//!
//! - admin: everything.
//! - tenant-admin: the objects of its own tenant (its own keys included), reading its own
//!   Tenant; not the Tenant itself (nor so its quota), nodes, or any other tenant.
//! - tenant-read: what tenant-admin may read, except keys; no writes.
//!
//! An object a caller may not see is answered exactly like a missing one. Lists and watches
//! are filtered by the same rule; asking to list another tenant, or every tenant, is refused
//! whether or not that tenant exists.

use minicloud_manifests::{Kind, Role, Scope};
use serde_json::Value;

use super::objects::{self, ObjectRef};
use super::{ApiError, RequestContext, Result, TenantScope};
use crate::auth::Identity;

impl Identity {
    /// Whether the caller may know that `kind`/`name` in `tenant` exists.
    pub(crate) fn may_see(&self, kind: Kind, tenant: Option<&str>, name: &str) -> bool {
        let Some(own) = self.tenant.as_deref() else {
            return self.is_admin();
        };
        match kind {
            Kind::Node => false,
            Kind::Tenant => name == own,
            Kind::ApiKey => self.role == Role::TenantAdmin && tenant == Some(own),
            _ => tenant == Some(own),
        }
    }

    /// [`Identity::may_see`] for an object as stored.
    pub(crate) fn may_see_object(&self, kind: Kind, object: &Value) -> bool {
        let field = |name| objects::metadata_field(object, name).and_then(Value::as_str);
        self.may_see(kind, field("tenant"), field("name").unwrap_or_default())
    }

    fn read_only(&self) -> ApiError {
        ApiError::Forbidden(format!(
            "key {} is read-only ({}); use a tenant-admin key to change objects",
            self.key,
            self.role.as_str()
        ))
    }
}

impl RequestContext {
    /// Refuses reading `target` unless the caller may see it (answered as not found).
    pub(crate) fn check_read(&self, target: &ObjectRef) -> Result<()> {
        let identity = &self.identity;
        if identity.may_see(target.kind, target.tenant.as_deref(), &target.name) {
            return Ok(());
        }
        Err(target.not_found())
    }

    /// Refuses listing or watching `kind` in `scope` outside the caller's tenant.
    pub(crate) fn check_listing(&self, kind: Kind, scope: &TenantScope) -> Result<()> {
        let identity = &self.identity;
        let Some(own) = identity.tenant.as_deref() else {
            return Ok(());
        };
        if kind == Kind::Node {
            return Err(ApiError::Forbidden(format!(
                "nodes are visible to admin keys only; key {} belongs to tenant {own:?}",
                identity.key
            )));
        }
        match scope {
            TenantScope::One(tenant) if tenant == own => Ok(()),
            _ if kind.scope() == Scope::Cluster => Ok(()),
            TenantScope::One(tenant) => Err(ApiError::Forbidden(format!(
                "key {} works in tenant {own:?} only, not in {tenant:?}",
                identity.key
            ))),
            TenantScope::All => Err(ApiError::Forbidden(format!(
                "key {} works in tenant {own:?} only; list without every tenant (`*`)",
                identity.key
            ))),
        }
    }

    /// Refuses creating, changing or deleting `target` unless the caller may.
    pub(crate) fn check_write(&self, target: &ObjectRef) -> Result<()> {
        let identity = &self.identity;
        if identity.is_admin() {
            return Ok(());
        }
        if identity.role != Role::TenantAdmin {
            return Err(identity.read_only());
        }
        let own = identity.tenant.as_deref().unwrap_or_default();
        match target.kind {
            Kind::Tenant | Kind::Node => Err(ApiError::Forbidden(format!(
                "only admin keys change {}s; key {} belongs to tenant {own:?}",
                target.kind.as_str(),
                identity.key
            ))),
            Kind::Release | Kind::Instance => Err(ApiError::Forbidden(format!(
                "{}s are made by minicloud's controllers from Apps (where quotas and the \
                 security policy apply); change the App instead (`mini apply`, `mini restart`, \
                 `mini rollout undo`)",
                target.kind.as_str()
            ))),
            _ if target.tenant.as_deref() == Some(own) => Ok(()),
            _ => Err(ApiError::Forbidden(format!(
                "key {} works in tenant {own:?} only; it cannot write {}",
                identity.key,
                target.describe()
            ))),
        }
    }

    /// Refuses deleting `target` unless the caller may: an object it may not see is not found.
    pub(crate) fn check_delete(&self, target: &ObjectRef) -> Result<()> {
        self.check_read(target)?;
        self.check_write(target)
    }

    /// Refuses anything but admin keys (status writes come from the controllers).
    pub(crate) fn check_admin(&self, what: &str) -> Result<()> {
        let identity = &self.identity;
        if identity.is_admin() {
            return Ok(());
        }
        Err(ApiError::Forbidden(format!(
            "only admin keys may {what}; key {} is {}",
            identity.key,
            identity.role.as_str()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(role: Role, tenant: &str) -> RequestContext {
        let identity = Identity {
            key: format!("mc_{tenant}_00000000"),
            role,
            tenant: Some(tenant.to_owned()),
        };
        RequestContext::new(identity, tenant)
    }

    fn app(tenant: &str) -> ObjectRef {
        ObjectRef::new(Kind::App, Some(tenant), "web", tenant).unwrap()
    }

    #[test]
    fn another_tenants_object_is_not_found_for_reads_and_deletes() {
        let ctx = key(Role::TenantAdmin, "acme");
        assert!(ctx.check_read(&app("acme")).is_ok());
        for result in [
            ctx.check_read(&app("other")),
            ctx.check_delete(&app("other")),
        ] {
            assert!(
                matches!(result, Err(ApiError::NotFound { .. })),
                "{result:?}"
            );
        }
    }

    #[test]
    fn read_keys_cannot_write_and_tenant_keys_cannot_change_tenants() {
        let read = key(Role::TenantRead, "acme");
        assert!(matches!(
            read.check_write(&app("acme")),
            Err(ApiError::Forbidden(_))
        ));
        let admin = key(Role::TenantAdmin, "acme");
        let tenant = ObjectRef::new(Kind::Tenant, None, "acme", "acme").unwrap();
        assert!(admin.check_read(&tenant).is_ok());
        assert!(matches!(
            admin.check_write(&tenant),
            Err(ApiError::Forbidden(_))
        ));
    }

    #[test]
    fn only_the_controllers_write_releases_and_instances() {
        let tenant_admin = key(Role::TenantAdmin, "acme");
        for kind in [Kind::Release, Kind::Instance] {
            let target = ObjectRef::new(kind, Some("acme"), "web-1", "acme").unwrap();
            assert!(tenant_admin.check_read(&target).is_ok());
            let refused = tenant_admin.check_write(&target).unwrap_err();
            assert!(
                refused.to_string().contains("change the App instead"),
                "{refused}"
            );
            assert!(RequestContext::admin("acme").check_write(&target).is_ok());
        }
    }

    #[test]
    fn tenant_keys_list_their_own_tenant_only() {
        let ctx = key(Role::TenantRead, "acme");
        let own = TenantScope::One("acme".into());
        assert!(ctx.check_listing(Kind::App, &own).is_ok());
        assert!(ctx.check_listing(Kind::Tenant, &TenantScope::All).is_ok());
        for (kind, scope) in [
            (Kind::App, TenantScope::All),
            (Kind::App, TenantScope::One("other".into())),
            (Kind::Node, TenantScope::All),
        ] {
            assert!(matches!(
                ctx.check_listing(kind, &scope),
                Err(ApiError::Forbidden(_))
            ));
        }
    }

    #[test]
    fn only_tenant_admins_see_their_tenants_keys() {
        let admin = key(Role::TenantAdmin, "acme").identity;
        let read = key(Role::TenantRead, "acme").identity;
        assert!(admin.may_see(Kind::ApiKey, Some("acme"), "key-1"));
        assert!(!admin.may_see(Kind::ApiKey, None, "key-1"));
        assert!(!read.may_see(Kind::ApiKey, Some("acme"), "key-1"));
    }
}
