//! The body type the ingress passes between clients and backends, and the responses it writes
//! itself.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};

/// The body of requests to backends and of responses to clients.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// A body with nothing in it.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}
