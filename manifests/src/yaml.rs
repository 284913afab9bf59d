//! YAML output for `mini get -o yaml`.

use crate::resource::Resource;

/// The object as a YAML document.
pub fn to_yaml(resource: &Resource) -> String {
    serde_saphyr::to_string(resource).expect("objects always serialize: every map key is a string")
}
