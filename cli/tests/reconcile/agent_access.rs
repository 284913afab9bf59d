//! A standalone `mini agent` answers admin keys of the server it joined, and nobody else.

use minicloud_proto::bearer::{Bearer, authorized};
use minicloud_proto::v1::ObserveRequest;
use minicloud_proto::v1::node_agent_client::NodeAgentClient;
use tonic::Code;

use crate::support::Server;
use crate::unique;

/// What Observe answers when called with `key` (or none).
async fn observe_code(agent: &str, key: Option<&str>) -> Code {
    let channel = tonic::transport::Endpoint::from_shared(agent.to_owned())
        .unwrap()
        .connect()
        .await
        .expect("connect to the agent");
    let mut client = NodeAgentClient::new(authorized(channel, Bearer::new(key).unwrap()));
    match client.observe(ObserveRequest {}).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

pub fn a_standalone_agent_answers_admin_keys_only() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&[
        "--data-dir",
        data.path().to_str().unwrap(),
        "--no-agent",
        "--no-controllers",
    ]);
    let tenant = unique("t");
    let created = server.run(&["tenant", "create", &tenant]).ok();
    let tenant_key = created.lines().nth(1).expect("the key line").to_owned();
    let node = unique("node");
    let agent = server.watch(&[
        "agent",
        "--listen",
        "127.0.0.1:0",
        "--ingress-listen",
        "off",
        "--node-name",
        &node,
    ]);
    let line = agent.next_line();
    let address = line
        .strip_prefix("minicloud agent listening on ")
        .unwrap_or_else(|| panic!("expected the agent's address, got {line:?}"))
        .to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let codes = runtime.block_on(async {
        [
            observe_code(&address, None).await,
            observe_code(
                &address,
                Some("mc_-_00000000_0123456789abcdef0123456789abcdef"),
            )
            .await,
            observe_code(&address, Some(&tenant_key)).await,
            observe_code(&address, Some(&server.key)).await,
        ]
    });
    assert_eq!(
        codes,
        [
            Code::Unauthenticated,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Ok
        ],
        "no key, an unknown key, a tenant key, the admin key"
    );
}
