//! Kept logs: the agent collects every managed container's output into a store of its own
//! ([`store`]), so `mini logs` reads it after the container, its Release or its App are gone.
//! Each tenant keeps up to the admin's [`Retention`], oldest lines dropped first; lines are
//! whole, overlong ones cut with a marker, invalid UTF-8 replaced. Collection resumes from a
//! cursor per container after an agent restart, neither losing nor repeating a line.

pub mod collector;
pub mod collectors;
pub mod filter;
pub mod kept;
pub mod line;
pub mod reader;
pub mod retention;
pub mod store;
pub mod writer;

pub use filter::{Filter, FilterError};
pub use kept::KeptLogs;
pub use retention::Retention;
pub use store::{LogStore, LogStoreError};
