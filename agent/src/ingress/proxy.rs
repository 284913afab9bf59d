//! Forwarding one request: pick the route by host, send the request to the next backend over a
//! pooled keep-alive connection, and stream the response back as it arrives. A request without
//! a body that cannot reach its backend is retried on the App's other backends; an upgrade
//! (WebSocket) becomes a byte tunnel between client and backend. Every request is counted in
//! the proxy's [`IngressMetrics`].

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use hyper::header::{HOST, HeaderValue};
use hyper::http::request;
use hyper::http::uri::{self, PathAndQuery};
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::time::Instant;

use super::Routes;
use super::body::{Body, counted, empty};
use super::headers;
use super::metrics::{AppLabels, IngressMetrics};
use super::refusal::Refusal;
use super::routes::Route;

/// How long a backend may take to send a response's headers unless told otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting to a backend may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle keep-alive connection to a backend is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Most idle keep-alive connections kept per backend.
const POOL_MAX_IDLE_PER_BACKEND: usize = 256;

/// Forwards requests to the backends of the current route table; cheap to clone.
#[derive(Clone, Debug)]
pub struct Proxy {
    routes: Routes,
    client: Client<HttpConnector, Body>,
    request_timeout: Duration,
    metrics: IngressMetrics,
}

impl Proxy {
    /// A proxy over `routes`, with keep-alive connection pools to the backends.
    pub fn new(routes: Routes) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_BACKEND)
            .build(connector);
        Proxy {
            routes,
            client,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            metrics: IngressMetrics::default(),
        }
    }

    /// The proxy's request metrics, to register where they are scraped.
    pub fn metrics(&self) -> &IngressMetrics {
        &self.metrics
    }

    /// The same proxy counting into `metrics` (shared with the agent, which reports each App's
    /// traffic for usage records).
    pub fn with_metrics(mut self, metrics: IngressMetrics) -> Proxy {
        self.metrics = metrics;
        self
    }

    /// Sets how long backends may take to send a response's headers (the body may stream on
    /// for as long as it takes); past it the client gets 504.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Proxy {
        self.request_timeout = timeout;
        self
    }

    /// Answers one request from `client`: the backend's response, or the ingress's own 400,
    /// 404, 502, 503 or 504 with a one-line reason.
    pub async fn handle(&self, request: Request<Incoming>, client: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let mut app = AppLabels::default();
        let response = match self.forward(request, client, &mut app).await {
            Ok(response) => response,
            Err(refusal) => {
                if matches!(
                    refusal.status(),
                    StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT
                ) {
                    tracing::warn!(%refusal, "ingress request failed");
                }
                refusal.into_response()
            }
        };
        let bytes = self.metrics.response_bytes(&app);
        self.metrics
            .record(app, response.status(), started.elapsed());
        match bytes {
            Some(counter) => response.map(|body| counted(body, counter)),
            None => response,
        }
    }

    /// Finds the route for the request's host (its App goes into `app`) and rewrites the
    /// request for its backends.
    async fn forward(
        &self,
        mut request: Request<Incoming>,
        client: SocketAddr,
        app: &mut AppLabels,
    ) -> Result<Response<Body>, Refusal> {
        let host = request_host(&request).ok_or(Refusal::NoHost)?;
        let table = self.routes.current().ok_or(Refusal::Loading)?;
        let host_text = host.to_str().map_err(|_| Refusal::NoHost)?;
        let route = table
            .lookup(host_text)
            .ok_or_else(|| Refusal::UnknownHost(host_text.to_owned()))?;
        *app = AppLabels::of(route);
        let upgrade = (request.version() == Version::HTTP_11)
            .then(|| headers::requested_upgrade(request.headers()))
            .flatten();
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        headers::to_backend(&mut parts.headers, &host, client.ip(), upgrade.as_ref());
        self.dispatch(route, &parts, body, client_upgrade).await
    }

    /// Sends the request to the route's next backend; a request without a body that cannot
    /// connect moves on to the next one. The timeout covers all attempts.
    async fn dispatch(
        &self,
        route: &Route,
        parts: &request::Parts,
        body: Incoming,
        client_upgrade: Option<OnUpgrade>,
    ) -> Result<Response<Body>, Refusal> {
        let path = parts
            .uri
            .path_and_query()
            .filter(|path| path.as_str().starts_with('/'))
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let retryable = body.is_end_stream();
        let mut body = Some(body.boxed());
        let deadline = Instant::now() + self.request_timeout;
        let mut candidates = route.candidates().peekable();
        while let Some(backend) = candidates.next() {
            let mut outgoing = Request::new(body.take().unwrap_or_else(empty));
            *outgoing.method_mut() = parts.method.clone();
            *outgoing.uri_mut() = backend_uri(backend, &path);
            *outgoing.version_mut() = Version::HTTP_11;
            *outgoing.headers_mut() = parts.headers.clone();
            let sent = tokio::time::timeout_at(deadline, self.client.request(outgoing)).await;
            match sent {
                Ok(Ok(response)) => return respond(response, client_upgrade, backend),
                Ok(Err(error))
                    if error.is_connect() && retryable && candidates.peek().is_some() =>
                {
                    tracing::debug!(%backend, %error, "backend unreachable; trying the next one");
                }
                Ok(Err(source)) => return Err(Refusal::BackendFailed { backend, source }),
                Err(_) => {
                    return Err(Refusal::Timeout {
                        backend,
                        timeout: self.request_timeout,
                    });
                }
            }
        }
        Err(Refusal::NoReadyInstance {
            tenant: route.tenant().to_owned(),
            app: route.app().to_owned(),
        })
    }
}

