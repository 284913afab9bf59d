//! Checking a presented key: every request but `/healthz` presents an API key
//! (`Authorization: Bearer <key>`, in HTTP headers and gRPC metadata alike), which
//! [`Authenticator`] turns into an [`Identity`] before any handler runs (see [`crate::gate`]).
//! Keys are ApiKey objects in the store (see [`super::token`]); deleting one revokes it for the
//! next request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minicloud_manifests::{Kind, Role};
use serde_json::Value;

use super::token::{KeySecret as _, Token};
use crate::api::{ApiError, ObjectRef, objects};
use crate::auth::Identity;
use crate::store::{Compare, Store, Txn, TxnOp};

/// How often a key's `status.lastUsed` is written at most.
const LAST_USED_EVERY: Duration = Duration::from_secs(60);

/// Checks presented keys against the ApiKey objects in the store.
#[derive(Clone)]
pub struct Authenticator {
    store: Arc<dyn Store>,
    last_used: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Authenticator {
    /// An authenticator over the keys in `store`.
    pub fn new(store: Arc<dyn Store>) -> Authenticator {
        Authenticator {
            store,
            last_used: Arc::default(),
        }
    }

    /// The identity of a presented key (`None`: the request carried none).
    pub async fn authenticate(&self, presented: Option<&str>) -> Result<Identity, ApiError> {
        let Some(presented) = presented else {
            return Err(ApiError::Unauthenticated(
                "this request carries no API key; pass --key, set MINI_KEY or run `mini login` \
                 (HTTP: send `Authorization: Bearer <key>`)"
                    .into(),
            ));
        };
        let invalid = || {
            ApiError::Unauthenticated(
                "the API key is not valid: it was revoked, mistyped, or belongs to another \
                 minicloud; ask an admin for a new one"
                    .into(),
            )
        };
        let token = Token::parse(presented).ok_or_else(invalid)?;
        let target = ObjectRef::new(
            Kind::ApiKey,
            token.tenant.as_deref(),
            &token.object_name(),
            "",
        )
        .map_err(|_| invalid())?;
        let Some(kv) = self.store.get(&target.key()).await? else {
            return Err(invalid());
        };
        let object = objects::decode(&kv, kv.mod_revision)?;
        let stored = object.pointer("/status/keyHash").and_then(Value::as_str);
        let deleting = objects::metadata_field(&object, "deletionTimestamp").is_some();
        if deleting || !stored.is_some_and(|hash| token.matches(hash)) {
            return Err(invalid());
        }
        let role: Role = object
            .pointer("/spec/role")
            .cloned()
            .and_then(|role| serde_json::from_value(role).ok())
            .ok_or_else(invalid)?;
        if (role == Role::Admin) != token.tenant.is_none() {
            return Err(invalid());
        }
        self.note_use(&target, kv.mod_revision, object).await;
        Ok(Identity {
            key: token.display_prefix(),
            role,
            tenant: token.tenant,
        })
    }

    /// Writes `status.lastUsed`, at most once a minute per key; a lost race just skips it.
    async fn note_use(&self, target: &ObjectRef, revision: i64, mut object: Value) {
        let key = target.key();
        {
            let mut last_used = self.last_used.lock().expect("last-used lock");
            let now = Instant::now();
            if last_used
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < LAST_USED_EVERY)
            {
                return;
            }
            last_used.insert(key.clone(), now);
        }
        if let Some(status) = object.get_mut("status").and_then(Value::as_object_mut) {
            status.insert("lastUsed".into(), Value::String(objects::now()));
        }
        let txn = Txn::when([Compare::ModRevision(key.clone(), revision)])
            .then([TxnOp::Put(key, objects::encode(&object))]);
        if let Err(error) = self.store.txn(txn).await {
            tracing::debug!(%error, "cannot record when a key was last used");
        }
    }
}
