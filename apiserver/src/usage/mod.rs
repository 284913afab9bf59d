//! Measured resource use, as `mini top` shows it: every node agent's latest sample, read at
//! once, joined with the Instances in the caller's scope (their limits and restarts) and, for
//! admins, with every Node's capacity and allocation. The gRPC service is
//! [`crate::grpc::UsageService`].

mod join;
mod top;

pub(crate) use join::InstanceFacts;
pub(crate) use top::read_agent;
pub use top::top;
