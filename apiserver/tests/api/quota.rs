//! Quotas: admission refuses what would take a tenant past its quota, saying used / requested /
//! limit; concurrent creates and resizes never overshoot; an App counts its replicas, not its
//! rolling update's surge; and the usage record, mirrored in the Tenant's `status.usage`, stays
//! exact through scale-ups, scale-downs, resizes, refusals, finalizers and deletes.

use std::sync::Arc;

use minicloud_apiserver::api::ResourceApi;
use minicloud_apiserver::secrets::{Keyring, SecretKeys};
use minicloud_apiserver::store::keys;
use minicloud_proto::v1::{self as pb};
use serde_json::{Value, json};
use tonic::Code;

use crate::fixture::{Client, TestServer, apply, apply_with, delete, field, get, parse, reason};

/// How many times the concurrent-create race is run.
const ROUNDS: usize = 5;
/// Concurrent creates per round.
const CONTENDERS: usize = 20;

fn tenant(quota: Value) -> Value {
    json!({"apiVersion": "minicloud/v1", "kind": "Tenant",
        "metadata": {"name": "acme"}, "spec": {"quota": quota}})
}

fn app(name: &str, replicas: u32) -> Value {
    json!({"apiVersion": "minicloud/v1", "kind": "App",
        "metadata": {"name": name, "tenant": "acme"},
        "spec": {"image": "hello:1", "replicas": replicas,
            "resources": {"cpu": "250m", "memory": "128Mi"},
            "update": {"maxSurge": 0, "maxUnavailable": 1}}})
}

fn volume(name: &str, size: &str) -> Value {
    json!({"apiVersion": "minicloud/v1", "kind": "Volume",
        "metadata": {"name": name, "tenant": "acme"}, "spec": {"size": size}})
}

async fn delete_in_acme(client: &mut Client, kind: &str, name: &str) {
    let reference = pb::ObjectRef {
        kind: kind.into(),
        tenant: "acme".into(),
        name: name.into(),
    };
    let request = pb::DeleteRequest {
        r#ref: Some(reference),
        resource_version: String::new(),
    };
    client.delete(request).await.expect("delete");
}

async fn get_in_acme(client: &mut Client, kind: &str, name: &str) -> Result<Value, tonic::Status> {
    let reference = pb::ObjectRef {
        kind: kind.into(),
        tenant: "acme".into(),
        name: name.into(),
    };
    let request = pb::GetRequest {
        r#ref: Some(reference),
    };
    Ok(parse(client.get(request).await?.into_inner()))
}

/// The Tenant's `status.usage`, after checking it equals the raw usage record.
async fn usage(server: &TestServer, client: &mut Client) -> Value {
    let tenant = get(client, "Tenant", "acme").await.expect("the tenant");
    let usage = field(&tenant, "/status/usage").clone();
    let record = server
        .store
        .get(&keys::usage_key("acme"))
        .await
        .expect("read the usage record");
    let recorded = match record {
        Some(kv) => serde_json::from_slice(&kv.value).expect("the record is JSON"),
        None => json!({"containers": 0, "cpu": "0", "memory": "0", "storage": "0"}),
    };
    assert_eq!(
        usage, recorded,
        "Tenant.status.usage mirrors the usage record"
    );
    usage
}

fn expect_refused(result: Result<impl std::fmt::Debug, tonic::Status>, needle: &str) {
    let status = result.expect_err("the quota refuses it");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(&status), "QuotaExceeded");
    assert!(
        status.message().contains(needle),
        "{:?} should contain {needle:?}",
        status.message()
    );
}

