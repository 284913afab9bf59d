//! Secret values at rest: sealed with an AEAD under the server's keyring before they are stored,
//! masked in everything the API returns, opened only for the admin-only resolve call (the
//! controllers hand the values to node agents as container env) and for re-sealing on rotation.
//!
//! The keyring comes from `MINICLOUD_SECRET_KEY` (comma-separated base64 keys, the primary
//! first) or from `<data dir>/secret.key` (0600), created with a new key on the first start
//! ([`SecretKeys`]). How the resource API seals, resolves and re-seals values is in [`api`].

pub mod api;
mod cipher;
mod key_source;
mod keyring;
mod object;

pub use key_source::{KeySource, SecretKeys, SecretKeysError};
pub use keyring::{KEY_LEN, Key, Keyring, KeyringError};
pub use object::{
    MASK, Resealed, Unreadable, check_values_are_strings, key_ids, mask, mask_diff, open_all,
    reseal, reveal, seal,
};
