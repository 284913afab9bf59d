//! Follows the engine's event stream for as long as the agent lives: remembers the exit code of
//! each managed container's latest `die`, and announces every change to a managed object so
//! watchers send a fresh snapshot. When the stream drops it reconnects (resuming from the last
//! event seen) and announces a change, since events may have been missed meanwhile. Other parts
//! of the agent announce changes Docker does not see (a health probe changing a container's
//! readiness) through the same hub.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::watch;

use crate::labels;
use crate::runtime::{ObjectType, Runtime, RuntimeEvent};

/// How long a follower of the announced changes waits after one for the ones that usually
/// follow it (die, restart, start), so a burst costs one look.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// First delay before reconnecting to a dropped event stream; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest delay between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Container actions that change what Observe reports.
const CONTAINER_ACTIONS: &[&str] = &[
    "create", "start", "restart", "die", "destroy", "pause", "unpause", "rename", "update", "oom",
];

/// A handle on the event follower. The follower stops when the last handle and the last
/// subscriber are gone.
#[derive(Clone)]
pub struct EventHub {
    exit_codes: Arc<Mutex<HashMap<String, i32>>>,
    changes: watch::Receiver<u64>,
    announcer: Arc<watch::Sender<u64>>,
}

impl EventHub {
    /// Starts following `runtime`'s events on the current tokio runtime.
    pub fn spawn(runtime: Arc<dyn Runtime>) -> EventHub {
        let (tx, changes) = watch::channel(0);
        let tx = Arc::new(tx);
        let exit_codes = Arc::new(Mutex::new(HashMap::new()));
        tokio::spawn(follow(runtime, tx.clone(), exit_codes.clone()));
        EventHub {
            exit_codes,
            changes,
            announcer: tx,
        }
    }

    /// Announces a change Docker's events do not carry, so watchers send a fresh snapshot.
    pub fn announce(&self) {
        self.announcer.send_modify(|n| *n += 1);
    }

    /// The exit code of the latest `die` seen for a container.
    pub fn last_exit_code(&self, container_id: &str) -> Option<i32> {
        let codes = self
            .exit_codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        codes.get(container_id).copied()
    }

    /// A receiver whose value moves on every change to a managed object.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }
}

/// Whether an event is about an object minicloud manages and changes what Observe reports.
pub fn is_relevant(event: &RuntimeEvent) -> bool {
    match event.object {
        ObjectType::Container => {
            labels::is_managed(&event.attributes)
                && CONTAINER_ACTIONS.contains(&event.action.as_str())
        }
        ObjectType::Network => event
            .attributes
            .get("name")
            .is_some_and(|name| name.starts_with(labels::NAME_PREFIX)),
        ObjectType::Volume => event.id.starts_with(labels::NAME_PREFIX),
        ObjectType::Other => false,
    }
}

fn record_exit(codes: &Mutex<HashMap<String, i32>>, event: &RuntimeEvent) {
    if event.object != ObjectType::Container || !labels::is_managed(&event.attributes) {
        return;
    }
    let mut codes = codes.lock().unwrap_or_else(PoisonError::into_inner);
    match event.action.as_str() {
        "die" => {
            if let Some(code) = event
                .attributes
                .get("exitCode")
                .and_then(|c| c.parse().ok())
            {
                codes.insert(event.id.clone(), code);
            }
        }
        "destroy" => {
            codes.remove(&event.id);
        }
        _ => {}
    }
}

