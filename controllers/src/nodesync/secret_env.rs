//! Secret values for the containers a plan starts. Each start of a plan carries its container's
//! env; the Secrets its `valueFrom.secret` vars name are read from the API (an admin-only call)
//! just before the plan goes to the agent — and only for starts, so a reconcile that starts
//! nothing reads no Secret — and the values fill the start's `secret_env`. A start whose Secret
//! or key is missing is dropped from the plan and its Instance held back with a message saying
//! what to create; its running container, if any, is kept. The values are never logged.
//!
//! [`needed`] and [`attach`] decide on plain values; [`fill`] only reads what they need.

use std::collections::HashMap;

use minicloud_manifests::EnvVar;
use minicloud_proto::v1::Operation;
use minicloud_proto::v1::operation::Op;

use super::plan::Step;
use crate::client::{ApiClient, ClientError};
use crate::error::{Result, api};

/// A Secret: (tenant, name).
pub type SecretId = (String, String);

/// A Secret's values by key, or why it cannot be used.
pub type SecretValues = Result<HashMap<String, String>, String>;

/// What was read of each Secret the starts of a plan need.
pub type Resolved = HashMap<SecretId, SecretValues>;

/// Reads the Secrets the starts among `steps` need and attaches their values (see [`attach`]);
/// `Err` only when the API cannot be asked.
pub async fn fill(
    client: &ApiClient,
    steps: Vec<Step>,
    problems: &mut HashMap<String, String>,
) -> Result<Vec<Operation>> {
    let mut secrets = Resolved::new();
    for (tenant, name) in needed(&steps) {
        let values = read(client, &tenant, &name).await?;
        secrets.insert((tenant, name), values);
    }
    Ok(attach(steps, &secrets, problems))
}