pub async fn concurrent_creates_never_overshoot_the_quota(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &tenant(json!({"containers": 7})))
        .await
        .unwrap();
    apply(&mut client, &app("base", 2)).await.unwrap();
    for round in 0..ROUNDS {
        let contender = |index: usize| {
            let name = format!("race-{round}-{index}");
            let manifest = app(&name, 1);
            (name, manifest)
        };
        let refusal = "containers: used 7, requested 1, limit 7";
        let created = race(&client, CONTENDERS, contender, refusal).await;
        assert_eq!(
            created.len(),
            5,
            "round {round}: exactly the 5 that fit were created"
        );
        assert_eq!(usage(&server, &mut client).await["containers"], 7);
        for name in created {
            delete_in_acme(&mut client, "App", &name).await;
        }
        assert_eq!(usage(&server, &mut client).await["containers"], 2);
    }
}

pub async fn usage_stays_exact_through_scaling_resizing_refusals_and_deletes(server: TestServer) {
    let mut client = server.client().await;
    let quota = json!({"containers": 10, "cpu": "2", "memory": "1Gi", "storage": "5Gi"});
    apply(&mut client, &tenant(quota)).await.unwrap();
    let zero = json!({"containers": 0, "cpu": "0", "memory": "0", "storage": "0"});
    assert_eq!(usage(&server, &mut client).await, zero);

    apply(&mut client, &app("web", 2)).await.unwrap();
    assert_eq!(
        usage(&server, &mut client).await,
        json!({"containers": 2, "cpu": "500m", "memory": "256Mi", "storage": "0"})
    );
    apply(&mut client, &app("web", 4)).await.unwrap();
    assert_eq!(
        usage(&server, &mut client).await,
        json!({"containers": 4, "cpu": "1", "memory": "512Mi", "storage": "0"})
    );

    expect_refused(
        apply(&mut client, &app("web", 9)).await,
        "cpu: used 1, requested 1250m, limit 2",
    );
    expect_refused(
        apply_with(&mut client, &app("web", 9), true).await,
        "memory: used 512Mi, requested 640Mi, limit 1Gi",
    );
    expect_refused(
        apply(&mut client, &app("api", 5)).await,
        "App \"api\" in tenant \"acme\" would exceed the quota",
    );
    let mut invalid = app("api", 1);
    invalid["spec"]["replicas"] = json!(-1);
    apply(&mut client, &invalid)
        .await
        .expect_err("invalid specs are refused");
    assert_eq!(
        usage(&server, &mut client).await["containers"],
        4,
        "refused and invalid writes take nothing"
    );

    apply(&mut client, &volume("data", "2Gi")).await.unwrap();
    expect_refused(
        apply(&mut client, &volume("more", "4Gi")).await,
        "storage: used 2Gi, requested 4Gi, limit 5Gi",
    );
    apply(&mut client, &volume("data", "3Gi")).await.unwrap();
    assert_eq!(usage(&server, &mut client).await["storage"], "3Gi");

    let tenant_object = get(&mut client, "Tenant", "acme").await.unwrap();
    let mut overwritten = tenant_object.clone();
    overwritten["status"] = json!({"usage": zero});
    let request = pb::UpdateStatusRequest {
        json: overwritten.to_string(),
    };
    let updated = parse(client.update_status(request).await.unwrap().into_inner());
    assert_eq!(
        field(&updated, "/status/usage/containers"),
        4,
        "a status write cannot change usage"
    );

    apply(
        &mut client,
        &tenant(json!({"containers": 2, "cpu": "2", "memory": "1Gi", "storage": "5Gi"})),
    )
    .await
    .unwrap();
    assert_eq!(
        usage(&server, &mut client).await["containers"],
        4,
        "changing the quota keeps the usage"
    );
    apply(&mut client, &app("web", 3))
        .await
        .expect("scaling down is allowed over a lowered quota");
    expect_refused(
        apply(&mut client, &app("web", 4)).await,
        "containers: used 3, requested 1, limit 2",
    );

    delete_in_acme(&mut client, "App", "web").await;
    assert_eq!(
        usage(&server, &mut client).await,
        json!({"containers": 0, "cpu": "0", "memory": "0", "storage": "3Gi"})
    );
    delete_in_acme(&mut client, "Volume", "data").await;
    assert_eq!(usage(&server, &mut client).await, zero);
    assert_eq!(
        server.store.get(&keys::usage_key("acme")).await.unwrap(),
        None,
        "a tenant using nothing has no usage record"
    );

    apply(&mut client, &app("web", 1)).await.unwrap();
    delete(&mut client, "Tenant", "acme").await.unwrap();
    assert_eq!(
        server.store.get(&keys::usage_key("acme")).await.unwrap(),
        None,
        "deleting the tenant gives back everything it used"
    );
}

