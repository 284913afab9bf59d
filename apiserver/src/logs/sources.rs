//! Which containers an App's log stream reads, and reading each one through its node's agent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use minicloud_manifests::Kind;
use minicloud_proto::object_labels;
use minicloud_proto::v1::{AppLogsRequest, LogLine, LogsRequest};
use serde_json::Value;
use tokio::sync::mpsc::Sender;
use tokio::task::JoinSet;
use tonic::Status;

use super::lines::LineSplitter;
use crate::agents::{AgentClient, Agents, endpoint_of};
use crate::api::{ApiError, LabelSelector, ObjectRef, RequestContext, ResourceApi, TenantScope};
use crate::wire::DEFAULT_TENANT;

/// How often a following stream looks for containers it does not read yet.
pub const RESCAN: Duration = Duration::from_secs(1);

/// One container to read.
#[derive(Clone, Debug)]
pub struct Source {
    instance: String,
    container_id: String,
    endpoint: String,
    restarts: u64,
}

/// What is known of a container already read.
struct Attachment {
    restarts: u64,
    /// When its stream ended (Unix seconds), if it has.
    ended_at: Option<i64>,
}

/// Finds an App's containers and reads them, attaching to new ones while following.
pub struct Follower {
    api: Arc<ResourceApi>,
    request: AppLogsRequest,
    ctx: RequestContext,
    agents: Agents,
    attached: HashMap<String, Attachment>,
}

impl Follower {
    /// A follower for `request`.
    pub fn new(
        api: Arc<ResourceApi>,
        ctx: RequestContext,
        mut request: AppLogsRequest,
        agents: Agents,
    ) -> Self {
        if request.tenant.is_empty() {
            request.tenant = ctx.default_tenant.clone();
        }
        Self {
            api,
            request,
            ctx,
            agents,
            attached: HashMap::new(),
        }
    }

    fn app_ref(&self) -> Result<ObjectRef, ApiError> {
        ObjectRef::new(
            Kind::App,
            Some(&self.request.tenant),
            &self.request.app,
            DEFAULT_TENANT,
        )
    }

    /// Whether the App exists.
    pub async fn app_exists(&self) -> Result<bool, ApiError> {
        match self.api.get_audited(&self.ctx, &self.app_ref()?).await {
            Ok(_) => Ok(true),
            Err(ApiError::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The error for an App that does not exist.
    pub fn app_not_found(&self) -> ApiError {
        match self.app_ref() {
            Ok(app) => app.not_found(),
            Err(error) => error,
        }
    }

    /// Containers of the App to read now: new ones, and ones whose stream ended and that
    /// restarted since. A restarted container is read from where its stream ended.
    pub async fn scan(&mut self) -> Result<Vec<Source>, ApiError> {
        let selector =
            LabelSelector::parse(&format!("{}={}", object_labels::APP, self.request.app))?;
        let scope = TenantScope::One(self.request.tenant.clone());
        let (instances, _) = self
            .api
            .list(&self.ctx, Kind::Instance, &scope, &selector)
            .await?;
        let mut sources = Vec::new();
        let mut endpoints: HashMap<String, Option<String>> = HashMap::new();
        for instance in &instances {
            let text = |pointer: &str| instance.pointer(pointer).and_then(Value::as_str);
            let (Some(name), Some(container_id), Some(node)) = (
                text("/metadata/name"),
                text("/status/containerId"),
                text("/spec/node"),
            ) else {
                continue;
            };
            let restarts = instance
                .pointer("/status/restarts")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let still_read_or_unchanged = self
                .attached
                .get(container_id)
                .is_some_and(|seen| seen.ended_at.is_none() || restarts <= seen.restarts);
            if still_read_or_unchanged {
                continue;
            }
            let endpoint = match endpoints.get(node) {
                Some(endpoint) => endpoint.clone(),
                None => {
                    let endpoint = endpoint_of(&self.api, node).await?;
                    endpoints.insert(node.to_owned(), endpoint.clone());
                    endpoint
                }
            };
            let Some(endpoint) = endpoint else { continue };
            sources.push(Source {
                instance: name.to_owned(),
                container_id: container_id.to_owned(),
                endpoint,
                restarts,
            });
        }
        Ok(sources)
    }

    /// Reads `first` and, when following, every container that appears or restarts later,
    /// until the client goes away (or, without follow, until every stream ended).
    pub async fn run(mut self, first: Vec<Source>, lines: Sender<Result<LogLine, Status>>) {
        let mut readers = JoinSet::new();
        for source in first {
            self.attach(&mut readers, source, &lines, true);
        }
        if !self.request.follow {
            while readers.join_next().await.is_some() {}
            return;
        }
        let mut rescan = tokio::time::interval(RESCAN);
        rescan.tick().await;
        loop {
            tokio::select! {
                () = lines.closed() => return,
                Some(Ok(container_id)) = readers.join_next() => {
                    if let Some(seen) = self.attached.get_mut(&container_id) {
                        seen.ended_at = Some(unix_now());
                    }
                }
                _ = rescan.tick() => match self.scan().await {
                    Ok(sources) => {
                        for source in sources {
                            self.attach(&mut readers, source, &lines, false);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot look for an App's new instances"),
                },
            }
        }
    }

    /// Starts reading one container; `initial` streams take the request's tail and since.
    fn attach(
        &mut self,
        readers: &mut JoinSet<String>,
        source: Source,
        lines: &Sender<Result<LogLine, Status>>,
        initial: bool,
    ) {
        let resumed_from = self
            .attached
            .get(&source.container_id)
            .and_then(|seen| seen.ended_at);
        let request = LogsRequest {
            container_id: source.container_id.clone(),
            follow: self.request.follow,
            tail: if initial { self.request.tail } else { 0 },
            since: match (initial, resumed_from) {
                (true, _) => self.request.since,
                (false, Some(ended_at)) => ended_at,
                (false, None) => 0,
            },
        };
        self.attached.insert(
            source.container_id.clone(),
            Attachment {
                restarts: source.restarts,
                ended_at: None,
            },
        );
        let agent = self.agents.client(&source.endpoint);
        readers.spawn(read(agent, source, request, lines.clone()));
    }
}

/// Streams one container's output as lines; returns the container id when it ends.
async fn read(
    agent: Option<AgentClient>,
    source: Source,
    request: LogsRequest,
    lines: Sender<Result<LogLine, Status>>,
) -> String {
    let container_id = source.container_id.clone();
    let Some(mut agent) = agent else {
        tracing::warn!(endpoint = %source.endpoint, "a node's agent endpoint is not a URL");
        return container_id;
    };
    let mut chunks = match agent.logs(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            tracing::warn!(instance = %source.instance, error = %status.message(), "cannot read an instance's logs");
            return container_id;
        }
    };
    let mut splitters: HashMap<String, LineSplitter> = HashMap::new();
    let send = |stream: &str, text: String| {
        lines.send(Ok(LogLine {
            instance: source.instance.clone(),
            stream: stream.to_owned(),
            text,
        }))
    };
    while let Ok(Some(chunk)) = chunks.message().await {
        let splitter = splitters.entry(chunk.stream.clone()).or_default();
        for text in splitter.push(&chunk.data) {
            if send(&chunk.stream, text).await.is_err() {
                return container_id;
            }
        }
    }
    for (stream, mut splitter) in splitters {
        if let Some(text) = splitter.finish() {
            let _ = send(&stream, text).await;
        }
    }
    container_id
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}
