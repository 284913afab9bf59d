//! The middleware in front of every route: it gives each request an id (returned in the
//! `x-request-id` header, REST and gRPC alike), authenticates the caller before any handler (or
//! store access) runs, refuses with 401 / UNAUTHENTICATED, applies the rate limits, and hands
//! the [`Identity`] and [`RequestId`] to the handlers in the request's extensions. The node
//! agent's service, when it shares the port, is for admin keys only; so is `/metrics`, which
//! also takes the server's scrape token (and the scrape token opens nothing else).
//!
//! Refusals are recorded in the audit log, except those of the rate limits: a caller over its
//! limit gets at most one `rate-limit` record a minute, so a flood cannot flood the log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use minicloud_common::metrics::{METRICS_PATH, ScrapeToken};
use minicloud_proto::metadata;

use crate::api::{ApiError, new_request_id};
use crate::api_keys::{Authenticator, Token};
use crate::audit::{AuditLog, AuditRecord};
use crate::auth::Identity;
use crate::ratelimit::{Over, RateLimiter, retry_after_seconds};

/// Paths served without a key.
const OPEN_PATHS: [&str; 1] = ["/healthz"];
/// The gRPC path prefix of the node agent's service.
const NODE_AGENT: &str = "/minicloud.v1.NodeAgent/";
/// How often one caller's rate limiting is recorded at most.
const RATE_LIMIT_RECORD_EVERY: Duration = Duration::from_secs(60);
/// Rate-limited callers remembered before those recorded over a minute ago are forgotten.
const MAX_LIMITED_CALLERS: usize = 1024;

/// Marks a response the gate gave itself: the request reached no handler.
#[derive(Clone, Copy, Debug)]
pub struct NotAdmitted;

/// The server's id of one request, in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

/// What the middleware checks requests with.
#[derive(Clone)]
pub struct Gate {
    authenticator: Authenticator,
    audit: AuditLog,
    limiter: Arc<RateLimiter>,
    limited_recorded: Arc<Mutex<HashMap<String, Instant>>>,
    scrape_token: Option<Arc<ScrapeToken>>,
}

impl Gate {
    /// A gate checking keys with `authenticator`, recording to `audit`, limiting with `limiter`.
    pub fn new(authenticator: Authenticator, audit: AuditLog, limiter: Arc<RateLimiter>) -> Gate {
        Gate {
            authenticator,
            audit,
            limiter,
            limited_recorded: Arc::default(),
            scrape_token: None,
        }
    }

    /// Also lets `token` read `/metrics` (and nothing else).
    pub fn with_scrape_token(mut self, token: Option<ScrapeToken>) -> Gate {
        self.scrape_token = token.map(Arc::new);
        self
    }

    /// Whether `presented` is the scrape token, on a request for `path`.
    fn scrapes(&self, path: &str, presented: Option<&str>) -> bool {
        path == METRICS_PATH
            && self
                .scrape_token
                .as_ref()
                .zip(presented)
                .is_some_and(|(token, presented)| token.matches(presented))
    }

    /// Whether the rate limiting of `caller` should be recorded now (once a minute at most).
    /// Runs for every refused request of a flood, so it looks up one entry; the table is swept
    /// only when it has grown large.
    fn first_limited_in_a_while(&self, caller: &str) -> bool {
        let mut recorded = self
            .limited_recorded
            .lock()
            .expect("rate-limit record lock");
        let now = Instant::now();
        let fresh = |at: &Instant| now.duration_since(*at) < RATE_LIMIT_RECORD_EVERY;
        if recorded.get(caller).is_some_and(fresh) {
            return false;
        }
        if recorded.len() >= MAX_LIMITED_CALLERS {
            recorded.retain(|_, at| fresh(at));
        }
        recorded.insert(caller.to_owned(), now);
        true
    }
}

/// What the audit log says about a request refused here.
struct Refused<'a> {
    request_id: &'a str,
    method: Method,
    path: String,
    client: Option<SocketAddr>,
}

impl Refused<'_> {
    fn record(&self, verb: &str, error: &ApiError, message: &str) -> AuditRecord {
        let mut record = AuditRecord::new(verb, self.request_id, error.reason());
        record.message = format!("{} {}: {message}", self.method, self.path);
        record.client = self.client.map(|address| address.ip().to_string());
        record
    }
}

