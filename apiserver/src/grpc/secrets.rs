//! The gRPC face of Secret values: `minicloud.v1.Secrets` mapped onto
//! [`ResourceApi::resolve_secret_audited`] and [`ResourceApi::rotate_secret_key_audited`]. There is no REST
//! route for either: plaintext values leave the server over this admin-only service alone.

use std::sync::Arc;

use minicloud_manifests::Kind;
use minicloud_proto::v1::secrets_server::Secrets;
use minicloud_proto::v1::{self as pb};
use tonic::{Request, Response, Status};

use crate::api::{ObjectRef, ResourceApi};
use crate::wire::context;

/// Serves [`Secrets`] from a [`ResourceApi`].
#[derive(Clone)]
pub struct GrpcSecrets {
    api: Arc<ResourceApi>,
}

impl GrpcSecrets {
    /// A service over `api`.
    pub fn new(api: Arc<ResourceApi>) -> Self {
        Self { api }
    }
}

#[tonic::async_trait]
impl Secrets for GrpcSecrets {
    async fn resolve(
        &self,
        request: Request<pb::ResolveSecretRequest>,
    ) -> Result<Response<pb::ResolvedSecret>, Status> {
        let ctx = context(&request, &request.get_ref().tenant)?;
        let name = &request.get_ref().name;
        let target = ObjectRef::new(Kind::Secret, None, name, &ctx.default_tenant)
            .map_err(|e| e.grpc_status())?;
        let data = self
            .api
            .resolve_secret_audited(&ctx, &target)
            .await
            .map_err(|e| e.grpc_status())?;
        Ok(Response::new(pb::ResolvedSecret {
            data: data.into_iter().collect(),
        }))
    }

    async fn rotate_key(
        &self,
        request: Request<pb::RotateKeyRequest>,
    ) -> Result<Response<pb::RotateKeyResponse>, Status> {
        let ctx = context(&request, "")?;
        let rotation = self
            .api
            .rotate_secret_key_audited(&ctx)
            .await
            .map_err(|e| e.grpc_status())?;
        Ok(Response::new(pb::RotateKeyResponse {
            primary_key_id: rotation.primary,
            reencrypted: u32::try_from(rotation.reencrypted).unwrap_or(u32::MAX),
            retired_key_ids: rotation.retired,
            keys_from_environment: rotation.keys_from_environment,
            unreadable: rotation.unreadable,
        }))
    }
}
