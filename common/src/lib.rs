//! What minicloud's server and its clients share beyond the gRPC contracts: the files a server
//! keeps its keys in, and how such private files are written.

pub mod private_file;
pub mod server_files;
