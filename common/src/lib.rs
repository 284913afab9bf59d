//! What minicloud's server and its clients share beyond the gRPC contracts: one policy for
//! retrying a read-modify-write that loses a race, one loop for following a kind by list and
//! watch, the Prometheus registry every component registers its metrics in, the files a server
//! keeps its keys in, how such private files are written, and the `--grep` expressions of log
//! reads.

pub mod follow;
pub mod grep;
pub mod metrics;
pub mod private_file;
pub mod read_modify_write;
pub mod server_files;
