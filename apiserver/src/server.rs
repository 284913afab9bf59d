//! The API server: gRPC and REST on one listener, with a clean shutdown that also ends every
//! open watch stream and stores every audit record still queued.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::serve::ListenerExt;
use minicloud_common::metrics::{Metrics, ScrapeToken};
use minicloud_proto::bearer::Bearer;
use minicloud_proto::metadata;
use minicloud_proto::v1::app_logs_server::AppLogsServer;
use minicloud_proto::v1::audit_server::AuditServer;
use minicloud_proto::v1::health_server::HealthServer;
use minicloud_proto::v1::keys_server::KeysServer;
use minicloud_proto::v1::metering_server::MeteringServer;
use minicloud_proto::v1::reconciles_server::ReconcilesServer;
use minicloud_proto::v1::resource_service_server::ResourceServiceServer;
use minicloud_proto::v1::secrets_server::SecretsServer;
use minicloud_proto::v1::usage_server::UsageServer;
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::agents::Agents;
use crate::api::{MAX_BODY_BYTES, ResourceApi};
use crate::api_keys::Authenticator;
use crate::gate::{self, Gate};
use crate::grpc::{
    AppLogsService, GrpcAudit, GrpcKeys, GrpcResources, GrpcSecrets, HealthService,
    MeteringService, ReconcilesService, UsageService,
};
use crate::metrics::{self, RequestMetrics};
use crate::ratelimit::{RateLimit, RateLimiter};
use crate::rest;

/// How long a shutting-down server waits for its queued audit records to be stored.
const FLUSH_AT_SHUTDOWN: Duration = Duration::from_secs(10);

/// How often the rate limiter forgets callers whose buckets are full again.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// What a server serves besides the resource API, and how it limits callers.
pub struct ServerOptions {
    /// More gRPC services on the same port (the all-in-one server mounts the node agent's).
    pub more_grpc: Routes,
    /// The key the log and usage services present to node agents.
    pub agents: Bearer,
    /// The limit of every tenant key and of every client failing authentication; `None`:
    /// no limit.
    pub rate_limit: Option<RateLimit>,
    /// The registry `/metrics` serves; the server registers its own families into it (the
    /// all-in-one server's controllers and ingress register theirs too).
    pub metrics: Metrics,
    /// A token that may read `/metrics` (and nothing else), besides admin keys.
    pub scrape_token: Option<ScrapeToken>,
    /// How often to meter every tenant's use into usage records; `None`: not here.
    pub metering: Option<Duration>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            more_grpc: Routes::default(),
            agents: Bearer::default(),
            rate_limit: Some(RateLimit::default()),
            metrics: Metrics::default(),
            scrape_token: None,
            metering: None,
        }
    }
}

/// Every route of the API server: REST, `/metrics`, and gRPC (the resource, key, secret and
/// audit services plus `options.more_grpc`) by content type on the same path space, all behind
/// authentication and the rate limits, and all measured. Must run inside a tokio runtime (the
/// limiter is pruned by a task of it).
pub fn router(api: Arc<ResourceApi>, options: ServerOptions) -> Router {
    let ServerOptions {
        more_grpc,
        agents,
        rate_limit,
        metrics,
        scrape_token,
        metering,
    } = options;
    let agents = Agents::new(agents);
    if let Some(every) = metering {
        crate::metering::spawn(api.clone(), agents.clone(), every);
    }
    let limiter = Arc::new(RateLimiter::new(rate_limit));
    tokio::spawn(forget_idle_callers(Arc::downgrade(&limiter)));
    let requests = RequestMetrics::default();
    requests.register(&metrics);
    api.register_metrics(&metrics);
    limiter.register_metrics(&metrics);
    let gate = Gate::new(
        Authenticator::new(api.store()),
        api.audit_log().clone(),
        limiter,
    )
    .with_scrape_token(scrape_token);
    let service = ResourceServiceServer::new(GrpcResources::new(api.clone()))
        .max_decoding_message_size(MAX_BODY_BYTES);
    let grpc = more_grpc
        .add_service(service)
        .add_service(KeysServer::new(GrpcKeys::new(api.clone())))
        .add_service(SecretsServer::new(GrpcSecrets::new(api.clone())))
        .add_service(AppLogsServer::new(AppLogsService::new(
            api.clone(),
            agents.clone(),
        )))
        .add_service(UsageServer::new(UsageService::new(
            api.clone(),
            agents.clone(),
        )))
        .add_service(MeteringServer::new(MeteringService::new(api.clone())))
        .add_service(HealthServer::new(HealthService::new(api.clone(), agents)))
        .add_service(ReconcilesServer::new(ReconcilesService::new(api.clone())))
        .add_service(AuditServer::new(GrpcAudit::new(api.clone())))
        .prepare()
        .into_axum_router()
        .layer(axum::middleware::map_response(
            oversized_is_resource_exhausted,
        ));
    rest::router(api)
        .merge(metrics::router(metrics))
        .merge(grpc)
        .layer(axum::middleware::from_fn_with_state(
            gate,
            gate::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            requests,
            metrics::measure,
        ))
}

/// Prunes the limiter now and then, until the router holding it is gone.
async fn forget_idle_callers(limiter: std::sync::Weak<RateLimiter>) {
    let mut ticker = tokio::time::interval(FORGET_IDLE_EVERY);
    loop {
        ticker.tick().await;
        match limiter.upgrade() {
            Some(limiter) => limiter.forget_idle(),
            None => return,
        }
    }
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
            metadata::REASON,
            HeaderValue::from_static(metadata::reason::REQUEST_TOO_LARGE),
        );
    }
    response
}

/// Serves `api` on `listener` with the default [`ServerOptions`] until `shutdown` completes;
/// open watches are ended so the shutdown does not wait on them.
pub async fn serve(
    listener: TcpListener,
    api: Arc<ResourceApi>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, api, ServerOptions::default(), shutdown).await
}

/// Like [`serve`], with `options`. Once every request has been answered, the audit records
/// still queued are stored before it returns.
pub async fn serve_with(
    listener: TcpListener,
    api: Arc<ResourceApi>,
    options: ServerOptions,
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
    let app = router(api.clone(), options).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await;
    if tokio::time::timeout(FLUSH_AT_SHUTDOWN, api.audit_log().flush())
        .await
        .is_err()
    {
        tracing::error!(
            "the store did not take the queued audit records (refusals and failures) within {} s of shutdown; they are lost",
            FLUSH_AT_SHUTDOWN.as_secs()
        );
    }
    served
}