/// Gives the request an id, then admits it (see [`admit`]); the id goes back in the response.
pub async fn authenticate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    if OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let request_id = new_request_id();
    let mut response = admit(&gate, &request_id, request, next).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(metadata::REQUEST_ID), value);
    }
    response
}

/// Authenticates and rate-limits `request`, or answers it with the refusal.
async fn admit(gate: &Gate, request_id: &str, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"));
    let refused = Refused {
        request_id,
        method: request.method().clone(),
        path,
        client: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0),
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.strip_prefix("Bearer ").unwrap_or(value).to_owned());
    if gate.scrapes(&refused.path, presented.as_deref()) {
        return next.run(request).await;
    }
    let identity = match gate.authenticator.authenticate(presented.as_deref()).await {
        Ok(identity) => identity,
        Err(error) => {
            return refuse_unauthenticated(gate, &refused, presented.as_deref(), grpc, error);
        }
    };
    if let Some((verb, what)) = admin_only(&refused.path)
        && !identity.is_admin()
    {
        let error = ApiError::Forbidden(format!(
            "{what}; key {} is {}",
            identity.key,
            identity.role.as_str()
        ));
        let mut record = refused.record(verb, &error, "admin keys only");
        describe_caller(&mut record, &identity);
        gate.audit.note(record);
        return refuse(grpc, error);
    }
    if !identity.is_admin()
        && let Err(over) = gate
            .limiter
            .check_key(&identity.key, identity.tenant.as_deref())
    {
        let (message, wait) = match over {
            Over::Key(wait) => (format!("key {} is over its rate limit", identity.key), wait),
            Over::Tenant(wait) => (
                format!(
                    "the keys of tenant {:?} together are over the tenant's rate limit",
                    identity.tenant.as_deref().unwrap_or_default()
                ),
                wait,
            ),
        };
        let error = ApiError::RateLimited {
            message,
            retry_after: retry_after_seconds(wait),
        };
        if gate.first_limited_in_a_while(&identity.key) {
            let note = "over the rate limit; further refusals within a minute are not recorded";
            let mut record = refused.record("rate-limit", &error, note);
            describe_caller(&mut record, &identity);
            gate.audit.note(record);
        }
        return refuse(grpc, error);
    }
    request.extensions_mut().insert(identity);
    request
        .extensions_mut()
        .insert(RequestId(request_id.to_owned()));
    next.run(request).await
}

/// The audit verb and the refusal of the paths only admin keys may use.
fn admin_only(path: &str) -> Option<(&'static str, &'static str)> {
    if path.starts_with(NODE_AGENT) {
        return Some(("call-node-agent", "the node agent takes admin keys only"));
    }
    (path == METRICS_PATH).then_some((
        "read-metrics",
        "the metrics are for admin keys and the server's scrape token (mini server --metrics-token-file)",
    ))
}

/// Refuses a request whose key was missing or not valid: recorded, unless the client has
/// failed so often that it is over the rate limit (then it gets 429 and no record).
fn refuse_unauthenticated(
    gate: &Gate,
    refused: &Refused<'_>,
    presented: Option<&str>,
    grpc: bool,
    error: ApiError,
) -> Response {
    if let Some(client) = refused.client
        && let Err(wait) = gate.limiter.check_client(client.ip())
    {
        return refuse(
            grpc,
            ApiError::RateLimited {
                message: format!("{} made too many requests with no valid key", client.ip()),
                retry_after: retry_after_seconds(wait),
            },
        );
    }
    let token = presented.and_then(Token::parse);
    let message = match (presented, &token) {
        (None, _) => "no API key",
        (Some(_), None) => "not an API key",
        (Some(_), Some(_)) => "the key is not valid (unknown, revoked or mistyped)",
    };
    let mut record = refused.record("authenticate", &error, message);
    if let Some(token) = token {
        record.key = Some(token.display_prefix());
        record.key_tenant.clone_from(&token.tenant);
        record.tenant = token.tenant;
    }
    gate.audit.note(record);
    refuse(grpc, error)
}

fn describe_caller(record: &mut AuditRecord, identity: &Identity) {
    record.key = Some(identity.key.clone());
    record.key_tenant.clone_from(&identity.tenant);
    record.tenant.clone_from(&identity.tenant);
}

fn refuse(grpc: bool, error: ApiError) -> Response {
    let mut response = if grpc {
        error.grpc_status().into_http::<axum::body::Body>()
    } else {
        error.into_response()
    };
    response.extensions_mut().insert(NotAdmitted);
    response
}
