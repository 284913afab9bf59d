//! A real API server on a loopback port over a backend under test, and small helpers to drive it
//! through the generated gRPC client.

use std::net::SocketAddr;
use std::sync::Arc;

use minicloud_apiserver::api::{RequestContext, ResourceApi};
use minicloud_apiserver::secrets::{Keyring, SecretKeys};
use minicloud_apiserver::server::ServerOptions;
use minicloud_apiserver::store::Store;
use minicloud_apiserver::watch_cache::WatchCacheOptions;
use minicloud_manifests::Role;
use minicloud_proto::bearer::Bearer;
use minicloud_proto::v1::resource_service_client::ResourceServiceClient;
use minicloud_proto::v1::{self as pb};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A gRPC client presenting the test server's admin key.
pub type Client = ResourceServiceClient<InterceptedService<Channel, Bearer>>;

use crate::backends::Backend;

/// A running server; stopped when dropped or by [`TestServer::stop`].
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The store it serves from.
    pub store: Arc<dyn Store>,
    /// An admin key issued before it started.
    pub admin_key: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _backend: Option<Backend>,
}

impl TestServer {
    /// Serves `backend` with default cache sizes.
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(
            backend.store.clone(),
            WatchCacheOptions::default(),
            Some(backend),
        )
        .await
    }

    /// Serves `store` with the given cache sizes, keeping `backend` alive as long as the server.
    pub async fn start_with(
        store: Arc<dyn Store>,
        options: WatchCacheOptions,
        backend: Option<Backend>,
    ) -> TestServer {
        Self::start_configured(store, options, ServerOptions::default(), backend).await
    }

    /// Serves `store` with the given cache sizes and server options.
    pub async fn start_configured(
        store: Arc<dyn Store>,
        options: WatchCacheOptions,
        server_options: ServerOptions,
        backend: Option<Backend>,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let secrets = Arc::new(SecretKeys::in_memory(Keyring::generate()));
        let api = Arc::new(ResourceApi::new(store.clone(), options, secrets));
        let issued = api
            .issue_key(
                &RequestContext::admin("default"),
                Role::Admin,
                None,
                "tests",
            )
            .await
            .expect("issue an admin key");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(minicloud_apiserver::server::serve_with(
            listener,
            api,
            server_options,
            shutdown,
        ));
        TestServer {
            addr,
            store,
            admin_key: issued.token.to_string(),
            stop: Some(stop),
            task: Some(task),
            _backend: backend,
        }
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A gRPC client.
    pub async fn client(&self) -> Client {
        let channel = Channel::from_shared(self.url())
            .expect("a valid URL")
            .connect()
            .await
            .expect("connect to the test server");
        let bearer = Bearer::new(Some(&self.admin_key)).expect("a valid key");
        ResourceServiceClient::with_interceptor(channel, bearer)
    }

    /// An HTTP client presenting the admin key.
    pub fn http(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = format!("Bearer {}", self.admin_key);
        headers.insert(reqwest::header::AUTHORIZATION, value.parse().unwrap());
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("an HTTP client")
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let finished = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
            finished
                .expect("server shut down within 10 s")
                .expect("server task")
                .expect("server ran cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// An App manifest.
pub fn app(name: &str, image: &str, replicas: u32) -> Value {
    json!({
        "apiVersion": "minicloud/v1",
        "kind": "App",
        "metadata": {"name": name, "labels": {"team": "blue"}},
        "spec": {"image": image, "replicas": replicas},
    })
}

/// Applies `manifest` over gRPC.
pub async fn apply(
    client: &mut Client,
    manifest: &Value,
) -> Result<(pb::ApplyOutcome, Value), tonic::Status> {
    apply_with(client, manifest, false)
        .await
        .map(|(outcome, object, _)| (outcome, object))
}

/// Applies `manifest` over gRPC, possibly as a dry run, returning the diff too.
pub async fn apply_with(
    client: &mut Client,
    manifest: &Value,
    dry_run: bool,
) -> Result<(pb::ApplyOutcome, Value, String), tonic::Status> {
    let request = pb::ApplyRequest {
        json: manifest.to_string(),
        dry_run,
        default_tenant: String::new(),
    };
    let response = client.apply(request).await?.into_inner();
    let outcome = response.outcome();
    let object = parse(response.object.expect("apply returns the object"));
    Ok((outcome, object, response.diff))
}

/// Reads one object over gRPC.
pub async fn get(client: &mut Client, kind: &str, name: &str) -> Result<Value, tonic::Status> {
    let reference = pb::ObjectRef {
        kind: kind.into(),
        tenant: String::new(),
        name: name.into(),
    };
    Ok(parse(
        client
            .get(pb::GetRequest {
                r#ref: Some(reference),
            })
            .await?
            .into_inner(),
    ))
}

/// Lists a kind in the default tenant over gRPC: the resourceVersion and the objects.
pub async fn list(client: &mut Client, kind: &str) -> Result<(String, Value), tonic::Status> {
    let request = pb::ListRequest {
        kind: kind.into(),
        tenant: String::new(),
        label_selector: String::new(),
    };
    let list = client.list(request).await?.into_inner();
    let items = list.items.into_iter().map(parse).collect();
    Ok((list.resource_version, Value::Array(items)))
}

/// Deletes one object over gRPC.
pub async fn delete(
    client: &mut Client,
    kind: &str,
    name: &str,
) -> Result<pb::DeleteResponse, tonic::Status> {
    let reference = pb::ObjectRef {
        kind: kind.into(),
        tenant: String::new(),
        name: name.into(),
    };
    let request = pb::DeleteRequest {
        r#ref: Some(reference),
        resource_version: String::new(),
    };
    Ok(client.delete(request).await?.into_inner())
}

/// Opens a watch over gRPC.
pub async fn watch(
    client: &mut Client,
    kind: &str,
    resource_version: &str,
) -> Result<tonic::Streaming<pb::WatchEvent>, tonic::Status> {
    let request = pb::WatchRequest {
        kind: kind.into(),
        tenant: String::new(),
        label_selector: String::new(),
        resource_version: resource_version.into(),
    };
    Ok(client.watch(request).await?.into_inner())
}

/// Reads the next watch event, failing on a stall.
pub async fn next_event(
    stream: &mut tonic::Streaming<pb::WatchEvent>,
) -> Result<(pb::EventType, Value, String), tonic::Status> {
    let message = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("a watch event within 10 s")?
        .expect("the watch is still open");
    let object = message.object.clone().map(parse).unwrap_or(Value::Null);
    Ok((message.r#type(), object, message.resource_version))
}

/// The object JSON inside an envelope.
pub fn parse(object: pb::Object) -> Value {
    serde_json::from_str(&object.json).expect("the server sends JSON objects")
}

/// The machine-readable reason of a failed call.
pub fn reason(status: &tonic::Status) -> &str {
    minicloud_proto::metadata::reason_of(status).unwrap_or("<none>")
}

/// A field of an object by JSON pointer, as a string.
pub fn field<'a>(object: &'a Value, pointer: &str) -> &'a Value {
    object.pointer(pointer).unwrap_or(&Value::Null)
}
