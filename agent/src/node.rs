//! Node registration: the Node object describing this host, and the loop that registers it with
//! the API server and keeps its heartbeat fresh.

use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use minicloud_manifests::{
    Bytes, Condition, ConditionStatus, Cpu, Node, NodeAddress, NodeAddressType, NodeCapacity,
    NodeSpec, NodeStatus, NodeStorage, ObjectMeta, Resource,
};
use minicloud_proto::bearer::Authorized;
use minicloud_proto::v1::resource_service_client::ResourceServiceClient;
use minicloud_proto::v1::{ApplyRequest, UpdateStatusRequest};

use crate::error::{Error, Result};
use crate::runtime::HostInfo;
use crate::storage::mechanism::Mechanism;

/// How often the agent renews its Node's heartbeat unless told otherwise.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// How many tenant containers a node takes.
pub const CONTAINER_CAPACITY: u32 = 100;

/// What this host offers tenant containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeInfo {
    /// CPU in millicores.
    pub cpu_millis: u64,
    /// Memory in bytes.
    pub memory_bytes: u64,
    /// How many containers it takes.
    pub containers: u32,
}

impl From<HostInfo> for NodeInfo {
    fn from(host: HostInfo) -> NodeInfo {
        NodeInfo {
            cpu_millis: host.ncpu * 1000,
            memory_bytes: host.memory_bytes,
            containers: CONTAINER_CAPACITY,
        }
    }
}

/// The Node object for this host: its name, addresses, agent endpoint (`http://10.0.0.5:7071`),
/// and a status with capacity, allocatable (everything: nothing is reserved yet), a heartbeat at
/// `now` and a `Ready` condition.
pub fn node_object(name: &str, endpoint: &str, info: NodeInfo, now: SystemTime) -> Node {
    let mut addresses = vec![NodeAddress {
        type_: NodeAddressType::Hostname,
        address: name.to_owned(),
    }];
    if let Some(ip) = endpoint_ip(endpoint) {
        addresses.push(NodeAddress {
            type_: NodeAddressType::InternalIP,
            address: ip.to_string(),
        });
    }
    let spec = NodeSpec {
        addresses,
        agent_endpoint: Some(endpoint.to_owned()),
        unschedulable: false,
    };
    let mut node = Node::new(ObjectMeta::named(name, None), spec);
    let capacity = NodeCapacity {
        cpu: Cpu::from_millis(info.cpu_millis),
        memory: Bytes::new(info.memory_bytes),
        containers: info.containers,
    };
    node.status = Some(NodeStatus {
        allocatable: Some(capacity.clone()),
        capacity: Some(capacity),
        heartbeat_time: Some(timestamp(now)),
        storage: None,
        observed_generation: None,
        conditions: vec![ready(now)],
    });
    node
}

/// How the node enforces volume sizes, as its Node's `status.storage` says it.
pub fn node_storage(mechanism: &Mechanism) -> NodeStorage {
    NodeStorage {
        mechanism: mechanism.name().to_owned(),
        detail: mechanism.detail(),
    }
}

/// The IP address in an endpoint URL such as `http://10.0.0.5:7071`, if it names one.
fn endpoint_ip(endpoint: &str) -> Option<IpAddr> {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(bracketed),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    host.parse().ok()
}

fn ready(now: SystemTime) -> Condition {
    Condition {
        type_: "Ready".to_owned(),
        status: ConditionStatus::True,
        reason: "AgentHeartbeat".to_owned(),
        message: "the agent is running and reaches the Docker Engine".to_owned(),
        last_transition_time: Some(timestamp(now)),
    }
}

fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Registers `node` (Apply) and then renews its status (UpdateStatus with a new heartbeat time)
/// every `interval` until `shutdown` completes. Failures are logged and retried on the next tick;
/// a Node deleted meanwhile is registered again.
pub async fn run_heartbeat(
    mut client: ResourceServiceClient<Authorized>,
    mut node: Node,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut registered = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        if let Err(e) = beat(&mut client, &mut node, &mut registered).await {
            tracing::warn!(node = %node.metadata.name, error = %e, "node heartbeat failed");
        }
    }
}

