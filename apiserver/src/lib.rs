//! The minicloud API server: the storage layer today; the resource API, admission and watch
//! fan-out are built on top of it.

pub mod api;
pub mod audit;
pub mod auth;
pub mod grpc;
pub mod keys;
pub mod logs;
pub mod ratelimit;
pub mod rest;
pub mod secret_service;
pub mod secrets;
pub mod server;
pub mod store;
pub mod watch_cache;
