//! The small runtime controllers run on: watch-fed caches, a deduplicating work queue, per-key
//! backoff, and the driver that runs reconciles on workers.

mod backoff;
mod cache;
mod controller;
mod queue;
mod reflector;

pub use backoff::Backoff;
pub use cache::{Cache, CacheEvent};
pub use controller::{Action, Controller, ControllerOptions};
pub use queue::WorkQueue;
pub use reflector::reflect;
