//! Usage records (metering): per tenant and App, what instances used and were allocated,
//! integrated over time into hourly records kept in the store — CPU core-seconds used (from the
//! containers' cumulative counters) and allocated (limits × running time), memory allocated and
//! its peak, storage (volume sizes × time) and instance-hours. A loop in the API server
//! ([`spawn`]) meters every tenant each interval; [`records`] answers `mini usage` through
//! [`crate::grpc::MeteringService`].

mod error;
mod group;
mod hours;
mod integrate;
mod observation;
mod persist;
mod range;
mod record;
mod records;
mod run;

pub use error::MeteringError;
pub use records::records;
pub use run::spawn;
