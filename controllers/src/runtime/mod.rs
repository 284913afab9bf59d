//! The small runtime controllers run on: watch-fed caches, a deduplicating work queue, per-key
//! backoff, the driver that runs reconciles on workers, and their metrics.

mod backoff;
mod cache;
mod controller;
mod metrics;
mod queue;
mod reflector;

pub use backoff::Backoff;
pub use cache::{Cache, CacheEvent};
pub use controller::{Action, Controller, ControllerOptions};
pub use metrics::ControllerMetrics;
pub use queue::WorkQueue;
pub use reflector::reflect;
