//! One node's part of an App's log stream: the lines its agent kept, sent on as they come. A
//! following read whose stream breaks (the agent restarted, the network blinked) opens it
//! again after [`RETRY`], from the last line it sent, so no line is lost or sent twice.

use std::time::Duration;

use minicloud_proto::v1::{AppLogsRequest, LogLine, LogsRequest};
use tokio::sync::mpsc::Sender;
use tonic::{Code, Status};

use crate::agents::Agents;

/// How long a following read waits before opening a broken stream again.
pub const RETRY: Duration = Duration::from_secs(1);

/// A node to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSource {
    /// The node's name.
    pub node: String,
    /// Where its agent listens.
    pub endpoint: String,
}

/// Where lines go: each one, or the error that ended the read.
pub type Lines = Sender<Result<LogLine, Status>>;

/// Sends `source`'s lines of `query` to `lines` until the read ends (without follow) or the
/// receiver goes away. An error the agent answers to the request itself (a bad expression)
/// ends the read; one of reaching it ends a read without follow, and a following one retries.
pub async fn read(agents: Agents, source: NodeSource, mut query: AppLogsRequest, lines: Lines) {
    let Some(mut agent) = agents.client(&source.endpoint) else {
        let status = Status::unavailable(format!(
            "node {}'s agent endpoint {} is not a URL",
            source.node, source.endpoint
        ));
        let _ = lines.send(Err(status)).await;
        return;
    };
    let mut after = 0;
    loop {
        let request = LogsRequest {
            query: Some(query.clone()),
            after,
        };
        let ended = match agent.logs(request).await {
            Ok(response) => {
                let mut batches = response.into_inner();
                loop {
                    match batches.message().await {
                        Ok(Some(batch)) => {
                            for line in batch.lines {
                                after = line.seq;
                                if lines.send(Ok(line)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Ok(None) => break None,
                        Err(status) => break Some(status),
                    }
                }
            }
            Err(status) => Some(status),
        };
        match ended {
            None if !query.follow => return,
            Some(status) if !query.follow || !retryable(&status) => {
                let message = format!("node {}: {}", source.node, status.message());
                let _ = lines.send(Err(Status::new(status.code(), message))).await;
                return;
            }
            Some(status) => {
                tracing::debug!(node = %source.node, error = %status.message(), "a node's log stream broke; reading it again");
            }
            None => {}
        }
        if after > 0 {
            query.tail = 0;
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            () = lines.closed() => return,
        }
    }
}

/// Whether an error is one of reaching the agent, worth trying again.
fn retryable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::Aborted | Code::Internal
    )
}
