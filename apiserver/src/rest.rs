//! The REST/JSON face of the resource API, for the dashboard and curl:
//!
//! - `GET /api/v1/{kind}` lists (`?tenant=T|*&labelSelector=S`); with `watch=true` it streams
//!   JSON lines `{"type": "ADDED", "object": {...}}` (`&resourceVersion=RV` resumes after RV).
//! - `GET|PUT|DELETE /api/v1/{kind}/{name}` reads, applies (`?dryRun=true`) and deletes
//!   (`?resourceVersion=RV` as a precondition); `PUT /api/v1/{kind}/{name}/status` writes status.
//!
//! `{kind}` is any spelling `mini get` accepts (`apps`, `app`, `App`); `tenant` defaults to
//! the key's tenant, else `default`. Every route but `/healthz` takes `Authorization: Bearer
//! <key>`. Errors are JSON `{"code", "reason", "message"}`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{
    ApiError, EventType, LabelSelector, MAX_BODY_BYTES, ObjectEvent, ObjectRef, RequestContext,
    ResourceApi,
};
use crate::auth::Identity;
use crate::gate::RequestId;
use crate::wire::{DEFAULT_TENANT, optional_revision, parse_kind, scope};

/// Query parameters every route understands.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    label_selector: String,
    #[serde(default)]
    watch: bool,
    #[serde(default)]
    resource_version: String,
    #[serde(default)]
    dry_run: bool,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.http_status(), Json(self.http_body())).into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// The REST routes over `api`.
pub fn router(api: Arc<ResourceApi>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/{kind}", get(list_or_watch))
        .route(
            "/api/v1/{kind}/{name}",
            get(get_one).put(apply).delete(delete),
        )
        .route("/api/v1/{kind}/{name}/status", put(update_status))
        .with_state(api)
}

/// The caller's context: in the tenant the query names, else its key's tenant, else
/// [`DEFAULT_TENANT`].
fn context(params: &Params, identity: Identity, request_id: &RequestId) -> RequestContext {
    let tenant = match (params.tenant.as_str(), &identity.tenant) {
        ("" | "*", Some(own)) => own.clone(),
        ("" | "*", None) => DEFAULT_TENANT.to_owned(),
        (tenant, _) => tenant.to_owned(),
    };
    RequestContext::new(identity, &tenant).with_request_id(&request_id.0)
}

fn target(
    kind: &str,
    name: &str,
    params: &Params,
    ctx: &RequestContext,
) -> Result<ObjectRef, ApiError> {
    let tenant = (!params.tenant.is_empty()).then_some(params.tenant.as_str());
    ObjectRef::new(parse_kind(kind)?, tenant, name, &ctx.default_tenant)
}

/// Reads a request body up to the limit, refusing a larger one from its Content-Length before
/// reading any of it.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(ApiError::TooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::TooLarge {
            limit: MAX_BODY_BYTES,
        })
}

async fn get_one(
    State(api): State<Arc<ResourceApi>>,
    Extension(identity): Extension<Identity>,
    Extension(request_id): Extension<RequestId>,
    Path((kind, name)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let ctx = context(&params, identity, &request_id);
    Ok(Json(
        api.get_audited(&ctx, &target(&kind, &name, &params, &ctx)?)
            .await?,
    ))
}

async fn list_or_watch(
    State(api): State<Arc<ResourceApi>>,
    Extension(identity): Extension<Identity>,
    Extension(request_id): Extension<RequestId>,
    Path(kind): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let ctx = context(&params, identity, &request_id);
    let kind = parse_kind(&kind)?;
    let selector = LabelSelector::parse(&params.label_selector)?;
    let scope = scope(kind, &params.tenant, &ctx);
    if params.watch {
        let from = optional_revision(&params.resource_version)?;
        let events = api.watch_audited(&ctx, kind, scope, selector, from).await?;
        let lines = events.map(|item| Ok::<_, std::convert::Infallible>(json_line(item)));
        let headers = [(header::CONTENT_TYPE, "application/x-ndjson")];
        return Ok((headers, Body::from_stream(lines)).into_response());
    }
    let (items, revision) = api.list_audited(&ctx, kind, &scope, &selector).await?;
    Ok(Json(json!({"items": items, "resourceVersion": revision.to_string()})).into_response())
}

/// One watch event as a JSON line; an error becomes a final `ERROR` event.
fn json_line(item: Result<ObjectEvent, ApiError>) -> String {
    let line = match item {
        Ok(event) => {
            let object = match (&event.object, event.event_type) {
                (Some(object), _) => (**object).clone(),
                (None, EventType::Bookmark) | (None, _) => {
                    json!({"metadata": {"resourceVersion": event.resource_version.to_string()}})
                }
            };
            json!({"type": event.event_type.as_str(), "object": object})
        }
        Err(error) => json!({"type": "ERROR", "object": error.http_body()}),
    };
    format!("{line}\n")
}

async fn apply(
    State(api): State<Arc<ResourceApi>>,
    Extension(identity): Extension<Identity>,
    Extension(request_id): Extension<RequestId>,
    Path((kind, name)): Path<(String, String)>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ctx = context(&params, identity, &request_id);
    let checked = checked_body(&kind, &name, &headers, body).await;
    let body = api.refused_before(&ctx, "apply", checked)?;
    let result = api.apply_audited(&ctx, &body, params.dry_run).await?;
    let status = match result.outcome {
        crate::api::ApplyOutcome::Created if !params.dry_run => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    let reply =
        json!({"outcome": result.outcome.as_str(), "object": result.object, "diff": result.diff});
    Ok((status, Json(reply)).into_response())
}

/// A PUT's body, read within the size limit and naming the object its URL names.
async fn checked_body(
    kind: &str,
    name: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, ApiError> {
    let body = read_body(headers, body).await?;
    check_names(kind, name, &body)?;
    Ok(body)
}

/// A PUT must send the object its URL names.
fn check_names(kind: &str, name: &str, body: &[u8]) -> Result<(), ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::BadRequest(format!("the request body is not JSON: {error}")))?;
    let body_kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let body_name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let same_kind = body_kind.parse::<minicloud_manifests::Kind>().ok() == Some(parse_kind(kind)?);
    if !same_kind || body_name != name {
        return Err(ApiError::BadRequest(format!(
            "the URL names {kind}/{name} but the body is {body_kind}/{body_name}; make them agree"
        )));
    }
    Ok(())
}

async fn delete(
    State(api): State<Arc<ResourceApi>>,
    Extension(identity): Extension<Identity>,
    Extension(request_id): Extension<RequestId>,
    Path((kind, name)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let ctx = context(&params, identity, &request_id);
    let checked = target(&kind, &name, &params, &ctx)
        .and_then(|target| Ok((target, optional_revision(&params.resource_version)?)));
    let (target, precondition) = api.refused_before(&ctx, "delete", checked)?;
    let result = api.delete_audited(&ctx, &target, precondition).await?;
    Ok(Json(
        json!({"object": result.object, "finalizing": result.finalizing}),
    ))
}

async fn update_status(
    State(api): State<Arc<ResourceApi>>,
    Extension(identity): Extension<Identity>,
    Extension(request_id): Extension<RequestId>,
    Path((kind, name)): Path<(String, String)>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let ctx = context(&params, identity, &request_id);
    let checked = checked_body(&kind, &name, &headers, body).await;
    let body = api.refused_before(&ctx, "update-status", checked)?;
    Ok(Json(api.update_status_audited(&ctx, &body).await?))
}
