//! A stable hash of any serializable value: its JSON with object keys sorted, through 64-bit
//! FNV-1a. The same value hashes the same in every process and release, whatever the field
//! order of the Rust types.

use serde::Serialize;
use serde_json::Value;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The hash of `value` as 16 lowercase hex digits.
pub fn stable_hash<T: Serialize>(value: &T) -> String {
    let value = serde_json::to_value(value).expect("specs always serialize to JSON");
    let mut text = String::new();
    canonical(&value, &mut text);
    let hash = text.bytes().fold(FNV_OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    });
    format!("{hash:016x}")
}

/// Writes `value` as JSON with every object's keys in sorted order.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a = json!({"image": "hello:1", "env": [{"name": "A", "value": "1"}]});
        let b = json!({"env": [{"value": "1", "name": "A"}], "image": "hello:1"});
        assert_eq!(stable_hash(&a), stable_hash(&b));
    }

    #[test]
    fn any_value_change_changes_the_hash() {
        assert_ne!(
            stable_hash(&json!({"image": "hello:1"})),
            stable_hash(&json!({"image": "hello:2"}))
        );
    }

    #[test]
    fn the_hash_is_pinned_across_releases() {
        assert_eq!(stable_hash(&json!({"a": 1})), "9c3e82dd6fcae8b1");
        assert_eq!(stable_hash(&json!({"a": 1})).len(), 16);
    }
}
