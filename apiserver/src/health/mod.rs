//! Health history, as `mini health` shows it: the latest probes of an App's Instances, read
//! from the agents of the nodes they run on (each bounded by a timeout), for callers who may
//! read the App. The gRPC service is [`crate::grpc::HealthService`].

mod history;

pub use history::history;
