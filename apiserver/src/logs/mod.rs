//! App logs: the output of every instance of an App, merged into one stream of lines. The API
//! server finds the App's Instances, reaches each one's node agent at its Node's
//! `spec.agentEndpoint`, and prefixes every line with the instance that wrote it. A following
//! stream looks for new containers every [`RESCAN`] and attaches to them: restarts, scale-ups
//! and new releases. The gRPC service is [`crate::grpc::AppLogsService`].

mod lines;
mod sources;

pub use sources::{Follower, RESCAN};
