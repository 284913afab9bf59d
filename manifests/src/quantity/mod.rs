//! Resource quantities: CPU in exact millicores and byte sizes in exact bytes, parsed from
//! the Kubernetes-style strings users write (`500m`, `1.5`, `256Mi`, `1G`) and printed back in
//! one canonical form.

mod bytes;
mod cpu;
mod decimal;
mod error;
mod serde_impl;

pub use bytes::Bytes;
pub use cpu::Cpu;
pub use error::{QuantityError, Result};
