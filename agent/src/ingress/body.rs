//! The body type the ingress passes between clients and backends, and the responses it writes
//! itself.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use prometheus_client::metrics::counter::Counter;

/// The body of requests to backends and of responses to clients.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// A body with nothing in it.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// `body`, adding the length of each data frame to `counter` as it passes.
pub fn counted(body: Body, counter: Counter) -> Body {
    body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            counter.inc_by(data.len() as u64);
        }
        frame
    })
    .boxed()
}
