//! UpdateStatus: the only path that writes `status`; it never touches spec or generation, nor a
//! Tenant's `status.usage`, which only quota accounting writes.

use minicloud_common::read_modify_write::ReadModifyWrite;
use minicloud_manifests::{Kind, parse_json_object};
use serde_json::Value;

use super::objects::{self, ObjectRef};
use super::quota;
use super::{ApiError, RequestContext, ResourceApi, Result};

impl ResourceApi {
    /// Replaces the status of the object the JSON names with the JSON's status.
    pub async fn update_status(&self, ctx: &RequestContext, body: &[u8]) -> Result<Value> {
        ctx.check_admin("write status")?;
        let resource =
            parse_json_object(body).map_err(|error| ApiError::BadRequest(error.to_string()))?;
        let target = &ObjectRef::new(
            resource.kind(),
            resource.tenant(),
            resource.name(),
            &ctx.default_tenant,
        )?;
        let submitted = &resource.to_json();
        let precondition = objects::resource_version(submitted)?;
        ReadModifyWrite::new(target.describe(), "given its new status")
            .retry_conflicts(precondition.is_none())
            .run(|| async move {
                let (kv, current) = objects::read(&*self.store, target, precondition).await?;
                let mut object = current.clone();
                let fields = object.as_object_mut().expect("objects are JSON objects");
                match submitted.get("status") {
                    Some(status) => fields.insert("status".into(), status.clone()),
                    None => fields.remove("status"),
                };
                if target.kind == Kind::Tenant {
                    quota::keep_usage(&current, &mut object)?;
                }
                if object != current {
                    let revision = self
                        .store
                        .update(&kv.key, objects::encode(&object), kv.mod_revision)
                        .await?;
                    let version = Value::String(revision.to_string());
                    objects::metadata_mut(&mut object).insert("resourceVersion".into(), version);
                }
                crate::secrets::mask(&mut object);
                Ok(object)
            })
            .await
    }
}
