//! The API key a gRPC client presents on every call, as `authorization: Bearer <key>` metadata.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Adds the key (when there is one) to every request of a client built with
/// `XClient::with_interceptor(channel, bearer)`.
#[derive(Clone, Debug, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// Presents `key`; `None` presents nothing (the server will refuse with UNAUTHENTICATED).
    pub fn new(key: Option<&str>) -> Result<Bearer, InvalidKey> {
        key.map(|key| {
            format!("Bearer {}", key.trim())
                .parse()
                .map_err(|_| InvalidKey)
        })
        .transpose()
        .map(Bearer)
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A key that cannot travel in a header (it contains control or non-ASCII characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the API key contains characters no key has; copy it again")]
pub struct InvalidKey;

/// A channel whose every call presents a key: build clients with `XClient::new(authorized)`.
pub type Authorized =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;

/// `channel` presenting `bearer` on every call.
pub fn authorized(channel: tonic::transport::Channel, bearer: Bearer) -> Authorized {
    tonic::service::interceptor::InterceptedService::new(channel, bearer)
}
