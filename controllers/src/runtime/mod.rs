//! The small runtime controllers run on: watch-fed caches, a deduplicating work queue, per-key
//! backoff, the driver that runs reconciles on workers, their metrics, and the reconcile
//! history (triggers, the notes a reconcile makes, the decisions that acted or failed).

mod backoff;
mod cache;
mod controller;
mod history;
mod metrics;
mod notes;
mod queue;
mod reflector;

pub use backoff::Backoff;
pub use cache::{Cache, CacheEvent};
pub use controller::{Action, Controller, ControllerOptions};
pub use history::{Decision, HistorySink, Subject};
pub use metrics::ControllerMetrics;
pub use notes::note;
pub use queue::WorkQueue;
pub use reflector::reflect;
