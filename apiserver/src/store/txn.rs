//! Multi-key transactions: the compares that guard them, the writes they apply, and what they
//! did.

use super::error::{Result, StoreError};
use super::kv::Revision;

/// A condition a [`Txn`] checks before it applies its operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compare {
    /// The key does not exist.
    Absent(String),
    /// The key exists, at any revision.
    Present(String),
    /// The key exists and was last modified at exactly this revision.
    ModRevision(String, Revision),
}

/// A write inside a [`Txn`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    /// Create or replace the key's value.
    Put(String, Vec<u8>),
    /// Delete the key; a no-op when it does not exist.
    Delete(String),
}

/// A multi-key transaction: when every compare holds, all ops are applied atomically at one
/// new revision; otherwise nothing is written. A key may appear in at most one op.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Txn {
    /// Conditions that must all hold.
    pub compares: Vec<Compare>,
    /// Writes applied when they do.
    pub ops: Vec<TxnOp>,
}

impl Txn {
    /// A transaction guarded by `compares`.
    pub fn when(compares: impl Into<Vec<Compare>>) -> Self {
        Self {
            compares: compares.into(),
            ops: Vec::new(),
        }
    }

    /// Adds the writes to apply when the compares hold.
    pub fn then(mut self, ops: impl Into<Vec<TxnOp>>) -> Self {
        self.ops.extend(ops.into());
        self
    }

    /// Checks the shape rules both backends enforce: at most one op per key.
    pub fn check_shape(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for op in &self.ops {
            let key = match op {
                TxnOp::Put(key, _) | TxnOp::Delete(key) => key,
            };
            if !seen.insert(key.as_str()) {
                return Err(StoreError::InvalidTxn(format!(
                    "key {key} appears in more than one operation; merge them into one"
                )));
            }
        }
        Ok(())
    }
}

/// What a transaction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnOutcome {
    /// Whether every compare held and the ops were applied.
    pub succeeded: bool,
    /// The revision of the applied ops, or the current revision when nothing was written.
    pub revision: Revision,
}
