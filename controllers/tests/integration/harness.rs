//! A real API server (embedded store, loopback port), the controllers against it with fake
//! node agents, and helpers to register nodes, apply apps and wait for convergence.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use minicloud_apiserver::api::{RequestContext, ResourceApi};
use minicloud_apiserver::secrets::SecretKeys;
use minicloud_apiserver::store::embedded::EmbeddedStore;
use minicloud_apiserver::watch_cache::WatchCacheOptions;
use minicloud_common::server_files::SECRET_KEY_FILE;
use minicloud_controllers::agent::fake::{FakeAgent, FakeConnector};
use minicloud_controllers::client::{ApiClient, TenantScope};
use minicloud_controllers::object::ObjectKey;
use minicloud_controllers::{ControllersConfig, IngressAddress, run_with_agents};
use minicloud_manifests::{
    App, AppSpec, Bytes, Cpu, Instance, Node, NodeCapacity, NodeSpec, NodeStatus, ObjectMeta,
    Release, Resources, Role,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The tenant every test app lives in.
pub const TENANT: &str = "acme";
/// How long a condition may take to hold.
const PATIENCE: Duration = Duration::from_secs(20);

/// A running API server: how to stop it, and its task.
type Server = (CancellationToken, JoinHandle<std::io::Result<()>>);

/// An API server, the controllers, and fake agents.
pub struct Cluster {
    /// A client of the API server.
    pub client: ApiClient,
    /// The fake agents the controllers reach.
    pub agents: Arc<FakeConnector>,
    url: String,
    key: String,
    controllers: Option<(CancellationToken, JoinHandle<()>)>,
    server: Server,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts an API server and the controllers.
    pub async fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("temporary directory");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (server, key) = serve(dir.path(), listener).await;
        let mut cluster = Cluster {
            client: ApiClient::connect_lazy(&url, Some(&key)).expect("client"),
            agents: Arc::new(FakeConnector::default()),
            url,
            key,
            controllers: None,
            server,
            _dir: dir,
        };
        cluster.start_controllers();
        cluster
    }

    /// Stops the API server (ending every watch) and starts it again on the same port and
    /// store.
    pub async fn restart_server(&mut self) {
        self.server.0.cancel();
        (&mut self.server.1)
            .await
            .expect("server task")
            .expect("server ran");
        let addr = self.url.trim_start_matches("http://");
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind again");
        self.server = serve(self._dir.path(), listener).await.0;
    }

    /// Starts the controllers (again).
    pub fn start_controllers(&mut self) {
        self.controllers = Some(self.spawn_controllers());
    }

    /// Starts one more set of controllers against the same API server and fake agents, as a
    /// second `mini controllers` process would; stopped by cancelling the token.
    pub fn spawn_controllers(&self) -> (CancellationToken, JoinHandle<()>) {
        let config = ControllersConfig {
            api_key: Some(self.key.clone()),
            workers: 4,
            resync: Duration::from_secs(5),
            ingress: Some(IngressAddress {
                domain: "localhost".into(),
                port: 8080,
            }),
            ..ControllersConfig::new(self.url.clone())
        };
        let shutdown = CancellationToken::new();
        let agents = self.agents.clone();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            run_with_agents(config, agents, token)
                .await
                .expect("controllers run");
        });
        (shutdown, task)
    }

    /// Kills the controllers wherever they are, like SIGKILL: every task is aborted.
    pub async fn kill_controllers(&mut self) {
        if let Some((shutdown, task)) = self.controllers.take() {
            task.abort();
            let _ = task.await;
            shutdown.cancel();
        }
    }

    /// The fake agent of `node`.
    pub fn agent(&self, node: &str) -> Arc<FakeAgent> {
        self.agents.agent(node)
    }

    /// Registers a Ready node with a fresh heartbeat and this much room.
    pub async fn add_node(&self, name: &str, cpu_millis: u64, memory_mi: u64) {
        let spec = NodeSpec {
            agent_endpoint: Some(format!("http://{name}.invalid:7071")),
            ..NodeSpec::default()
        };
        let node = Node::new(ObjectMeta::named(name, None), spec);
        let mut node = self.client.apply(&node).await.expect("register the node");
        let capacity = NodeCapacity {
            cpu: Cpu::from_millis(cpu_millis),
            memory: Bytes::mebibytes(memory_mi),
            containers: 100,
        };
        node.status = Some(NodeStatus {
            capacity: Some(capacity.clone()),
            allocatable: Some(capacity),
            heartbeat_time: Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string()),
            ..NodeStatus::default()
        });
        self.client.update_status(&node).await.expect("node status");
    }

    /// Applies an App running `image` with `replicas` and 64Mi of memory each.
    pub async fn apply_app(&self, name: &str, image: &str, replicas: u32) {
        let spec = AppSpec {
            image: Some(image.into()),
            replicas: Some(replicas),
            resources: Some(Resources {
                memory: Some(Bytes::mebibytes(64)),
                ..Resources::default()
            }),
            ..AppSpec::default()
        };
        let app = App::new(ObjectMeta::named(name, Some(TENANT)), spec);
        self.client.apply(&app).await.expect("apply the app");
    }

    /// The App, if it exists.
    pub async fn app(&self, name: &str) -> Option<App> {
        self.client
            .get_opt(&ObjectKey::new(Some(TENANT), name))
            .await
            .expect("get app")
    }

    /// Every Instance of the tenant.
    pub async fn instances(&self) -> Vec<Instance> {
        let listing = self.client.list::<Instance>(&scope(), "").await;
        listing.expect("list instances").items
    }

    /// Every Release of the tenant.
    pub async fn releases(&self) -> Vec<Release> {
        let listing = self.client.list::<Release>(&scope(), "").await;
        listing.expect("list releases").items
    }

    /// Stops everything.
    pub async fn stop(mut self) {
        self.kill_controllers().await;
        self.server.0.cancel();
        let _ = (&mut self.server.1).await;
    }
}

/// Serves an API server over the embedded store in `dir` (and the Secret key file there) on
/// `listener`, with a new admin key.
async fn serve(dir: &std::path::Path, listener: tokio::net::TcpListener) -> (Server, String) {
    let store = EmbeddedStore::open(dir).expect("open the embedded store");
    let secrets = SecretKeys::from_file(&dir.join(SECRET_KEY_FILE)).expect("the Secret key file");
    let secrets = Arc::new(secrets);
    let api = Arc::new(ResourceApi::new(
        Arc::new(store),
        WatchCacheOptions::default(),
        secrets,
    ));
    let issued = api
        .issue_key(&RequestContext::admin(TENANT), Role::Admin, None, "tests")
        .await
        .expect("issue an admin key");
    let stop = CancellationToken::new();
    let shutdown = stop.clone().cancelled_owned();
    let server = tokio::spawn(minicloud_apiserver::server::serve(listener, api, shutdown));
    ((stop, server), issued.token.to_string())
}

fn scope() -> TenantScope {
    TenantScope::One(TENANT.into())
}

/// Polls `check` until it returns `Some`, failing the test with `what` after a while.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
