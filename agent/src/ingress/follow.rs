//! Keeps the route table current from the API server: follows Apps and Instances of every
//! tenant (see [`minicloud_common::follow`]: list, watch from the list's version, list again
//! when a watch ends, expires or fails), and publishes a new table after each burst of changes
//! once both kinds have been listed.

use std::collections::HashMap;
use std::future::{Future, ready};
use std::marker::PhantomData;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use minicloud_common::follow::{Change, Listing, Source, follow as follow_kind};
use minicloud_manifests::{App, Instance, Kind, ObjectMeta};
use minicloud_proto::bearer::Authorized;
use minicloud_proto::metadata;
use minicloud_proto::v1::resource_service_client::ResourceServiceClient;
use minicloud_proto::v1::{self as pb, EventType};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tracing::Instrument as _;

use super::{RouteTable, RoutesWriter};

/// Changes buffered between a watch and the table builder.
const CHANGE_BUFFER: usize = 1024;

/// Follows Apps and Instances through `client` and publishes the route table for `domain`
/// to `routes` on every change, until `shutdown` completes.
pub async fn follow(
    client: ResourceServiceClient<Authorized>,
    domain: String,
    routes: RoutesWriter,
    shutdown: impl Future<Output = ()>,
) {
    let (apps_tx, apps_rx) = mpsc::channel(CHANGE_BUFFER);
    let (instances_tx, instances_rx) = mpsc::channel(CHANGE_BUFFER);
    let following = async {
        tokio::join!(
            reflect::<App>(client.clone(), apps_tx),
            reflect::<Instance>(client.clone(), instances_tx),
            build(domain, apps_rx, instances_rx, routes),
        );
    };
    tokio::select! {
        () = shutdown => {}
        () = following => {}
    }
}

/// A kind the ingress follows.
trait Followed: DeserializeOwned + Send + 'static {
    const KIND: Kind;
    fn metadata(&self) -> &ObjectMeta;
}

