//! The audit log: every mutation, and every authentication or authorization failure, as one
//! [`AuditRecord`] stored durably under [`PREFIX`] — outside the object key space, so no watch
//! and no tenant cascade ever sees it — at `<PREFIX><unix nanos, 20 digits>-<sequence>-<uuid>`,
//! which orders the records by time (then, within one timestamp, by the order one server keyed
//! them in).
//!
//! Recording never carries a request body: a record names the caller (key prefix, tenant),
//! the verb, the object's kind and name, the result and a short, body-free reason.
//!
//! A successful change writes its record in its own store transaction ([`stored_with`]): the
//! change and its record are stored together or not at all. Everything else goes through
//! [`AuditLog`], the handle the request path records through; one background writer per process
//! (see [`writer`]) stores those records in batches and trims the log to its retention. What
//! happens under pressure:
//! - a change made without a transaction of its own (a Secret key rotation) is *committed*: the
//!   request waits (in the same batch as every other waiting request) until its record is
//!   stored — the writer retries a batch the store refuses until it is stored — so it is
//!   acknowledged only with its record;
//! - denials and failed requests are *noted*: never waited for; when the queue is full they are
//!   counted and the writer stores one `audit-overflow` record saying how many were dropped;
//! - [`AuditLog::flush`] (the server calls it at shutdown) returns once everything queued
//!   before it is stored.

mod log;
mod query;
mod record;
mod writer;

pub use log::AuditLog;
pub use query::AuditQuery;
pub use record::{AuditRecord, PREFIX, stored_with};
pub use writer::AuditOptions;
