//! `mini`, minicloud's single binary: client commands and the all-in-one server.

use clap::Parser;

/// minicloud: a self-hosted, multi-tenant container platform.
#[derive(Parser)]
#[command(name = "mini", version, about)]
struct Cli {}

fn main() {
    Cli::parse();
}
