//! The audit log end to end: which requests leave which record (fields checked, one record per
//! request id), who may read it, that no secret value reaches it, that it is trimmed to its
//! retention, and that it survives a restart of the server and its embedded store.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use minicloud_apiserver::audit::{AuditLog, AuditOptions, AuditQuery, AuditRecord};
use minicloud_apiserver::store::embedded::EmbeddedStore;
use minicloud_apiserver::store::{EventKind, Store};
use minicloud_apiserver::watch_cache::WatchCacheOptions;
use minicloud_proto::bearer::{Authorized, Bearer, authorized};
use minicloud_proto::v1::audit_client::AuditClient;
use minicloud_proto::v1::keys_client::KeysClient;
use minicloud_proto::v1::resource_service_client::ResourceServiceClient;
use minicloud_proto::v1::{self as pb};
use serde_json::{Value, json};
use tonic::Code;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;

use crate::fixture::{TestServer, app};

/// A channel to `server` presenting `key`.
pub async fn channel(server: &TestServer, key: Option<&str>) -> Authorized {
    let channel = Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    authorized(channel, Bearer::new(key).unwrap())
}

/// The request id the server returned.
pub fn request_id(metadata: &MetadataMap) -> String {
    metadata
        .get("x-request-id")
        .expect("every response carries x-request-id")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Every audit record, as an admin reads them.
pub async fn records(server: &TestServer) -> Vec<pb::AuditRecord> {
    let mut audit = AuditClient::new(channel(server, Some(&server.admin_key)).await);
    let request = pb::ListAuditRequest {
        limit: 10_000,
        ..Default::default()
    };
    audit.list(request).await.unwrap().into_inner().records
}

/// The one record of `request_id`.
fn the_record(records: &[pb::AuditRecord], request_id: &str) -> pb::AuditRecord {
    let found: Vec<_> = records
        .iter()
        .filter(|record| record.request_id == request_id)
        .collect();
    assert_eq!(found.len(), 1, "one record for {request_id}: {found:#?}");
    found[0].clone()
}

/// Tenants `acme` and `beta`, and keys: acme's tenant-admin, acme's tenant-read, beta's
/// tenant-admin.
async fn tenants_and_keys(server: &TestServer) -> [String; 3] {
    let mut admin = ResourceServiceClient::new(channel(server, Some(&server.admin_key)).await);
    for tenant in ["acme", "beta"] {
        let manifest = json!({"apiVersion": "minicloud/v1", "kind": "Tenant",
            "metadata": {"name": tenant}, "spec": {}});
        apply_as(&mut admin, &manifest, "").await.unwrap();
    }
    let mut keys = KeysClient::new(channel(server, Some(&server.admin_key)).await);
    let mut issue = async |role: &str, tenant: &str| {
        let request = pb::CreateKeyRequest {
            role: role.into(),
            tenant: tenant.into(),
            description: String::new(),
        };
        keys.create(request).await.unwrap().into_inner().key
    };
    [
        issue("tenant-admin", "acme").await,
        issue("tenant-read", "acme").await,
        issue("tenant-admin", "beta").await,
    ]
}

async fn apply_as(
    client: &mut ResourceServiceClient<Authorized>,
    manifest: &Value,
    tenant: &str,
) -> Result<tonic::Response<pb::ApplyResponse>, tonic::Status> {
    let request = pb::ApplyRequest {
        json: manifest.to_string(),
        dry_run: false,
        default_tenant: tenant.into(),
    };
    client.apply(request).await
}

fn prefix(key: &str) -> String {
    minicloud_apiserver::api_keys::Token::parse(key)
        .unwrap()
        .display_prefix()
}

pub async fn mutations_and_refusals_are_recorded_once_with_their_fields(server: TestServer) {
    let [acme, acme_read, beta] = tenants_and_keys(&server).await;
    let mut as_acme = ResourceServiceClient::new(channel(&server, Some(&acme)).await);
    let mut as_beta = ResourceServiceClient::new(channel(&server, Some(&beta)).await);
    apply_as(&mut as_beta, &app("db", "hello:1", 1), "")
        .await
        .unwrap();

    let applied = apply_as(&mut as_acme, &app("web", "hello:1", 1), "")
        .await
        .unwrap();
    let applied = request_id(applied.metadata());

    let hidden = pb::GetRequest {
        r#ref: Some(pb::ObjectRef {
            kind: "App".into(),
            tenant: "beta".into(),
            name: "db".into(),
        }),
    };
    let denied = as_acme.get(hidden).await.unwrap_err();
    assert_eq!(denied.code(), Code::NotFound);
    let denied = request_id(denied.metadata());

    let mut as_reader = ResourceServiceClient::new(channel(&server, Some(&acme_read)).await);
    let forbidden = apply_as(&mut as_reader, &app("web", "hello:2", 1), "")
        .await
        .unwrap_err();
    assert_eq!(forbidden.code(), Code::PermissionDenied);
    let forbidden = request_id(forbidden.metadata());

    let (public, secret) = acme.rsplit_once('_').unwrap();
    let wrong = format!("{public}_{}", secret.chars().rev().collect::<String>());
    let mut as_wrong = ResourceServiceClient::new(channel(&server, Some(&wrong)).await);
    let refused = apply_as(&mut as_wrong, &app("web", "hello:3", 1), "")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let refused = request_id(refused.metadata());

    let anonymous = reqwest::get(format!("{}/api/v1/apps", server.url()))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let anonymous = anonymous.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let mismatched = server
        .http()
        .put(format!("{}/api/v1/apps/web?tenant=acme", server.url()))
        .json(&app("other", "hello:1", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(mismatched.status(), 400);
    let mismatched = mismatched.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let canary = format!("canary-{}", uuid::Uuid::new_v4().simple());
    let secret_object = json!({"apiVersion": "minicloud/v1", "kind": "Secret",
        "metadata": {"name": "db"}, "data": {"password": canary}});
    apply_as(&mut as_acme, &secret_object, "").await.unwrap();
    let mut broken = secret_object.clone();
    broken["data"] = json!({"bad key!": canary});
    apply_as(&mut as_acme, &broken, "").await.unwrap_err();

    let all = records(&server).await;
    let record = the_record(&all, &applied);
    assert_eq!(
        (
            record.verb.as_str(),
            record.key.as_str(),
            record.tenant.as_str(),
            record.kind.as_str(),
            record.name.as_str(),
            record.result.as_str(),
            record.message.as_str(),
            record.dry_run,
        ),
        (
            "apply",
            prefix(&acme).as_str(),
            "acme",
            "App",
            "web",
            "OK",
            "created",
            false
        )
    );
    assert!(
        humantime::parse_rfc3339(&record.time).is_ok(),
        "{}",
        record.time
    );

    let record = the_record(&all, &denied);
    assert_eq!(
        (
            record.verb.as_str(),
            record.key.as_str(),
            record.tenant.as_str(),
            record.kind.as_str(),
            record.name.as_str(),
            record.result.as_str(),
        ),
        (
            "get",
            prefix(&acme).as_str(),
            "beta",
            "App",
            "db",
            "NotFound"
        )
    );
    assert!(record.message.starts_with("denied"), "{}", record.message);

    let record = the_record(&all, &forbidden);
    assert_eq!(
        (
            record.verb.as_str(),
            record.key.as_str(),
            record.tenant.as_str()
        ),
        ("apply", prefix(&acme_read).as_str(), "acme")
    );
    assert_eq!((record.kind.as_str(), record.name.as_str()), ("App", "web"));
    assert_eq!(record.result, "Forbidden");

    let record = the_record(&all, &refused);
    assert_eq!(
        (
            record.verb.as_str(),
            record.key.as_str(),
            record.result.as_str(),
            record.client.as_str()
        ),
        (
            "authenticate",
            prefix(&acme).as_str(),
            "Unauthenticated",
            "127.0.0.1"
        )
    );
    assert!(record.message.contains("not valid"), "{}", record.message);

    let record = the_record(&all, &anonymous);
    assert_eq!(
        (
            record.verb.as_str(),
            record.key.as_str(),
            record.result.as_str()
        ),
        ("authenticate", "", "Unauthenticated")
    );
    assert_eq!(record.message, "GET /api/v1/apps: no API key");

    let record = the_record(&all, &mismatched);
    assert_eq!(
        (record.verb.as_str(), record.result.as_str()),
        ("apply", "BadRequest"),
        "a mutation refused before it reaches the API is recorded too"
    );

    let text = format!("{all:?}");
    for secret in [canary.as_str(), secret, wrong.as_str()] {
        assert!(!text.contains(secret), "a secret reached the audit log");
    }
    let secrets: Vec<_> = all.iter().filter(|r| r.kind == "Secret").collect();
    assert_eq!(secrets.len(), 2, "{secrets:#?}");
}

pub async fn tenant_admins_read_only_their_own_tenants_records(server: TestServer) {
    let [acme, acme_read, beta] = tenants_and_keys(&server).await;
    let mut as_acme = ResourceServiceClient::new(channel(&server, Some(&acme)).await);
    let mut as_beta = ResourceServiceClient::new(channel(&server, Some(&beta)).await);
    apply_as(&mut as_acme, &app("web", "hello:1", 1), "")
        .await
        .unwrap();
    apply_as(&mut as_beta, &app("db", "hello:1", 1), "")
        .await
        .unwrap();

    let mut audit = AuditClient::new(channel(&server, Some(&acme)).await);
    let own = audit
        .list(pb::ListAuditRequest::default())
        .await
        .unwrap()
        .into_inner()
        .records;
    assert!(own.iter().any(|r| r.verb == "apply" && r.name == "web"));
    assert!(
        own.iter()
            .any(|r| r.verb == "apply" && r.kind == "Tenant" && r.name == "acme"),
        "the admin's creation of Tenant acme (its quota) concerns acme: {own:#?}"
    );
    for record in &own {
        let of_acme = record.tenant == "acme" || record.key.starts_with("mc_acme_");
        assert!(of_acme, "acme's admin reads {record:?}");
    }

    let other = pb::ListAuditRequest {
        tenant: "beta".into(),
        ..Default::default()
    };
    let refused = audit.list(other.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = request_id(refused.metadata());
    let mut reader = AuditClient::new(channel(&server, Some(&acme_read)).await);
    let read_only = reader.list(pb::ListAuditRequest::default()).await;
    assert_eq!(read_only.unwrap_err().code(), Code::PermissionDenied);

    let mut admin = AuditClient::new(channel(&server, Some(&server.admin_key)).await);
    let of_beta = admin.list(other).await.unwrap().into_inner().records;
    assert!(of_beta.iter().any(|r| r.verb == "apply" && r.name == "db"));
    assert!(
        of_beta
            .iter()
            .all(|r| r.tenant == "beta" || r.key.starts_with("mc_beta_"))
    );
    let future = humantime::format_rfc3339(SystemTime::now() + Duration::from_secs(3600));
    let later = pb::ListAuditRequest {
        since: future.to_string(),
        ..Default::default()
    };
    assert!(
        admin
            .list(later)
            .await
            .unwrap()
            .into_inner()
            .records
            .is_empty()
    );
    let newest = pb::ListAuditRequest {
        limit: 2,
        ..Default::default()
    };
    let newest = admin.list(newest).await.unwrap().into_inner().records;
    assert_eq!(newest.len(), 2);
    assert!(newest[0].time <= newest[1].time, "oldest first");

    let record = the_record(&records(&server).await, &refused);
    assert_eq!(
        (
            record.verb.as_str(),
            record.result.as_str(),
            record.tenant.as_str()
        ),
        ("list-audit", "Forbidden", "beta")
    );
}

/// A record made `ago` before now.
fn record_from(ago: Duration, name: &str) -> AuditRecord {
    let mut record = AuditRecord::new("apply", name, "OK");
    record.time = humantime::format_rfc3339_millis(SystemTime::now() - ago).to_string();
    record.name = Some(name.to_owned());
    record
}

pub async fn the_log_keeps_the_newest_records_within_its_limits(store: Arc<dyn Store>) {
    let options = AuditOptions {
        max_records: 5,
        max_age: Some(Duration::from_secs(3600)),
    };
    let log = AuditLog::start(store, options);
    for n in 0..3 {
        log.commit(record_from(
            Duration::from_secs(7200),
            &format!("expired-{n}"),
        ))
        .await;
    }
    for n in 0..12 {
        let ago = Duration::from_secs(60 - n);
        log.commit(record_from(ago, &format!("recent-{n:02}")))
            .await;
    }
    log.flush().await;
    let query = AuditQuery {
        limit: 100,
        ..Default::default()
    };
    let kept: Vec<String> = log
        .list(&query)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|record| record.name)
        .collect();
    assert_eq!(
        kept,
        [
            "recent-07",
            "recent-08",
            "recent-09",
            "recent-10",
            "recent-11"
        ]
    );
}

pub async fn records_survive_a_restart_of_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let server = TestServer::start_with(store, WatchCacheOptions::default(), None).await;
    let mut client = ResourceServiceClient::new(channel(&server, Some(&server.admin_key)).await);
    let applied = apply_as(&mut client, &app("web", "hello:1", 1), "")
        .await
        .unwrap();
    let applied = request_id(applied.metadata());
    let mut anonymous = ResourceServiceClient::new(channel(&server, None).await);
    let refused = apply_as(&mut anonymous, &app("web", "hello:1", 1), "")
        .await
        .unwrap_err();
    let refused = request_id(refused.metadata());
    drop((client, anonymous));
    server.stop().await;

    let reopened = reopen(dir.path()).await;
    let server = TestServer::start_with(reopened, WatchCacheOptions::default(), None).await;
    let all = records(&server).await;
    assert_eq!(the_record(&all, &applied).verb, "apply");
    assert_eq!(the_record(&all, &refused).verb, "authenticate");
}

