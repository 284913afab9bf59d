//! Where a minicloud server keeps its keys: the names its operator works with and that the
//! `mini` commands name in their advice.

/// The admin key a server prints on its first start, in its data dir (mode 0600).
pub const ADMIN_KEY_FILE: &str = "admin.key";
/// The keys Secret values are sealed under, in the server's data dir (mode 0600), when they do
/// not come from [`SECRET_KEY_ENV`].
pub const SECRET_KEY_FILE: &str = "secret.key";
/// The environment variable that, when set, holds the keys Secret values are sealed under
/// (comma-separated base64, the primary first) instead of [`SECRET_KEY_FILE`].
pub const SECRET_KEY_ENV: &str = "MINICLOUD_SECRET_KEY";
