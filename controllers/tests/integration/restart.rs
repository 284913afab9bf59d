//! Killing the controllers at arbitrary points and starting them again converges to exactly the
//! desired state: no duplicate Instances, no leftover containers.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use minicloud_controllers::client::{TenantScope, WatchEvent};
use minicloud_manifests::Instance;

use crate::converged;
use crate::harness::{Cluster, eventually};

/// Live (not deleting) Instances seen through a watch, and the most seen at once.
#[derive(Default)]
struct Census {
    live: BTreeSet<String>,
    most: usize,
}

/// Follows every Instance change into a [`Census`].
fn count_instances(cluster: &Cluster) -> Arc<Mutex<Census>> {
    let census = Arc::new(Mutex::new(Census::default()));
    let (client, counted) = (cluster.client.clone(), census.clone());
    tokio::spawn(async move {
        let mut events = client
            .watch::<Instance>(&TenantScope::All, "", None)
            .await
            .unwrap();
        while let Some(Ok(event)) = events.next().await {
            let mut census = counted.lock().unwrap();
            match event {
                WatchEvent::Added(i) | WatchEvent::Modified(i)
                    if i.metadata.deletion_timestamp.is_none() =>
                {
                    census.live.insert(i.metadata.name);
                }
                WatchEvent::Added(i) | WatchEvent::Modified(i) | WatchEvent::Deleted(i) => {
                    census.live.remove(&i.metadata.name);
                }
                WatchEvent::Bookmark(_) => {}
            }
            census.most = census.most.max(census.live.len());
        }
    });
    census
}

#[tokio::test]
async fn controllers_killed_mid_way_converge_without_duplicates_when_restarted() {
    let mut cluster = Cluster::start().await;
    cluster.add_node("node-a", 8000, 8192).await;
    let census = count_instances(&cluster);
    let steps = [(5, 30), (2, 10), (6, 70), (0, 20), (3, 5)];
    let mut previous = 0;
    for (replicas, kill_after_ms) in steps {
        cluster.apply_app("web", "hello:1", replicas).await;
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        cluster.kill_controllers().await;
        cluster.start_controllers();
        let what = format!("{replicas} replicas run after a restart");
        eventually(&what, || converged(&cluster, "web", replicas as usize)).await;
        let mut census = census.lock().unwrap();
        let bound = previous.max(replicas as usize);
        assert!(
            census.most <= bound,
            "{} live Instances at once, at most {bound} expected",
            census.most
        );
        census.most = census.live.len();
        previous = replicas as usize;
    }
    assert_eq!(cluster.releases().await.len(), 1);
    cluster.stop().await;
}

#[tokio::test]
async fn controllers_down_during_changes_catch_up_when_started() {
    let mut cluster = Cluster::start().await;
    cluster.add_node("node-a", 8000, 8192).await;
    cluster.apply_app("web", "hello:1", 2).await;
    eventually("2 replicas run", || converged(&cluster, "web", 2)).await;
    cluster.kill_controllers().await;
    cluster.apply_app("web", "hello:1", 4).await;
    cluster
        .agent("node-a")
        .modify(|state| state.containers.truncate(1));
    cluster.start_controllers();
    eventually("4 replicas run", || converged(&cluster, "web", 4)).await;
    cluster.stop().await;
}

#[tokio::test]
async fn the_controllers_follow_the_api_server_through_its_restart() {
    let mut cluster = Cluster::start().await;
    cluster.add_node("node-a", 8000, 8192).await;
    cluster.apply_app("web", "hello:1", 1).await;
    eventually("1 replica runs", || converged(&cluster, "web", 1)).await;
    cluster.restart_server().await;
    cluster.apply_app("web", "hello:1", 3).await;
    eventually("3 replicas run", || converged(&cluster, "web", 3)).await;
    cluster.stop().await;
}
