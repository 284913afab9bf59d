//! The gRPC faces of the API server, one service a file: resources, API keys, Secret values,
//! the audit log, App logs, measured use, health history and reconcile history. Each maps its messages onto [`crate::api::ResourceApi`]; what
//! they share in reading a request is in [`crate::wire`].

mod audit;
mod health;
mod keys;
mod logs;
mod metering;
mod reconciles;
mod resources;
mod secrets;
mod usage;

pub use audit::GrpcAudit;
pub use health::HealthService;
pub use keys::GrpcKeys;
pub use logs::AppLogsService;
pub use metering::MeteringService;
pub use reconciles::ReconcilesService;
pub use resources::GrpcResources;
pub use secrets::GrpcSecrets;
pub use usage::UsageService;