impl Followed for App {
    const KIND: Kind = Kind::App;
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl Followed for Instance {
    const KIND: Kind = Kind::Instance;
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// The objects of one kind by tenant and name, and whether they were listed yet.
struct Mirror<T> {
    objects: HashMap<(String, String), T>,
    listed: bool,
}

impl<T: Followed> Mirror<T> {
    fn new() -> Mirror<T> {
        Mirror {
            objects: HashMap::new(),
            listed: false,
        }
    }

    fn apply(&mut self, change: Change<T>) {
        match change {
            Change::Listed(items) => {
                self.objects = items.into_iter().map(|item| (key(&item), item)).collect();
                self.listed = true;
            }
            Change::Applied(item) => {
                self.objects.insert(key(&item), item);
            }
            Change::Deleted(item) => {
                self.objects.remove(&key(&item));
            }
        }
    }

    /// Applies every change waiting in `changes` without waiting for more.
    fn drain(&mut self, changes: &mut mpsc::Receiver<Change<T>>) {
        while let Ok(change) = changes.try_recv() {
            self.apply(change);
        }
    }
}

fn key<T: Followed>(object: &T) -> (String, String) {
    let meta = object.metadata();
    (meta.tenant.clone().unwrap_or_default(), meta.name.clone())
}

/// Applies changes as they come and, once both kinds are listed, publishes a table after each
/// burst of them.
async fn build(
    domain: String,
    mut apps_rx: mpsc::Receiver<Change<App>>,
    mut instances_rx: mpsc::Receiver<Change<Instance>>,
    routes: RoutesWriter,
) {
    let mut apps = Mirror::new();
    let mut instances = Mirror::new();
    let mut table = Arc::new(RouteTable::default());
    loop {
        tokio::select! {
            Some(change) = apps_rx.recv() => apps.apply(change),
            Some(change) = instances_rx.recv() => instances.apply(change),
            else => return,
        }
        apps.drain(&mut apps_rx);
        instances.drain(&mut instances_rx);
        if apps.listed && instances.listed {
            table = Arc::new(RouteTable::build(
                &domain,
                apps.objects.values(),
                instances.objects.values(),
                &table,
            ));
            tracing::debug!(hosts = table.len(), "ingress routes updated");
            routes.publish(table.clone());
        }
    }
}

/// Mirrors every object of kind `T` into `changes`; stops when the receiver is gone.
async fn reflect<T: Followed>(
    client: ResourceServiceClient<Authorized>,
    changes: mpsc::Sender<Change<T>>,
) {
    let source = EveryTenant::<T> {
        client,
        kind: PhantomData,
    };
    follow_kind(&source, changes)
        .instrument(tracing::info_span!("ingress"))
        .await;
}

/// Every object of kind `T`, in every tenant; objects that do not decode are skipped.
struct EveryTenant<T> {
    client: ResourceServiceClient<Authorized>,
    kind: PhantomData<fn() -> T>,
}

impl<T: Followed> Source for EveryTenant<T> {
    type Object = T;
    type Error = tonic::Status;
    type Changes = BoxStream<'static, Result<Change<T>, tonic::Status>>;

    fn kind(&self) -> &str {
        T::KIND.as_str()
    }

    async fn list(&self) -> Result<Listing<T>, tonic::Status> {
        let list = self
            .client
            .clone()
            .list(pb::ListRequest {
                kind: T::KIND.as_str().into(),
                tenant: "*".into(),
                label_selector: String::new(),
            })
            .await?
            .into_inner();
        Ok(Listing {
            items: list.items.iter().filter_map(|o| decode::<T>(o)).collect(),
            resource_version: list.resource_version,
        })
    }

    async fn watch(&self, resource_version: String) -> Result<Self::Changes, tonic::Status> {
        let events = self
            .client
            .clone()
            .watch(pb::WatchRequest {
                kind: T::KIND.as_str().into(),
                tenant: "*".into(),
                label_selector: String::new(),
                resource_version,
            })
            .await?
            .into_inner();
        Ok(events
            .filter_map(|event| ready(event.map(change::<T>).transpose()))
            .boxed())
    }

    fn is_expired(&self, status: &tonic::Status) -> bool {
        metadata::is_expired(status)
    }
}

/// The change a watch event reports, if it reports one about a `T`.
fn change<T: Followed>(event: pb::WatchEvent) -> Option<Change<T>> {
    match (event.r#type(), event.object.as_ref().and_then(decode::<T>)) {
        (EventType::Added | EventType::Modified, Some(object)) => Some(Change::Applied(object)),
        (EventType::Deleted, Some(object)) => Some(Change::Deleted(object)),
        _ => None,
    }
}

/// The object, or `None` (logged) when the server sent something that is not a `T`.
fn decode<T: Followed>(object: &pb::Object) -> Option<T> {
    serde_json::from_str(&object.json)
        .inspect_err(|error| {
            tracing::warn!(kind = %T::KIND, %error, "the ingress skips an object it cannot decode");
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_manifests::{AppSpec, Ingress, Port, PortRef};

    fn app(tenant: &str, name: &str) -> App {
        App::new(
            ObjectMeta::named(name, Some(tenant)),
            AppSpec {
                image: Some("hello:1".to_owned()),
                ports: vec![Port {
                    name: Some("http".to_owned()),
                    port: 8080,
                    protocol: None,
                }],
                ingress: Some(Ingress {
                    port: PortRef::Name("http".to_owned()),
                    host: None,
                }),
                ..AppSpec::default()
            },
        )
    }

    #[test]
    fn a_mirror_follows_lists_applies_and_deletes() {
        let mut mirror = Mirror::new();
        assert!(!mirror.listed);
        mirror.apply(Change::Listed(vec![app("a", "web"), app("b", "web")]));
        assert!(mirror.listed);
        mirror.apply(Change::Applied(app("a", "api")));
        mirror.apply(Change::Deleted(app("b", "web")));
        let mut keys: Vec<_> = mirror.objects.keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [("a".into(), "api".into()), ("a".into(), "web".into())]
        );
        mirror.apply(Change::Listed(vec![app("c", "x")]));
        assert_eq!(mirror.objects.len(), 1);
    }

    #[tokio::test]
    async fn a_table_is_published_only_once_both_kinds_are_listed() {
        let (writer, routes) = super::super::route_channel();
        let (apps_tx, apps_rx) = mpsc::channel(8);
        let (instances_tx, instances_rx) = mpsc::channel(8);
        let builder = tokio::spawn(build("localhost".into(), apps_rx, instances_rx, writer));
        apps_tx
            .send(Change::Listed(vec![app("acme", "web")]))
            .await
            .unwrap();
        tokio::task::yield_now().await;
        assert!(routes.current().is_none());
        instances_tx.send(Change::Listed(Vec::new())).await.unwrap();
        drop((apps_tx, instances_tx));
        builder.await.unwrap();
        let table = routes.current().expect("a published table");
        assert!(table.lookup("web.acme.localhost").is_some());
    }
}
