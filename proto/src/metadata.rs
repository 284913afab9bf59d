//! What travels beside minicloud's messages: the metadata keys servers and clients both read,
//! and the stable reasons a failed request carries, on which code decides rather than on a
//! message meant for people.

/// The gRPC metadata key carrying the [`reason`] a request failed for.
pub const REASON: &str = "minicloud-reason";
/// The gRPC metadata key carrying, on a request refused by a rate limit, the whole seconds to
/// wait before trying again (HTTP uses its `Retry-After` header).
pub const RETRY_AFTER: &str = "retry-after";
/// The HTTP header and gRPC metadata key carrying the request's id, as the audit log records it.
pub const REQUEST_ID: &str = "x-request-id";

/// The [`reason`] a minicloud server sent with `status`, when it sent one.
pub fn reason_of(status: &tonic::Status) -> Option<&str> {
    status
        .metadata()
        .get(REASON)
        .and_then(|value| value.to_str().ok())
}

/// Whether `status` says the revision a watch started from is gone, or the watcher fell too far
/// behind (from a server without reasons: OUT_OF_RANGE): the caller lists again.
pub fn is_expired(status: &tonic::Status) -> bool {
    let reason = reason_of(status);
    matches!(reason, Some(reason::EXPIRED | reason::TOO_SLOW))
        || (reason.is_none() && status.code() == tonic::Code::OutOfRange)
}

/// Why a request failed, stable across releases: the [`REASON`] metadata of a gRPC status and
/// the `reason` field of an HTTP error body.
pub mod reason {
    /// The request itself is malformed (bad JSON, unknown kind, bad selector).
    pub const BAD_REQUEST: &str = "BadRequest";
    /// The object failed validation.
    pub const INVALID: &str = "Invalid";
    /// The object does not exist (or the caller may not know it does).
    pub const NOT_FOUND: &str = "NotFound";
    /// The request carries no valid API key.
    pub const UNAUTHENTICATED: &str = "Unauthenticated";
    /// The caller's key does not allow the request.
    pub const FORBIDDEN: &str = "Forbidden";
    /// The write would take the tenant past its quota.
    pub const QUOTA_EXCEEDED: &str = "QuotaExceeded";
    /// A precondition on the object's version failed, or it changed while being written.
    pub const CONFLICT: &str = "Conflict";
    /// The object names an owner that no longer exists (or is being deleted).
    pub const OWNER_GONE: &str = "OwnerGone";
    /// The resourceVersion to watch from is no longer retained: list again.
    pub const EXPIRED: &str = "Expired";
    /// The watcher read too slowly and was cut off: list again.
    pub const TOO_SLOW: &str = "TooSlow";
    /// The request body is larger than the server accepts.
    pub const REQUEST_TOO_LARGE: &str = "RequestTooLarge";
    /// The caller sent more requests than its rate limit allows; see [`super::RETRY_AFTER`].
    pub const RATE_LIMITED: &str = "RateLimited";
    /// The server's store cannot serve the request.
    pub const UNAVAILABLE: &str = "Unavailable";
    /// A bug or corrupt data on the server.
    pub const INTERNAL: &str = "Internal";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_read_from_the_status_metadata() {
        let mut status = tonic::Status::aborted("lost the race");
        assert_eq!(reason_of(&status), None);
        status
            .metadata_mut()
            .insert(REASON, reason::CONFLICT.parse().unwrap());
        assert_eq!(reason_of(&status), Some("Conflict"));
    }

    #[test]
    fn expiry_is_read_from_the_reason_or_the_code() {
        let mut status = tonic::Status::aborted("behind");
        status
            .metadata_mut()
            .insert(REASON, "TooSlow".parse().unwrap());
        assert!(is_expired(&status));
        assert!(is_expired(&tonic::Status::out_of_range("old")));
        assert!(!is_expired(&tonic::Status::unavailable("down")));
    }
}
