//! Why the ingress answered a request itself instead of with a backend's response, and the
//! status and short plain-text explanation the client gets for each reason.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use super::body::Body;

/// A request the ingress could not pass to a backend.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Neither a `Host` header nor an authority in the request line.
    #[error("the request names no host; send a Host header such as web.acme.localhost")]
    NoHost,
    /// The first complete view of Apps and Instances has not arrived yet.
    #[error("the ingress is still loading its routes; retry in a moment")]
    Loading,
    /// No App is served at this host.
    #[error("no app is served at {0}")]
    UnknownHost(String),
    /// The App exists but none of its instances is ready.
    #[error("app {app} of tenant {tenant} has no ready instance")]
    NoReadyInstance {
        /// The App's tenant.
        tenant: String,
        /// The App's name.
        app: String,
    },
    /// Connecting to the backend or exchanging the request with it failed.
    #[error("the app's instance at {backend} failed: {}", causes(.source))]
    BackendFailed {
        /// The instance's address.
        backend: SocketAddr,
        /// What failed.
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The backend switched protocols on a request that asked for no switch.
    #[error("the app's instance at {0} switched protocols unasked")]
    UnaskedUpgrade(SocketAddr),
    /// The backend did not answer in time.
    #[error("the app's instance at {backend} did not answer within {timeout:?}")]
    Timeout {
        /// The instance's address.
        backend: SocketAddr,
        /// How long the ingress waited.
        timeout: Duration,
    },
}

/// An error and its causes, outermost first: `client error (Connect): tcp connect error:
/// Connection refused (os error 111)`.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

impl Refusal {
    /// The HTTP status for this refusal: the one place refusals become codes.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NoHost => StatusCode::BAD_REQUEST,
            Refusal::UnknownHost(_) => StatusCode::NOT_FOUND,
            Refusal::Loading | Refusal::NoReadyInstance { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::BackendFailed { .. } | Refusal::UnaskedUpgrade(_) => StatusCode::BAD_GATEWAY,
            Refusal::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The response the client gets: the status and the reason as one line of text.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let body = Full::new(Bytes::from(format!("{self}\n")))
            .map_err(|never| match never {})
            .boxed();
        let mut response = Response::new(body);
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}
