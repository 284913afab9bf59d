//! Watch: the initial state (when no resourceVersion is given), then changes from the watch
//! cache, filtered per client by tenant and label selector.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use minicloud_manifests::Kind;
use serde_json::Value;

use super::change::Change;
use super::objects;
use super::{LabelSelector, RequestContext, ResourceApi, Result, TenantScope};
use crate::auth::Identity;
use crate::store::{Revision, keys};

/// The kind of a watch event, as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The object appeared (or started matching the selector).
    Added,
    /// The object changed.
    Modified,
    /// The object was deleted (or stopped matching the selector).
    Deleted,
    /// Everything up to the event's resourceVersion has been delivered.
    Bookmark,
}

impl EventType {
    /// `ADDED`, `MODIFIED`, `DELETED` or `BOOKMARK`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
        }
    }
}

/// One event a watch client receives.
#[derive(Clone, Debug)]
pub struct ObjectEvent {
    /// What happened.
    pub event_type: EventType,
    /// The object (as last stored, for a deletion); `None` for a bookmark.
    pub object: Option<Arc<Value>>,
    /// The revision of the change, or of the bookmark.
    pub resource_version: Revision,
}

/// The events of one watch; an error item is always the last.
pub type ObjectEventStream = BoxStream<'static, Result<ObjectEvent>>;

/// What one client sees.
struct Filter {
    kind: Kind,
    scope: TenantScope,
    selector: LabelSelector,
    viewer: Identity,
}

impl Filter {
    fn admits(&self, object: &Value) -> bool {
        let tenant = objects::metadata_field(object, "tenant").and_then(Value::as_str);
        let in_scope = match (&self.scope, tenant) {
            (TenantScope::One(wanted), Some(tenant)) => wanted == tenant,
            _ => true,
        };
        in_scope
            && self.selector.matches(objects::labels(object))
            && self.viewer.may_see_object(self.kind, object)
    }

    /// The event this client gets for `change`: objects entering the selection are ADDED,
    /// leaving it DELETED.
    fn event_for(&self, change: &Change) -> Option<ObjectEvent> {
        let now = self.admits(&change.object);
        let before = change.prev.as_ref().is_some_and(|prev| self.admits(prev));
        let event_type = match (change.deleted, before, now) {
            (true, _, true) => EventType::Deleted,
            (false, true, true) => EventType::Modified,
            (false, false, true) => EventType::Added,
            (false, true, false) => EventType::Deleted,
            _ => return None,
        };
        Some(ObjectEvent {
            event_type,
            object: Some(change.object.clone()),
            resource_version: change.revision,
        })
    }
}

impl ResourceApi {
    /// Watches a kind in `scope`. Without `resource_version` the stream starts with the current
    /// objects as ADDED and a BOOKMARK; with one, it carries only the changes after it.
    pub async fn watch(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        scope: TenantScope,
        selector: LabelSelector,
        resource_version: Option<Revision>,
    ) -> Result<ObjectEventStream> {
        ctx.check_listing(kind, &scope)?;
        let (initial, after) = match resource_version {
            Some(revision) => (Vec::new(), revision),
            None => self.initial_events(ctx, kind, &scope, &selector).await?,
        };
        let changes = self
            .cache
            .watch(&keys::kind_prefix(kind.plural(), None), after)
            .await?;
        let filter = Filter {
            kind,
            scope,
            selector,
            viewer: ctx.identity.clone(),
        };
        let live = changes.filter_map(move |item| {
            let event = match item {
                Ok(change) => filter.event_for(&change).map(Ok),
                Err(error) => Some(Err(error.into())),
            };
            std::future::ready(event)
        });
        let open = self.metrics.watch_opened(kind);
        let events = stream::iter(initial.into_iter().map(Ok))
            .chain(live)
            .inspect(move |_| {
                // The stream owns the guard: the watch counts as open until it is dropped.
                let _ = &open;
            });
        Ok(events
            .take_until(self.shutdown.clone().cancelled_owned())
            .boxed())
    }

    async fn initial_events(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        scope: &TenantScope,
        selector: &LabelSelector,
    ) -> Result<(Vec<ObjectEvent>, Revision)> {
        let (items, revision) = self.list(ctx, kind, scope, selector).await?;
        let mut events: Vec<ObjectEvent> = items
            .into_iter()
            .map(|object| {
                let version = objects::resource_version(&object)
                    .ok()
                    .flatten()
                    .unwrap_or(revision);
                ObjectEvent {
                    event_type: EventType::Added,
                    object: Some(Arc::new(object)),
                    resource_version: version,
                }
            })
            .collect();
        events.push(ObjectEvent {
            event_type: EventType::Bookmark,
            object: None,
            resource_version: revision,
        });
        Ok((events, revision))
    }
}
