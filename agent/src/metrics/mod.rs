//! Resource metrics of this node's instances: a [`Sampler`] reads every running container's
//! counters through the engine at an interval, one reading per container and round (not a
//! stream per container), and keeps the latest [`NodeSample`] for whoever asks: the `Metrics`
//! RPC behind `mini top`, and the per-instance series of `/metrics` ([`SampleCollector`]).

pub mod exposition;
pub mod rate;
pub mod report;
pub mod sampler;

pub use exposition::SampleCollector;
pub use rate::cpu_millicores;
pub use report::{ingress_traffic, node_metrics};
pub use sampler::{DEFAULT_INTERVAL, InstanceSample, NodeSample, Sampler};
