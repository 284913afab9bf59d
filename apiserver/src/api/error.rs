//! [`ApiError`]: every way a resource request can fail, and the one place where each failure
//! becomes a gRPC status and an HTTP status with a machine-readable reason.

use axum::http::StatusCode;
use minicloud_common::read_modify_write::{Conflicting, KeptChanging};
use minicloud_manifests::ValidationErrors;
use minicloud_proto::metadata::{self, reason};

use crate::store::StoreError;
use crate::watch_cache::WatchCacheError;

/// Result of a resource API call.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Why a resource request failed. The message is for people; [`ApiError::reason`] is for code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is malformed (bad JSON, unknown kind, bad selector).
    #[error("{0}")]
    BadRequest(String),
    /// The object failed validation.
    #[error("{kind} {name:?} is invalid: {errors}")]
    Invalid {
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
        /// Each field that is wrong, with its path.
        errors: ValidationErrors,
    },
    /// The object does not exist (or the caller may not know it does).
    #[error("{what} not found")]
    NotFound {
        /// `app "web" in tenant "acme"`.
        what: String,
    },
    /// The request carries no API key, or one that is not valid (unknown, revoked, mistyped).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller's key does not allow this request.
    #[error("{0}")]
    Forbidden(String),
    /// The write would take the tenant past its quota.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A precondition on the object's version failed, or it changed while being written.
    #[error("{0}")]
    Conflict(String),
    /// The object names an owner that no longer exists (or is being deleted), so creating it
    /// would leave a dependent without its owner.
    #[error("{0}")]
    OwnerGone(String),
    /// The requested resourceVersion is too old to watch from.
    #[error("{0}")]
    Expired(String),
    /// The watch client read too slowly and was cut off.
    #[error("{0}")]
    TooSlow(String),
    /// The request body is larger than the server accepts.
    #[error(
        "request body is larger than the {limit} byte limit; split the manifest into smaller ones"
    )]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The caller sent more requests than its rate limit allows.
    #[error("{message}; retry after {retry_after} s")]
    RateLimited {
        /// Whose limit, and what it is.
        message: String,
        /// Whole seconds until a request will be accepted again.
        retry_after: u64,
    },
    /// The store could not serve the request.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The machine-readable reason, stable across releases (one of [`reason`]'s).
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => reason::BAD_REQUEST,
            ApiError::Invalid { .. } => reason::INVALID,
            ApiError::NotFound { .. } => reason::NOT_FOUND,
            ApiError::Unauthenticated(_) => reason::UNAUTHENTICATED,
            ApiError::Forbidden(_) => reason::FORBIDDEN,
            ApiError::QuotaExceeded(_) => reason::QUOTA_EXCEEDED,
            ApiError::Conflict(_) => reason::CONFLICT,
            ApiError::OwnerGone(_) => reason::OWNER_GONE,
            ApiError::Expired(_) => reason::EXPIRED,
            ApiError::TooSlow(_) => reason::TOO_SLOW,
            ApiError::TooLarge { .. } => reason::REQUEST_TOO_LARGE,
            ApiError::RateLimited { .. } => reason::RATE_LIMITED,
            ApiError::Unavailable(_) => reason::UNAVAILABLE,
            ApiError::Internal(_) => reason::INTERNAL,
        }
    }

    /// The HTTP status for this error.
    pub fn http_status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::QuotaExceeded(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) | ApiError::OwnerGone(_) => StatusCode::CONFLICT,
            ApiError::Expired(_) | ApiError::TooSlow(_) => StatusCode::GONE,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC status for this error; the reason travels in the [`metadata::REASON`]
    /// metadata.
    pub fn grpc_status(&self) -> tonic::Status {
        let code = match self {
            ApiError::BadRequest(_) | ApiError::Invalid { .. } => tonic::Code::InvalidArgument,
            ApiError::NotFound { .. } => tonic::Code::NotFound,
            ApiError::Unauthenticated(_) => tonic::Code::Unauthenticated,
            ApiError::Forbidden(_) => tonic::Code::PermissionDenied,
            ApiError::QuotaExceeded(_) => tonic::Code::ResourceExhausted,
            ApiError::Conflict(_) => tonic::Code::Aborted,
            ApiError::OwnerGone(_) => tonic::Code::FailedPrecondition,
            ApiError::Expired(_) | ApiError::TooSlow(_) => tonic::Code::OutOfRange,
            ApiError::TooLarge { .. } | ApiError::RateLimited { .. } => {
                tonic::Code::ResourceExhausted
            }
            ApiError::Unavailable(_) => tonic::Code::Unavailable,
            ApiError::Internal(_) => tonic::Code::Internal,
        };
        let mut status = tonic::Status::new(code, self.to_string());
        status.metadata_mut().insert(
            metadata::REASON,
            tonic::metadata::MetadataValue::from_static(self.reason()),
        );
        if let Some(seconds) = self.retry_after() {
            status
                .metadata_mut()
                .insert(metadata::RETRY_AFTER, seconds.into());
        }
        status
    }

    /// Whole seconds the caller should wait before trying again, when that is known.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The JSON body of an HTTP error response.
    pub fn http_body(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.http_status().as_u16(),
            "reason": self.reason(),
            "message": self.to_string(),
        })
    }
}

/// A read-modify-write that keeps losing its race is a conflict the caller may try again.
impl From<KeptChanging> for ApiError {
    fn from(error: KeptChanging) -> Self {
        ApiError::Conflict(error.to_string())
    }
}

impl Conflicting for ApiError {
    fn is_conflict(&self) -> bool {
        matches!(self, ApiError::Conflict(_))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { .. } | StoreError::AlreadyExists { .. } => {
                ApiError::Conflict(error.to_string())
            }
            StoreError::Compacted { .. } => ApiError::Expired(error.to_string()),
            StoreError::NotFound { .. } => ApiError::NotFound {
                what: error.to_string(),
            },
            StoreError::InvalidTxn(_) | StoreError::Corrupt { .. } => {
                ApiError::Internal(error.to_string())
            }
            StoreError::Etcd(_)
            | StoreError::EtcdUnreachable { .. }
            | StoreError::WatchEnded(_)
            | StoreError::Io { .. } => ApiError::Unavailable(error.to_string()),
        }
    }
}

impl From<WatchCacheError> for ApiError {
    fn from(error: WatchCacheError) -> Self {
        match error {
            WatchCacheError::Expired { .. } => ApiError::Expired(error.to_string()),
            WatchCacheError::TooSlow { .. } => ApiError::TooSlow(error.to_string()),
            WatchCacheError::Store(store) => store.into(),
        }
    }
}