/// The follower: reads events until the stream ends, then reconnects with backoff.
async fn follow(
    runtime: Arc<dyn Runtime>,
    tx: Arc<watch::Sender<u64>>,
    codes: Arc<Mutex<HashMap<String, i32>>>,
) {
    let mut resume_from = None;
    let mut backoff = MIN_BACKOFF;
    loop {
        let events = runtime.events(resume_from);
        if resume_from.is_some() {
            tx.send_modify(|n| *n += 1);
        }
        let since = resume_from.unwrap_or_else(SystemTime::now);
        let Some(read) = read_events(events, &tx, &codes, since).await else {
            return;
        };
        if read.any {
            backoff = MIN_BACKOFF;
        }
        resume_from = Some(read.last_seen);
        tokio::select! {
            () = tx.closed() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// How a connection to the event stream went.
struct Read {
    /// Whether any event arrived.
    any: bool,
    /// The time of the latest event, or when the connection started.
    last_seen: SystemTime,
}

/// Handles events until the stream ends (`Some`) or nobody listens any more (`None`).
async fn read_events(
    mut events: BoxStream<'static, crate::runtime::Result<RuntimeEvent>>,
    tx: &watch::Sender<u64>,
    codes: &Mutex<HashMap<String, i32>>,
    since: SystemTime,
) -> Option<Read> {
    let mut read = Read {
        any: false,
        last_seen: since,
    };
    loop {
        let item = tokio::select! {
            () = tx.closed() => return None,
            item = events.next() => item,
        };
        match item {
            Some(Ok(event)) => {
                read.any = true;
                read.last_seen = read.last_seen.max(event.time);
                record_exit(codes, &event);
                if is_relevant(&event) {
                    tx.send_modify(|n| *n += 1);
                }
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "Docker event stream failed; reconnecting");
                return Some(read);
            }
            None => return Some(read),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::runtime::fake::{FakeRuntime, event};

    fn managed() -> BTreeMap<String, String> {
        BTreeMap::from([(labels::MANAGED.to_owned(), "true".to_owned())])
    }

    #[test]
    fn only_state_changes_of_managed_objects_are_relevant() {
        let none = BTreeMap::new();
        fn on(
            object: ObjectType,
            action: &str,
            id: &str,
            attrs: &BTreeMap<String, String>,
        ) -> bool {
            is_relevant(&event(object, action, id, attrs))
        }
        assert!(on(ObjectType::Container, "die", "c1", &managed()));
        assert!(!on(
            ObjectType::Container,
            "exec_start: sh",
            "c1",
            &managed()
        ));
        assert!(!on(ObjectType::Container, "die", "c1", &none));
        let named = |name: &str| BTreeMap::from([("name".to_owned(), name.to_owned())]);
        assert!(on(ObjectType::Network, "create", "n", &named("mc-a")));
        assert!(!on(ObjectType::Network, "create", "n", &named("bridge")));
        assert!(on(ObjectType::Volume, "create", "mc-a-d", &none));
        assert!(!on(ObjectType::Volume, "create", "other", &none));
        assert!(!on(ObjectType::Other, "pull", "x", &managed()));
    }

    #[tokio::test]
    async fn die_events_record_the_exit_code_until_the_container_is_destroyed() {
        let fake = FakeRuntime::new();
        let hub = EventHub::spawn(Arc::new(fake.clone()));
        let mut changes = hub.subscribe();
        while fake.event_subscribers() == 0 {
            tokio::task::yield_now().await;
        }
        let mut attrs = managed();
        attrs.insert("exitCode".into(), "3".into());
        fake.emit(event(ObjectType::Container, "die", "c1", &attrs));
        changes.changed().await.unwrap();
        assert_eq!(hub.last_exit_code("c1"), Some(3));
        fake.emit(event(ObjectType::Container, "destroy", "c1", &managed()));
        changes.changed().await.unwrap();
        assert_eq!(hub.last_exit_code("c1"), None);
    }

    #[tokio::test]
    async fn an_announcement_reaches_every_subscriber() {
        let hub = EventHub::spawn(Arc::new(FakeRuntime::new()));
        let mut first = hub.subscribe();
        let mut second = hub.clone().subscribe();
        hub.announce();
        first.changed().await.unwrap();
        second.changed().await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_stream_is_reopened_and_announced_as_a_change() {
        let fake = FakeRuntime::new();
        let hub = EventHub::spawn(Arc::new(fake.clone()));
        let mut changes = hub.subscribe();
        while fake.event_subscribers() == 0 {
            tokio::task::yield_now().await;
        }
        fake.drop_event_streams();
        changes.changed().await.unwrap();
        assert_eq!(fake.event_subscribers(), 1);
    }
}