/// The Secrets the env vars of the starts among `steps` read, each once, in the order they are
/// first named.
pub fn needed(steps: &[Step]) -> Vec<SecretId> {
    let mut ids: Vec<SecretId> = Vec::new();
    let starts = steps.iter().filter_map(|step| match &step.op {
        Op::StartInstance(start) => Some((start.tenant.as_str(), &step.env)),
        _ => None,
    });
    for (tenant, env) in starts {
        for source in env.iter().filter_map(|var| var.value_from.as_ref()) {
            let id = (tenant.to_owned(), source.secret.name.clone());
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

/// `steps` as the operations to send, each start with its `secret_env` filled from `secrets`
/// (which holds every Secret [`needed`] names). A start whose Secret or key is missing is left
/// out, and why is recorded in `problems` under its Instance's uid.
pub fn attach(
    steps: Vec<Step>,
    secrets: &Resolved,
    problems: &mut HashMap<String, String>,
) -> Vec<Operation> {
    let mut operations = Vec::with_capacity(steps.len());
    for Step { mut op, env } in steps {
        if let Op::StartInstance(start) = &mut op {
            match secret_env(&start.tenant, &env, secrets) {
                Ok(values) => start.secret_env = values,
                Err(problem) => {
                    problems.insert(start.instance_uid.clone(), problem);
                    continue;
                }
            }
        }
        operations.push(Operation { op: Some(op) });
    }
    operations
}

/// The values of `env`'s Secret references in `tenant` by variable name, or why the first one
/// that cannot be had cannot.
fn secret_env(
    tenant: &str,
    env: &[EnvVar],
    secrets: &Resolved,
) -> Result<HashMap<String, String>, String> {
    let mut values = HashMap::new();
    for var in env {
        let Some(source) = &var.value_from else {
            continue;
        };
        let reference = &source.secret;
        let id = (tenant.to_owned(), reference.name.clone());
        let data = match secrets.get(&id) {
            Some(Ok(data)) => data,
            Some(Err(problem)) => return Err(format!("env var {}: {problem}", var.name)),
            None => {
                return Err(format!(
                    "env var {}: Secret {:?} was not read for this start; it is tried again",
                    var.name, reference.name
                ));
            }
        };
        let value = data.get(&reference.key).ok_or_else(|| {
            format!(
                "env var {} reads key {:?} of Secret {:?}, which has no such key; add it to the Secret",
                var.name, reference.key, reference.name
            )
        })?;
        values.insert(var.name.clone(), value.clone());
    }
    Ok(values)
}

/// One Secret's values, or why it cannot be used.
async fn read(client: &ApiClient, tenant: &str, name: &str) -> Result<SecretValues> {
    match client.resolve_secret(tenant, name).await {
        Ok(data) => Ok(Ok(data)),
        Err(error) => unusable(tenant, name, error)
            .map(Err)
            .map_err(api("read a Secret's values")),
    }
}

/// Why Secret `name` of `tenant` cannot be used, given the API's refusal to resolve it; the
/// error back when the API itself failed.
fn unusable(tenant: &str, name: &str, error: ClientError) -> Result<String, ClientError> {
    match error {
        ClientError::NotFound(_) => Ok(format!(
            "Secret {name:?} does not exist in tenant {tenant:?}; create it"
        )),
        ClientError::Other {
            code: tonic::Code::Internal,
            message,
        } => Ok(message),
        error => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use minicloud_proto::v1::{EnsureNetwork, StartInstance};

    use super::*;
    use crate::fixtures::{TENANT, literal_var, secret_var};

    fn start(uid: &str, env: Vec<EnvVar>) -> Step {
        let op = Op::StartInstance(StartInstance {
            tenant: TENANT.into(),
            instance_uid: uid.into(),
            ..StartInstance::default()
        });
        Step { op, env }
    }

    fn network() -> Step {
        Step::from(Op::EnsureNetwork(EnsureNetwork {
            tenant: TENANT.into(),
        }))
    }

    fn secret(name: &str, values: SecretValues) -> (SecretId, SecretValues) {
        ((TENANT.into(), name.into()), values)
    }

    fn values(pairs: &[(&str, &str)]) -> SecretValues {
        Ok(pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect())
    }

    /// The `secret_env` of each start among `operations`, by instance uid.
    fn started(operations: &[Operation]) -> Vec<(String, HashMap<String, String>)> {
        operations
            .iter()
            .filter_map(|o| match &o.op {
                Some(Op::StartInstance(s)) => Some((s.instance_uid.clone(), s.secret_env.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn only_starts_need_secrets_each_named_once() {
        let db = secret_var("DB_PASSWORD", "db", "password");
        let user = secret_var("DB_USER", "db", "user");
        let api = secret_var("API_TOKEN", "api", "token");
        let steps = [
            network(),
            start("u1", vec![literal_var("GREETING", "hi"), db.clone(), user]),
            start("u2", vec![api, db]),
            start("u3", vec![literal_var("GREETING", "hi")]),
        ];
        let ids = needed(&steps);
        let expected: Vec<SecretId> =
            vec![(TENANT.into(), "db".into()), (TENANT.into(), "api".into())];
        assert_eq!(ids, expected);
        assert!(needed(&[network()]).is_empty());
    }

    #[test]
    fn a_start_carries_the_values_of_its_secret_references_only() {
        let env = vec![
            literal_var("GREETING", "hi"),
            secret_var("DB_PASSWORD", "db", "password"),
        ];
        let secrets = Resolved::from([secret("db", values(&[("password", "s3cr3t")]))]);
        let mut problems = HashMap::new();
        let operations = attach(vec![network(), start("u1", env)], &secrets, &mut problems);
        assert_eq!(operations.len(), 2);
        let env = HashMap::from([("DB_PASSWORD".to_owned(), "s3cr3t".to_owned())]);
        assert_eq!(started(&operations), [("u1".to_owned(), env)]);
        assert!(problems.is_empty());
    }

    #[test]
    fn a_start_whose_secret_is_missing_is_dropped_with_what_to_create() {
        let missing = unusable("acme", "db", ClientError::NotFound("db".into())).unwrap();
        assert_eq!(
            missing,
            "Secret \"db\" does not exist in tenant \"acme\"; create it"
        );
        let secrets = Resolved::from([secret("db", Err(missing))]);
        let steps = vec![
            start("u1", vec![secret_var("DB_PASSWORD", "db", "password")]),
            start("u2", Vec::new()),
        ];
        let mut problems = HashMap::new();
        let operations = attach(steps, &secrets, &mut problems);
        assert_eq!(started(&operations), [("u2".to_owned(), HashMap::new())]);
        assert_eq!(
            problems["u1"],
            "env var DB_PASSWORD: Secret \"db\" does not exist in tenant \"acme\"; create it"
        );
    }

    #[test]
    fn a_start_whose_key_is_missing_is_dropped_with_what_to_add() {
        let secrets = Resolved::from([secret("db", values(&[("user", "admin")]))]);
        let steps = vec![start(
            "u1",
            vec![secret_var("DB_PASSWORD", "db", "password")],
        )];
        let mut problems = HashMap::new();
        assert!(attach(steps, &secrets, &mut problems).is_empty());
        assert_eq!(
            problems["u1"],
            "env var DB_PASSWORD reads key \"password\" of Secret \"db\", which has no such \
             key; add it to the Secret"
        );
    }

    #[test]
    fn a_start_whose_secret_was_not_read_is_held_back_rather_than_started_without_it() {
        let steps = vec![start(
            "u1",
            vec![secret_var("DB_PASSWORD", "db", "password")],
        )];
        let mut problems = HashMap::new();
        assert!(attach(steps, &Resolved::new(), &mut problems).is_empty());
        assert!(
            problems["u1"].contains("was not read"),
            "{}",
            problems["u1"]
        );
    }

    #[test]
    fn a_secret_the_server_cannot_open_holds_its_starts_back_and_other_failures_are_errors() {
        let internal = ClientError::Other {
            code: tonic::Code::Internal,
            message: "the value of key password no longer opens".into(),
        };
        assert_eq!(
            unusable("acme", "db", internal).unwrap(),
            "the value of key password no longer opens"
        );
        let unavailable = ClientError::Unavailable("connection refused".into());
        assert!(matches!(
            unusable("acme", "db", unavailable),
            Err(ClientError::Unavailable(_))
        ));
    }
}
