//! The gRPC face of App logs: `minicloud.v1.AppLogs` streams what [`crate::logs`] reads from the
//! logs the node agents keep, until the read ends, the client goes away or the server shuts
//! down.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use minicloud_proto::v1::app_logs_server::AppLogs;
use minicloud_proto::v1::{AppLogsRequest, LogLine};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::agents::Agents;
use crate::api::ResourceApi;
use crate::logs;
use crate::wire::context;

/// Lines buffered for a slow reader before the nodes' streams wait for it.
const BUFFER_LINES: usize = 1024;

/// The gRPC service.
pub struct AppLogsService {
    api: Arc<ResourceApi>,
    agents: Agents,
}

impl AppLogsService {
    /// Serves logs of the objects in `api`, reading them from node agents through `agents`.
    pub fn new(api: Arc<ResourceApi>, agents: Agents) -> Self {
        Self { api, agents }
    }
}

#[tonic::async_trait]
impl AppLogs for AppLogsService {
    type StreamStream = Pin<Box<dyn Stream<Item = Result<LogLine, Status>> + Send>>;

    async fn stream(
        &self,
        request: Request<AppLogsRequest>,
    ) -> Result<Response<Self::StreamStream>, Status> {
        let ctx = context(&request, &request.get_ref().tenant)?;
        let request = request.into_inner();
        let read = logs::open(self.api.clone(), self.agents.clone(), &ctx, request).await?;
        let (sender, receiver) = mpsc::channel(BUFFER_LINES);
        let stopping = self.api.shutdown_token();
        tokio::spawn(async move {
            tokio::select! {
                () = read.run(sender) => {}
                () = stopping.cancelled() => {}
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