pub async fn a_tenant_created_after_its_objects_shows_their_usage(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &app("web", 3)).await.unwrap();
    apply(&mut client, &tenant(json!({"containers": 3})))
        .await
        .unwrap();
    assert_eq!(
        usage(&server, &mut client).await,
        json!({"containers": 3, "cpu": "750m", "memory": "384Mi", "storage": "0"})
    );
    expect_refused(
        apply(&mut client, &app("api", 1)).await,
        "containers: used 3, requested 1, limit 3",
    );
}

/// Applies the manifests `make` gives for indices `0..contenders` all at once, and returns the
/// names of those admitted; each refusal must be the quota's and contain `refusal`.
async fn race(
    client: &Client,
    contenders: usize,
    make: impl Fn(usize) -> (String, Value),
    refusal: &str,
) -> Vec<String> {
    let tasks = (0..contenders).map(|index| {
        let mut client = client.clone();
        let (name, manifest) = make(index);
        tokio::spawn(async move { (name, apply(&mut client, &manifest).await) })
    });
    let mut admitted = Vec::new();
    for result in futures::future::join_all(tasks).await {
        match result.expect("the task ran") {
            (name, Ok(_)) => admitted.push(name),
            (_, Err(status)) => expect_refused(Err::<(), _>(status), refusal),
        }
    }
    admitted
}

pub async fn an_app_counts_its_replicas_not_its_rolling_update_surge(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &tenant(json!({"containers": 5})))
        .await
        .unwrap();
    let surging = |index: usize| {
        let name = format!("app-{index}");
        let mut manifest = app(&name, 1);
        manifest["spec"]["update"] = json!({});
        (name, manifest)
    };
    for round in 0..ROUNDS {
        let created = race(
            &client,
            CONTENDERS,
            surging,
            "containers: used 5, requested 1, limit 5) (an App counts its replicas, each with \
             its limits)",
        )
        .await;
        assert_eq!(
            created.len(),
            5,
            "round {round}: five 1-replica Apps with the default surge fit in 5 containers"
        );
        assert_eq!(
            usage(&server, &mut client).await,
            json!({"containers": 5, "cpu": "1250m", "memory": "640Mi", "storage": "0"})
        );
        for name in created {
            delete_in_acme(&mut client, "App", &name).await;
        }
        assert_eq!(usage(&server, &mut client).await["containers"], 0);
    }
}

pub async fn concurrent_volumes_and_growth_fill_the_storage_quota_exactly(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &tenant(json!({"storage": "3Gi"})))
        .await
        .unwrap();
    let one_gibibyte = |index: usize| {
        let name = format!("vol-{index}");
        let manifest = volume(&name, "1Gi");
        (name, manifest)
    };
    let refusal = "storage: used 3Gi, requested 1Gi, limit 3Gi) (a Volume counts its size)";
    let mut created = race(&client, 10, one_gibibyte, refusal).await;
    assert_eq!(created.len(), 3, "exactly the three 1Gi volumes that fit");
    assert_eq!(usage(&server, &mut client).await["storage"], "3Gi");

    created.sort();
    expect_refused(
        apply(&mut client, &volume(&created[0], "2Gi")).await,
        refusal,
    );
    delete_in_acme(&mut client, "Volume", &created[2]).await;
    assert_eq!(usage(&server, &mut client).await["storage"], "2Gi");
    let growers = created[..2].to_vec();
    let grown = race(
        &client,
        2,
        |index| (growers[index].clone(), volume(&growers[index], "2Gi")),
        refusal,
    )
    .await;
    assert_eq!(grown.len(), 1, "only one of two growths fits: {grown:?}");
    assert_eq!(usage(&server, &mut client).await["storage"], "3Gi");
    let mut sizes = Vec::new();
    for name in &growers {
        let object = get_in_acme(&mut client, "Volume", name)
            .await
            .expect("the volume");
        sizes.push(field(&object, "/spec/size").clone());
    }
    sizes.sort_by_key(Value::to_string);
    assert_eq!(
        sizes,
        [json!("1Gi"), json!("2Gi")],
        "the refused growth kept its size"
    );
}

