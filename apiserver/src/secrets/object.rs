//! Sealing, opening and masking the `data` of a Secret object as the API server handles it
//! (JSON, as stored). Every function leaves objects of other kinds alone.

use std::collections::{BTreeMap, BTreeSet};

use minicloud_manifests::Kind;
use serde_json::{Map, Value};

use super::cipher::{self, OpenError};
use super::keyring::Keyring;

/// What the API shows in place of every Secret value.
pub const MASK: &str = "********";

/// What a changed value shows in a dry-run diff.
const MASK_CHANGED: &str = "******** (changed)";

/// A stored value that does not open, by entry name (never with any part of the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the value of key {entry:?} cannot be read: {error}")]
pub struct Unreadable {
    /// The entry of `data`.
    pub entry: String,
    /// Why it does not open.
    #[source]
    pub error: OpenError,
}

/// Whether `object` is a Secret.
fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some(Kind::Secret.as_str())
}

fn data(object: &Value) -> Option<&Map<String, Value>> {
    is_secret(object)
        .then(|| object.get("data")?.as_object())
        .flatten()
}

fn data_mut(object: &mut Value) -> Option<&mut Map<String, Value>> {
    match is_secret(object) {
        true => object.get_mut("data")?.as_object_mut(),
        false => None,
    }
}

/// Refuses a Secret manifest (JSON as received) with a value that is not a string, naming the
/// key but not the value — the manifest parser's own message would repeat it.
pub fn check_values_are_strings(manifest: &Value) -> Result<(), String> {
    let not_a_map = manifest
        .get("data")
        .is_some_and(|data| !data.is_object() && !data.is_null());
    if is_secret(manifest) && not_a_map {
        return Err(
            "data: a Secret's data must be a map of keys to string values (what was sent is not \
             shown)"
                .to_owned(),
        );
    }
    let wrong = data(manifest)
        .into_iter()
        .flatten()
        .find(|(_, value)| !value.is_string());
    match wrong {
        Some((entry, _)) => Err(format!(
            "data.{entry}: a Secret value must be a string (the value is not shown); quote it"
        )),
        None => Ok(()),
    }
}

/// Replaces every value of a Secret with the mask, keeping the keys.
pub fn mask(object: &mut Value) {
    for value in data_mut(object).into_iter().flat_map(|d| d.values_mut()) {
        *value = Value::String(MASK.to_owned());
    }
}

/// Masks both sides of a dry-run diff of a Secret (`before` holding opened values): a value
/// that changes shows as changed, so the diff says which keys change and nothing of their values.
pub fn mask_diff(before: Option<&mut Value>, after: &mut Value) {
    let old = before
        .as_deref()
        .and_then(data)
        .cloned()
        .unwrap_or_default();
    for (entry, value) in data_mut(after).into_iter().flatten() {
        let changed = old.get(entry).is_some_and(|previous| previous != value);
        let shown = if changed { MASK_CHANGED } else { MASK };
        *value = Value::String(shown.to_owned());
    }
    if let Some(before) = before {
        mask(before);
    }
}

/// Seals every value of a Secret about to be stored at `store_key` under the primary key; a
/// value equal to what `stored` (the object as stored before) holds for the same entry keeps
/// its stored ciphertext.
pub fn seal(ring: &Keyring, store_key: &str, object: &mut Value, stored: Option<&Value>) {
    let previous = stored.and_then(data);
    for (entry, value) in data_mut(object).into_iter().flatten() {
        let Some(plain) = value.as_str() else {
            continue;
        };
        let kept = previous
            .and_then(|p| p.get(entry)?.as_str())
            .filter(|sealed| cipher::open(ring, store_key, entry, sealed).as_deref() == Ok(plain));
        let sealed = match kept {
            Some(sealed) => sealed.to_owned(),
            None => cipher::seal(ring.primary(), store_key, entry, plain),
        };
        *value = Value::String(sealed);
    }
}

/// Opens every value of a stored Secret in place, for comparing with an applied one; a value
/// that does not open becomes `null`, which equals no applied value.
pub fn reveal(ring: &Keyring, store_key: &str, object: &mut Value) {
    for (entry, value) in data_mut(object).into_iter().flatten() {
        let opened = value
            .as_str()
            .and_then(|sealed| cipher::open(ring, store_key, entry, sealed).ok());
        *value = opened.map_or(Value::Null, Value::String);
    }
}

/// Every value of a stored Secret, opened.
pub fn open_all(
    ring: &Keyring,
    store_key: &str,
    object: &Value,
) -> Result<BTreeMap<String, String>, Unreadable> {
    let mut opened = BTreeMap::new();
    for (entry, value) in data(object).into_iter().flatten() {
        let sealed = value.as_str().unwrap_or_default();
        let plain = cipher::open(ring, store_key, entry, sealed).map_err(|error| Unreadable {
            entry: entry.clone(),
            error,
        })?;
        opened.insert(entry.clone(), plain);
    }
    Ok(opened)
}

/// What re-sealing one stored Secret did.
#[derive(Debug, Default)]
pub struct Resealed {
    /// Whether any value changed (and the object must be written back).
    pub changed: bool,
    /// Values that could not be opened, left as they were.
    pub unreadable: Vec<Unreadable>,
}

