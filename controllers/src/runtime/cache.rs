//! A local copy of every object of one kind, kept by a reflector: a snapshot for reads where a
//! little staleness is harmless, and a broadcast of each change for triggering reconciles.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio::sync::{broadcast, watch};

use crate::object::{Object, ObjectKey};

/// How many changes a slow subscriber may fall behind before it is told it lagged.
const EVENT_BUFFER: usize = 4096;

/// One change to the cache.
#[derive(Debug)]
pub enum CacheEvent<T> {
    /// The object was added or changed; this is its new state.
    Applied(Arc<T>),
    /// The object was removed; this is its last known state.
    Deleted(Arc<T>),
}

impl<T> Clone for CacheEvent<T> {
    fn clone(&self) -> Self {
        match self {
            CacheEvent::Applied(object) => CacheEvent::Applied(object.clone()),
            CacheEvent::Deleted(object) => CacheEvent::Deleted(object.clone()),
        }
    }
}

impl<T> CacheEvent<T> {
    /// The object the event is about.
    pub fn object(&self) -> &T {
        match self {
            CacheEvent::Applied(object) | CacheEvent::Deleted(object) => object,
        }
    }
}

struct Inner<T> {
    objects: RwLock<BTreeMap<ObjectKey, Arc<T>>>,
    events: broadcast::Sender<CacheEvent<T>>,
    ready: watch::Sender<bool>,
}

/// The cached objects of one kind; cheap to clone, clones share the cache.
pub struct Cache<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Cache<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Object> Default for Cache<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Object> Cache<T> {
    /// An empty cache, not yet ready.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (ready, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                objects: RwLock::new(BTreeMap::new()),
                events,
                ready,
            }),
        }
    }

    /// Every cached object, in key order.
    pub fn snapshot(&self) -> Vec<Arc<T>> {
        self.read().values().cloned().collect()
    }

    /// One cached object.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<T>> {
        self.read().get(key).cloned()
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<CacheEvent<T>> {
        self.inner.events.subscribe()
    }

    /// Waits until the cache holds a complete list (at least once).
    pub async fn ready(&self) {
        let mut ready = self.inner.ready.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = ready.wait_for(|ready| *ready).await;
    }

    /// Records an added or changed object.
    pub fn applied(&self, object: T) {
        let object = Arc::new(object);
        self.write().insert(ObjectKey::of(&*object), object.clone());
        let _ = self.inner.events.send(CacheEvent::Applied(object));
    }

    /// Records a removed object.
    pub fn deleted(&self, object: T) {
        let removed = self.write().remove(&ObjectKey::of(&object));
        let last = removed.unwrap_or_else(|| Arc::new(object));
        let _ = self.inner.events.send(CacheEvent::Deleted(last));
    }

    /// Replaces the contents with a fresh list: objects no longer listed are reported deleted,
    /// every listed one applied. Marks the cache ready.
    pub fn replace(&self, objects: Vec<T>) {
        let fresh: BTreeMap<ObjectKey, Arc<T>> = objects
            .into_iter()
            .map(|object| (ObjectKey::of(&object), Arc::new(object)))
            .collect();
        let old = std::mem::replace(&mut *self.write(), fresh.clone());
        for (key, object) in old {
            if !fresh.contains_key(&key) {
                let _ = self.inner.events.send(CacheEvent::Deleted(object));
            }
        }
        for object in fresh.into_values() {
            let _ = self.inner.events.send(CacheEvent::Applied(object));
        }
        self.inner.ready.send_replace(true);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<ObjectKey, Arc<T>>> {
        self.inner.objects.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<ObjectKey, Arc<T>>> {
        self.inner
            .objects
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_manifests::{Node, NodeSpec, ObjectMeta};

    fn node(name: &str) -> Node {
        Node::new(ObjectMeta::named(name, None), NodeSpec::default())
    }

    fn names(events: &mut broadcast::Receiver<CacheEvent<Node>>) -> Vec<String> {
        std::iter::from_fn(|| events.try_recv().ok())
            .map(|event| match event {
                CacheEvent::Applied(n) => format!("+{}", n.metadata.name),
                CacheEvent::Deleted(n) => format!("-{}", n.metadata.name),
            })
            .collect()
    }

    #[test]
    fn a_relist_reports_vanished_objects_as_deleted() {
        let cache = Cache::new();
        cache.replace(vec![node("a"), node("b")]);
        let mut events = cache.subscribe();
        cache.replace(vec![node("b"), node("c")]);
        assert_eq!(names(&mut events), ["-a", "+b", "+c"]);
        let cached: Vec<_> = cache
            .snapshot()
            .iter()
            .map(|n| n.metadata.name.clone())
            .collect();
        assert_eq!(cached, ["b", "c"]);
    }

    #[test]
    fn watch_changes_update_the_snapshot_and_notify() {
        let cache = Cache::new();
        let mut events = cache.subscribe();
        cache.applied(node("a"));
        cache.deleted(node("a"));
        assert_eq!(names(&mut events), ["+a", "-a"]);
        assert!(cache.get(&ObjectKey::new(None, "a")).is_none());
    }

    #[tokio::test]
    async fn the_cache_is_ready_after_its_first_list() {
        let cache: Cache<Node> = Cache::new();
        let waiting = tokio::spawn({
            let cache = cache.clone();
            async move { cache.ready().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        cache.replace(Vec::new());
        waiting.await.unwrap();
    }
}
