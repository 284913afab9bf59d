//! Rolling updates as users see them: an update never drops below `replicas - maxUnavailable`
//! ready Instances, a Release that never becomes ready is rolled back after its deadline and
//! not tried again, undo brings the previous Release back, and a restart rolls every Instance.
//! Every Instance change is followed through a watch, so "never" means "at no observed moment".

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use minicloud_controllers::app::{self, RESTARTED_AT};
use minicloud_controllers::client::{TenantScope, WatchEvent};
use minicloud_manifests::{
    App, AppSpec, Bytes, ConditionStatus, Instance, ObjectMeta, Resources, UpdateStrategy,
};
use tokio::task::JoinHandle;

use crate::harness::{Cluster, TENANT, eventually};
use crate::{condition, converged};

/// The progress deadline of the App whose update fails, in seconds.
const DEADLINE_SECS: u32 = 3;

/// What the Instances of the App looked like after one watch event.
#[derive(Clone, Debug)]
struct Moment {
    /// Instances not being deleted.
    live: usize,
    /// Of those, the ready ones, by Release.
    ready: BTreeMap<String, usize>,
}

impl Moment {
    fn ready_total(&self) -> usize {
        self.ready.values().sum()
    }
}

/// Every moment of the App's Instances from the start of a watch until it is stopped.
struct Timeline {
    moments: Arc<Mutex<Vec<Moment>>>,
    task: JoinHandle<()>,
}

impl Timeline {
    /// Follows the Instances of `app`; returns once the watch has delivered the current ones.
    async fn follow(cluster: &Cluster, app: &str) -> Timeline {
        let selector = format!("app={app}");
        let scope = TenantScope::One(TENANT.into());
        let mut events = cluster
            .client
            .watch::<Instance>(&scope, &selector, None)
            .await
            .expect("watch Instances");
        let moments = Arc::new(Mutex::new(Vec::new()));
        let (seen, recorded) = (Arc::new(tokio::sync::Notify::new()), moments.clone());
        let synced = seen.clone();
        let task = tokio::spawn(async move {
            let mut instances: BTreeMap<String, Instance> = BTreeMap::new();
            let mut started = false;
            while let Some(Ok(event)) = events.next().await {
                match event {
                    WatchEvent::Added(i) | WatchEvent::Modified(i) => {
                        instances.insert(i.metadata.name.clone(), i);
                    }
                    WatchEvent::Deleted(i) => {
                        instances.remove(&i.metadata.name);
                    }
                    WatchEvent::Bookmark(_) if !started => {
                        started = true;
                        seen.notify_one();
                    }
                    WatchEvent::Bookmark(_) => continue,
                }
                if started {
                    recorded.lock().unwrap().push(moment(&instances));
                }
            }
        });
        synced.notified().await;
        Timeline { moments, task }
    }

    /// Stops following and returns every moment seen.
    fn stop(self) -> Vec<Moment> {
        self.task.abort();
        self.moments.lock().unwrap().clone()
    }
}

fn moment(instances: &BTreeMap<String, Instance>) -> Moment {
    let live: Vec<&Instance> = instances
        .values()
        .filter(|i| i.metadata.deletion_timestamp.is_none())
        .collect();
    let mut ready = BTreeMap::new();
    for instance in live
        .iter()
        .filter(|i| i.status.as_ref().is_some_and(|s| s.ready))
    {
        *ready.entry(instance.spec.release.clone()).or_default() += 1;
    }
    Moment {
        live: live.len(),
        ready,
    }
}

/// An App of `replicas` running `image`, each asking for `memory_mi` of memory, with the
/// default update strategy.
fn web(image: &str, replicas: u32, memory_mi: u64) -> App {
    let spec = AppSpec {
        image: Some(image.into()),
        replicas: Some(replicas),
        resources: Some(Resources {
            memory: Some(Bytes::mebibytes(memory_mi)),
            ..Resources::default()
        }),
        ..AppSpec::default()
    };
    App::new(ObjectMeta::named("web", Some(TENANT)), spec)
}

/// `app` with a progress deadline of [`DEADLINE_SECS`].
fn hurried(mut app: App) -> App {
    app.spec.update = Some(UpdateStrategy {
        progress_deadline_seconds: Some(DEADLINE_SECS),
        ..UpdateStrategy::default()
    });
    app
}

/// `Some(())` once `n` ready replicas of `release` run, and nothing else.
async fn runs(cluster: &Cluster, n: usize, release: &str) -> Option<()> {
    converged(cluster, "web", n).await?;
    let status = cluster.app("web").await?.status?;
    let instances = cluster.instances().await;
    let all = instances.iter().all(|i| i.spec.release == release);
    (all && status.current_release.as_deref() == Some(release)).then_some(())
}

fn uids(instances: &[Instance]) -> BTreeSet<String> {
    instances
        .iter()
        .filter_map(|i| i.metadata.uid.clone())
        .collect()
}

