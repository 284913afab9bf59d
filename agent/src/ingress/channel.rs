//! The route table as the follower publishes it and the proxy reads it: a whole new table
//! replaces the old one, and readers see none until the first is published.

use std::sync::Arc;

use tokio::sync::watch;

use super::routes::RouteTable;

/// The route table the proxy reads: none until the first complete view of Apps and Instances.
#[derive(Clone, Debug)]
pub struct Routes(watch::Receiver<Option<Arc<RouteTable>>>);

/// Replaces the table [`Routes`] readers see.
#[derive(Debug)]
pub struct RoutesWriter(watch::Sender<Option<Arc<RouteTable>>>);

/// A writer and a reader of one route table, which starts out not yet loaded.
pub fn route_channel() -> (RoutesWriter, Routes) {
    let (sender, receiver) = watch::channel(None);
    (RoutesWriter(sender), Routes(receiver))
}

impl Routes {
    /// The latest table, or `None` while routes are still loading.
    pub fn current(&self) -> Option<Arc<RouteTable>> {
        self.0.borrow().clone()
    }
}

impl RoutesWriter {
    /// Makes `table` the one every reader sees from now on.
    pub fn publish(&self, table: Arc<RouteTable>) {
        self.0.send_replace(Some(table));
    }
}
