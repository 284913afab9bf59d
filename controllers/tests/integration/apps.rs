//! An App runs, scales, rolls to a new release, and reports trouble.

use minicloud_controllers::labels::docker;
use minicloud_manifests::{AppSpec, Bytes, ConditionStatus, InstancePhase, ObjectMeta, Resources};
use minicloud_proto::v1::operation::Op;

use crate::harness::{Cluster, TENANT, eventually};
use crate::{condition, converged};

#[tokio::test]
async fn an_applied_app_gets_a_release_running_instances_and_an_available_status() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.apply_app("web", "hello:1", 2).await;
    eventually("2 replicas run", || converged(&cluster, "web", 2)).await;

    let releases = cluster.releases().await;
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].metadata.name, "web-1");
    for instance in cluster.instances().await {
        assert_eq!(instance.spec.node.as_deref(), Some("node-a"));
        assert!(instance.metadata.name.starts_with("web-"));
        let status = instance.status.unwrap();
        assert_eq!((status.phase, status.ready), (InstancePhase::Running, true));
        assert!(status.container_id.is_some() && status.ip.is_some());
        let scheduled = condition(&status.conditions, "Scheduled").unwrap();
        assert_eq!(scheduled.status, ConditionStatus::True);
    }
    let starts = cluster
        .agent("node-a")
        .operations()
        .into_iter()
        .filter(|o| matches!(o.op, Some(Op::StartInstance(_))));
    assert_eq!(starts.count(), 2);
    let status = cluster.app("web").await.unwrap().status.unwrap();
    assert_eq!(status.current_release.as_deref(), Some("web-1"));
    assert_eq!(status.updated_replicas, 2);
    let progressing = condition(&status.conditions, "Progressing").unwrap();
    assert_eq!(progressing.reason, "ReleaseAvailable");
    cluster.stop().await;
}

#[tokio::test]
async fn scaling_goes_1_3_0_2_with_exactly_that_many_containers() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    for replicas in [1, 3, 0, 2] {
        cluster.apply_app("web", "hello:1", replicas).await;
        let what = format!("{replicas} replicas run");
        eventually(&what, || converged(&cluster, "web", replicas as usize)).await;
    }
    assert_eq!(
        cluster.releases().await.len(),
        1,
        "scaling makes no new release"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn a_new_image_rolls_every_instance_to_a_new_release() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.apply_app("web", "hello:1", 2).await;
    eventually("v1 runs", || converged(&cluster, "web", 2)).await;
    cluster.apply_app("web", "hello:2", 2).await;
    eventually("v2 runs", || async {
        converged(&cluster, "web", 2).await?;
        let containers = cluster.agent("node-a").observed().containers;
        let all_new = containers
            .iter()
            .all(|c| c.labels.get(docker::RELEASE).map(String::as_str) == Some("web-2"));
        all_new.then_some(())
    })
    .await;
    let status = cluster.app("web").await.unwrap().status.unwrap();
    assert_eq!(status.current_release.as_deref(), Some("web-2"));
    assert_eq!(cluster.releases().await.len(), 2);
    cluster.stop().await;
}

#[tokio::test]
async fn an_instance_too_big_for_every_node_stays_pending_and_says_why() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 64).await;
    let spec = AppSpec {
        image: Some("hello:1".into()),
        resources: Some(Resources {
            memory: Some(Bytes::mebibytes(128)),
            ..Resources::default()
        }),
        ..AppSpec::default()
    };
    let app = minicloud_manifests::App::new(ObjectMeta::named("big", Some(TENANT)), spec);
    cluster.client.apply(&app).await.unwrap();
    let expected = "0/1 nodes can run it: node-a has 64Mi memory free, needs 128Mi";
    eventually("the instance says it cannot be scheduled", || async {
        let instance = cluster.instances().await.pop()?;
        let status = instance.status?;
        let scheduled = condition(&status.conditions, "Scheduled")?;
        (scheduled.reason == "Unschedulable"
            && scheduled.message == expected
            && status.phase == InstancePhase::Pending)
            .then_some(())
    })
    .await;
    eventually("the app is degraded", || async {
        let status = cluster.app("big").await?.status?;
        let degraded = condition(&status.conditions, "Degraded")?;
        (degraded.reason == "Unschedulable" && degraded.message.ends_with(expected)).then_some(())
    })
    .await;
    assert!(cluster.instances().await[0].spec.node.is_none());
    let mut none = app.clone();
    none.spec.replicas = Some(0);
    cluster.client.apply(&none).await.unwrap();
    eventually("the never-scheduled instance is gone", || async {
        cluster.instances().await.is_empty().then_some(())
    })
    .await;
    cluster.stop().await;
}

#[tokio::test]
async fn a_restarting_container_shows_its_restarts_and_exit_code_and_degrades_the_app() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.apply_app("web", "hello:1", 1).await;
    eventually("1 replica runs", || converged(&cluster, "web", 1)).await;
    cluster.agent("node-a").modify(|state| {
        let container = &mut state.containers[0];
        (
            container.state,
            container.restart_count,
            container.last_exit_code,
        ) = ("restarting".into(), 2, Some(1));
    });
    eventually("the status shows the restarts", || async {
        let status = cluster.instances().await.pop()?.status?;
        (status.restarts == 2 && status.last_exit_code == Some(1) && !status.ready).then_some(())
    })
    .await;
    eventually("the app is degraded", || async {
        let status = cluster.app("web").await?.status?;
        let degraded = condition(&status.conditions, "Degraded")?;
        (degraded.status == ConditionStatus::True
            && degraded
                .message
                .contains("restarted 2 times, last exit code 1"))
        .then_some(())
    })
    .await;
    cluster
        .agent("node-a")
        .modify(|state| state.containers[0].state = "running".into());
    eventually("ready again", || converged(&cluster, "web", 1)).await;
    cluster.stop().await;
}

#[tokio::test]
async fn a_container_removed_behind_minicloud_is_started_again() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.apply_app("web", "hello:1", 1).await;
    eventually("1 replica runs", || converged(&cluster, "web", 1)).await;
    let first = cluster.agent("node-a").observed().containers[0].id.clone();
    cluster
        .agent("node-a")
        .modify(|state| state.containers.clear());
    eventually("a new container runs", || async {
        converged(&cluster, "web", 1).await?;
        let containers = cluster.agent("node-a").observed().containers;
        (containers.len() == 1 && containers[0].id != first).then_some(())
    })
    .await;
    cluster.stop().await;
}

#[tokio::test]
async fn a_large_plan_is_applied_in_parts_of_at_most_16_operations() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 16000, 8192).await;
    // The agent holds its first plan until all 40 Instances are bound, so that the rest of the
    // start-up is one plan of 38 or more starts.
    let agent = cluster.agent("node-a");
    agent.hold_applies();
    cluster.apply_app("web", "hello:1", 40).await;
    eventually("40 instances are bound", || async {
        let instances = cluster.instances().await;
        let bound = instances.iter().filter(|i| i.spec.node.is_some()).count();
        (bound == 40).then_some(())
    })
    .await;
    agent.resume_applies();
    eventually("40 replicas run", || converged(&cluster, "web", 40)).await;

    let plans = cluster.agent("node-a").plans();
    let sizes: Vec<usize> = plans.iter().map(|p| p.operations.len()).collect();
    assert!(sizes.iter().all(|&n| n <= 16), "plan sizes {sizes:?}");
    assert!(sizes.contains(&16), "no plan was cut to 16: {sizes:?}");
    cluster.stop().await;
}