/// The host a request is for: its `Host` header, else the authority of its URI (HTTP/2).
fn request_host<B>(request: &Request<B>) -> Option<HeaderValue> {
    if let Some(host) = request.headers().get(HOST) {
        return Some(host.clone());
    }
    let authority = request.uri().authority()?;
    HeaderValue::from_str(authority.as_str()).ok()
}

/// `http://<backend><path>`.
fn backend_uri(backend: SocketAddr, path: &PathAndQuery) -> Uri {
    let mut parts = uri::Parts::default();
    parts.scheme = Some(uri::Scheme::HTTP);
    parts.authority = Some(
        uri::Authority::try_from(backend.to_string())
            .expect("a socket address is a valid authority"),
    );
    parts.path_and_query = Some(path.clone());
    Uri::from_parts(parts).expect("scheme, authority and an absolute path make a URI")
}

/// The backend's response for the client: headers rewritten, the body streamed through as it
/// arrives, and for a switch of protocols a tunnel between the two upgraded connections.
fn respond(
    mut response: Response<Incoming>,
    client_upgrade: Option<OnUpgrade>,
    backend: SocketAddr,
) -> Result<Response<Body>, Refusal> {
    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    let upgrade = match (switching, client_upgrade) {
        (true, Some(client)) => Some(client),
        (true, None) => return Err(Refusal::UnaskedUpgrade(backend)),
        (false, _) => None,
    };
    headers::to_client(response.headers_mut(), upgrade.is_some());
    if let Some(client) = upgrade {
        tunnel(client, hyper::upgrade::on(&mut response), backend);
    }
    Ok(response.map(BodyExt::boxed))
}

/// Once both sides have switched protocols, copies bytes both ways until either side closes.
fn tunnel(client: OnUpgrade, backend: OnUpgrade, address: SocketAddr) {
    tokio::spawn(async move {
        let (client, backend) = match tokio::try_join!(client, backend) {
            Ok(pair) => pair,
            Err(error) => {
                tracing::debug!(backend = %address, %error, "an upgrade did not complete");
                return;
            }
        };
        let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
        if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut backend).await {
            tracing::debug!(backend = %address, %error, "an upgraded connection ended");
        }
    });
}
