//! The middleware in front of every route: it authenticates the caller before any handler (or
//! store access) runs, refuses with 401 / UNAUTHENTICATED, and hands the [`Identity`] to the
//! handlers in the request's extensions. The node agent's service, when it shares the port,
//! is for admin keys only.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Authenticator;
use crate::api::ApiError;

/// Paths served without a key.
const OPEN_PATHS: [&str; 1] = ["/healthz"];
/// The gRPC path prefix of the node agent's service.
const NODE_AGENT: &str = "/minicloud.v1.NodeAgent/";

/// Authenticates `request`, or answers it with the refusal.
pub async fn authenticate(
    State(authenticator): State<Authenticator>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if OPEN_PATHS.contains(&path) {
        return next.run(request).await;
    }
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"));
    let to_agent = path.starts_with(NODE_AGENT);
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.strip_prefix("Bearer ").unwrap_or(value));
    let identity = match authenticator.authenticate(presented).await {
        Ok(identity) if to_agent && !identity.is_admin() => {
            return refuse(
                grpc,
                ApiError::Forbidden(format!(
                    "the node agent takes admin keys only; key {} is {}",
                    identity.key,
                    identity.role.as_str()
                )),
            );
        }
        Ok(identity) => identity,
        Err(error) => return refuse(grpc, error),
    };
    request.extensions_mut().insert(identity);
    next.run(request).await
}

fn refuse(grpc: bool, error: ApiError) -> Response {
    if grpc {
        return error.grpc_status().into_http::<axum::body::Body>();
    }
    error.into_response()
}
