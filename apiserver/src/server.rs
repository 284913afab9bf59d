//! The API server: gRPC and REST on one listener, with a clean shutdown that also ends every
//! open watch stream.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::serve::ListenerExt;
use minicloud_proto::bearer::Bearer;
use minicloud_proto::v1::app_logs_server::AppLogsServer;
use minicloud_proto::v1::keys_server::KeysServer;
use minicloud_proto::v1::resource_service_server::ResourceServiceServer;
use minicloud_proto::v1::secrets_server::SecretsServer;
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::api::{MAX_BODY_BYTES, ResourceApi};
use crate::auth::{self, Authenticator};
use crate::grpc::GrpcResources;
use crate::keys::GrpcKeys;
use crate::logs::AppLogsService;
use crate::rest;
use crate::secret_service::GrpcSecrets;

/// Every route of the API server: REST, and gRPC (the resource, key and secret services plus
/// `more_grpc`, such as a node agent's) by content type on the same path space, all behind
/// authentication. `agents` is the key the log service presents to node agents.
pub fn router(api: Arc<ResourceApi>, more_grpc: Routes, agents: Bearer) -> Router {
    let authenticator = Authenticator::new(api.store());
    let service = ResourceServiceServer::new(GrpcResources::new(api.clone()))
        .max_decoding_message_size(MAX_BODY_BYTES);
    let grpc = more_grpc
        .add_service(service)
        .add_service(KeysServer::new(GrpcKeys::new(api.clone())))
        .add_service(SecretsServer::new(GrpcSecrets::new(api.clone())))
        .add_service(AppLogsServer::new(AppLogsService::new(api.clone(), agents)))
        .prepare()
        .into_axum_router()
        .layer(axum::middleware::map_response(
            oversized_is_resource_exhausted,
        ));
    rest::router(api)
        .merge(grpc)
        .layer(axum::middleware::from_fn_with_state(
            authenticator,
            auth::authenticate,
        ))
}

/// tonic refuses a message over the size limit from its length prefix, before reading it, but
/// reports OUT_OF_RANGE; minicloud reports RESOURCE_EXHAUSTED (as HTTP reports 413).
async fn oversized_is_resource_exhausted(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let oversized = headers.get("grpc-status").is_some_and(|code| code == "11")
        && headers
            .get("grpc-message")
            .and_then(|message| message.to_str().ok())
            .is_some_and(|message| {
                message
                    .replace("%20", " ")
                    .contains("message length too large")
            });
    if oversized {
        headers.insert("grpc-status", HeaderValue::from_static("8"));
        let message = format!(
            "request body is larger than the {MAX_BODY_BYTES} byte limit; split the manifest into smaller ones"
        );
        if let Ok(value) = HeaderValue::from_str(&message.replace(' ', "%20")) {
            headers.insert("grpc-message", value);
        }
        headers.insert(
            crate::api::REASON_METADATA,
            HeaderValue::from_static("RequestTooLarge"),
        );
    }
    response
}

/// Serves `api` on `listener` until `shutdown` completes; open watches are ended so the
/// shutdown does not wait on them.
pub async fn serve(
    listener: TcpListener,
    api: Arc<ResourceApi>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        listener,
        api,
        Routes::default(),
        Bearer::default(),
        shutdown,
    )
    .await
}

/// Like [`serve`], with more gRPC services on the same port — the all-in-one server mounts the
/// node agent's here — and the key the log service presents to node agents.
pub async fn serve_with(
    listener: TcpListener,
    api: Arc<ResourceApi>,
    more_grpc: Routes,
    agents: Bearer,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = api.shutdown_token();
    let signal = async move {
        shutdown.await;
        stopping.cancel();
    };
    // Without TCP_NODELAY, a gRPC reply's trailers wait for the client's delayed ACK (~40 ms).
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(api, more_grpc, agents))
        .with_graceful_shutdown(signal)
        .await
}
