//! Following each node agent's observed-state stream: every pushed snapshot queues the node
//! for a reconcile; a broken stream is reopened with a growing delay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use minicloud_manifests::Node;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::agent::AgentClient;
use crate::runtime::WorkQueue;

/// First delay before reopening a broken stream; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// Longest delay before reopening a broken stream.
const MAX_RETRY: Duration = Duration::from_secs(10);

/// One followed agent.
struct Followed {
    endpoint: Option<String>,
    task: JoinHandle<()>,
}

/// The agent streams being followed, one per node.
pub struct Streams {
    followed: Mutex<HashMap<String, Followed>>,
    queue: WorkQueue<String>,
    shutdown: CancellationToken,
}

impl Streams {
    /// Streams that queue node names on `queue`, until `shutdown`.
    pub fn new(queue: WorkQueue<String>, shutdown: CancellationToken) -> Self {
        Self {
            followed: Mutex::new(HashMap::new()),
            queue,
            shutdown,
        }
    }

    /// Follows `node`'s agent, unless it already is at the same endpoint.
    pub fn follow(&self, node: &Node, agent: Arc<dyn AgentClient>) {
        let name = node.metadata.name.clone();
        let endpoint = node.spec.agent_endpoint.clone();
        let mut followed = self.lock();
        if let Some(current) = followed.get(&name) {
            if current.endpoint == endpoint && !current.task.is_finished() {
                return;
            }
            current.task.abort();
        }
        let task = tokio::spawn(follow(
            name.clone(),
            agent,
            self.queue.clone(),
            self.shutdown.clone(),
        ));
        followed.insert(name, Followed { endpoint, task });
    }

    /// Stops following a node (it is gone).
    pub fn forget(&self, node: &str) {
        if let Some(followed) = self.lock().remove(node) {
            followed.task.abort();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Followed>> {
        self.followed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        for followed in self.lock().values() {
            followed.task.abort();
        }
    }
}

/// Queues `node` on every snapshot its agent pushes, reopening the stream when it breaks.
async fn follow(
    node: String,
    agent: Arc<dyn AgentClient>,
    queue: WorkQueue<String>,
    shutdown: CancellationToken,
) {
    let mut retry = FIRST_RETRY;
    while !shutdown.is_cancelled() {
        match agent.watch_observed().await {
            Ok(mut snapshots) => loop {
                let next = tokio::select! {
                    next = snapshots.next() => next,
                    () = shutdown.cancelled() => return,
                };
                match next {
                    Some(Ok(_)) => {
                        retry = FIRST_RETRY;
                        queue.add(node.clone());
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%node, %error, "agent stream failed");
                        break;
                    }
                    None => break,
                }
            },
            Err(error) => tracing::debug!(%node, %error, "cannot open the agent stream"),
        }
        queue.add(node.clone());
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            () = shutdown.cancelled() => return,
        }
        retry = (retry * 2).min(MAX_RETRY);
    }
}
