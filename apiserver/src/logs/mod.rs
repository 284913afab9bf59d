//! App logs: every instance's output merged into one stream of lines, read from the logs each
//! node's agent keeps, so an App's lines outlive its instances, its Releases and the App
//! itself. The API server checks the caller may read the tenant's Apps, asks every node's
//! agent ([`node`]), and merges what they answer ([`merge`]); a following stream goes on
//! across agent restarts from the last line each node sent. The gRPC service is
//! [`crate::grpc::AppLogsService`].

pub mod merge;
pub mod node;
pub mod read;

pub use read::{LogRead, open};