/// Re-seals under the primary key every value of a stored Secret sealed under another key, and
/// seals values stored in plaintext (by a server from before values were encrypted).
pub fn reseal(ring: &Keyring, store_key: &str, object: &mut Value) -> Resealed {
    let mut done = Resealed::default();
    let primary = ring.primary();
    for (entry, value) in data_mut(object).into_iter().flatten() {
        let stored = value.as_str().unwrap_or_default();
        if cipher::key_id(stored) == Some(primary.id()) {
            continue;
        }
        let plain = match cipher::open(ring, store_key, entry, stored) {
            Ok(plain) => plain,
            Err(OpenError::NotSealed) => stored.to_owned(),
            Err(error) => {
                done.unreadable.push(Unreadable {
                    entry: entry.clone(),
                    error,
                });
                continue;
            }
        };
        *value = Value::String(cipher::seal(primary, store_key, entry, &plain));
        done.changed = true;
    }
    done
}

/// The ids of the keys a stored Secret's values are sealed under.
pub fn key_ids(object: &Value) -> BTreeSet<String> {
    data(object)
        .into_iter()
        .flat_map(|d| d.values())
        .filter_map(|v| cipher::key_id(v.as_str()?).map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "/minicloud/secrets/acme/db";

    fn secret(data: Value) -> Value {
        json!({"kind": "Secret", "metadata": {"name": "db"}, "data": data})
    }

    #[test]
    fn sealed_data_opens_and_masks_without_its_values() {
        let ring = Keyring::generate();
        let mut object = secret(json!({"password": "s3cr3t", "user": "admin"}));
        seal(&ring, KEY, &mut object, None);
        assert!(!object.to_string().contains("s3cr3t"));
        let opened = open_all(&ring, KEY, &object).unwrap();
        assert_eq!(opened["password"], "s3cr3t");
        mask(&mut object);
        assert_eq!(object["data"], json!({"password": MASK, "user": MASK}));
    }

    #[test]
    fn an_unchanged_value_keeps_its_ciphertext() {
        let ring = Keyring::generate();
        let mut stored = secret(json!({"password": "s3cr3t", "user": "admin"}));
        seal(&ring, KEY, &mut stored, None);
        let mut next = secret(json!({"password": "s3cr3t", "user": "root"}));
        seal(&ring, KEY, &mut next, Some(&stored));
        assert_eq!(next["data"]["password"], stored["data"]["password"]);
        assert_ne!(next["data"]["user"], stored["data"]["user"]);
    }

    #[test]
    fn a_diff_says_which_keys_change_and_nothing_else() {
        let mut before = secret(json!({"password": "old", "user": "admin"}));
        let mut after = secret(json!({"password": "new", "user": "admin", "token": "t"}));
        mask_diff(Some(&mut before), &mut after);
        assert_eq!(before["data"], json!({"password": MASK, "user": MASK}));
        let masked = json!({"password": MASK_CHANGED, "user": MASK, "token": MASK});
        assert_eq!(after["data"], masked);
    }

    #[test]
    fn reveal_turns_unreadable_values_into_null() {
        let ring = Keyring::generate();
        let mut stored = secret(json!({"password": "s3cr3t"}));
        seal(&ring, KEY, &mut stored, None);
        let mut moved = stored.clone();
        reveal(&ring, "/minicloud/secrets/acme/other", &mut moved);
        assert_eq!(moved["data"]["password"], Value::Null);
        reveal(&ring, KEY, &mut stored);
        assert_eq!(stored["data"]["password"], "s3cr3t");
    }

    #[test]
    fn reseal_moves_old_and_plaintext_values_to_the_primary_key() {
        let old = Keyring::generate();
        let mut stored = secret(json!({"password": "s3cr3t"}));
        seal(&old, KEY, &mut stored, None);
        stored["data"]["legacy"] = json!("plain");
        let ring = old.rotated();
        let done = reseal(&ring, KEY, &mut stored);
        assert!(done.changed && done.unreadable.is_empty());
        assert_eq!(
            key_ids(&stored),
            BTreeSet::from([ring.primary().id().to_owned()])
        );
        let opened = open_all(&ring, KEY, &stored).unwrap();
        assert_eq!(
            (opened["password"].as_str(), opened["legacy"].as_str()),
            ("s3cr3t", "plain")
        );
        assert!(!reseal(&ring, KEY, &mut stored).changed);
    }

    #[test]
    fn a_value_that_is_not_a_string_is_refused_without_being_repeated() {
        let manifest = secret(json!({"user": "admin", "pin": 987654321}));
        let error = check_values_are_strings(&manifest).unwrap_err();
        assert_eq!(
            error,
            "data.pin: a Secret value must be a string (the value is not shown); quote it"
        );
        assert!(check_values_are_strings(&secret(json!({"user": "admin"}))).is_ok());
    }

    #[test]
    fn other_kinds_are_left_alone() {
        let mut app = json!({"kind": "App", "data": {"a": "b"}});
        mask(&mut app);
        seal(&Keyring::generate(), KEY, &mut app, None);
        assert_eq!(app["data"]["a"], "b");
    }
}
