//! What the watch cache keeps of each store change: the object decoded (and its Secret values
//! masked) once, for every watch client.

use std::sync::Arc;

use serde_json::Value;

use super::objects;
use crate::store::{EventKind, Revision, WatchEvent};

/// A store change decoded once for every client of the watch cache.
#[derive(Debug)]
pub struct Change {
    pub(super) deleted: bool,
    pub(super) object: Arc<Value>,
    pub(super) prev: Option<Value>,
    pub(super) revision: Revision,
}

impl Change {
    /// Decodes a store event; undecodable values are logged and skipped.
    pub fn decode(event: &WatchEvent) -> Option<Arc<Change>> {
        let revision = event.revision();
        let prev = event
            .prev
            .as_ref()
            .and_then(|kv| objects::decode(kv, kv.mod_revision).ok())
            .map(masked);
        let decoded = match event.kind {
            EventKind::Put => objects::decode(&event.kv, revision),
            EventKind::Delete => match &event.prev {
                Some(kv) => objects::decode(kv, revision),
                None => {
                    Ok(serde_json::json!({"metadata": {"resourceVersion": revision.to_string()}}))
                }
            },
        };
        match decoded {
            Ok(object) => Some(Arc::new(Change {
                deleted: event.kind == EventKind::Delete,
                object: Arc::new(masked(object)),
                prev,
                revision,
            })),
            Err(error) => {
                tracing::error!(key = %event.kv.key, %error, "skipping undecodable object in watch");
                None
            }
        }
    }
}

/// `object` as every watch client sees it: Secret values masked.
fn masked(mut object: Value) -> Value {
    crate::secrets::mask(&mut object);
    object
}
