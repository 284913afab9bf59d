//! Who may call what: every call of the API, over gRPC and REST, made with no key, a revoked
//! key, a read-only key, another tenant's key and an admin key, against objects of tenant
//! `acme`. The table below is the contract; each cell is checked, and an object another tenant
//! may not see must be answered exactly as a missing one.

use std::sync::Arc;

use minicloud_apiserver::api::RequestContext;
use minicloud_apiserver::secrets::{Keyring, SecretKeys};
use minicloud_apiserver::store::Store;
use minicloud_manifests::Role;
use minicloud_proto::bearer::{Bearer, authorized};
use minicloud_proto::v1::audit_client::AuditClient;
use minicloud_proto::v1::keys_client::KeysClient;
use minicloud_proto::v1::resource_service_client::ResourceServiceClient;
use minicloud_proto::v1::secrets_client::SecretsClient;
use minicloud_proto::v1::{self as pb};
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

use crate::fixture::{TestServer, app};

/// The callers, in the order of the columns below.
const CALLERS: [&str; 5] = ["no key", "revoked", "read-only", "other tenant", "admin"];

const U: Code = Code::Unauthenticated;
const D: Code = Code::PermissionDenied;
const N: Code = Code::NotFound;
const OK: Code = Code::Ok;

/// What each gRPC call answers to each caller.
const GRPC_MATRIX: [(&str, [Code; 5]); 13] = [
    ("get", [U, U, OK, N, OK]),
    ("get tenant", [U, U, OK, N, OK]),
    ("list", [U, U, OK, D, OK]),
    ("watch", [U, U, OK, D, OK]),
    ("apply", [U, U, D, D, OK]),
    ("apply instance", [U, U, D, D, OK]),
    ("update status", [U, U, D, D, OK]),
    ("create key", [U, U, D, D, OK]),
    ("who am i", [U, U, OK, OK, OK]),
    ("delete", [U, U, D, N, OK]),
    ("resolve secret", [U, U, D, D, OK]),
    ("rotate secret key", [U, U, D, D, OK]),
    ("read audit log", [U, U, D, D, OK]),
];

/// What each REST call answers to each caller (HTTP status).
const REST_MATRIX: [(&str, [u16; 5]); 4] = [
    ("GET one", [401, 401, 200, 404, 200]),
    ("GET list", [401, 401, 200, 403, 200]),
    ("PUT", [401, 401, 403, 403, 200]),
    ("DELETE", [401, 401, 403, 404, 200]),
];

async fn keys(server: &TestServer, store: Arc<dyn Store>) -> [Option<String>; 5] {
    let secrets = Arc::new(SecretKeys::in_memory(Keyring::generate()));
    let api = minicloud_apiserver::api::ResourceApi::new(store, Default::default(), secrets);
    let admin = RequestContext::admin("acme");
    for tenant in ["acme", "other"] {
        let manifest = json!({"apiVersion": "minicloud/v1", "kind": "Tenant",
            "metadata": {"name": tenant}, "spec": {}});
        api.apply(&admin, manifest.to_string().as_bytes(), false)
            .await
            .unwrap();
    }
    let issue = |role, tenant| {
        let api = &api;
        let admin = &admin;
        async move {
            let issued = api.issue_key(admin, role, tenant, "").await.unwrap();
            issued.token.to_string()
        }
    };
    let revoked = issue(Role::TenantAdmin, Some("acme")).await;
    let parsed = minicloud_apiserver::api_keys::Token::parse(&revoked).unwrap();
    let target = pb::ObjectRef {
        kind: "ApiKey".into(),
        tenant: "acme".into(),
        name: parsed.object_name(),
    };
    let mut client = client(server, Some(&server.admin_key)).await;
    client
        .delete(pb::DeleteRequest {
            r#ref: Some(target),
            resource_version: String::new(),
        })
        .await
        .unwrap();
    [
        None,
        Some(revoked),
        Some(issue(Role::TenantRead, Some("acme")).await),
        Some(issue(Role::TenantAdmin, Some("other")).await),
        Some(server.admin_key.clone()),
    ]
}

async fn channel(server: &TestServer, key: Option<&str>) -> minicloud_proto::bearer::Authorized {
    let channel = Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    authorized(channel, Bearer::new(key).unwrap())
}

