//! Volumes and Snapshots at admission: the snapshot a Volume is made or restored from and the
//! volume a Snapshot archives must exist in the tenant (another tenant's answers like a missing
//! one); a Volume never shrinks, and what is fixed at creation stays fixed. A refused write
//! leaves nothing behind.

use serde_json::{Value, json};
use tonic::Code;

use crate::fixture::{Client, TestServer, apply, field, get, reason};

fn volume(tenant: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "minicloud/v1", "kind": "Volume",
        "metadata": {"name": name, "tenant": tenant}, "spec": spec})
}

fn snapshot(tenant: &str, name: &str, volume: &str) -> Value {
    json!({"apiVersion": "minicloud/v1", "kind": "Snapshot",
        "metadata": {"name": name, "tenant": tenant}, "spec": {"volume": volume}})
}

fn restore(snapshot: &str, at: &str) -> Value {
    json!({"snapshot": snapshot, "requestedAt": at})
}

/// The message of an Invalid refusal, after checking it names `path`.
fn invalid(result: Result<impl std::fmt::Debug, tonic::Status>, path: &str) -> String {
    let status = result.expect_err("admission refuses it");
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::InvalidArgument, "Invalid"),
        "{status:?}"
    );
    assert!(status.message().contains(path), "{:?}", status.message());
    status.message().to_owned()
}

async fn get_in(client: &mut Client, tenant: &str, kind: &str, name: &str) -> Option<Value> {
    let reference = minicloud_proto::v1::ObjectRef {
        kind: kind.into(),
        tenant: tenant.into(),
        name: name.into(),
    };
    let request = minicloud_proto::v1::GetRequest {
        r#ref: Some(reference),
    };
    match client.get(request).await {
        Ok(response) => Some(crate::fixture::parse(response.into_inner())),
        Err(status) if status.code() == Code::NotFound => None,
        Err(status) => panic!("get {kind} {name}: {status:?}"),
    }
}

async fn delete_in(client: &mut Client, tenant: &str, kind: &str, name: &str) {
    let reference = minicloud_proto::v1::ObjectRef {
        kind: kind.into(),
        tenant: tenant.into(),
        name: name.into(),
    };
    let request = minicloud_proto::v1::DeleteRequest {
        r#ref: Some(reference),
        resource_version: String::new(),
    };
    client.delete(request).await.expect("delete");
}

pub async fn a_volume_is_made_only_from_a_live_snapshot_of_its_tenant(server: TestServer) {
    let mut client = server.client().await;
    let from = |snapshot: &str| {
        volume(
            "acme",
            "copy",
            json!({"size": "1Gi", "fromSnapshot": snapshot}),
        )
    };
    let missing = invalid(
        apply(&mut client, &from("nightly")).await,
        "spec.fromSnapshot",
    );
    assert!(
        missing.contains("Snapshot \"nightly\" in tenant \"acme\" does not exist; name an existing Snapshot of the tenant"),
        "{missing}"
    );
    assert_eq!(
        get_in(&mut client, "acme", "Volume", "copy").await,
        None,
        "nothing created"
    );

    apply(
        &mut client,
        &volume("other", "data", json!({"size": "1Gi"})),
    )
    .await
    .unwrap();
    apply(&mut client, &snapshot("other", "nightly", "data"))
        .await
        .unwrap();
    let elsewhere = invalid(
        apply(&mut client, &from("nightly")).await,
        "spec.fromSnapshot",
    );
    assert_eq!(
        elsewhere, missing,
        "another tenant's snapshot answers like a missing one"
    );

    apply(&mut client, &volume("acme", "data", json!({"size": "1Gi"})))
        .await
        .unwrap();
    let mut kept = snapshot("acme", "nightly", "data");
    kept["metadata"]["finalizers"] = json!(["minicloud.dev/archive"]);
    apply(&mut client, &kept).await.unwrap();
    apply(&mut client, &from("nightly"))
        .await
        .expect("a live snapshot of the tenant");

    delete_in(&mut client, "acme", "Snapshot", "nightly").await;
    let going = invalid(
        apply(
            &mut client,
            &volume(
                "acme",
                "copy-2",
                json!({"size": "1Gi", "fromSnapshot": "nightly"}),
            ),
        )
        .await,
        "spec.fromSnapshot",
    );
    assert!(
        going.contains("Snapshot \"nightly\" in tenant \"acme\" is being deleted"),
        "{going}"
    );
    assert_eq!(get_in(&mut client, "acme", "Volume", "copy-2").await, None);

    let mut grown = from("nightly");
    grown["spec"]["size"] = json!("2Gi");
    apply(&mut client, &grown)
        .await
        .expect("an existing volume's fromSnapshot is not looked up again");
}

