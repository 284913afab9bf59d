//! Secret values through the API: sealed on the way into the store (under the keyring, held for
//! reading until the write is done), opened only for [`ResourceApi::resolve_secret`] (admin
//! only: the controllers hand the values to node agents) and re-sealed by
//! [`ResourceApi::rotate_secret_key`]. Everything else the API returns is masked.

use std::collections::{BTreeMap, BTreeSet};

use minicloud_common::read_modify_write::ReadModifyWrite;
use minicloud_common::server_files::SECRET_KEY_ENV;
use minicloud_manifests::Kind;
use serde_json::Value;
use tokio::sync::OwnedRwLockReadGuard;

use crate::api::objects::{self, ObjectRef};
use crate::api::{ApiError, RequestContext, ResourceApi, Result};
use crate::secrets::{self, KeySource, Keyring};
use crate::store::{KeyValue, keys};

/// How an apply stores a Secret's values: sealed under the keyring it holds (nothing for other
/// kinds).
pub(crate) struct Sealing {
    ring: Option<OwnedRwLockReadGuard<Keyring>>,
    store_key: String,
}

impl Sealing {
    /// For objects that hold no Secret values.
    pub(crate) fn none() -> Self {
        Self {
            ring: None,
            store_key: String::new(),
        }
    }

    /// The stored form of `object`: values sealed, each unchanged one keeping its ciphertext
    /// from `stored` (the object as stored before).
    pub(crate) fn encode(&self, object: &Value, stored: Option<&Value>) -> Vec<u8> {
        match &self.ring {
            Some(ring) => {
                let mut sealed = object.clone();
                secrets::seal(ring, &self.store_key, &mut sealed, stored);
                objects::encode(&sealed)
            }
            None => objects::encode(object),
        }
    }

    /// A stored object with its values opened, to compare with an applied one.
    pub(crate) fn reveal(&self, stored: &Value) -> Value {
        let mut opened = stored.clone();
        if let Some(ring) = &self.ring {
            secrets::reveal(ring, &self.store_key, &mut opened);
        }
        opened
    }
}

/// What a key rotation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The key every value is now sealed under.
    pub primary: String,
    /// How many Secrets were written back with re-sealed values.
    pub reencrypted: usize,
    /// Keys no value needs any more, dropped from the key file (or, for keys from
    /// `MINICLOUD_SECRET_KEY`, safe to remove from it).
    pub retired: Vec<String>,
    /// Secrets with values no key opens (`tenant/name`), left as they were: apply them again.
    pub unreadable: Vec<String>,
    /// Whether the keys come from `MINICLOUD_SECRET_KEY` (which the server cannot change).
    pub keys_from_environment: bool,
}

impl ResourceApi {
    /// How an apply of `target` stores its values.
    pub(crate) async fn sealing(&self, target: &ObjectRef) -> Sealing {
        match target.kind {
            Kind::Secret => Sealing {
                ring: Some(self.secrets.read_owned().await),
                store_key: target.key(),
            },
            _ => Sealing::none(),
        }
    }

    /// Every value of the Secret `target`, in plaintext. Admin only: the controllers resolve
    /// `valueFrom.secret` references with it.
    pub async fn resolve_secret(
        &self,
        ctx: &RequestContext,
        target: &ObjectRef,
    ) -> Result<BTreeMap<String, String>> {
        ctx.check_admin("read Secret values")?;
        if target.kind != Kind::Secret {
            return Err(ApiError::BadRequest(format!(
                "only Secrets have values to resolve, not {}",
                target.kind.as_str()
            )));
        }
        let kv = self
            .store
            .get(&target.key())
            .await?
            .ok_or_else(|| target.not_found())?;
        let object = objects::decode(&kv, kv.mod_revision)?;
        let ring = self.secrets.read().await;
        secrets::open_all(&ring, &kv.key, &object).map_err(|unreadable| {
            ApiError::Internal(format!(
                "{}: {unreadable}; apply the Secret again to store a new value",
                target.describe()
            ))
        })
    }

