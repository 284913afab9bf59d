//! The labels minicloud's controllers put on the objects they create, by which the server and
//! clients find an App's Releases and Instances (`app=web`); the Docker labels are in
//! [`crate::labels`].

/// On Releases and Instances: the App they belong to.
pub const APP: &str = "app";
/// On Instances: the Release they run.
pub const RELEASE: &str = "release";
