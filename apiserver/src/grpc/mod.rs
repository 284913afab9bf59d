//! The gRPC faces of the API server, one service a file: resources, API keys, Secret values,
//! the audit log, App logs and measured use. Each maps its messages onto [`crate::api::ResourceApi`]; what
//! they share in reading a request is in [`crate::wire`].

mod audit;
mod keys;
mod logs;
mod metering;
mod resources;
mod secrets;
mod usage;

pub use audit::GrpcAudit;
pub use keys::GrpcKeys;
pub use logs::AppLogsService;
pub use metering::MeteringService;
pub use resources::GrpcResources;
pub use secrets::GrpcSecrets;
pub use usage::UsageService;