pub async fn a_restore_names_a_live_snapshot_when_it_is_asked_for(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &volume("acme", "data", json!({"size": "1Gi"})))
        .await
        .unwrap();
    let restoring = |snapshot: &str, at: &str, size: &str| {
        volume(
            "acme",
            "data",
            json!({"size": size, "restore": restore(snapshot, at)}),
        )
    };
    let message = invalid(
        apply(
            &mut client,
            &restoring("nightly", "2026-12-03T12:00:00Z", "1Gi"),
        )
        .await,
        "spec.restore.snapshot",
    );
    assert!(
        message.contains("Snapshot \"nightly\" in tenant \"acme\" does not exist"),
        "{message}"
    );
    let stored = get_in(&mut client, "acme", "Volume", "data").await.unwrap();
    assert_eq!(
        field(&stored, "/spec/restore"),
        &Value::Null,
        "the refused request is not stored"
    );

    apply(&mut client, &snapshot("acme", "nightly", "data"))
        .await
        .unwrap();
    apply(
        &mut client,
        &restoring("nightly", "2026-12-03T12:00:00Z", "1Gi"),
    )
    .await
    .unwrap();
    delete_in(&mut client, "acme", "Snapshot", "nightly").await;
    apply(
        &mut client,
        &restoring("nightly", "2026-12-03T12:00:00Z", "2Gi"),
    )
    .await
    .expect("a restore request already admitted is not looked up again");
    invalid(
        apply(
            &mut client,
            &restoring("nightly", "2026-12-03T13:00:00Z", "2Gi"),
        )
        .await,
        "spec.restore.snapshot",
    );
}

pub async fn a_snapshot_archives_an_existing_volume_and_keeps_it(server: TestServer) {
    let mut client = server.client().await;
    let message = invalid(
        apply(&mut client, &snapshot("acme", "s1", "data")).await,
        "spec.volume",
    );
    assert!(
        message.contains("Volume \"data\" in tenant \"acme\" does not exist"),
        "{message}"
    );
    assert_eq!(get_in(&mut client, "acme", "Snapshot", "s1").await, None);

    apply(
        &mut client,
        &volume("other", "data", json!({"size": "1Gi"})),
    )
    .await
    .unwrap();
    let elsewhere = invalid(
        apply(&mut client, &snapshot("acme", "s1", "data")).await,
        "spec.volume",
    );
    assert_eq!(
        elsewhere, message,
        "another tenant's volume answers like a missing one"
    );

    let mut releasing = volume(
        "acme",
        "data",
        json!({"size": "1Gi", "reclaimPolicy": "Snapshot"}),
    );
    releasing["metadata"]["finalizers"] = json!(["minicloud.dev/reclaim"]);
    apply(&mut client, &releasing).await.unwrap();
    apply(&mut client, &volume("acme", "logs", json!({"size": "1Gi"})))
        .await
        .unwrap();
    apply(&mut client, &snapshot("acme", "s1", "data"))
        .await
        .unwrap();
    let moved = invalid(
        apply(&mut client, &snapshot("acme", "s1", "logs")).await,
        "spec.volume",
    );
    assert!(
        moved.contains("a Snapshot's volume cannot change: it archives volume \"data\""),
        "{moved}"
    );

    delete_in(&mut client, "acme", "Volume", "data").await;
    let mut last = snapshot("acme", "data-final", "data");
    last["spec"]["origin"] = json!("Final");
    apply(&mut client, &last)
        .await
        .expect("the final snapshot of a volume being deleted is admitted");
}

pub async fn a_volume_never_shrinks_and_keeps_its_source(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &volume("acme", "data", json!({"size": "1Gi"})))
        .await
        .unwrap();
    apply(&mut client, &snapshot("acme", "nightly", "data"))
        .await
        .unwrap();
    apply(
        &mut client,
        &volume(
            "acme",
            "copy",
            json!({"size": "2Gi", "fromSnapshot": "nightly"}),
        ),
    )
    .await
    .unwrap();
    let message = invalid(
        apply(
            &mut client,
            &volume(
                "acme",
                "copy",
                json!({"size": "1Gi", "fromSnapshot": "nightly"}),
            ),
        )
        .await,
        "spec.size",
    );
    assert!(
        message.contains(
            "a volume cannot shrink: it is 2Gi, the manifest asks for 1Gi; create a new volume \
             and copy the data, or restore a snapshot into a new volume"
        ),
        "{message}"
    );
    let message = invalid(
        apply(&mut client, &volume("acme", "copy", json!({"size": "2Gi"}))).await,
        "spec.fromSnapshot",
    );
    assert!(
        message.contains("fromSnapshot cannot change after the volume is created"),
        "{message}"
    );
    let stored = get(&mut client, "Volume", "copy").await.err();
    assert!(stored.is_some(), "the default tenant has no such volume");
    let stored = get_in(&mut client, "acme", "Volume", "copy").await.unwrap();
    assert_eq!(field(&stored, "/spec/size"), "2Gi");
    assert_eq!(
        field(&stored, "/metadata/generation"),
        1,
        "refused updates write nothing"
    );
}
