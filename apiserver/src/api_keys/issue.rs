//! Issuing API keys: the one way an ApiKey object comes to be, since its secret must be made by
//! the server and shown exactly once. Listing and revoking keys are plain list and delete calls.

use minicloud_manifests::{Kind, Role};
use serde_json::{Value, json};

use super::token::{KeySecret as _, Token};
use crate::api::objects::{self, ObjectRef};
use crate::api::{ApiError, RequestContext, ResourceApi, Result, initialise_server_fields};
use crate::store::{Compare, Txn, TxnOp};

/// A key just issued: its full text (shown once) and its ApiKey object.
#[derive(Clone, Debug)]
pub struct IssuedKey {
    /// The key as the caller will present it.
    pub token: Token,
    /// The stored ApiKey object.
    pub object: Value,
}

impl ResourceApi {
    /// Issues a key with `role`, for `tenant` (required for tenant roles, refused for admin).
    /// Admin keys may issue any key; tenant-admin keys only keys of their own tenant.
    pub async fn issue_key(
        &self,
        ctx: &RequestContext,
        role: Role,
        tenant: Option<&str>,
        description: &str,
    ) -> Result<IssuedKey> {
        let tenant = tenant.filter(|t| !t.is_empty());
        let tenant = match (role, tenant) {
            (Role::Admin, None) => None,
            (Role::Admin, Some(_)) => {
                return Err(ApiError::BadRequest(
                    "admin keys belong to no tenant; drop --tenant, or choose role \
                     tenant-admin or tenant-read"
                        .into(),
                ));
            }
            (_, None) if ctx.identity.tenant.is_some() => ctx.identity.tenant.clone(),
            (_, None) => {
                return Err(ApiError::BadRequest(format!(
                    "a {} key belongs to one tenant; name it with --tenant",
                    role.as_str()
                )));
            }
            (_, Some(tenant)) => Some(tenant.to_owned()),
        };
        let token = Token::generate(tenant.as_deref());
        let target = ObjectRef::new(Kind::ApiKey, tenant.as_deref(), &token.object_name(), "")?;
        if role == Role::Admin {
            ctx.check_admin("issue admin keys")?;
        } else {
            ctx.check_write(&target)?;
        }
        let mut compares = vec![Compare::Absent(target.key())];
        if let Some(tenant) = &tenant {
            let owner = ObjectRef::new(Kind::Tenant, None, tenant, "")?;
            if self.store.get(&owner.key()).await?.is_none() {
                return Err(ApiError::NotFound {
                    what: format!(
                        "Tenant {tenant:?} (create it first with `mini tenant create {tenant}`)"
                    ),
                });
            }
            compares.push(Compare::Present(owner.key()));
        }
        let mut object = json!({
            "apiVersion": "minicloud/v1",
            "kind": "ApiKey",
            "metadata": {"name": target.name},
            "spec": {"role": role.as_str()},
        });
        if let Some(tenant) = &tenant {
            objects::metadata_mut(&mut object).insert("tenant".into(), json!(tenant));
        }
        if !description.is_empty() {
            object["spec"]["description"] = json!(description);
        }
        initialise_server_fields(&mut object);
        let created = objects::metadata_field(&object, "creationTimestamp").cloned();
        object["status"] = json!({
            "keyHash": token.hash(),
            "prefix": token.display_prefix(),
            "createdAt": created,
        });
        let mut txn =
            Txn::when(compares).then([TxnOp::Put(target.key(), objects::encode(&object))]);
        Self::record_in(&mut txn, ctx, &target, &issued_message(role, &token));
        let outcome = self.store.txn(txn).await?;
        if !outcome.succeeded {
            return Err(ApiError::Conflict(
                "the tenant was deleted while the key was being issued".into(),
            ));
        }
        ctx.txn_stored();
        objects::metadata_mut(&mut object).insert(
            "resourceVersion".into(),
            Value::String(outcome.revision.to_string()),
        );
        Ok(IssuedKey { token, object })
    }
}

/// How the audit log words an issue: the role and the key's public prefix, never the key.
pub(crate) fn issued_message(role: Role, token: &Token) -> String {
    format!("{} key {}", role.as_str(), token.display_prefix())
}