async fn reopen(path: &std::path::Path) -> Arc<dyn Store> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match EmbeddedStore::open(path) {
            Ok(store) => return Arc::new(store),
            Err(error) if std::time::Instant::now() > deadline => {
                panic!("cannot reopen the store: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The revision at which the record of `request_id` was stored.
async fn record_revision(server: &TestServer, request_id: &str) -> i64 {
    let listing = server
        .store
        .list(minicloud_apiserver::audit::PREFIX)
        .await
        .unwrap();
    let found: Vec<_> = listing
        .items
        .iter()
        .filter(|kv| {
            serde_json::from_slice::<AuditRecord>(&kv.value)
                .unwrap()
                .request_id
                == request_id
        })
        .collect();
    assert_eq!(found.len(), 1, "one record of {request_id}");
    found[0].mod_revision
}

pub async fn a_change_and_its_record_are_stored_in_one_transaction(server: TestServer) {
    let mut admin = ResourceServiceClient::new(channel(&server, Some(&server.admin_key)).await);
    let mut with_finalizer = app("web", "hello:1", 1);
    with_finalizer["metadata"]["finalizers"] = json!(["example.dev/wait"]);
    let applied = apply_as(&mut admin, &with_finalizer, "acme").await.unwrap();
    let id = request_id(applied.metadata());
    let object: Value = serde_json::from_str(&applied.into_inner().object.unwrap().json).unwrap();
    let version: i64 = object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(record_revision(&server, &id).await, version, "apply");

    let target = || pb::ObjectRef {
        kind: "App".into(),
        tenant: "acme".into(),
        name: "web".into(),
    };
    let deleting = pb::DeleteRequest {
        r#ref: Some(target()),
        resource_version: String::new(),
    };
    let marked = admin.delete(deleting.clone()).await.unwrap();
    let id = request_id(marked.metadata());
    let object: Value = serde_json::from_str(&marked.into_inner().object.unwrap().json).unwrap();
    let version: i64 = object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        record_revision(&server, &id).await,
        version,
        "marked for deletion"
    );

    let mut released = object.clone();
    released["metadata"]["finalizers"] = json!([]);
    released["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let finished = apply_as(&mut admin, &released, "acme").await.unwrap();
    let id = request_id(finished.metadata());
    let gone = server.store.get("/minicloud/apps/acme/web").await.unwrap();
    assert_eq!(gone, None, "the last finalizer's removal deleted it");
    let recorded_at = record_revision(&server, &id).await;
    let mut history = server
        .store
        .watch("/minicloud/apps/acme/web", recorded_at)
        .await
        .unwrap();
    let removal = tokio::time::timeout(Duration::from_secs(10), history.next())
        .await
        .expect("the removal is at the record's revision or later")
        .unwrap()
        .unwrap();
    assert_eq!(
        (removal.kind, removal.revision()),
        (EventKind::Delete, recorded_at),
        "the removal and its record were stored together"
    );
}
