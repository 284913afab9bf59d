//! Secret env vars through node sync: the start of a container carries the values of its App's
//! `valueFrom.secret` references; while the Secret or its key is missing, the Instance is held
//! back with a message saying what to create, and starts once it exists.

use std::collections::BTreeMap;

use minicloud_manifests::{
    AppSpec, Bytes, EnvSource, EnvVar, InstancePhase, ObjectMeta, Resources, Secret, SecretKeyRef,
};
use minicloud_proto::v1::operation::Op;

use crate::harness::{Cluster, TENANT, eventually};

fn app_reading_a_secret() -> minicloud_manifests::App {
    let env = vec![
        EnvVar {
            name: "GREETING".into(),
            value: Some("hi".into()),
            value_from: None,
        },
        EnvVar {
            name: "DB_PASSWORD".into(),
            value: None,
            value_from: Some(EnvSource {
                secret: SecretKeyRef {
                    name: "db".into(),
                    key: "password".into(),
                },
            }),
        },
    ];
    let spec = AppSpec {
        image: Some("hello:1".into()),
        replicas: Some(1),
        env,
        resources: Some(Resources {
            memory: Some(Bytes::mebibytes(64)),
            ..Resources::default()
        }),
        ..AppSpec::default()
    };
    minicloud_manifests::App::new(ObjectMeta::named("web", Some(TENANT)), spec)
}

fn secret(data: &[(&str, &str)]) -> Secret {
    let data: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Secret::new(ObjectMeta::named("db", Some(TENANT)), data)
}

/// The message of the App's Instance once it is held back with one containing `needle`.
async fn held_back_with(cluster: &Cluster, needle: &str) -> Option<()> {
    let instances = cluster.instances().await;
    let status = instances.first()?.status.clone()?;
    (status.phase == InstancePhase::Failed && status.message.contains(needle)).then_some(())
}

/// The `secret_env` of the starts the node's agent received.
fn started_with(cluster: &Cluster) -> Vec<std::collections::HashMap<String, String>> {
    cluster
        .agent("node-a")
        .operations()
        .into_iter()
        .filter_map(|o| match o.op {
            Some(Op::StartInstance(start)) => Some(start.secret_env),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_start_waits_for_its_secret_and_then_carries_the_value() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.client.apply(&app_reading_a_secret()).await.unwrap();
    let missing = "Secret \"db\" does not exist in tenant \"acme\"; create it";
    eventually("the instance waits for the Secret", || {
        held_back_with(&cluster, missing)
    })
    .await;
    assert!(
        started_with(&cluster).is_empty(),
        "nothing started without the value"
    );

    cluster
        .client
        .apply(&secret(&[("user", "admin")]))
        .await
        .unwrap();
    let no_key = "reads key \"password\" of Secret \"db\", which has no such key";
    eventually("the instance waits for the key", || {
        held_back_with(&cluster, no_key)
    })
    .await;

    let with_key = secret(&[("user", "admin"), ("password", "s3cr3t")]);
    cluster.client.apply(&with_key).await.unwrap();
    let env = eventually("the container starts", || async {
        started_with(&cluster).into_iter().next()
    })
    .await;
    assert_eq!(env.get("DB_PASSWORD").map(String::as_str), Some("s3cr3t"));
    assert_eq!(
        env.len(),
        1,
        "only the Secret references are resolved: {:?}",
        env.keys()
    );
    cluster.stop().await;
}
