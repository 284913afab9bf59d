//! Shared set-up of the Docker tests: a tiny busybox image built locally, a unique tenant per
//! test whose Docker objects and volume images (in a storage directory of its own) are removed
//! even when the test fails, and plan builders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use minicloud_agent::{Agent, AgentConfig, AgentService};
use minicloud_manifests::AppSpec;
use minicloud_proto::v1::node_agent_server::NodeAgent;
use minicloud_proto::v1::operation::Op;
use minicloud_proto::v1::{
    EnsureNetwork, EnsureVolume, ObserveRequest, ObservedContainer, ObservedState, Operation, Plan,
    PlanResult, StartInstance,
};
use rand::Rng;
use serde_json::json;
use tonic::Request;

/// The test image: `FROM scratch` with Debian's static busybox and its applets.
pub const IMAGE: &str = "minicloud-test/busybox:1";

/// Runs the docker CLI.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI is required for these tests")
}

/// Runs the docker CLI, failing the test unless it succeeds; returns stdout, trimmed.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Fails the test with a clear message when the Docker Engine is unreachable.
fn require_docker() {
    let out = docker(&["info", "--format", "{{.ServerVersion}}"]);
    assert!(
        out.status.success(),
        "these tests need a running Docker Engine, and `docker info` failed: {}; \
         start Docker (scripts/test.sh does) and run them again",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Builds the test image unless present. Safe when several test processes race: building the
/// same tag twice yields the same image.
fn ensure_image() {
    if docker(&["image", "inspect", IMAGE]).status.success() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary build context");
    std::fs::copy("/bin/busybox", dir.path().join("busybox"))
        .expect("Debian's busybox-static at /bin/busybox");
    let dockerfile = "FROM scratch\n\
        COPY busybox /bin/busybox\n\
        RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
        ENV PATH=/bin\n";
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("writing the Dockerfile");
    build(dir.path());
}

fn build(context: &Path) {
    let out = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", IMAGE])
        .arg(context)
        .output()
        .expect("the docker CLI is required for these tests");
    assert!(
        out.status.success(),
        "building {IMAGE} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tenant with a unique name and a storage directory of its own; dropping it removes every
/// container, network and volume labelled with it, managed or not, then unmounts every volume
/// image in its storage directory and deletes the directory.
pub struct Tenant {
    /// The tenant's name (`t` and random hex).
    pub name: String,
    /// The agents' storage directory for this tenant's tests.
    pub storage: tempfile::TempDir,
}

impl Tenant {
    /// A fresh tenant.
    pub fn new() -> Tenant {
        let n: u32 = rand::rng().random();
        Tenant {
            name: format!("t{n:08x}"),
            storage: tempfile::tempdir().expect("a temporary storage directory"),
        }
    }

    /// The storage directory.
    pub fn storage_dir(&self) -> PathBuf {
        self.storage.path().to_path_buf()
    }

    /// The tenant's network name.
    pub fn network(&self) -> String {
        format!("mc-{}", self.name)
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        let filter = format!("label=minicloud.tenant={}", self.name);
        let lists: [(&[&str], &[&str]); 3] = [
            (&["ps", "-aq", "--filter"], &["rm", "-f"]),
            (&["network", "ls", "-q", "--filter"], &["network", "rm"]),
            (&["volume", "ls", "-q", "--filter"], &["volume", "rm", "-f"]),
        ];
        for (list, remove) in lists {
            let ids = docker(&[list, &[filter.as_str()]].concat());
            let ids = String::from_utf8_lossy(&ids.stdout).to_string();
            for id in ids.split_whitespace() {
                docker(&[remove, &[id]].concat());
            }
        }
        unmount_below(self.storage.path());
    }
}

/// Unmounts everything mounted below `dir`, deepest first, so deleting `dir` never reaches
/// into a volume's filesystem.
pub fn unmount_below(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter(|point| Path::new(point).starts_with(dir))
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in points {
        let out = Command::new("umount").arg(point).output();
        let failed = out.map_or(true, |o| !o.status.success());
        assert!(
            !failed || std::thread::panicking(),
            "cannot unmount {point}"
        );
    }
}

/// An agent on the local Docker Engine for a node of its own, with the test image present.
/// Each agent keeps its logs in a directory of its own: a test may start a second agent while
/// the first still holds its log store open.
pub async fn agent(tenant: &Tenant) -> AgentService {
    static AGENTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    require_docker();
    ensure_image();
    let n = AGENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let config = AgentConfig::new(format!("node-{}", tenant.name))
        .with_storage_dir(tenant.storage_dir())
        .with_log_dir(tenant.storage_dir().join(format!("logs-{n}")));
    let agent = Agent::connect(config)
        .await
        .unwrap_or_else(|e| panic!("the agent cannot start: {e}"));
    agent.service_impl()
}

/// A plan of `ops`.
pub fn plan(ops: Vec<Op>) -> Plan {
    let operations = ops
        .into_iter()
        .map(|op| Operation { op: Some(op) })
        .collect();
    Plan { operations }
}

/// EnsureVolume of `name` for `tenant`.
pub fn volume(tenant: &Tenant, name: &str) -> Op {
    Op::EnsureVolume(EnsureVolume {
        tenant: tenant.name.clone(),
        name: name.into(),
        size_bytes: 1 << 20,
        ..EnsureVolume::default()
    })
}

/// EnsureNetwork for `tenant`.
pub fn network(tenant: &Tenant) -> Op {
    Op::EnsureNetwork(EnsureNetwork {
        tenant: tenant.name.clone(),
    })
}

/// StartInstance of instance `<app>-1` of `app` running `command` in the test image.
pub fn start(tenant: &Tenant, app: &str, command: &[&str]) -> Op {
    start_spec(tenant, app, json!({"image": IMAGE, "command": command}))
}

/// StartInstance of instance `<app>-1` of `app` with the container an App spec written as
/// `app_spec` resolves to, defaults filled in as the app controller fills them.
pub fn start_spec(tenant: &Tenant, app: &str, app_spec: serde_json::Value) -> Op {
    let app_spec: AppSpec = serde_json::from_value(app_spec).expect("a valid App spec");
    let container = serde_json::to_value(app_spec.container()).expect("specs serialize");
    Op::StartInstance(StartInstance {
        tenant: tenant.name.clone(),
        app: app.into(),
        instance: format!("{app}-1"),
        instance_uid: format!("uid-{}-{app}", tenant.name),
        release: format!("{app}-r1"),
        container_json: container.to_string(),
        secret_env: Default::default(),
        spec_hash: "h1".into(),
    })
}

/// Applies `ops`, failing the test unless every one succeeds.
pub async fn apply_ok(service: &AgentService, ops: Vec<Op>) -> PlanResult {
    let result = service.apply(Request::new(plan(ops))).await.unwrap();
    let result = result.into_inner();
    for r in &result.results {
        assert!(r.ok, "operation failed: {}", r.error);
    }
    result
}

/// The service's current snapshot.
pub async fn observe(service: &AgentService) -> ObservedState {
    let state = service.observe(Request::new(ObserveRequest {})).await;
    state.expect("Observe").into_inner()
}

/// The observed container with `id`, if any.
pub fn container<'a>(state: &'a ObservedState, id: &str) -> Option<&'a ObservedContainer> {
    state.containers.iter().find(|c| c.id == id)
}

/// `docker inspect` of one object, as JSON.
pub fn inspect(id: &str) -> serde_json::Value {
    let text = docker_ok(&["inspect", id]);
    let mut all: Vec<serde_json::Value> = serde_json::from_str(&text).expect("inspect JSON");
    all.remove(0)
}
