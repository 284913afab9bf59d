//! The key layout of minicloud objects: `/minicloud/<kind>/<tenant>/<name>` for tenant-scoped
//! kinds and `/minicloud/<kind>/<name>` for cluster-scoped ones, `<kind>` being the plural
//! (`apps`, `tenants`). Prefix listings end in `/` so `acme` never matches `acme2`.

/// The root every minicloud key lives under.
pub const ROOT: &str = "/minicloud/";

/// The key of one object; `tenant` is `None` for cluster-scoped kinds.
pub fn object_key(kind_plural: &str, tenant: Option<&str>, name: &str) -> String {
    match tenant {
        Some(tenant) => format!("{ROOT}{kind_plural}/{tenant}/{name}"),
        None => format!("{ROOT}{kind_plural}/{name}"),
    }
}

/// The key of a tenant's usage record (what its objects take from its quota). It lies outside
/// [`ROOT`], as it is not an object.
pub fn usage_key(tenant: &str) -> String {
    format!("{USAGE_PREFIX}{tenant}")
}

/// The prefix of every tenant's usage record.
pub const USAGE_PREFIX: &str = "/minicloud-usage/";

/// The prefix under which all objects of a kind live, optionally narrowed to one tenant.
pub fn kind_prefix(kind_plural: &str, tenant: Option<&str>) -> String {
    match tenant {
        Some(tenant) => format!("{ROOT}{kind_plural}/{tenant}/"),
        None => format!("{ROOT}{kind_plural}/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_objects_nest_under_their_tenant() {
        assert_eq!(
            object_key("apps", Some("acme"), "web"),
            "/minicloud/apps/acme/web"
        );
        assert!(
            object_key("apps", Some("acme"), "web").starts_with(&kind_prefix("apps", Some("acme")))
        );
    }

    #[test]
    fn a_tenant_prefix_does_not_match_a_longer_tenant_name() {
        let prefix = kind_prefix("apps", Some("acme"));
        assert!(!object_key("apps", Some("acme2"), "web").starts_with(&prefix));
    }

    #[test]
    fn cluster_objects_have_no_tenant_segment() {
        assert_eq!(
            object_key("tenants", None, "acme"),
            "/minicloud/tenants/acme"
        );
    }
}
