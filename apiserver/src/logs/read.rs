//! One read of an App's logs: who may read it, which nodes to ask, and how their answers are
//! put together. A read that does not follow merges the nodes' answers in the order written;
//! a following one passes each node's lines on as they come and attaches to nodes that join.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use minicloud_common::grep;
use minicloud_manifests::Kind;
use minicloud_proto::v1::{AppLogsRequest, LogLine};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tonic::Status;

use super::merge::merged;
use super::node::{self, Lines, NodeSource};
use crate::agents::{Agents, node_endpoints};
use crate::api::{ApiError, ObjectRef, RequestContext, ResourceApi};
use crate::wire::DEFAULT_TENANT;

/// How often a following read looks for nodes it does not read yet.
pub const RESCAN: Duration = Duration::from_secs(5);

/// A read that was allowed, with the nodes to ask.
pub struct LogRead {
    api: Arc<ResourceApi>,
    agents: Agents,
    request: AppLogsRequest,
    nodes: Vec<NodeSource>,
}

/// Checks `request` and the caller's right to read the App's tenant, and finds the nodes to
/// ask. An App that is gone is still read, as long as some node kept lines of it.
pub async fn open(
    api: Arc<ResourceApi>,
    agents: Agents,
    ctx: &RequestContext,
    mut request: AppLogsRequest,
) -> Result<LogRead, Status> {
    if request.tenant.is_empty() {
        request.tenant = ctx.default_tenant.clone();
    }
    let app = ObjectRef::new(
        Kind::App,
        Some(&request.tenant),
        &request.app,
        DEFAULT_TENANT,
    )
    .map_err(|e| e.grpc_status())?;
    grep::compile(&request.grep).map_err(|e| Status::invalid_argument(e.to_string()))?;
    let exists = match api.get_audited(ctx, &app).await {
        Ok(_) => true,
        Err(ApiError::NotFound { .. }) => false,
        Err(error) => return Err(error.grpc_status()),
    };
    let nodes = nodes(&api).await?;
    let read = LogRead {
        api,
        agents,
        request,
        nodes,
    };
    if !exists && !read.kept_any().await? {
        let message = format!("{}; and no node keeps lines of it", app.not_found());
        return Err(Status::not_found(message));
    }
    Ok(read)
}

impl LogRead {
    /// Sends the lines to `lines`; returns when the read is over.
    pub async fn run(self, lines: Lines) {
        if self.request.follow {
            self.follow(lines).await;
        } else if self.nodes.len() == 1 {
            let source = self.nodes[0].clone();
            node::read(self.agents, source, self.request, lines).await;
        } else {
            let tail = usize::try_from(self.request.tail).unwrap_or(usize::MAX);
            match self.collect(&self.request).await {
                Ok(all) => {
                    for line in merged(all, tail) {
                        if lines.send(Ok(line)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(status) => {
                    let _ = lines.send(Err(status)).await;
                }
            }
        }
    }

    /// Reads every node as its lines come, attaching to nodes that join, until the receiver
    /// goes away.
    async fn follow(self, lines: Lines) {
        let mut reading: BTreeSet<String> = BTreeSet::new();
        let mut readers = JoinSet::new();
        let mut nodes = self.nodes.clone();
        let mut rescan = tokio::time::interval(RESCAN);
        rescan.tick().await;
        loop {
            for source in nodes.drain(..) {
                if reading.insert(source.node.clone()) {
                    let (agents, request) = (self.agents.clone(), self.request.clone());
                    readers.spawn(node::read(agents, source, request, lines.clone()));
                }
            }
            tokio::select! {
                () = lines.closed() => return,
                _ = rescan.tick() => match self::nodes(&self.api).await {
                    Ok(found) => nodes = found,
                    Err(status) => tracing::warn!(error = %status.message(), "cannot look for new nodes to read logs from"),
                },
                Some(_) = readers.join_next() => {}
            }
        }
    }

    /// Whether any node keeps a line of the request's App.
    async fn kept_any(&self) -> Result<bool, Status> {
        let probe = AppLogsRequest {
            follow: false,
            tail: 1,
            grep: String::new(),
            release: String::new(),
            instance: String::new(),
            since: 0,
            ..self.request.clone()
        };
        Ok(!self.collect(&probe).await?.is_empty())
    }

    /// Every node's answer to `request` (which does not follow), in one list.
    async fn collect(&self, request: &AppLogsRequest) -> Result<Vec<LogLine>, Status> {
        let (sender, mut receiver) = mpsc::channel(1024);
        for source in &self.nodes {
            let (agents, request) = (self.agents.clone(), request.clone());
            tokio::spawn(node::read(agents, source.clone(), request, sender.clone()));
        }
        drop(sender);
        let mut all = Vec::new();
        while let Some(line) = receiver.recv().await {
            all.push(line?);
        }
        Ok(all)
    }
}

/// The nodes with an agent to ask.
async fn nodes(api: &ResourceApi) -> Result<Vec<NodeSource>, Status> {
    let nodes = node_endpoints(api).await.map_err(|e| e.grpc_status())?;
    Ok(nodes
        .into_iter()
        .map(|(node, endpoint)| NodeSource { node, endpoint })
        .collect())
}
