//! What the gRPC services and the REST routes share in reading a request: the default tenant,
//! kind names as users write them, tenant scopes and optional resourceVersions.

use minicloud_manifests::Kind;
use tonic::{Request, Status};

use crate::api::{ApiError, RequestContext, TenantScope, parse_revision};
use crate::auth::Identity;
use crate::gate::RequestId;

/// The tenant used when a request names none and its key belongs to no tenant.
pub const DEFAULT_TENANT: &str = "default";

/// The caller's context: the identity the authentication layer attached, working in
/// `requested` when given, else in its own tenant (tenant keys) or [`DEFAULT_TENANT`].
pub(crate) fn context<T>(request: &Request<T>, requested: &str) -> Result<RequestContext, Status> {
    let identity = request
        .extensions()
        .get::<Identity>()
        .cloned()
        .ok_or_else(|| {
            ApiError::Unauthenticated("this request was not authenticated".into()).grpc_status()
        })?;
    let tenant = match (requested, &identity.tenant) {
        ("", Some(own)) => own.clone(),
        ("", None) => DEFAULT_TENANT.to_owned(),
        (requested, _) => requested.to_owned(),
    };
    let ctx = RequestContext::new(identity, &tenant);
    Ok(match request.extensions().get::<RequestId>() {
        Some(id) => ctx.with_request_id(&id.0),
        None => ctx,
    })
}

/// Parses a kind name as users write it (`app`, `apps`, `App`).
pub(crate) fn parse_kind(name: &str) -> Result<Kind, ApiError> {
    name.parse::<Kind>()
        .map_err(|error| ApiError::BadRequest(error.to_string()))
}

/// Resolves the tenant scope of a list or watch: `*` is every tenant.
pub(crate) fn scope(kind: Kind, tenant: &str, ctx: &RequestContext) -> TenantScope {
    match tenant {
        "*" => TenantScope::All,
        _ if kind.scope() == minicloud_manifests::Scope::Cluster => TenantScope::All,
        "" => TenantScope::One(ctx.default_tenant.clone()),
        tenant => TenantScope::One(tenant.to_owned()),
    }
}

/// An optional resourceVersion from the wire, where empty means none.
pub(crate) fn optional_revision(text: &str) -> Result<Option<i64>, ApiError> {
    (!text.is_empty()).then(|| parse_revision(text)).transpose()
}
