//! Request metrics: every REST and gRPC request counted by protocol, route and status code,
//! with the time until its response started (for a watch, until it was set up — not how long
//! it stayed open).
//!
//! Labels stay bounded whatever clients send: REST requests are labelled by their route
//! template (`/api/v1/{kind}/{name}`), gRPC requests by their method
//! (`/minicloud.v1.ResourceService/Apply`) only once the service has recognised it — an unknown
//! method, or a request refused before it reached the service, keeps the service's template —
//! and a path no route matches is `unmatched`. The code is the HTTP status for REST, the
//! `grpc-status` for gRPC, read from the trailers when the response has a body.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use minicloud_common::metrics::{HistogramFamily, Metrics, histogram_family};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::gate::NotAdmitted;

/// The route of a request no route matched.
const UNMATCHED: &str = "unmatched";
/// The gRPC status of a response that ended without one (UNKNOWN).
const NO_STATUS: &str = "2";
/// The gRPC status of a response whose client went away before it ended (CANCELLED).
const CANCELLED: &str = "1";
/// The gRPC status of a method the service does not have.
const UNIMPLEMENTED: &str = "12";

/// What a request is counted by.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    protocol: &'static str,
    route: String,
    code: String,
}

/// The request counter and latency histograms.
#[derive(Clone)]
pub struct RequestMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily<RequestLabels>,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics {
            requests: Family::default(),
            duration: histogram_family(),
        }
    }
}

impl RequestMetrics {
    /// Adds `minicloud_apiserver_requests_total` and
    /// `minicloud_apiserver_request_duration_seconds` (both `{protocol, route, code}`).
    pub fn register(&self, metrics: &Metrics) {
        metrics.register(|registry| {
            registry.register(
                "apiserver_requests",
                "API requests answered, by protocol (rest or grpc), route and status code",
                self.requests.clone(),
            );
            registry.register(
                "apiserver_request_duration_seconds",
                "Time until the response to an API request started, by protocol, route and status code",
                self.duration.clone(),
            );
        });
    }

    fn record(&self, labels: &RequestLabels, took: Duration) {
        self.requests.get_or_create(labels).inc();
        self.duration
            .get_or_create(labels)
            .observe(took.as_secs_f64());
    }
}

/// The middleware (outside the gate, so refusals count too) that measures each request.
pub async fn measure(
    State(metrics): State<RequestMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"));
    let path = request.uri().path().to_owned();
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned());
    let response = next.run(request).await;
    let took = started.elapsed();
    if !grpc {
        let labels = RequestLabels {
            protocol: "rest",
            route: template.unwrap_or_else(|| UNMATCHED.to_owned()),
            code: response.status().as_u16().to_string(),
        };
        metrics.record(&labels, took);
        return response;
    }
    let status = grpc_status(response.headers());
    let recognised =
        status != Some(UNIMPLEMENTED) && response.extensions().get::<NotAdmitted>().is_none();
    let pending = Pending {
        metrics,
        route: grpc_route(&path, template, recognised),
        took,
        recorded: false,
    };
    if let Some(status) = status {
        pending.finish(status);
        return response;
    }
    response.map(|inner| {
        Body::new(GrpcBody {
            inner,
            pending: Some(pending),
        })
    })
}

/// The route label of a gRPC request to `path`: the method itself when the service
/// `template` (`/minicloud.v1.ResourceService/{*rest}`) matched and `recognised` it, else the
/// template.
fn grpc_route(path: &str, template: Option<String>, recognised: bool) -> String {
    let Some(template) = template else {
        return UNMATCHED.to_owned();
    };
    let method = template
        .strip_suffix("{*rest}")
        .and_then(|service| path.strip_prefix(service))
        .filter(|method| !method.is_empty() && !method.contains('/'));
    match method {
        Some(_) if recognised => path.to_owned(),
        _ => template,
    }
}

/// A gRPC status as a label value: one of the 17 codes, else UNKNOWN.
fn grpc_status(headers: &HeaderMap) -> Option<&'static str> {
    const CODES: [&str; 17] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    let value = headers.get("grpc-status")?;
    let code = value
        .to_str()
        .ok()
        .and_then(|text| text.parse::<usize>().ok());
    Some(
        code.and_then(|code| CODES.get(code).copied())
            .unwrap_or(NO_STATUS),
    )
}

/// A gRPC request waiting for its status, which comes in the trailers.
struct Pending {
    metrics: RequestMetrics,
    route: String,
    took: Duration,
    recorded: bool,
}

impl Pending {
    fn finish(mut self, code: &str) {
        self.record(code);
    }

    fn record(&mut self, code: &str) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let labels = RequestLabels {
            protocol: "grpc",
            route: std::mem::take(&mut self.route),
            code: code.to_owned(),
        };
        self.metrics.record(&labels, self.took);
    }
}

impl Drop for Pending {
    /// A response dropped before its trailers: the client went away.
    fn drop(&mut self) {
        self.record(CANCELLED);
    }
}

/// A gRPC response body that records the request when its trailers pass.
struct GrpcBody {
    inner: Body,
    pending: Option<Pending>,
}

impl HttpBody for GrpcBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(grpc_status),
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => Some(None),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(pending) = self.pending.take()
        {
            pending.finish(code.unwrap_or(NO_STATUS));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = "/minicloud.v1.ResourceService/{*rest}";

    #[test]
    fn a_recognised_grpc_method_is_its_own_route() {
        let route = grpc_route(
            "/minicloud.v1.ResourceService/Apply",
            Some(SERVICE.into()),
            true,
        );
        assert_eq!(route, "/minicloud.v1.ResourceService/Apply");
    }

    #[test]
    fn unknown_or_refused_methods_and_odd_paths_keep_the_template() {
        let path = "/minicloud.v1.ResourceService/Made-Up";
        assert_eq!(grpc_route(path, Some(SERVICE.into()), false), SERVICE);
        let nested = "/minicloud.v1.ResourceService/a/b";
        assert_eq!(grpc_route(nested, Some(SERVICE.into()), true), SERVICE);
        let rest = "/api/v1/{kind}/{name}";
        assert_eq!(
            grpc_route("/api/v1/apps/web", Some(rest.into()), true),
            rest
        );
        assert_eq!(grpc_route("/nowhere", None, true), UNMATCHED);
    }

    #[test]
    fn a_grpc_status_label_is_one_of_the_codes() {
        let mut headers = HeaderMap::new();
        assert_eq!(grpc_status(&headers), None);
        headers.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some("5"));
        headers.insert("grpc-status", "1234567".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some(NO_STATUS));
    }
}
