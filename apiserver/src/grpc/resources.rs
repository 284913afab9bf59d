//! The gRPC face of the resource API: `minicloud.v1.ResourceService` mapped onto [`ResourceApi`].

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use minicloud_proto::v1::resource_service_server::ResourceService;
use minicloud_proto::v1::{self as pb};
use tonic::{Request, Response, Status};

use crate::api::{
    ApiError, ApplyOutcome, EventType, LabelSelector, ObjectEvent, ObjectRef, RequestContext,
    ResourceApi,
};
use crate::wire::{context, optional_revision, parse_kind, scope};

/// Serves [`ResourceService`] from a [`ResourceApi`].
#[derive(Clone)]
pub struct GrpcResources {
    api: Arc<ResourceApi>,
}

impl GrpcResources {
    /// A service over `api`.
    pub fn new(api: Arc<ResourceApi>) -> Self {
        Self { api }
    }
}

fn object_ref(
    reference: Option<pb::ObjectRef>,
    ctx: &RequestContext,
) -> Result<ObjectRef, ApiError> {
    let reference =
        reference.ok_or_else(|| ApiError::BadRequest("the request names no object".into()))?;
    let kind = parse_kind(&reference.kind)?;
    let tenant = (!reference.tenant.is_empty()).then_some(reference.tenant.as_str());
    ObjectRef::new(kind, tenant, &reference.name, &ctx.default_tenant)
}

fn to_pb(object: &serde_json::Value) -> pb::Object {
    pb::Object {
        json: object.to_string(),
    }
}

fn event_to_pb(event: ObjectEvent) -> pb::WatchEvent {
    let event_type = match event.event_type {
        EventType::Added => pb::EventType::Added,
        EventType::Modified => pb::EventType::Modified,
        EventType::Deleted => pb::EventType::Deleted,
        EventType::Bookmark => pb::EventType::Bookmark,
    };
    pb::WatchEvent {
        r#type: event_type as i32,
        object: event.object.map(|object| to_pb(&object)),
        resource_version: event.resource_version.to_string(),
    }
}

#[tonic::async_trait]
impl ResourceService for GrpcResources {
    async fn apply(
        &self,
        request: Request<pb::ApplyRequest>,
    ) -> Result<Response<pb::ApplyResponse>, Status> {
        let ctx = context(&request, &request.get_ref().default_tenant)?;
        let request = request.into_inner();
        let result = self
            .api
            .apply_audited(&ctx, request.json.as_bytes(), request.dry_run)
            .await
            .map_err(|e| e.grpc_status())?;
        let outcome = match result.outcome {
            ApplyOutcome::Created => pb::ApplyOutcome::Created,
            ApplyOutcome::Configured => pb::ApplyOutcome::Configured,
            ApplyOutcome::Unchanged => pb::ApplyOutcome::Unchanged,
        };
        Ok(Response::new(pb::ApplyResponse {
            outcome: outcome as i32,
            object: Some(to_pb(&result.object)),
            diff: result.diff,
        }))
    }

    async fn get(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Object>, Status> {
        let ctx = context(&request, "")?;
        let target = object_ref(request.into_inner().r#ref, &ctx).map_err(|e| e.grpc_status())?;
        let object = self
            .api
            .get_audited(&ctx, &target)
            .await
            .map_err(|e| e.grpc_status())?;
        Ok(Response::new(to_pb(&object)))
    }

    async fn list(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ObjectList>, Status> {
        let ctx = context(&request, "")?;
        let request = request.into_inner();
        let listed = async {
            let kind = parse_kind(&request.kind)?;
            let selector = LabelSelector::parse(&request.label_selector)?;
            self.api
                .list_audited(&ctx, kind, &scope(kind, &request.tenant, &ctx), &selector)
                .await
        };
        let (items, revision) = listed.await.map_err(|e| e.grpc_status())?;
        let items = items.iter().map(to_pb).collect();
        Ok(Response::new(pb::ObjectList {
            items,
            resource_version: revision.to_string(),
        }))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let ctx = context(&request, "")?;
        let request = request.into_inner();
        let deleted = async {
            let checked = object_ref(request.r#ref, &ctx)
                .and_then(|target| Ok((target, optional_revision(&request.resource_version)?)));
            let (target, precondition) = self.api.refused_before(&ctx, "delete", checked)?;
            self.api.delete_audited(&ctx, &target, precondition).await
        };
        let result = deleted.await.map_err(|e| e.grpc_status())?;
        Ok(Response::new(pb::DeleteResponse {
            object: Some(to_pb(&result.object)),
            finalizing: result.finalizing,
        }))
    }

    type WatchStream = BoxStream<'static, Result<pb::WatchEvent, Status>>;

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let ctx = context(&request, "")?;
        let request = request.into_inner();
        let opened = async {
            let kind = parse_kind(&request.kind)?;
            let selector = LabelSelector::parse(&request.label_selector)?;
            let from = optional_revision(&request.resource_version)?;
            self.api
                .watch_audited(
                    &ctx,
                    kind,
                    scope(kind, &request.tenant, &ctx),
                    selector,
                    from,
                )
                .await
        };
        let events = opened.await.map_err(|e| e.grpc_status())?;
        let stream = events.map(|item| item.map(event_to_pb).map_err(|e| e.grpc_status()));
        Ok(Response::new(stream.boxed()))
    }

    async fn update_status(
        &self,
        request: Request<pb::UpdateStatusRequest>,
    ) -> Result<Response<pb::Object>, Status> {
        let ctx = context(&request, "")?;
        let body = request.into_inner().json;
        let object = self
            .api
            .update_status_audited(&ctx, body.as_bytes())
            .await
            .map_err(|e| e.grpc_status())?;
        Ok(Response::new(to_pb(&object)))
    }
}
