//! Secret values for the containers a plan starts. Each StartInstance gets the values of its
//! container's `valueFrom.secret` env vars, read from the API (an admin-only call) just before
//! the plan goes to the agent — and only for starts, so a reconcile that starts nothing reads no
//! Secret. A start whose Secret or key is missing is dropped from the plan and its Instance held
//! back with a message saying what to create; its running container, if any, is kept.
//! The values are never logged.

use std::collections::HashMap;

use minicloud_manifests::EnvVar;
use minicloud_proto::v1::Operation;
use minicloud_proto::v1::operation::Op;

use super::plan::Desired;
use crate::client::{ApiClient, ClientError};
use crate::error::{Result, api};

/// A Secret's values, or why it cannot be used, by (tenant, name).
type Found = HashMap<(String, String), Result<HashMap<String, String>, String>>;

/// Fills the `secret_env` of every start in `ops`; starts that cannot be filled are removed
/// and their Instances' reasons recorded in `problems` (by uid).
pub async fn fill(
    client: &ApiClient,
    desired: &Desired,
    ops: &mut Vec<Operation>,
    problems: &mut HashMap<String, String>,
) -> Result<()> {
    let mut found = Found::new();
    let mut kept = Vec::with_capacity(ops.len());
    for mut operation in ops.drain(..) {
        if let Some(Op::StartInstance(start)) = &mut operation.op {
            let env = desired
                .instances
                .iter()
                .find(|i| i.uid == start.instance_uid)
                .map(|i| i.container.env.as_slice())
                .unwrap_or_default();
            match resolve(client, &start.tenant, env, &mut found).await? {
                Ok(values) => start.secret_env = values,
                Err(problem) => {
                    problems.insert(start.instance_uid.clone(), problem);
                    continue;
                }
            }
        }
        kept.push(operation);
    }
    *ops = kept;
    Ok(())
}

/// The values of `env`'s Secret references in `tenant` by variable name, or why one cannot be
/// had; `Err` only when the API cannot be asked.
async fn resolve(
    client: &ApiClient,
    tenant: &str,
    env: &[EnvVar],
    found: &mut Found,
) -> Result<Result<HashMap<String, String>, String>> {
    let mut values = HashMap::new();
    for var in env {
        let Some(source) = &var.value_from else {
            continue;
        };
        let reference = &source.secret;
        let id = (tenant.to_owned(), reference.name.clone());
        if !found.contains_key(&id) {
            let secret = read(client, tenant, &reference.name).await?;
            found.insert(id.clone(), secret);
        }
        let value = match &found[&id] {
            Ok(data) => data.get(&reference.key).ok_or_else(|| {
                format!(
                    "env var {} reads key {:?} of Secret {:?}, which has no such key; add it to the Secret",
                    var.name, reference.key, reference.name
                )
            }),
            Err(problem) => Err(format!("env var {}: {problem}", var.name)),
        };
        match value {
            Ok(value) => values.insert(var.name.clone(), value.clone()),
            Err(problem) => return Ok(Err(problem)),
        };
    }
    Ok(Ok(values))
}

/// One Secret's values, or why it cannot be used.
async fn read(
    client: &ApiClient,
    tenant: &str,
    name: &str,
) -> Result<Result<HashMap<String, String>, String>> {
    match client.resolve_secret(tenant, name).await {
        Ok(data) => Ok(Ok(data)),
        Err(ClientError::NotFound(_)) => Ok(Err(format!(
            "Secret {name:?} does not exist in tenant {tenant:?}; create it"
        ))),
        Err(ClientError::Other {
            code: tonic::Code::Internal,
            message,
        }) => Ok(Err(message)),
        Err(error) => Err(api("read a Secret's values")(error)),
    }
}
