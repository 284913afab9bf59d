//! Keeps one collection running for every managed container of the node that is running, and
//! one pass over each container it has not collected since the agent started (a stopped
//! container's output is kept too). It looks again on every change the engine announces, when
//! a collection ends, and every [`RESCAN`] in case an announcement was missed; it forgets the
//! cursors of containers that are gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::collector::{collect, source_of};
use super::store::LogStore;
use super::writer::LogWriter;
use crate::events::{DEBOUNCE, EventHub};
use crate::runtime::Runtime;

/// How often the containers are listed without an announcement.
pub const RESCAN: Duration = Duration::from_secs(2);

/// A container's collection: running (its receiver turns true when it ends) or done.
enum Collection {
    Running(watch::Receiver<bool>),
    Done,
}

/// What the collections share.
struct Shared {
    runtime: Arc<dyn Runtime>,
    node: String,
    store: LogStore,
    writer: LogWriter,
    collections: Mutex<HashMap<String, Collection>>,
    ended: Notify,
}

/// A handle on the node's collections; cheap to clone.
#[derive(Clone)]
pub struct Collectors {
    shared: Arc<Shared>,
}

impl Collectors {
    /// Starts collecting `node`'s containers on the current tokio runtime.
    pub fn spawn(
        runtime: Arc<dyn Runtime>,
        node: String,
        hub: &EventHub,
        store: LogStore,
        writer: LogWriter,
    ) -> Collectors {
        let shared = Arc::new(Shared {
            runtime,
            node,
            store,
            writer,
            collections: Mutex::new(HashMap::new()),
            ended: Notify::new(),
        });
        tokio::spawn(supervise(Arc::downgrade(&shared), hub.subscribe()));
        Collectors { shared }
    }

    /// Waits, at most `timeout`, until the collection of a stopped container has kept all of
    /// its output; whether it did.
    pub async fn drain(&self, container_id: &str, timeout: Duration) -> bool {
        let done = {
            let collections = self.shared.lock();
            match collections.get(container_id) {
                Some(Collection::Running(done)) => done.clone(),
                Some(Collection::Done) | None => return true,
            }
        };
        let mut done = done;
        tokio::time::timeout(timeout, done.wait_for(|ended| *ended))
            .await
            .is_ok()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Collection>> {
        self.collections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the collections that should run and forgets containers that are gone.
    async fn scan(self: &Arc<Self>) {
        let containers = match self.runtime.list_all(&self.node).await {
            Ok(containers) => containers,
            Err(error) => {
                tracing::warn!(%error, "cannot list containers to collect their logs");
                return;
            }
        };
        {
            let mut collections = self.lock();
            for collection in collections.values_mut() {
                if matches!(collection, Collection::Running(done) if *done.borrow()) {
                    *collection = Collection::Done;
                }
            }
            for container in &containers {
                let start = match collections.get(&container.id) {
                    None => true,
                    Some(Collection::Done) => container.running,
                    Some(Collection::Running(_)) => false,
                };
                let Some(source) = start.then(|| source_of(container)).flatten() else {
                    continue;
                };
                let (ended, done) = watch::channel(false);
                collections.insert(container.id.clone(), Collection::Running(done));
                let shared = self.clone();
                tokio::spawn(async move {
                    let (runtime, store) = (shared.runtime.clone(), shared.store.clone());
                    collect(runtime, store, shared.writer.clone(), source).await;
                    let _ = ended.send(true);
                    shared.ended.notify_one();
                });
            }
            collections.retain(|id, collection| {
                matches!(collection, Collection::Running(_))
                    || containers.iter().any(|c| &c.id == id)
            });
        }
        let live: Vec<String> = containers.into_iter().map(|c| c.id).collect();
        let store = self.store.clone();
        let forgot = tokio::task::spawn_blocking(move || {
            let live: Vec<&str> = live.iter().map(String::as_str).collect();
            store.forget_cursors_except(&live)
        });
        if let Ok(Err(error)) = forgot.await {
            tracing::warn!(%error, "cannot forget the log cursors of removed containers");
        }
    }
}

/// Scans on every announced change, ended collection and [`RESCAN`], until the collections'
/// last handle is gone.
async fn supervise(shared: std::sync::Weak<Shared>, mut changes: watch::Receiver<u64>) {
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        strong.scan().await;
        let ended = strong.clone();
        drop(strong);
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                tokio::time::sleep(DEBOUNCE).await;
            }
            () = ended.ended.notified() => {}
            () = tokio::time::sleep(RESCAN) => {}
        }
    }
}
