//! The minicloud API server: the `Store` (etcd or embedded), the resource API over it (admission,
//! quotas, Secrets, the audit log), watch fan-out, and the gRPC and REST faces behind
//! authentication and rate limits, and the Prometheus metrics of all of it.

pub mod agents;
pub mod api;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod gate;
pub mod grpc;
pub mod health;
pub mod logs;
pub mod metering;
pub mod metrics;
pub mod ratelimit;
pub mod reconciles;
pub mod rest;
pub mod secrets;
pub mod server;
pub mod store;
pub mod usage;
pub mod watch_cache;
pub mod wire;
