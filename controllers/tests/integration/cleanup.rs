//! Deleting an App removes its Instances only after their containers are gone; orphaned
//! managed containers are removed; containers minicloud did not make are never touched.

use std::collections::{BTreeSet, HashMap};

use minicloud_controllers::labels::docker;
use minicloud_controllers::object::ObjectKey;
use minicloud_manifests::App;
use minicloud_proto::v1::ObservedContainer;
use minicloud_proto::v1::operation::Op;

use crate::harness::{Cluster, TENANT, eventually};
use crate::{container_uids, converged};

#[tokio::test]
async fn deleting_an_app_removes_its_instances_after_their_containers() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.apply_app("web", "hello:1", 3).await;
    eventually("3 replicas run", || converged(&cluster, "web", 3)).await;
    let key = ObjectKey::new(Some(TENANT), "web");
    cluster.client.delete::<App>(&key, None).await.unwrap();
    eventually("everything is gone", || async {
        let instances = cluster.instances().await;
        let uids: BTreeSet<String> = instances
            .iter()
            .filter_map(|i| i.metadata.uid.clone())
            .collect();
        let containers = container_uids(&cluster, "node-a");
        assert!(
            containers.is_subset(&uids),
            "an Instance went before its container"
        );
        let networks = cluster.agent("node-a").observed().networks;
        (instances.is_empty() && containers.is_empty() && networks.is_empty()).then_some(())
    })
    .await;
    assert!(cluster.releases().await.is_empty());
    assert!(cluster.app("web").await.is_none());
    cluster.stop().await;
}

#[tokio::test]
async fn a_deleting_instance_waits_while_its_node_cannot_remove_the_container() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.apply_app("web", "hello:1", 1).await;
    eventually("1 replica runs", || converged(&cluster, "web", 1)).await;
    let agent = cluster.agent("node-a");
    for _ in 0..3 {
        agent.fail_next_apply(tonic::Status::unavailable("docker is restarting"));
    }
    cluster.apply_app("web", "hello:1", 0).await;
    eventually("the instance is marked deleting", || async {
        let instance = cluster.instances().await.pop()?;
        instance.metadata.deletion_timestamp.map(drop)
    })
    .await;
    assert_eq!(
        container_uids(&cluster, "node-a").len(),
        1,
        "the container is still there"
    );
    eventually("the container and then the instance are gone", || async {
        (cluster.instances().await.is_empty() && container_uids(&cluster, "node-a").is_empty())
            .then_some(())
    })
    .await;
    cluster.stop().await;
}

#[tokio::test]
async fn orphaned_managed_containers_are_removed_and_foreign_ones_kept() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.apply_app("web", "hello:1", 1).await;
    eventually("1 replica runs", || converged(&cluster, "web", 1)).await;
    let agent = cluster.agent("node-a");
    let mut orphan_labels = agent.managed_labels(TENANT);
    orphan_labels.insert(docker::INSTANCE_UID.into(), "uid-of-nothing".into());
    let orphan = ObservedContainer {
        id: "orphan".into(),
        labels: orphan_labels,
        state: "running".into(),
        ..ObservedContainer::default()
    };
    let foreign = ObservedContainer {
        id: "postgres".into(),
        labels: HashMap::from([("com.example.owner".into(), "ops".into())]),
        state: "running".into(),
        ..ObservedContainer::default()
    };
    agent.modify(|state| state.containers.extend([orphan, foreign]));
    eventually("the orphan is removed", || async {
        let ids: Vec<String> = agent
            .observed()
            .containers
            .into_iter()
            .map(|c| c.id)
            .collect();
        (!ids.contains(&"orphan".to_string())).then_some(())
    })
    .await;
    let removed = removed_containers(&agent.operations());
    assert_eq!(removed, ["orphan"]);
    assert!(
        agent
            .observed()
            .containers
            .iter()
            .any(|c| c.id == "postgres")
    );
    eventually("the app still runs", || converged(&cluster, "web", 1)).await;
    cluster.stop().await;
}

/// The ids of the containers removed by `operations`.
fn removed_containers(operations: &[minicloud_proto::v1::Operation]) -> Vec<String> {
    operations
        .iter()
        .filter_map(|o| match &o.op {
            Some(Op::RemoveInstance(r)) => Some(r.container_id.clone()),
            _ => None,
        })
        .collect()
}
