//! The reconcile history: the latest decisions controllers made about each object, kept in
//! the store under `/minicloud-reconciles/` — outside `/minicloud/`, so no watch, cache or
//! cascade sees them and recording one never triggers a reconcile. Each object keeps its
//! newest [`KEEP`] decisions; a decision carries no object content, only names and outcomes.
//! The gRPC service is [`crate::grpc::ReconcilesService`].

mod history;

pub use history::{KEEP, list, record};
