//! One module per `mini` subcommand: its arguments and what it does.

pub mod agent;
pub mod apply;
pub mod audit;
pub mod controllers;
pub mod delete;
pub mod describe;
pub mod diff;
pub mod events;
pub mod get;
pub mod health;
pub mod key;
pub mod login;
pub mod logs;
pub mod quota;
pub mod restart;
pub mod rollout;
pub mod secret;
pub mod server;
pub mod snapshot;
pub mod tenant;
pub mod top;
pub mod usage;
pub mod volume;
mod watch;
