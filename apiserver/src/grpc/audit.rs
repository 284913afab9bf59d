//! The gRPC face of the audit log: `minicloud.v1.Audit/List`. Admin keys read every record
//! (or one tenant's, when they name it); tenant-admin keys the records of their own tenant;
//! every other key is refused (and the refusal recorded).

use std::sync::Arc;
use std::time::SystemTime;

use minicloud_manifests::Role;
use minicloud_proto::v1::audit_server::Audit;
use minicloud_proto::v1::{self as pb};
use tonic::{Request, Response, Status};

use crate::api::{ApiError, RequestContext, ResourceApi};
use crate::audit::{AuditQuery, AuditRecord};
use crate::wire::context;

/// Records returned when the request sets no limit.
const DEFAULT_LIMIT: usize = 1_000;
/// The most records one request returns.
const MAX_LIMIT: usize = 10_000;

/// Serves [`Audit`] from a [`ResourceApi`]'s audit log.
#[derive(Clone)]
pub struct GrpcAudit {
    api: Arc<ResourceApi>,
}

impl GrpcAudit {
    /// A service over `api`.
    pub fn new(api: Arc<ResourceApi>) -> Self {
        Self { api }
    }
}

/// The tenant whose records `ctx` may read when asking for `requested` (`None`: every one).
fn scope(ctx: &RequestContext, requested: &str) -> Result<Option<String>, ApiError> {
    let identity = &ctx.identity;
    match (identity.role, identity.tenant.as_deref()) {
        (Role::Admin, _) => Ok((!requested.is_empty()).then(|| requested.to_owned())),
        (Role::TenantAdmin, Some(own)) if requested.is_empty() || requested == own => {
            Ok(Some(own.to_owned()))
        }
        (Role::TenantAdmin, Some(own)) => Err(ApiError::Forbidden(format!(
            "key {} reads the audit log of tenant {own:?} only, not of {requested:?}",
            identity.key
        ))),
        _ => Err(ApiError::Forbidden(format!(
            "reading the audit log takes an admin or tenant-admin key; key {} is {}",
            identity.key,
            identity.role.as_str()
        ))),
    }
}

/// Parses `since`: RFC 3339, or empty for no bound.
fn parse_since(since: &str) -> Result<Option<SystemTime>, ApiError> {
    if since.is_empty() {
        return Ok(None);
    }
    humantime::parse_rfc3339_weak(since).map(Some).map_err(|_| {
        ApiError::BadRequest(format!(
            "since {since:?} is not an RFC 3339 time (2026-01-02T15:04:05Z)"
        ))
    })
}

fn to_pb(record: AuditRecord) -> pb::AuditRecord {
    pb::AuditRecord {
        time: record.time,
        request_id: record.request_id,
        key: record.key.unwrap_or_default(),
        tenant: record.tenant.unwrap_or_default(),
        verb: record.verb,
        kind: record.kind.unwrap_or_default(),
        name: record.name.unwrap_or_default(),
        result: record.result,
        message: record.message,
        dry_run: record.dry_run,
        client: record.client.unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl Audit for GrpcAudit {
    async fn list(
        &self,
        request: Request<pb::ListAuditRequest>,
    ) -> Result<Response<pb::AuditRecords>, Status> {
        let ctx = context(&request, "")?;
        let request = request.into_inner();
        let tenant = scope(&ctx, &request.tenant).map_err(|error| {
            self.api.record_audit_refusal(&ctx, &request.tenant, &error);
            error.grpc_status()
        })?;
        let since = parse_since(&request.since).map_err(|e| e.grpc_status())?;
        let limit = match request.limit as usize {
            0 => DEFAULT_LIMIT,
            limit => limit.min(MAX_LIMIT),
        };
        let query = AuditQuery {
            tenant,
            since,
            limit,
        };
        let log = self.api.audit_log();
        log.flush().await;
        let records = log
            .list(&query)
            .await
            .map_err(|error| ApiError::from(error).grpc_status())?;
        Ok(Response::new(pb::AuditRecords {
            records: records.into_iter().map(to_pb).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Identity;

    fn ctx(role: Role, tenant: Option<&str>) -> RequestContext {
        let identity = Identity {
            key: "mc_acme_00000000".into(),
            role,
            tenant: tenant.map(str::to_owned),
        };
        RequestContext::new(identity, "acme")
    }

    #[test]
    fn tenant_admins_read_their_own_tenant_only_and_readers_nothing() {
        let admin = ctx(Role::TenantAdmin, Some("acme"));
        assert_eq!(scope(&admin, "").unwrap(), Some("acme".into()));
        assert_eq!(scope(&admin, "acme").unwrap(), Some("acme".into()));
        assert!(matches!(scope(&admin, "beta"), Err(ApiError::Forbidden(_))));
        let reader = ctx(Role::TenantRead, Some("acme"));
        assert!(matches!(scope(&reader, ""), Err(ApiError::Forbidden(_))));
        let root = ctx(Role::Admin, None);
        assert_eq!(scope(&root, "").unwrap(), None);
        assert_eq!(scope(&root, "beta").unwrap(), Some("beta".into()));
    }

    #[test]
    fn since_takes_rfc3339_or_nothing() {
        assert_eq!(parse_since("").unwrap(), None);
        assert!(parse_since("2026-01-02T15:04:05Z").unwrap().is_some());
        assert!(matches!(parse_since("1h"), Err(ApiError::BadRequest(_))));
    }
}