    /// Re-seals every Secret under a new primary key (a key from `MINICLOUD_SECRET_KEY` is not
    /// changed here: the first of its keys becomes the one every value is sealed under), then
    /// drops the older keys no value needs. Admin only. Writes of Secrets wait meanwhile.
    pub async fn rotate_secret_key(&self, ctx: &RequestContext) -> Result<Rotation> {
        ctx.check_admin("rotate the Secret key")?;
        let mut ring = self.secrets.write().await;
        match self.secrets.source() {
            KeySource::Environment if ring.ids().len() < 2 => {
                return Err(ApiError::BadRequest(format!(
                    "this server's Secret key comes from {SECRET_KEY_ENV}, which only its \
                     operator can change: generate a key (`head -c 32 /dev/urandom | base64`), \
                     restart the server with {SECRET_KEY_ENV}=<new key>,<current key>, run \
                     `mini secret rotate-key` again to re-encrypt every Secret under the new \
                     key, then drop the old key from {SECRET_KEY_ENV}"
                )));
            }
            KeySource::Environment => {}
            KeySource::File(_) | KeySource::Memory => {
                let rotated = ring.rotated();
                self.secrets.persist(&rotated).map_err(key_file_failed)?;
                *ring = rotated;
            }
        }
        let mut rotation = Rotation {
            primary: ring.primary().id().to_owned(),
            reencrypted: 0,
            retired: Vec::new(),
            unreadable: Vec::new(),
            keys_from_environment: self.secrets.source() == &KeySource::Environment,
        };
        let mut used = BTreeSet::new();
        let listing = self
            .store
            .list(&keys::kind_prefix(Kind::Secret.plural(), None))
            .await?;
        for kv in listing.items {
            let key = kv.key.clone();
            let (resealed, object) = self.reseal_one(&ring, kv).await?;
            rotation.reencrypted += usize::from(resealed.changed);
            if !resealed.unreadable.is_empty() {
                rotation.unreadable.push(describe(&key));
            }
            used.extend(object.as_ref().map(secrets::key_ids).unwrap_or_default());
        }
        let kept = ring.retain(|id| used.contains(id));
        rotation.retired = ring
            .ids()
            .into_iter()
            .filter(|id| kept.get(id).is_none())
            .collect();
        if !rotation.keys_from_environment {
            self.secrets.persist(&kept).map_err(key_file_failed)?;
            *ring = kept;
        }
        Ok(rotation)
    }

    /// Re-seals the Secret `listed` (compare-and-swap, read again on a conflict); returns what
    /// was done and the object as stored in the end (`None` once deleted).
    async fn reseal_one(
        &self,
        ring: &Keyring,
        listed: KeyValue,
    ) -> Result<(secrets::Resealed, Option<Value>)> {
        let key = &listed.key.clone();
        let mut listed = Some(listed);
        ReadModifyWrite::new(describe(key), "re-encrypted")
            .advice("run the rotation again")
            .run(|| {
                // The first attempt writes on the listed version, the others on a fresh read.
                let listed = listed.take();
                async move {
                    let read = match listed {
                        Some(kv) => Some(kv),
                        None => self.store.get(key).await?,
                    };
                    let Some(kv) = read else {
                        return Ok((secrets::Resealed::default(), None));
                    };
                    let mut object = objects::decode(&kv, kv.mod_revision)?;
                    let resealed = secrets::reseal(ring, &kv.key, &mut object);
                    if resealed.changed {
                        self.store
                            .update(&kv.key, objects::encode(&object), kv.mod_revision)
                            .await?;
                    }
                    Ok((resealed, Some(object)))
                }
            })
            .await
    }
}

fn key_file_failed(error: secrets::SecretKeysError) -> ApiError {
    ApiError::Internal(error.to_string())
}

/// `tenant/name` of a Secret's store key.
fn describe(key: &str) -> String {
    let prefix = keys::kind_prefix(Kind::Secret.plural(), None);
    key.strip_prefix(&prefix).unwrap_or(key).to_owned()
}