#[tokio::test]
async fn an_update_of_3_replicas_never_has_fewer_than_3_ready_instances() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.client.apply(&web("hello:1", 3, 64)).await.unwrap();
    eventually("v1 runs", || runs(&cluster, 3, "web-1")).await;
    let timeline = Timeline::follow(&cluster, "web").await;

    cluster.client.apply(&web("hello:2", 3, 64)).await.unwrap();
    eventually("v2 runs", || runs(&cluster, 3, "web-2")).await;
    let moments = timeline.stop();

    let fewest = moments.iter().map(Moment::ready_total).min().unwrap();
    let most = moments.iter().map(|m| m.live).max().unwrap();
    assert!(fewest >= 3, "{fewest} ready at one moment of {moments:?}");
    assert!(
        most <= 4,
        "{most} instances at once, above replicas + maxSurge"
    );
    let replaced = moments.iter().any(|m| m.ready.get("web-2") == Some(&3));
    assert!(
        replaced && moments.len() > 10,
        "too few moments seen: {moments:?}"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn a_release_that_never_becomes_ready_is_rolled_back_after_its_deadline() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 1024).await;
    cluster
        .client
        .apply(&hurried(web("hello:1", 3, 64)))
        .await
        .unwrap();
    eventually("v1 runs", || runs(&cluster, 3, "web-1")).await;
    let v1 = uids(&cluster.instances().await);
    let timeline = Timeline::follow(&cluster, "web").await;

    // More memory than the node has: its Instances are never scheduled, so never ready.
    let applied = Instant::now();
    let broken = hurried(web("hello:2", 3, 2048));
    cluster.client.apply(&broken).await.unwrap();
    let status = eventually("the app is rolled back", || async {
        let status = cluster.app("web").await?.status?;
        let progressing = condition(&status.conditions, "Progressing")?;
        (progressing.reason == "RolledBack").then_some(status)
    })
    .await;
    let took = applied.elapsed();
    let deadline = Duration::from_secs(DEADLINE_SECS.into());
    assert!(
        took >= deadline,
        "rolled back after {took:?}, before the deadline"
    );
    assert!(
        took < deadline + Duration::from_secs(4),
        "rolled back only after {took:?}"
    );

    let progressing = condition(&status.conditions, "Progressing").unwrap();
    assert_eq!(progressing.status, ConditionStatus::False);
    let both = ["release web-2 (revision 2)", "release web-1 (revision 1)"];
    assert!(
        both.iter().all(|r| progressing.message.contains(r)),
        "{progressing:?}"
    );
    let degraded = condition(&status.conditions, "Degraded").unwrap();
    assert_eq!(degraded.status, ConditionStatus::True);
    assert_eq!(status.current_release.as_deref(), Some("web-1"));
    let releases = cluster.releases().await;
    let web2 = releases
        .iter()
        .find(|r| r.metadata.name == "web-2")
        .unwrap();
    assert!(app::is_failed(web2));
    eventually("only v1's instances remain", || async {
        runs(&cluster, 3, "web-1").await?;
        (uids(&cluster.instances().await) == v1).then_some(())
    })
    .await;

    // Applying the failed spec again changes nothing, and nothing retries it.
    cluster.client.apply(&broken).await.unwrap();
    tokio::time::sleep(deadline + Duration::from_secs(2)).await;
    assert_eq!(cluster.releases().await.len(), 2);
    assert_eq!(uids(&cluster.instances().await), v1);
    let status = cluster.app("web").await.unwrap().status.unwrap();
    assert_eq!(status.current_release.as_deref(), Some("web-1"));
    let moments = timeline.stop();
    let web2_ready = moments.iter().find(|m| m.ready.contains_key("web-2"));
    assert!(
        web2_ready.is_none(),
        "a web-2 instance was ready: {web2_ready:?}"
    );
    assert!(moments.iter().all(|m| m.ready_total() >= 3), "{moments:?}");
    cluster.stop().await;
}

#[tokio::test]
async fn undo_returns_the_previous_release() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.client.apply(&web("hello:1", 2, 64)).await.unwrap();
    eventually("v1 runs", || runs(&cluster, 2, "web-1")).await;
    cluster.client.apply(&web("hello:2", 2, 64)).await.unwrap();
    eventually("v2 runs", || runs(&cluster, 2, "web-2")).await;

    let current = cluster.app("web").await.unwrap();
    let releases = cluster.releases().await;
    let target = app::undo_target(&current, &releases, None).unwrap();
    assert_eq!(target.metadata.name, "web-1");
    cluster
        .client
        .apply(&app::with_release(&current, target))
        .await
        .unwrap();
    eventually("the undo runs as revision 3", || runs(&cluster, 2, "web-3")).await;
    let images: BTreeSet<String> = cluster
        .instances()
        .await
        .into_iter()
        .map(|i| i.spec.container.image)
        .collect();
    assert_eq!(images, BTreeSet::from(["hello:1".to_owned()]));
    let releases = cluster.releases().await;
    let web3 = releases
        .iter()
        .find(|r| r.metadata.name == "web-3")
        .unwrap();
    assert_eq!(web3.spec.spec_hash, target.spec.spec_hash);
    cluster.stop().await;
}

#[tokio::test]
async fn restart_rolls_every_instance_to_a_new_release_of_the_same_spec() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    cluster.client.apply(&web("hello:1", 3, 64)).await.unwrap();
    eventually("v1 runs", || runs(&cluster, 3, "web-1")).await;
    let before = uids(&cluster.instances().await);
    let timeline = Timeline::follow(&cluster, "web").await;

    let current = cluster.app("web").await.unwrap();
    let restarted = app::restarted(&current, std::time::SystemTime::now());
    cluster.client.apply(&restarted).await.unwrap();
    eventually("the restart runs", || runs(&cluster, 3, "web-2")).await;

    let after = cluster.instances().await;
    assert!(
        uids(&after).is_disjoint(&before),
        "every instance was replaced"
    );
    assert!(after.iter().all(|i| i.spec.container.image == "hello:1"));
    let releases = cluster.releases().await;
    let web2 = releases
        .iter()
        .find(|r| r.metadata.name == "web-2")
        .unwrap();
    assert!(web2.metadata.annotations.contains_key(RESTARTED_AT));
    let moments = timeline.stop();
    assert!(moments.iter().all(|m| m.ready_total() >= 3), "{moments:?}");
    cluster.stop().await;
}
