//! What etcd's replies mean in the store's terms: key-values without the namespace, the
//! revision a reply was made at, and the error of a compacted revision.

use etcd_client::KeyValue as EtcdKeyValue;

use crate::store::{KeyValue, Result, Revision};

/// Converts an etcd key-value, removing the namespace from its key.
pub(super) fn convert_key_value(namespace: &str, kv: &EtcdKeyValue) -> Result<KeyValue> {
    let full = kv.key_str()?;
    let key = full.strip_prefix(namespace).unwrap_or(full);
    Ok(KeyValue {
        key: key.to_owned(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
    })
}

/// The revision a reply was made at.
pub(super) fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Revision {
    header.map(|h| h.revision()).unwrap_or_default()
}

/// etcd reports reads and compactions below its compaction point with this gRPC message.
pub(super) fn is_compacted_error(error: &etcd_client::Error) -> bool {
    error
        .to_string()
        .contains("required revision has been compacted")
}
