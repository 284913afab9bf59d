//! Admission of the names a storage object gives to other objects of its tenant: a Volume's
//! `fromSnapshot` (at creation) and `restore.snapshot` (whenever the restore request is new)
//! must name a Snapshot that exists and is not being deleted; a Snapshot's `volume` must name
//! an existing Volume at creation (one being deleted still counts: its final snapshot is taken
//! then). A name is looked up in the object's own tenant only, so another tenant's object
//! answers exactly like a missing one.
//!
//! Admission returns compares for the write's transaction: the write commits only while what
//! it named is still as it was read, so a Snapshot deleted (or marked for deletion) in between
//! fails the transaction, and the write is read again and refused.

use minicloud_manifests::{FieldError, Kind, Resource, ValidationErrors};
use serde_json::Value;

use super::objects::{self, ObjectRef};
use super::{ApiError, ResourceApi, Result};
use crate::store::Compare;

/// One name to resolve: the field that gives it, the kind it names, and whether an object being
/// deleted is refused.
struct Reference {
    path: &'static str,
    kind: Kind,
    name: String,
    live: bool,
}

impl ResourceApi {
    /// Refuses `desired` when a name it sets anew (against `current`, the stored object of an
    /// update; `None` for a create) resolves to nothing it may use; otherwise the compares that
    /// keep every resolved name true until the write commits.
    pub(super) async fn admit_references(
        &self,
        target: &ObjectRef,
        desired: &Resource,
        current: Option<&Value>,
    ) -> Result<Vec<Compare>> {
        let mut guards = Vec::new();
        let mut errors = Vec::new();
        for reference in named(desired, current) {
            let named = ObjectRef::new(
                reference.kind,
                target.tenant.as_deref(),
                &reference.name,
                "",
            )?;
            let kv = self.store.get(&named.key()).await?;
            let deleting = match &kv {
                Some(kv) => objects::is_deleting(&objects::decode(kv, kv.mod_revision)?),
                None => false,
            };
            let problem = match kv {
                None => Some(format!(
                    "{} does not exist; name an existing {} of the tenant, or create it first",
                    named.describe(),
                    reference.kind.as_str(),
                )),
                Some(_) if reference.live && deleting => Some(format!(
                    "{} is being deleted and can no longer be restored; name another {}",
                    named.describe(),
                    reference.kind.as_str()
                )),
                Some(kv) if reference.live => {
                    guards.push(Compare::ModRevision(kv.key, kv.mod_revision));
                    None
                }
                Some(kv) => {
                    guards.push(Compare::Present(kv.key));
                    None
                }
            };
            errors.extend(problem.map(|message| FieldError {
                path: reference.path.into(),
                message,
                position: None,
            }));
        }
        if errors.is_empty() {
            return Ok(guards);
        }
        Err(ApiError::Invalid {
            kind: desired.kind().as_str().into(),
            name: desired.name().into(),
            errors: ValidationErrors(errors),
        })
    }
}

/// The names `desired` sets anew: all of them on a create; on an update only a changed restore
/// request, since `fromSnapshot` and a Snapshot's `volume` cannot change, and an unchanged
/// request was admitted when it was made (its Snapshot may since have been pruned).
fn named(desired: &Resource, current: Option<&Value>) -> Vec<Reference> {
    let mut references = Vec::new();
    match desired {
        Resource::Volume(volume) => {
            if let (Some(snapshot), None) = (&volume.spec.from_snapshot, current) {
                references.push(Reference {
                    path: "spec.fromSnapshot",
                    kind: Kind::Snapshot,
                    name: snapshot.clone(),
                    live: true,
                });
            }
            let stored = current.and_then(|c| c.pointer("/spec/restore"));
            if let Some(restore) = &volume.spec.restore
                && stored != Some(&serde_json::to_value(restore).expect("a restore serializes"))
            {
                references.push(Reference {
                    path: "spec.restore.snapshot",
                    kind: Kind::Snapshot,
                    name: restore.snapshot.clone(),
                    live: true,
                });
            }
        }
        Resource::Snapshot(snapshot) if current.is_none() => references.push(Reference {
            path: "spec.volume",
            kind: Kind::Volume,
            name: snapshot.spec.volume.clone(),
            live: false,
        }),
        _ => {}
    }
    references
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_manifests::parse_json_object;
    use serde_json::json;

    fn volume(spec: Value) -> Value {
        json!({"apiVersion": "minicloud/v1", "kind": "Volume",
            "metadata": {"name": "data", "tenant": "acme"}, "spec": spec})
    }

    fn paths(desired: &Value, current: Option<&Value>) -> Vec<&'static str> {
        let desired = parse_json_object(desired.to_string().as_bytes()).unwrap();
        named(&desired, current).iter().map(|r| r.path).collect()
    }

    #[test]
    fn a_new_volume_resolves_both_of_its_snapshots() {
        let new = volume(json!({"size": "1Gi", "fromSnapshot": "a",
            "restore": {"snapshot": "b", "requestedAt": "2026-12-03T12:00:00Z"}}));
        assert_eq!(
            paths(&new, None),
            ["spec.fromSnapshot", "spec.restore.snapshot"]
        );
    }

    #[test]
    fn an_update_resolves_only_a_new_restore_request() {
        let restore = |at: &str| json!({"snapshot": "b", "requestedAt": at});
        let stored = volume(json!({"size": "1Gi", "fromSnapshot": "a",
            "restore": restore("2026-12-03T12:00:00Z")}));
        assert!(paths(&stored, Some(&stored)).is_empty());
        let again = volume(json!({"size": "1Gi", "fromSnapshot": "a",
            "restore": restore("2026-12-03T13:00:00Z")}));
        assert_eq!(paths(&again, Some(&stored)), ["spec.restore.snapshot"]);
    }

    #[test]
    fn a_snapshot_resolves_its_volume_when_it_is_created() {
        let snapshot = json!({"apiVersion": "minicloud/v1", "kind": "Snapshot",
            "metadata": {"name": "s1", "tenant": "acme"}, "spec": {"volume": "data"}});
        assert_eq!(paths(&snapshot, None), ["spec.volume"]);
        assert!(paths(&snapshot, Some(&snapshot)).is_empty());
    }
}
