//! The registration and heartbeat loop against an in-process API server that records what it
//! receives: the Node is applied once, then its status is renewed every interval.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use minicloud_agent::{NodeInfo, node_object, run_heartbeat};
use minicloud_manifests::{Resource, parse_json_object};
use minicloud_proto::bearer::{Bearer, authorized};
use minicloud_proto::v1::resource_service_client::ResourceServiceClient;
use minicloud_proto::v1::resource_service_server::{ResourceService, ResourceServiceServer};
use minicloud_proto::v1::{
    ApplyRequest, ApplyResponse, DeleteRequest, DeleteResponse, GetRequest, ListRequest, Object,
    ObjectList, UpdateStatusRequest, WatchEvent, WatchRequest,
};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// What the recording server received, in order: `("apply" | "status", json)`.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(&'static str, String)>>>);

impl Recorder {
    fn record(&self, what: &'static str, json: &str) {
        self.0.lock().unwrap().push((what, json.to_owned()));
    }

    fn calls(&self) -> Vec<(&'static str, String)> {
        self.0.lock().unwrap().clone()
    }
}

#[tonic::async_trait]
impl ResourceService for Recorder {
    async fn apply(&self, r: Request<ApplyRequest>) -> Result<Response<ApplyResponse>, Status> {
        self.record("apply", &r.get_ref().json);
        Ok(Response::new(ApplyResponse::default()))
    }

    async fn get(&self, _: Request<GetRequest>) -> Result<Response<Object>, Status> {
        Err(Status::unimplemented("get"))
    }

    async fn list(&self, _: Request<ListRequest>) -> Result<Response<ObjectList>, Status> {
        Err(Status::unimplemented("list"))
    }

    async fn delete(&self, _: Request<DeleteRequest>) -> Result<Response<DeleteResponse>, Status> {
        Err(Status::unimplemented("delete"))
    }

    type WatchStream = futures::stream::Empty<Result<WatchEvent, Status>>;

    async fn watch(&self, _: Request<WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }

    async fn update_status(
        &self,
        r: Request<UpdateStatusRequest>,
    ) -> Result<Response<Object>, Status> {
        self.record("status", &r.get_ref().json);
        Ok(Response::new(Object::default()))
    }
}

fn heartbeat_of(json: &str) -> String {
    let Ok(Resource::Node(node)) = parse_json_object(json.as_bytes()) else {
        panic!("not a Node: {json}");
    };
    node.status
        .and_then(|s| s.heartbeat_time)
        .unwrap_or_default()
}

#[tokio::test]
async fn the_node_is_registered_once_then_its_status_renewed_every_interval() {
    let recorder = Recorder::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(ResourceServiceServer::new(recorder.clone()))
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = ResourceServiceClient::new(authorized(channel, Bearer::default()));
    let info = NodeInfo {
        cpu_millis: 2000,
        memory_bytes: 1 << 30,
        containers: 100,
    };
    let node = node_object("n1", "http://127.0.0.1:7071", info, SystemTime::UNIX_EPOCH);
    let shutdown = tokio::time::sleep(Duration::from_millis(1000));
    run_heartbeat(client, node, Duration::from_millis(300), shutdown).await;
    let calls = recorder.calls();
    let kinds: Vec<_> = calls.iter().map(|(what, _)| *what).collect();
    assert_eq!(kinds[..2], ["apply", "status"]);
    assert!(
        kinds[2..].iter().all(|k| *k == "status") && kinds.len() >= 4,
        "{kinds:?}"
    );
    assert!(
        calls[0]
            .1
            .contains("\"agentEndpoint\":\"http://127.0.0.1:7071\"")
    );
    let beat = heartbeat_of(&calls[1].1);
    assert!(
        beat.as_str() > "2020",
        "the heartbeat time is now, not the object's: {beat}"
    );
    assert!(calls[2].1.contains("\"type\":\"Ready\""));
}
