//! Apply / Get / List / Delete / UpdateStatus semantics over gRPC, as Kubernetes users expect.

use minicloud_proto::v1::{self as pb, ApplyOutcome};
use serde_json::{Value, json};

use crate::fixture::*;

/// The newest write of an object under this test's keys (the global revision of a shared etcd
/// also moves with other tests' writes, and every request may add an audit record, which lives
/// outside the objects' keys).
async fn newest_write(server: &TestServer) -> i64 {
    let listing = server
        .store
        .list(minicloud_apiserver::store::keys::ROOT)
        .await
        .unwrap();
    listing
        .items
        .iter()
        .map(|kv| kv.mod_revision)
        .max()
        .unwrap_or_default()
}

pub async fn apply_creates_with_server_owned_fields(server: TestServer) {
    let mut client = server.client().await;
    let (outcome, object) = apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    assert_eq!(outcome, ApplyOutcome::Created);
    assert!(
        field(&object, "/metadata/uid")
            .as_str()
            .is_some_and(|uid| uid.len() == 36)
    );
    assert!(
        field(&object, "/metadata/creationTimestamp")
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(field(&object, "/metadata/generation"), 1);
    assert_eq!(field(&object, "/metadata/tenant"), "default");
    let stored = get(&mut client, "apps", "web").await.unwrap();
    assert_eq!(stored, object, "get returns exactly what apply reported");
}

pub async fn reapplying_the_same_manifest_writes_nothing(server: TestServer) {
    let mut client = server.client().await;
    let (_, created) = apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    let before = newest_write(&server).await;
    let (outcome, again) = apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    assert_eq!(outcome, ApplyOutcome::Unchanged);
    assert_eq!(again, created);
    assert_eq!(
        newest_write(&server).await,
        before,
        "an unchanged apply must not write"
    );
}

pub async fn generation_moves_only_when_the_spec_changes(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    let (outcome, scaled) = apply(&mut client, &app("web", "hello:1", 3)).await.unwrap();
    assert_eq!(
        (outcome, field(&scaled, "/metadata/generation")),
        (ApplyOutcome::Configured, &json!(2))
    );
    let mut relabelled = app("web", "hello:1", 3);
    relabelled["metadata"]["labels"]["team"] = json!("green");
    let (outcome, object) = apply(&mut client, &relabelled).await.unwrap();
    assert_eq!(
        (outcome, field(&object, "/metadata/generation")),
        (ApplyOutcome::Configured, &json!(2))
    );
    assert_ne!(
        field(&object, "/metadata/resourceVersion"),
        field(&scaled, "/metadata/resourceVersion")
    );
}

pub async fn status_has_its_own_path_and_never_bumps_generation(server: TestServer) {
    let mut client = server.client().await;
    let (_, object) = apply(&mut client, &app("web", "hello:1", 2)).await.unwrap();
    let mut with_status = object.clone();
    with_status["status"] = json!({"replicas": 2, "readyReplicas": 1, "observedGeneration": 1});
    let request = pb::UpdateStatusRequest {
        json: with_status.to_string(),
    };
    let updated = parse(client.update_status(request).await.unwrap().into_inner());
    assert_eq!(field(&updated, "/status/readyReplicas"), 1);
    assert_eq!(field(&updated, "/metadata/generation"), 1);
    assert_ne!(
        field(&updated, "/metadata/resourceVersion"),
        field(&object, "/metadata/resourceVersion")
    );
    let mut manifest = app("web", "hello:1", 2);
    manifest["status"] = json!({"readyReplicas": 99});
    let (outcome, reapplied) = apply(&mut client, &manifest).await.unwrap();
    assert_eq!(outcome, ApplyOutcome::Unchanged, "apply ignores status");
    assert_eq!(field(&reapplied, "/status/readyReplicas"), 1);
}

pub async fn dry_run_reports_the_diff_and_writes_nothing(server: TestServer) {
    let mut client = server.client().await;
    let (outcome, _, diff) = apply_with(&mut client, &app("web", "hello:1", 1), true)
        .await
        .unwrap();
    assert_eq!(outcome, ApplyOutcome::Created);
    assert!(diff.contains("+  image: hello:1"), "{diff}");
    assert_eq!(
        get(&mut client, "apps", "web").await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    let before = newest_write(&server).await;
    let (outcome, _, diff) = apply_with(&mut client, &app("web", "hello:2", 1), true)
        .await
        .unwrap();
    assert_eq!(outcome, ApplyOutcome::Configured);
    assert!(
        diff.contains("-  image: hello:1") && diff.contains("+  image: hello:2"),
        "{diff}"
    );
    assert_eq!(newest_write(&server).await, before);
}

pub async fn a_stale_resource_version_is_a_conflict(server: TestServer) {
    let mut client = server.client().await;
    let (_, first) = apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    apply(&mut client, &app("web", "hello:2", 1)).await.unwrap();
    let mut stale = app("web", "hello:3", 1);
    stale["metadata"]["resourceVersion"] = first["metadata"]["resourceVersion"].clone();
    let error = apply(&mut client, &stale).await.unwrap_err();
    assert_eq!(
        (error.code(), reason(&error)),
        (tonic::Code::Aborted, "Conflict")
    );
    assert_eq!(
        field(
            &get(&mut client, "apps", "web").await.unwrap(),
            "/spec/image"
        ),
        "hello:2"
    );
}

pub async fn invalid_and_malformed_requests_say_what_and_where(server: TestServer) {
    let mut client = server.client().await;
    let mut bad = app("web", "hello:1", 1);
    bad["spec"]["replicaz"] = json!(1);
    let error = apply(&mut client, &bad).await.unwrap_err();
    assert_eq!(
        (error.code(), reason(&error)),
        (tonic::Code::InvalidArgument, "BadRequest")
    );
    assert!(error.message().contains("replicaz"), "{}", error.message());
    let error = apply(&mut client, &app("Bad_Name", "hello:1", 1))
        .await
        .unwrap_err();
    assert_eq!(reason(&error), "Invalid");
    assert!(
        error.message().contains("metadata.name"),
        "{}",
        error.message()
    );
    let error = get(&mut client, "gizmos", "x").await.unwrap_err();
    assert!(
        error.message().contains("App"),
        "the error lists the valid kinds: {}",
        error.message()
    );
}

pub async fn list_filters_by_label_selector_and_tenant(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    let mut other = app("db", "db:1", 1);
    other["metadata"]["labels"] = json!({"team": "green"});
    apply(&mut client, &other).await.unwrap();
    let mut elsewhere = app("web", "hello:1", 1);
    elsewhere["metadata"]["tenant"] = json!("acme");
    apply(&mut client, &elsewhere).await.unwrap();
    let names = |list: pb::ObjectList| -> Vec<String> {
        list.items
            .into_iter()
            .map(|o| parse(o)["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let request = |tenant: &str, selector: &str| pb::ListRequest {
        kind: "app".into(),
        tenant: tenant.into(),
        label_selector: selector.into(),
    };
    assert_eq!(
        names(client.list(request("", "")).await.unwrap().into_inner()),
        ["db", "web"]
    );
    assert_eq!(
        names(
            client
                .list(request("", "team=blue"))
                .await
                .unwrap()
                .into_inner()
        ),
        ["web"]
    );
    assert_eq!(
        names(client.list(request("acme", "")).await.unwrap().into_inner()),
        ["web"]
    );
    assert_eq!(
        client
            .list(request("*", "team!=green"))
            .await
            .unwrap()
            .into_inner()
            .items
            .len(),
        2
    );
}

pub async fn delete_waits_for_finalizers(server: TestServer) {
    let mut client = server.client().await;
    let mut manifest = app("web", "hello:1", 1);
    manifest["metadata"]["finalizers"] = json!(["minicloud.dev/containers"]);
    apply(&mut client, &manifest).await.unwrap();
    let response = delete(&mut client, "app", "web").await.unwrap();
    assert!(response.finalizing);
    let deleting = get(&mut client, "apps", "web").await.unwrap();
    assert!(field(&deleting, "/metadata/deletionTimestamp").is_string());
    manifest["metadata"]["finalizers"] = json!([]);
    apply(&mut client, &manifest).await.unwrap();
    let error = get(&mut client, "apps", "web").await.unwrap_err();
    assert_eq!(
        error.code(),
        tonic::Code::NotFound,
        "the object goes with its last finalizer"
    );
}

pub async fn delete_cascades_to_owned_objects(server: TestServer) {
    let mut client = server.client().await;
    let (_, owner) = apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    let owner_ref = json!([{"kind": "App", "name": "web", "uid": owner["metadata"]["uid"], "controller": true}]);
    let release = |name: &str, finalizers: Value| {
        json!({
            "apiVersion": "minicloud/v1", "kind": "Release",
            "metadata": {"name": name, "ownerReferences": owner_ref, "finalizers": finalizers},
            "spec": {"app": "web", "revision": 1, "specHash": "abc", "appSpec": {"image": "hello:1"}},
        })
    };
    apply(&mut client, &release("web-1", json!([])))
        .await
        .unwrap();
    apply(
        &mut client,
        &release("web-2", json!(["minicloud.dev/hold"])),
    )
    .await
    .unwrap();
    apply(&mut client, &app("other", "hello:1", 1))
        .await
        .unwrap();
    assert!(!delete(&mut client, "app", "web").await.unwrap().finalizing);
    assert_eq!(
        get(&mut client, "release", "web-1")
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );
    let held = get(&mut client, "release", "web-2").await.unwrap();
    assert!(
        field(&held, "/metadata/deletionTimestamp").is_string(),
        "a dependent with finalizers is marked"
    );
    assert!(
        get(&mut client, "app", "other").await.is_ok(),
        "unrelated objects stay"
    );
}

pub async fn a_dependent_of_a_gone_owner_is_never_created(server: TestServer) {
    let mut client = server.client().await;
    let (_, first) = apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    let release = |owner: &Value| {
        json!({
            "apiVersion": "minicloud/v1", "kind": "Release",
            "metadata": {"name": "web-1", "ownerReferences": [{"kind": "App", "name": "web",
                "uid": owner["metadata"]["uid"], "controller": true}]},
            "spec": {"app": "web", "revision": 1, "specHash": "abc", "appSpec": {"image": "hello:1"}},
        })
    };
    delete(&mut client, "app", "web").await.unwrap();
    let error = apply(&mut client, &release(&first)).await.unwrap_err();
    assert_eq!(
        (error.code(), reason(&error)),
        (tonic::Code::FailedPrecondition, "OwnerGone"),
        "{}",
        error.message()
    );
    assert!(
        error.message().contains("App \"web\""),
        "{}",
        error.message()
    );
    let (_, second) = apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    let error = apply(&mut client, &release(&first)).await.unwrap_err();
    assert_eq!(
        reason(&error),
        "OwnerGone",
        "a namesake with another uid is not the owner"
    );
    apply(&mut client, &release(&second)).await.unwrap();
    assert!(get(&mut client, "release", "web-1").await.is_ok());
}

pub async fn deleting_a_tenant_removes_every_object_of_it(server: TestServer) {
    let mut client = server.client().await;
    let tenant = json!({"apiVersion": "minicloud/v1", "kind": "Tenant",
        "metadata": {"name": "default"}, "spec": {}});
    apply(&mut client, &tenant).await.unwrap();
    apply(&mut client, &app("web", "hello:1", 1)).await.unwrap();
    let mut held = app("held", "hello:1", 1);
    held["metadata"]["finalizers"] = json!(["minicloud.dev/hold"]);
    apply(&mut client, &held).await.unwrap();
    let mut elsewhere = app("web", "hello:1", 1);
    elsewhere["metadata"]["tenant"] = json!("other");
    apply(&mut client, &elsewhere).await.unwrap();

    delete(&mut client, "tenant", "default").await.unwrap();
    assert_eq!(
        get(&mut client, "app", "web").await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    let held = get(&mut client, "app", "held").await.unwrap();
    assert!(
        field(&held, "/metadata/deletionTimestamp").is_string(),
        "an object with finalizers is marked deleting"
    );
    let other = client
        .get(pb::GetRequest {
            r#ref: Some(pb::ObjectRef {
                kind: "app".into(),
                tenant: "other".into(),
                name: "web".into(),
            }),
        })
        .await;
    assert!(other.is_ok(), "another tenant's objects stay");
}

pub async fn deleting_a_missing_object_is_not_found(server: TestServer) {
    let mut client = server.client().await;
    let error = delete(&mut client, "app", "ghost").await.unwrap_err();
    assert_eq!(
        (error.code(), reason(&error)),
        (tonic::Code::NotFound, "NotFound")
    );
    assert!(
        error
            .message()
            .contains("App \"ghost\" in tenant \"default\""),
        "{}",
        error.message()
    );
}

pub async fn root_runs_only_in_tenants_that_allow_it(server: TestServer) {
    let mut client = server.client().await;
    let app_as = |user: u32| {
        let mut app = app("web", "hello:1", 1);
        app["metadata"]["tenant"] = json!("acme");
        app["spec"]["user"] = json!(user);
        app
    };
    let tenant = |allow_root: bool| {
        json!({"apiVersion": "minicloud/v1", "kind": "Tenant", "metadata": {"name": "acme"},
               "spec": {"allowRoot": allow_root}})
    };
    let refused = apply(&mut client, &app_as(0)).await.unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused)),
        (tonic::Code::InvalidArgument, "Invalid")
    );
    let message = refused.message();
    assert!(
        message.contains("spec.user") && message.contains("allowRoot: true on tenant acme"),
        "{message}"
    );
    apply(&mut client, &tenant(false)).await.unwrap();
    let refused = apply(&mut client, &app_as(0)).await.unwrap_err();
    assert_eq!(reason(&refused), "Invalid");
    let (outcome, _) = apply(&mut client, &app_as(1000)).await.unwrap();
    assert_eq!(outcome, ApplyOutcome::Created);
    apply(&mut client, &tenant(true)).await.unwrap();
    let (outcome, _) = apply(&mut client, &app_as(0)).await.unwrap();
    assert_eq!(outcome, ApplyOutcome::Configured);
}
