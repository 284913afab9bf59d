//! The node's kept logs as one handle: the store, its writer, the collections feeding it, and
//! reads of it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use minicloud_proto::v1::{LogLines, LogsRequest};
use tonic::Status;

use super::collectors::Collectors;
use super::filter::{Filter, FilterError};
use super::reader::{Read, serve};
use super::retention::Retention;
use super::store::{LogStore, LogStoreError};
use super::writer::LogWriter;
use crate::events::EventHub;
use crate::runtime::Runtime;

/// The node's kept logs; cheap to clone.
#[derive(Clone)]
pub struct KeptLogs {
    store: LogStore,
    writer: LogWriter,
    collectors: Collectors,
}

impl KeptLogs {
    /// Opens the store in `dir` and starts collecting the output of `node`'s containers, on
    /// the current tokio runtime.
    pub fn start(
        dir: &Path,
        retention: Retention,
        runtime: Arc<dyn Runtime>,
        node: String,
        hub: &EventHub,
    ) -> Result<KeptLogs, LogStoreError> {
        let store = LogStore::open(dir)?;
        let writer = LogWriter::spawn(store.clone(), retention);
        let collectors = Collectors::spawn(runtime, node, hub, store.clone(), writer.clone());
        Ok(KeptLogs {
            store,
            writer,
            collectors,
        })
    }

    /// The lines `request` asks for, as batches.
    pub fn read(
        &self,
        request: &LogsRequest,
    ) -> Result<BoxStream<'static, Result<LogLines, Status>>, FilterError> {
        let query = request.query.clone().unwrap_or_default();
        let read = Read {
            filter: Filter::from_request(&query)?,
            after: request.after,
            tail: usize::try_from(query.tail).unwrap_or(usize::MAX),
            follow: query.follow,
        };
        Ok(serve(self.store.clone(), read, self.writer.commits()))
    }

    /// Waits, at most `timeout`, until a stopped container's output is all kept.
    pub async fn drain(&self, container_id: &str, timeout: Duration) -> bool {
        self.collectors.drain(container_id, timeout).await
    }

    /// The store, for reading what a tenant keeps.
    pub fn store(&self) -> &LogStore {
        &self.store
    }
}
