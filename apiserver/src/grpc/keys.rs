//! The gRPC face of key issuing: `minicloud.v1.Keys` mapped onto `ResourceApi::issue_key_audited`.

use std::sync::Arc;

use minicloud_manifests::Role;
use minicloud_proto::v1::keys_server::Keys;
use minicloud_proto::v1::{self as pb};
use tonic::{Request, Response, Status};

use crate::api::{ApiError, ResourceApi};
use crate::wire::context;

/// Serves [`Keys`] from a [`ResourceApi`].
#[derive(Clone)]
pub struct GrpcKeys {
    api: Arc<ResourceApi>,
}

impl GrpcKeys {
    /// A service over `api`.
    pub fn new(api: Arc<ResourceApi>) -> Self {
        Self { api }
    }
}

/// Parses a role as users write it.
pub fn parse_role(text: &str) -> Result<Role, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        ApiError::BadRequest(format!(
            "unknown role {text:?}; expected admin, tenant-admin or tenant-read"
        ))
    })
}

#[tonic::async_trait]
impl Keys for GrpcKeys {
    async fn create(
        &self,
        request: Request<pb::CreateKeyRequest>,
    ) -> Result<Response<pb::CreatedKey>, Status> {
        let ctx = context(&request, "")?;
        let request = request.into_inner();
        let role = parse_role(&request.role).map_err(|e| e.grpc_status())?;
        let tenant = (!request.tenant.is_empty()).then_some(request.tenant.as_str());
        let issued = self
            .api
            .issue_key_audited(&ctx, role, tenant, &request.description)
            .await
            .map_err(|e| e.grpc_status())?;
        Ok(Response::new(pb::CreatedKey {
            key: issued.token.to_string(),
            object_json: issued.object.to_string(),
        }))
    }

    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::Identity>, Status> {
        let identity = context(&request, "")?.identity;
        Ok(Response::new(pb::Identity {
            key: identity.key,
            role: identity.role.as_str().to_owned(),
            tenant: identity.tenant.unwrap_or_default(),
        }))
    }
}