/// One tick: register when needed, then update the status.
async fn beat(
    client: &mut ResourceServiceClient<Authorized>,
    node: &mut Node,
    registered: &mut bool,
) -> Result<()> {
    if !*registered {
        let json = node_json(node)?;
        let request = ApplyRequest {
            json,
            dry_run: false,
            default_tenant: String::new(),
        };
        client.apply(request).await.map_err(Error::RegisterFailed)?;
        *registered = true;
    }
    if let Some(status) = &mut node.status {
        status.heartbeat_time = Some(timestamp(SystemTime::now()));
    }
    let request = UpdateStatusRequest {
        json: node_json(node)?,
    };
    match client.update_status(request).await {
        Ok(_) => Ok(()),
        Err(status) => {
            *registered = status.code() != tonic::Code::NotFound;
            Err(Error::HeartbeatFailed(status))
        }
    }
}

fn node_json(node: &Node) -> Result<String> {
    let value = Resource::Node(node.clone()).to_json();
    serde_json::to_string(&value).map_err(Error::EncodeNode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_comes_from_the_host_in_millicores_and_bytes() {
        let info = NodeInfo::from(HostInfo {
            ncpu: 4,
            memory_bytes: 8 << 30,
        });
        assert_eq!(
            info,
            NodeInfo {
                cpu_millis: 4000,
                memory_bytes: 8 << 30,
                containers: 100
            }
        );
    }

    fn example() -> Node {
        let info = NodeInfo {
            cpu_millis: 2000,
            memory_bytes: 1 << 30,
            containers: 100,
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        node_object("n1", "http://10.0.0.5:7071", info, now)
    }

    #[test]
    fn the_node_object_names_its_endpoint_and_addresses() {
        let node = example();
        assert_eq!(node.metadata.name, "n1");
        let endpoint = node.spec.agent_endpoint.as_deref();
        assert_eq!(endpoint, Some("http://10.0.0.5:7071"));
        let addresses = &node.spec.addresses;
        let pairs: Vec<_> = addresses
            .iter()
            .map(|a| (a.type_, a.address.as_str()))
            .collect();
        let expected = [
            (NodeAddressType::Hostname, "n1"),
            (NodeAddressType::InternalIP, "10.0.0.5"),
        ];
        assert_eq!(pairs, expected);
    }

    #[test]
    fn the_node_status_carries_capacity_heartbeat_and_readiness() {
        let status = example().status.unwrap();
        let capacity = status.capacity.as_ref().unwrap();
        assert_eq!(capacity.cpu, Cpu::from_millis(2000));
        assert_eq!(status.allocatable, status.capacity);
        let beat = status.heartbeat_time.as_deref();
        assert_eq!(beat, Some("2023-11-14T22:13:20Z"));
        let ready = &status.conditions[0];
        assert_eq!(
            (ready.type_.as_str(), ready.status),
            ("Ready", ConditionStatus::True)
        );
    }

    #[test]
    fn the_storage_status_names_the_mechanism_and_why() {
        let none = Mechanism::Unavailable {
            reason: "no loop devices: load the loop module".into(),
        };
        let storage = node_storage(&none);
        assert_eq!(storage.mechanism, "none");
        assert_eq!(storage.detail, "no loop devices: load the loop module");
        let json = serde_json::to_value(&storage).unwrap();
        assert_eq!(json["mechanism"], "none");
    }

    #[test]
    fn endpoint_ips_are_read_from_urls_with_or_without_scheme() {
        assert_eq!(
            endpoint_ip("http://127.0.0.1:7071"),
            "127.0.0.1".parse().ok()
        );
        assert_eq!(endpoint_ip("http://[::1]:7071/"), "::1".parse().ok());
        assert_eq!(endpoint_ip("10.1.2.3:80"), "10.1.2.3".parse().ok());
        assert_eq!(endpoint_ip("http://node-a:7071"), None);
    }
}
