//! The NodeAgent gRPC service: Observe, WatchObserved and Apply on top of the runtime; Logs on
//! top of the kept logs; TakeSnapshot, RestoreVolume and DeleteSnapshot on top of the snapshot
//! store; Metrics and HealthHistory from the sampler and the prober.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use minicloud_proto::v1::node_agent_server::NodeAgent;
use minicloud_proto::v1::{
    DeleteSnapshotRequest, DeleteSnapshotResult, HealthHistoryReport, HealthHistoryRequest,
    LogLines, LogsRequest, MetricsRequest, NodeMetrics, ObserveRequest, ObservedState, Plan,
    PlanResult, RestoreVolumeRequest, SnapshotProgress, TakeSnapshotRequest,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::apply::Executor;
use crate::error::Error;
use crate::ingress::IngressMetrics;
use crate::logs::KeptLogs;
use crate::metrics::{Sampler, ingress_traffic, node_metrics};
use crate::observe::Observer;
use crate::runtime::Runtime;
use crate::snapshot::fill::StoreFiller;
use crate::snapshot::progress::Progress;
use crate::snapshot::store::SnapshotStore;
use crate::snapshot::{SnapshotError, Snapshots, VolumeUsers, restore, take};
use crate::storage::layout::Layout;
use crate::watch::{SnapshotStream, watch_observed};

/// A stream of snapshot or restore progress.
type ProgressStream = BoxStream<'static, Result<SnapshotProgress, Status>>;

/// The agent's gRPC service; cheap to share, all state lives in the runtime and the event
/// follower.
pub struct AgentService {
    runtime: Arc<dyn Runtime>,
    node: String,
    observer: Observer,
    executor: Executor,
    snapshots: Option<Snapshots>,
    sampler: Option<Sampler>,
    logs: Option<KeptLogs>,
    ingress: Option<IngressMetrics>,
}

impl AgentService {
    /// A service for `node` over `runtime`, reading exit codes and changes from `observer`.
    pub fn new(runtime: Arc<dyn Runtime>, node: String, observer: Observer) -> AgentService {
        let executor =
            Executor::new(runtime.clone(), node.clone()).with_volumes(observer.volumes().clone());
        AgentService {
            runtime,
            node,
            observer,
            executor,
            snapshots: None,
            sampler: None,
            logs: None,
            ingress: None,
        }
    }

    /// The same service, taking and restoring snapshots of the volumes in `layout` with
    /// archives in `store`, and filling volumes created from a snapshot from `store`. Without
    /// it the snapshot calls answer FailedPrecondition.
    pub fn with_snapshots(mut self, layout: Layout, store: SnapshotStore) -> AgentService {
        let snapshots = Snapshots::new(layout, store);
        self.executor = self
            .executor
            .with_filler(Arc::new(StoreFiller::new(snapshots.clone())));
        self.snapshots = Some(snapshots);
        self
    }

    /// The same service, answering `Metrics` from `sampler`.
    pub fn with_sampler(mut self, sampler: Sampler) -> AgentService {
        self.sampler = Some(sampler);
        self
    }

    /// The same service, answering `Logs` from `logs` and keeping a removed instance's last
    /// output before removing its container.
    pub fn with_logs(mut self, logs: KeptLogs) -> AgentService {
        self.executor = self.executor.with_logs(logs.clone());
        self.logs = Some(logs);
        self
    }

    /// The same service, adding the ingress's traffic from `ingress` to `Metrics`.
    pub fn with_ingress(mut self, ingress: IngressMetrics) -> AgentService {
        self.ingress = Some(ingress);
        self
    }

    fn snapshots(&self) -> Result<Snapshots, Status> {
        self.snapshots
            .clone()
            .ok_or_else(|| Status::failed_precondition("this agent has no snapshot store"))
    }
}

#[tonic::async_trait]
impl NodeAgent for AgentService {
    async fn observe(
        &self,
        _request: Request<ObserveRequest>,
    ) -> Result<Response<ObservedState>, Status> {
        let snapshot = self.observer.snapshot().await;
        snapshot
            .map(Response::new)
            .map_err(|e| Error::from(e).to_status())
    }

    type WatchObservedStream = SnapshotStream;

    async fn watch_observed(
        &self,
        _request: Request<ObserveRequest>,
    ) -> Result<Response<SnapshotStream>, Status> {
        Ok(Response::new(watch_observed(self.observer.clone())))
    }

    async fn apply(&self, request: Request<Plan>) -> Result<Response<PlanResult>, Status> {
        Ok(Response::new(self.executor.apply(request.get_ref()).await))
    }

    type TakeSnapshotStream = ProgressStream;

    async fn take_snapshot(
        &self,
        request: Request<TakeSnapshotRequest>,
    ) -> Result<Response<ProgressStream>, Status> {
        let snapshots = self.snapshots()?;
        let request = request.into_inner();
        Ok(Response::new(run_streamed(
            move |progress, cancel| async move {
                let taken = take::take(
                    &snapshots,
                    &request.tenant,
                    &request.volume,
                    &request.location,
                    &progress,
                    &cancel,
                )
                .await?;
                Ok(SnapshotProgress {
                    bytes_done: taken.content_bytes,
                    bytes_total: taken.content_bytes,
                    done: true,
                    archive_bytes: taken.archive_bytes,
                    sha256: taken.sha256,
                    pause_millis: taken.pause.as_millis() as u64,
                    location: request.location,
                })
            },
        )))
    }

    type RestoreVolumeStream = ProgressStream;

    async fn restore_volume(
        &self,
        request: Request<RestoreVolumeRequest>,
    ) -> Result<Response<ProgressStream>, Status> {
        let snapshots = self.snapshots()?;
        let request = request.into_inner();
        let archive = request
            .archive
            .ok_or_else(|| Error::MissingField("archive").to_status())?;
        let users = VolumeUsers::new(self.runtime.clone());
        Ok(Response::new(run_streamed(
            move |progress, cancel| async move {
                let volume = (request.tenant.as_str(), request.volume.as_str());
                let restored =
                    restore::in_place(&snapshots, &users, volume, &archive, &progress, &cancel)
                        .await?;
                Ok(SnapshotProgress {
                    bytes_done: restored,
                    bytes_total: restored,
                    done: true,
                    sha256: archive.sha256,
                    location: archive.location,
                    ..SnapshotProgress::default()
                })
            },
        )))
    }

    async fn delete_snapshot(
        &self,
        request: Request<DeleteSnapshotRequest>,
    ) -> Result<Response<DeleteSnapshotResult>, Status> {
        let snapshots = self.snapshots()?;
        let deleted = snapshots
            .store
            .delete(&request.get_ref().location)
            .await
            .map_err(|e| SnapshotError::from(e).to_status())?;
        Ok(Response::new(DeleteSnapshotResult { deleted }))
    }

    async fn metrics(
        &self,
        _request: Request<MetricsRequest>,
    ) -> Result<Response<NodeMetrics>, Status> {
        let sampler = self
            .sampler
            .as_ref()
            .ok_or_else(|| Status::failed_precondition("this agent does not sample metrics"))?;
        let mut metrics = node_metrics(&self.node, &sampler.latest());
        if let Some(ingress) = &self.ingress {
            let (epoch, traffic) = ingress.traffic();
            metrics.ingress_epoch = epoch;
            metrics.ingress = traffic.into_iter().map(ingress_traffic).collect();
        }
        Ok(Response::new(metrics))
    }

    async fn health_history(
        &self,
        request: Request<HealthHistoryRequest>,
    ) -> Result<Response<HealthHistoryReport>, Status> {
        let containers = self
            .observer
            .health()
            .history(&request.get_ref().container_ids);
        Ok(Response::new(HealthHistoryReport {
            node: self.node.clone(),
            containers,
        }))
    }

    type LogsStream = BoxStream<'static, Result<LogLines, Status>>;

    async fn logs(
        &self,
        request: Request<LogsRequest>,
    ) -> Result<Response<Self::LogsStream>, Status> {
        let logs = self
            .logs
            .as_ref()
            .ok_or_else(|| Status::failed_precondition("this agent keeps no logs"))?;
        let lines = logs
            .read(request.get_ref())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        Ok(Response::new(lines))
    }
}

/// Runs `work` in its own task, streaming its progress and then its final message (or its
/// error); when the caller drops the stream, `work` is cancelled and cleans up.
fn run_streamed<W, F>(work: W) -> ProgressStream
where
    W: FnOnce(Progress, CancellationToken) -> F,
    F: Future<Output = Result<SnapshotProgress, SnapshotError>> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let watcher = {
        let (sender, cancel) = (sender.clone(), cancel.clone());
        tokio::spawn(async move {
            sender.closed().await;
            cancel.cancel();
        })
    };
    let work = work(Progress::new(sender.clone()), cancel);
    tokio::spawn(async move {
        let last = work.await.map_err(|e| e.to_status());
        let _ = sender.send(last).await;
        watcher.abort();
    });
    ReceiverStream::new(receiver).boxed()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use minicloud_proto::v1::operation::Op;
    use minicloud_proto::v1::{EnsureNetwork, Operation};

    use super::*;
    use crate::events::EventHub;
    use crate::health::Health;
    use crate::health::alert::DEFAULT_ALERT_AFTER;
    use crate::health::http::HttpChecker;
    use crate::logs::Retention;
    use crate::runtime::fake::FakeRuntime;
    use crate::runtime::{ContainerInfo, LogChunk as RuntimeChunk, LogStream};
    use minicloud_proto::v1::{AppLogsRequest, LogLine};

    /// The service of node `n1` over a fake engine, with the event follower and the prober.
    fn service() -> (FakeRuntime, AgentService) {
        let fake = FakeRuntime::new();
        let runtime: Arc<dyn Runtime> = Arc::new(fake.clone());
        let hub = EventHub::spawn(runtime.clone());
        let health = Health::spawn(
            runtime.clone(),
            ("n1".into(), hub.clone()),
            Arc::new(HttpChecker),
            DEFAULT_ALERT_AFTER,
        );
        let observer = Observer::new(runtime.clone(), "n1".into(), hub, health);
        (fake, AgentService::new(runtime, "n1".into(), observer))
    }

    fn ensure_network(tenant: &str) -> Plan {
        let op = Op::EnsureNetwork(EnsureNetwork {
            tenant: tenant.into(),
        });
        Plan {
            operations: vec![Operation { op: Some(op) }],
        }
    }

    #[tokio::test(start_paused = true)]
    async fn watch_sends_a_snapshot_then_a_fresh_one_after_a_change() {
        let (fake, service) = service();
        let response = service
            .watch_observed(Request::new(ObserveRequest {}))
            .await;
        let mut stream = response.unwrap().into_inner();
        let first = stream.next().await.unwrap().unwrap();
        assert!(first.networks.is_empty());
        while fake.event_subscribers() == 0 {
            tokio::task::yield_now().await;
        }
        service
            .apply(Request::new(ensure_network("acme")))
            .await
            .unwrap();
        let next = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
        let next = next.unwrap().unwrap().unwrap();
        assert_eq!(next.networks[0].name, "mc-acme");
    }

    #[tokio::test]
    async fn logs_are_read_from_what_the_agent_kept() {
        let (fake, service) = service();
        let mut labels = crate::labels::tenant_labels("n1", "acme");
        labels.insert(crate::labels::APP.into(), "web".into());
        labels.insert(crate::labels::INSTANCE.into(), "web-1-a".into());
        labels.insert(crate::labels::RELEASE.into(), "web-1".into());
        fake.insert_container(ContainerInfo {
            id: "c1".into(),
            name: "mc-acme-web-1-a".into(),
            labels,
            ..ContainerInfo::default()
        });
        let chunk = |stream, time, text: &str| RuntimeChunk {
            stream,
            time_unix_nanos: time,
            data: text.into(),
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let now = i64::try_from(now.unwrap().as_nanos()).unwrap();
        let chunks = vec![
            chunk(LogStream::Stdout, now, "out\n"),
            chunk(LogStream::Stderr, now + 1, "err\n"),
        ];
        fake.set_logs("c1", chunks);
        let dir = tempfile::tempdir().unwrap();
        let runtime: Arc<dyn Runtime> = Arc::new(fake.clone());
        let hub = EventHub::spawn(runtime.clone());
        let kept = KeptLogs::start(dir.path(), Retention::default(), runtime, "n1".into(), &hub);
        let service = service.with_logs(kept.unwrap());
        let query = AppLogsRequest {
            tenant: "acme".into(),
            app: "web".into(),
            ..AppLogsRequest::default()
        };
        let request = LogsRequest {
            query: Some(query.clone()),
            after: 0,
        };
        let lines = loop {
            let stream = service.logs(Request::new(request.clone())).await;
            let batches: Vec<_> = stream.unwrap().into_inner().collect().await;
            let lines: Vec<LogLine> = batches.into_iter().flat_map(|b| b.unwrap().lines).collect();
            if lines.len() == 2 {
                break lines;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let got: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    l.stream.as_str(),
                    l.text.as_str(),
                    l.instance.as_str(),
                    l.release.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("stdout", "out", "web-1-a", "web-1"),
                ("stderr", "err", "web-1-a", "web-1")
            ]
        );
        let bad = LogsRequest {
            query: Some(AppLogsRequest {
                grep: "(".into(),
                ..query
            }),
            after: 0,
        };
        let status = service.logs(Request::new(bad)).await.err().unwrap();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().starts_with("grep: "),
            "{}",
            status.message()
        );
    }

    #[tokio::test]
    async fn an_agent_without_kept_logs_says_so() {
        let (_fake, service) = service();
        let status = service
            .logs(Request::new(LogsRequest::default()))
            .await
            .err()
            .unwrap();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    }

    #[tokio::test]
    async fn observe_reports_the_node_and_its_managed_objects() {
        let (_fake, service) = service();
        service
            .apply(Request::new(ensure_network("acme")))
            .await
            .unwrap();
        let state = service.observe(Request::new(ObserveRequest {})).await;
        let state = state.unwrap().into_inner();
        assert_eq!(state.node, "n1");
        assert_eq!(state.networks[0].labels["minicloud.tenant"], "acme");
    }
}