pub async fn a_volume_keeps_its_storage_until_its_finalizers_let_it_go(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &tenant(json!({"storage": "2Gi"})))
        .await
        .unwrap();
    let mut guarded = volume("data", "2Gi");
    guarded["metadata"]["finalizers"] = json!(["minicloud.dev/reclaim"]);
    apply(&mut client, &guarded).await.unwrap();
    delete_in_acme(&mut client, "Volume", "data").await;
    assert_eq!(
        usage(&server, &mut client).await["storage"],
        "2Gi",
        "its data still exists while the finalizer runs"
    );
    expect_refused(
        apply(&mut client, &volume("more", "1Gi")).await,
        "storage: used 2Gi, requested 1Gi, limit 2Gi",
    );
    guarded["metadata"]["finalizers"] = json!([]);
    apply(&mut client, &guarded).await.unwrap();
    assert!(
        get_in_acme(&mut client, "Volume", "data").await.is_err(),
        "removed"
    );
    assert_eq!(usage(&server, &mut client).await["storage"], "0");
    apply(&mut client, &volume("more", "2Gi"))
        .await
        .expect("the freed storage is usable again");
}

pub async fn usage_is_recounted_for_objects_stored_before_quotas(server: TestServer) {
    let mut client = server.client().await;
    let mut old = app("old", 2);
    old["metadata"]["uid"] = json!("uid-old");
    let stored = serde_json::to_vec(&old).unwrap();
    server
        .store
        .create(&keys::object_key("apps", Some("acme"), "old"), stored)
        .await
        .unwrap();
    let ghost =
        serde_json::to_vec(&json!({"containers": 5, "cpu": "0", "memory": "0", "storage": "0"}));
    server
        .store
        .create(&keys::usage_key("ghost"), ghost.unwrap())
        .await
        .unwrap();
    apply(&mut client, &tenant(json!({"containers": 3})))
        .await
        .unwrap();
    assert_eq!(usage(&server, &mut client).await["containers"], 0);

    let secrets = Arc::new(SecretKeys::in_memory(Keyring::generate()));
    let api = ResourceApi::new(server.store.clone(), Default::default(), secrets);
    let corrected = api.recount_usage().await.unwrap();
    assert_eq!(corrected, ["acme", "ghost"]);
    assert_eq!(
        usage(&server, &mut client).await,
        json!({"containers": 2, "cpu": "500m", "memory": "256Mi", "storage": "0"})
    );
    assert_eq!(
        server.store.get(&keys::usage_key("ghost")).await.unwrap(),
        None
    );
    assert!(
        api.recount_usage().await.unwrap().is_empty(),
        "a recount of right records changes nothing"
    );
    let tenant_key = keys::object_key("tenants", None, "acme");
    let stored = server.store.get(&tenant_key).await.unwrap().unwrap();
    let mut tampered: serde_json::Value = serde_json::from_slice(&stored.value).unwrap();
    tampered["status"]["usage"]["containers"] = json!(9);
    let bytes = serde_json::to_vec(&tampered).unwrap();
    server
        .store
        .update(&tenant_key, bytes, stored.mod_revision)
        .await
        .unwrap();
    assert_eq!(api.recount_usage().await.unwrap(), ["acme"]);
    assert_eq!(
        usage(&server, &mut client).await["containers"],
        2,
        "the Tenant's status.usage is corrected too"
    );
    expect_refused(
        apply(&mut client, &app("new", 2)).await,
        "containers: used 2, requested 2, limit 3",
    );
}
