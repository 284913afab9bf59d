//! Keeps a [`Cache`] in step with the API server, following every object of its kind (see
//! [`minicloud_common::follow`]: list, watch from the list's version, list again when the
//! version expires, the watch fails or the stream ends).

use std::future::ready;
use std::marker::PhantomData;

use futures::StreamExt;
use futures::stream::BoxStream;
use minicloud_common::follow::{Change, Closed, Follower, Listing, Source, follow};
use tokio_util::sync::CancellationToken;

use super::cache::Cache;
use crate::client::{ApiClient, ClientError, TenantScope, WatchEvent};
use crate::object::Object;

/// Mirrors every object of kind `T` into `cache` until `shutdown`.
pub async fn reflect<T: Object>(client: ApiClient, cache: Cache<T>, shutdown: CancellationToken) {
    let source = EveryTenant::<T> {
        client,
        kind: PhantomData,
    };
    tokio::select! {
        biased;
        () = shutdown.cancelled() => {}
        () = follow(&source, cache) => {}
    }
}

/// Every object of kind `T`, in every tenant, through the resource API.
struct EveryTenant<T> {
    client: ApiClient,
    kind: PhantomData<fn() -> T>,
}

impl<T: Object> Source for EveryTenant<T> {
    type Object = T;
    type Error = ClientError;
    type Changes = BoxStream<'static, Result<Change<T>, ClientError>>;

    fn kind(&self) -> &str {
        T::KIND.as_str()
    }

    async fn list(&self) -> Result<Listing<T>, ClientError> {
        self.client.list::<T>(&TenantScope::All, "").await
    }

    async fn watch(&self, resource_version: String) -> Result<Self::Changes, ClientError> {
        let events = self
            .client
            .watch::<T>(&TenantScope::All, "", Some(&resource_version))
            .await?;
        Ok(events
            .filter_map(|event| {
                ready(match event {
                    Ok(WatchEvent::Added(object) | WatchEvent::Modified(object)) => {
                        Some(Ok(Change::Applied(object)))
                    }
                    Ok(WatchEvent::Deleted(object)) => Some(Ok(Change::Deleted(object))),
                    Ok(WatchEvent::Bookmark(_)) => None,
                    Err(error) => Some(Err(error)),
                })
            })
            .boxed())
    }

    fn is_expired(&self, error: &ClientError) -> bool {
        error.is_expired()
    }
}

/// A cache takes every change at once; it is never closed.
impl<T: Object> Follower<T> for Cache<T> {
    async fn take(&mut self, change: Change<T>) -> Result<(), Closed> {
        match change {
            Change::Listed(items) => self.replace(items),
            Change::Applied(object) => self.applied(object),
            Change::Deleted(object) => self.deleted(object),
        }
        Ok(())
    }
}
