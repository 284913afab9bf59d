//! What an update may not change in a stored object: a Volume never shrinks and keeps the
//! `fromSnapshot` it was created from; a Snapshot keeps the `volume` it archives. Each refusal
//! names the field, the stored and the asked-for value, and what to do instead.

use minicloud_manifests::{FieldError, Resource, SnapshotSpec, ValidationErrors, VolumeSpec};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ApiError, Result};

/// Refuses `desired`, an update of the stored object `current`, when it changes what cannot
/// change.
pub(super) fn check(current: &Value, desired: &Resource) -> Result<()> {
    let errors = match desired {
        Resource::Volume(volume) => volume_errors(&stored_spec(current)?, &volume.spec),
        Resource::Snapshot(snapshot) => snapshot_errors(&stored_spec(current)?, &snapshot.spec),
        _ => Vec::new(),
    };
    if errors.is_empty() {
        return Ok(());
    }
    Err(ApiError::Invalid {
        kind: desired.kind().as_str().into(),
        name: desired.name().into(),
        errors: ValidationErrors(errors),
    })
}

fn volume_errors(stored: &VolumeSpec, desired: &VolumeSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if desired.size < stored.size {
        errors.push(field_error(
            "spec.size",
            format!(
                "a volume cannot shrink: it is {}, the manifest asks for {}; create a new volume \
                 and copy the data, or restore a snapshot into a new volume",
                stored.size, desired.size
            ),
        ));
    }
    if desired.from_snapshot != stored.from_snapshot {
        let named = |snapshot: &Option<String>| match snapshot {
            Some(name) => format!("snapshot {name:?}"),
            None => "no snapshot".into(),
        };
        errors.push(field_error(
            "spec.fromSnapshot",
            format!(
                "fromSnapshot cannot change after the volume is created: it was created from {}, \
                 the manifest names {}; keep it as it is, or create a new volume from the other \
                 snapshot (a restore in place is spec.restore)",
                named(&stored.from_snapshot),
                named(&desired.from_snapshot)
            ),
        ));
    }
    errors
}

fn snapshot_errors(stored: &SnapshotSpec, desired: &SnapshotSpec) -> Vec<FieldError> {
    if desired.volume == stored.volume {
        return Vec::new();
    }
    vec![field_error(
        "spec.volume",
        format!(
            "a Snapshot's volume cannot change: it archives volume {:?}, the manifest names {:?}; \
             take a new Snapshot of volume {:?} instead",
            stored.volume, desired.volume, desired.volume
        ),
    )]
}

fn field_error(path: &str, message: String) -> FieldError {
    FieldError {
        path: path.into(),
        message,
        position: None,
    }
}

/// The typed spec of a stored object, which was validated when it was written.
fn stored_spec<T: DeserializeOwned>(current: &Value) -> Result<T> {
    let spec = current
        .get("spec")
        .ok_or_else(|| ApiError::Internal("a stored object has no spec".into()))?;
    serde_json::from_value(spec.clone())
        .map_err(|error| ApiError::Internal(format!("a stored spec is not valid: {error}")))
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

    fn update(current: Value, desired: Value) -> Result<()> {
        let desired = parse_json_object(desired.to_string().as_bytes()).unwrap();
        check(&current, &desired)
    }

    fn refusal(result: Result<()>) -> Vec<FieldError> {
        match result {
            Err(ApiError::Invalid { errors, .. }) => errors.0,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_volume_may_grow_or_keep_its_size() {
        let stored = volume(json!({"size": "1Gi"}));
        assert!(update(stored.clone(), volume(json!({"size": "2Gi"}))).is_ok());
        assert!(update(stored, volume(json!({"size": "1Gi"}))).is_ok());
    }

    #[test]
    fn a_volume_never_shrinks_and_says_what_to_do() {
        let errors = refusal(update(
            volume(json!({"size": "2Gi"})),
            volume(json!({"size": "1Gi"})),
        ));
        assert_eq!(errors[0].path, "spec.size");
        assert_eq!(
            errors[0].message,
            "a volume cannot shrink: it is 2Gi, the manifest asks for 1Gi; create a new volume \
             and copy the data, or restore a snapshot into a new volume"
        );
    }

    #[test]
    fn from_snapshot_is_fixed_at_creation() {
        let stored = volume(json!({"size": "1Gi", "fromSnapshot": "nightly-1"}));
        for changed in [json!("nightly-2"), Value::Null] {
            let mut desired = volume(json!({"size": "1Gi"}));
            if !changed.is_null() {
                desired["spec"]["fromSnapshot"] = changed;
            }
            let errors = refusal(update(stored.clone(), desired));
            assert_eq!(errors[0].path, "spec.fromSnapshot");
            assert!(
                errors[0]
                    .message
                    .contains("it was created from snapshot \"nightly-1\""),
                "{}",
                errors[0].message
            );
        }
        let same = volume(json!({"size": "2Gi", "fromSnapshot": "nightly-1"}));
        assert!(update(stored, same).is_ok());
    }

    #[test]
    fn a_snapshot_keeps_its_volume() {
        let snapshot = |volume: &str| {
            json!({"apiVersion": "minicloud/v1", "kind": "Snapshot",
                "metadata": {"name": "s1", "tenant": "acme"}, "spec": {"volume": volume}})
        };
        let errors = refusal(update(snapshot("data"), snapshot("logs")));
        assert_eq!(errors[0].path, "spec.volume");
        assert!(errors[0].message.contains("archives volume \"data\""));
        assert!(update(snapshot("data"), snapshot("data")).is_ok());
    }

    #[test]
    fn other_kinds_change_freely() {
        let secret = json!({"apiVersion": "minicloud/v1", "kind": "Secret",
            "metadata": {"name": "db", "tenant": "acme"}, "data": {"a": "b"}});
        assert!(update(secret.clone(), secret).is_ok());
    }
}