async fn client(
    server: &TestServer,
    key: Option<&str>,
) -> ResourceServiceClient<minicloud_proto::bearer::Authorized> {
    ResourceServiceClient::new(channel(server, key).await)
}

fn app_ref(name: &str) -> Option<pb::ObjectRef> {
    Some(pb::ObjectRef {
        kind: "App".into(),
        tenant: "acme".into(),
        name: name.into(),
    })
}

fn code<T>(result: Result<T, tonic::Status>) -> (Code, String) {
    match result {
        Ok(_) => (Code::Ok, String::new()),
        Err(status) => (status.code(), status.message().to_owned()),
    }
}

/// Makes one gRPC call as `key`; `victim` names an App that a delete may remove.
async fn call(server: &TestServer, key: Option<&str>, what: &str, victim: &str) -> (Code, String) {
    let mut client = client(server, key).await;
    let web = app_ref("web");
    match what {
        "get" => code(client.get(pb::GetRequest { r#ref: web }).await),
        "list" => code(
            client
                .list(pb::ListRequest {
                    kind: "App".into(),
                    tenant: "acme".into(),
                    label_selector: String::new(),
                })
                .await,
        ),
        "watch" => {
            let request = pb::WatchRequest {
                kind: "App".into(),
                tenant: "acme".into(),
                ..Default::default()
            };
            match client.watch(request).await {
                Ok(stream) => {
                    let first = stream.into_inner().message().await;
                    code(first.map(|event| assert!(event.is_some())))
                }
                Err(status) => code::<()>(Err(status)),
            }
        }
        "apply" => code(
            client
                .apply(pb::ApplyRequest {
                    json: app("new", "hello:2", 1).to_string(),
                    dry_run: false,
                    default_tenant: "acme".into(),
                })
                .await,
        ),
        "apply instance" => {
            let instance = json!({"apiVersion": "minicloud/v1", "kind": "Instance",
                "metadata": {"name": "web-x", "tenant": "acme"},
                "spec": {"app": "web", "release": "web-1", "container": {"image": "hello:1",
                    "resources": {"cpu": "250m", "memory": "128Mi", "pids": 64}}}});
            code(
                client
                    .apply(pb::ApplyRequest {
                        json: instance.to_string(),
                        dry_run: false,
                        default_tenant: "acme".into(),
                    })
                    .await,
            )
        }
        "update status" => {
            let mut object = app("web", "hello:1", 1);
            object["metadata"]["tenant"] = json!("acme");
            object["status"] = json!({"replicas": 1});
            code(
                client
                    .update_status(pb::UpdateStatusRequest {
                        json: object.to_string(),
                    })
                    .await,
            )
        }
        "create key" => {
            let mut keys = KeysClient::new(channel(server, key).await);
            code(
                keys.create(pb::CreateKeyRequest {
                    role: "tenant-read".into(),
                    tenant: "acme".into(),
                    description: String::new(),
                })
                .await,
            )
        }
        "get tenant" => {
            let tenant = Some(pb::ObjectRef {
                kind: "Tenant".into(),
                tenant: String::new(),
                name: "acme".into(),
            });
            code(client.get(pb::GetRequest { r#ref: tenant }).await)
        }
        "resolve secret" => {
            let mut secrets = SecretsClient::new(channel(server, key).await);
            let request = pb::ResolveSecretRequest {
                tenant: "acme".into(),
                name: "db".into(),
            };
            code(secrets.resolve(request).await)
        }
        "rotate secret key" => {
            let mut secrets = SecretsClient::new(channel(server, key).await);
            code(secrets.rotate_key(pb::RotateKeyRequest {}).await)
        }
        "read audit log" => {
            let mut audit = AuditClient::new(channel(server, key).await);
            let request = pb::ListAuditRequest {
                tenant: "acme".into(),
                ..Default::default()
            };
            code(audit.list(request).await)
        }
        "who am i" => {
            let mut keys = KeysClient::new(channel(server, key).await);
            code(keys.who_am_i(pb::WhoAmIRequest {}).await)
        }
        "delete" => code(
            client
                .delete(pb::DeleteRequest {
                    r#ref: app_ref(victim),
                    resource_version: String::new(),
                })
                .await,
        ),
        other => panic!("no call {other}"),
    }
}

async fn rest(server: &TestServer, key: Option<&str>, what: &str, victim: &str) -> u16 {
    let http = reqwest::Client::new();
    let base = format!("{}/api/v1", server.url());
    let request = match what {
        "GET one" => http.get(format!("{base}/apps/web?tenant=acme")),
        "GET list" => http.get(format!("{base}/apps?tenant=acme")),
        "PUT" => http
            .put(format!("{base}/apps/web?tenant=acme"))
            .json(&app("web", "hello:1", 1)),
        "DELETE" => http.delete(format!("{base}/apps/{victim}?tenant=acme")),
        other => panic!("no call {other}"),
    };
    let request = match key {
        Some(key) => request.bearer_auth(key),
        None => request,
    };
    request.send().await.unwrap().status().as_u16()
}

pub async fn every_call_is_checked_for_every_kind_of_key(server: TestServer) {
    let keys = keys(&server, server.store.clone()).await;
    let mut admin = client(&server, Some(&server.admin_key)).await;
    let secret = json!({"apiVersion": "minicloud/v1", "kind": "Secret",
        "metadata": {"name": "db", "tenant": "acme"}, "data": {"password": "pw"}});
    admin
        .apply(pb::ApplyRequest {
            json: secret.to_string(),
            dry_run: false,
            default_tenant: "acme".into(),
        })
        .await
        .unwrap();
    for name in ["web", "victim-grpc", "victim-rest"] {
        admin
            .apply(pb::ApplyRequest {
                json: app(name, "hello:1", 1).to_string(),
                dry_run: false,
                default_tenant: "acme".into(),
            })
            .await
            .unwrap();
    }
    let mut cells = 0;
    for (what, expected) in GRPC_MATRIX {
        for (caller, (key, want)) in CALLERS.iter().zip(keys.iter().zip(expected)) {
            let (got, message) = call(&server, key.as_deref(), what, "victim-grpc").await;
            assert_eq!(got, want, "{what} with {caller}: {message}");
            cells += 1;
        }
    }
    for (what, expected) in REST_MATRIX {
        for (caller, (key, want)) in CALLERS.iter().zip(keys.iter().zip(expected)) {
            let got = rest(&server, key.as_deref(), what, "victim-rest").await;
            assert_eq!(got, want, "REST {what} with {caller}");
            cells += 1;
        }
    }
    assert_eq!(cells, 85);
    let other = keys[3].as_deref();
    let (_, hidden) = call(&server, other, "get", "").await;
    let mut stranger = client(&server, other).await;
    let missing = stranger
        .get(pb::GetRequest {
            r#ref: app_ref("web-that-never-was"),
        })
        .await
        .unwrap_err();
    assert_eq!(
        hidden.replace("\"web\"", "\"web-that-never-was\""),
        missing.message(),
        "another tenant's object must read exactly like a missing one"
    );
}

pub async fn a_tenant_key_sees_only_its_tenant_in_lists_and_watches(server: TestServer) {
    let keys = keys(&server, server.store.clone()).await;
    let mut admin = client(&server, Some(&server.admin_key)).await;
    for tenant in ["acme", "other"] {
        admin
            .apply(pb::ApplyRequest {
                json: app("web", "hello:1", 1).to_string(),
                dry_run: false,
                default_tenant: tenant.into(),
            })
            .await
            .unwrap();
    }
    let mut reader = client(&server, keys[2].as_deref()).await;
    let tenants = reader
        .list(pb::ListRequest {
            kind: "Tenant".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<Value> = tenants
        .items
        .iter()
        .map(|item| serde_json::from_str::<Value>(&item.json).unwrap()["metadata"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("acme")]);
    let everyone = reader
        .list(pb::ListRequest {
            kind: "App".into(),
            tenant: "*".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(everyone.code(), Code::PermissionDenied);
    let keys_seen = reader
        .list(pb::ListRequest {
            kind: "ApiKey".into(),
            tenant: "acme".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(keys_seen.items.is_empty(), "a read-only key listed keys");
}
