//! Secrets through the API: values sealed before they are stored, masked in every answer (gRPC
//! and REST, get, list, watch, apply and its dry-run diff), unchanged re-applies recognised,
//! plaintext only from the admin-only resolve call, and a key rotation that re-seals every
//! stored value while keeping it readable.

use std::collections::HashMap;

use futures::StreamExt as _;
use minicloud_proto::bearer::{Bearer, authorized};
use minicloud_proto::v1::keys_client::KeysClient;
use minicloud_proto::v1::secrets_client::SecretsClient;
use minicloud_proto::v1::{self as pb};
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

use crate::fixture::{TestServer, apply, apply_with, field, get, next_event, watch};

/// What the API shows for every value.
const MASK: &str = "********";

/// A Secret manifest in the default tenant.
pub fn secret(name: &str, data: Value) -> Value {
    json!({"apiVersion": "minicloud/v1", "kind": "Secret", "metadata": {"name": name}, "data": data})
}

/// A client of the Secrets service presenting `key`.
pub async fn secrets_client(
    server: &TestServer,
    key: &str,
) -> SecretsClient<minicloud_proto::bearer::Authorized> {
    let channel = Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    SecretsClient::new(authorized(channel, Bearer::new(Some(key)).unwrap()))
}

/// The values of Secret `name` in `tenant`, as the controllers resolve them.
pub async fn resolve(
    server: &TestServer,
    key: &str,
    tenant: &str,
    name: &str,
) -> Result<HashMap<String, String>, tonic::Status> {
    let request = pb::ResolveSecretRequest {
        tenant: tenant.into(),
        name: name.into(),
    };
    let mut client = secrets_client(server, key).await;
    Ok(client.resolve(request).await?.into_inner().data)
}

fn assert_masked(object: &Value, keys: &[&str]) {
    let data = object["data"].as_object().expect("a Secret keeps its keys");
    let found: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(found, keys, "{object}");
    assert!(data.values().all(|v| v == MASK), "{object}");
}

pub async fn secret_values_are_masked_in_every_answer(server: TestServer) {
    let mut client = server.client().await;
    let mut events = watch(&mut client, "Secret", "").await.unwrap();
    assert_eq!(
        next_event(&mut events).await.unwrap().0,
        pb::EventType::Bookmark
    );
    let manifest = secret("db", json!({"password": "hunter2-canary", "user": "admin"}));
    let (outcome, applied) = apply(&mut client, &manifest).await.unwrap();
    assert_eq!(outcome, pb::ApplyOutcome::Created);
    assert_masked(&applied, &["password", "user"]);
    assert_masked(
        &get(&mut client, "Secret", "db").await.unwrap(),
        &["password", "user"],
    );
    let (kind, watched, _) = next_event(&mut events).await.unwrap();
    assert_eq!(kind, pb::EventType::Added);
    assert_masked(&watched, &["password", "user"]);
    let (_, listed) = crate::fixture::list(&mut client, "Secret").await.unwrap();
    assert_masked(&listed[0], &["password", "user"]);
    let deleted = crate::fixture::delete(&mut client, "Secret", "db")
        .await
        .unwrap();
    let deleted: Value = serde_json::from_str(&deleted.object.unwrap().json).unwrap();
    assert_masked(&deleted, &["password", "user"]);
    let (kind, watched, _) = next_event(&mut events).await.unwrap();
    assert_eq!(kind, pb::EventType::Deleted);
    assert_masked(&watched, &["password", "user"]);
}

pub async fn rest_masks_secret_values_too(server: TestServer) {
    let http = server.http();
    let base = format!("{}/api/v1", server.url());
    let manifest = secret("db", json!({"password": "hunter2-canary"}));
    let watching = http
        .get(format!("{base}/secrets?watch=true"))
        .send()
        .await
        .unwrap();
    let created = http.put(format!("{base}/secrets/db")).json(&manifest);
    let reply: Value = created.send().await.unwrap().json().await.unwrap();
    assert_masked(&reply["object"], &["password"]);
    let one = http.get(format!("{base}/secrets/db")).send().await.unwrap();
    assert_masked(&one.json::<Value>().await.unwrap(), &["password"]);
    let list = http.get(format!("{base}/secrets")).send().await.unwrap();
    let list: Value = list.json().await.unwrap();
    assert_masked(&list["items"][0], &["password"]);
    let mut body = watching.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\"ADDED\"") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), body.next())
            .await
            .expect("a watch line within 10 s")
            .unwrap()
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(seen.contains(MASK), "{seen}");
    assert!(!seen.contains("hunter2-canary"), "{seen}");
}

pub async fn an_unchanged_secret_is_unchanged_and_a_diff_hides_values(server: TestServer) {
    let mut client = server.client().await;
    let manifest = secret("db", json!({"password": "s3cr3t-one", "user": "admin"}));
    let (_, created) = apply(&mut client, &manifest).await.unwrap();
    let stored_before = server
        .store
        .get("/minicloud/secrets/default/db")
        .await
        .unwrap();
    let (outcome, again) = apply(&mut client, &manifest).await.unwrap();
    assert_eq!(outcome, pb::ApplyOutcome::Unchanged);
    assert_eq!(
        field(&again, "/metadata/resourceVersion"),
        field(&created, "/metadata/resourceVersion")
    );
    let changed = secret("db", json!({"password": "s3cr3t-two", "user": "admin"}));
    let (outcome, _, diff) = apply_with(&mut client, &changed, true).await.unwrap();
    assert_eq!(outcome, pb::ApplyOutcome::Configured);
    assert!(diff.contains("password: \"******** (changed)\""), "{diff}");
    assert!(!diff.contains("s3cr3t"), "{diff}");
    let (outcome, configured) = apply(&mut client, &changed).await.unwrap();
    assert_eq!(outcome, pb::ApplyOutcome::Configured);
    assert_eq!(field(&configured, "/metadata/generation"), 2);
    let stored_after = server
        .store
        .get("/minicloud/secrets/default/db")
        .await
        .unwrap();
    let data = |kv: Option<minicloud_apiserver::store::KeyValue>| -> Value {
        serde_json::from_slice::<Value>(&kv.unwrap().value).unwrap()["data"].clone()
    };
    let (before, after) = (data(stored_before), data(stored_after));
    assert_eq!(
        before["user"], after["user"],
        "an unchanged value keeps its ciphertext"
    );
    assert_ne!(before["password"], after["password"]);
    let values = resolve(&server, &server.admin_key, "default", "db")
        .await
        .unwrap();
    assert_eq!(values["password"], "s3cr3t-two");
}

pub async fn only_admin_keys_resolve_values(server: TestServer) {
    let mut client = server.client().await;
    let tenant = json!({"apiVersion": "minicloud/v1", "kind": "Tenant",
        "metadata": {"name": "acme"}, "spec": {}});
    apply(&mut client, &tenant).await.unwrap();
    let mut manifest = secret("db", json!({"password": "s3cr3t"}));
    manifest["metadata"]["tenant"] = json!("acme");
    apply(&mut client, &manifest).await.unwrap();
    let channel = Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let bearer = Bearer::new(Some(&server.admin_key)).unwrap();
    let mut keys = KeysClient::new(authorized(channel, bearer));
    for role in ["tenant-admin", "tenant-read"] {
        let request = pb::CreateKeyRequest {
            role: role.into(),
            tenant: "acme".into(),
            description: String::new(),
        };
        let key = keys.create(request).await.unwrap().into_inner().key;
        let refused = resolve(&server, &key, "acme", "db").await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{role}");
        let mut secrets = secrets_client(&server, &key).await;
        let refused = secrets
            .rotate_key(pb::RotateKeyRequest {})
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{role}");
    }
    let unauthenticated = resolve(&server, "mc_nobody", "acme", "db")
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);
    let values = resolve(&server, &server.admin_key, "acme", "db")
        .await
        .unwrap();
    assert_eq!(values["password"], "s3cr3t");
    let missing = resolve(&server, &server.admin_key, "acme", "ghost")
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

pub async fn rotating_the_key_reseals_every_value_and_keeps_it_readable(server: TestServer) {
    let mut client = server.client().await;
    for name in ["one", "two", "three"] {
        let manifest = secret(
            name,
            json!({"password": format!("pw-{name}"), "user": name}),
        );
        apply(&mut client, &manifest).await.unwrap();
    }
    let stored = || async {
        let listing = server.store.list("/minicloud/secrets/").await.unwrap();
        listing
            .items
            .iter()
            .flat_map(|kv| {
                let object: Value = serde_json::from_slice(&kv.value).unwrap();
                let data = object["data"].as_object().unwrap().clone();
                data.into_iter()
                    .map(|(entry, v)| {
                        (
                            format!("{}#{entry}", kv.key),
                            v.as_str().unwrap().to_owned(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect::<HashMap<String, String>>()
    };
    let key_id = |sealed: &str| sealed.split(':').nth(2).unwrap().to_owned();
    let before = stored().await;
    assert_eq!(before.len(), 6);
    let old_key = key_id(before.values().next().unwrap());
    let mut secrets = secrets_client(&server, &server.admin_key).await;
    let rotation = secrets
        .rotate_key(pb::RotateKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rotation.reencrypted, 3);
    assert_eq!(rotation.retired_key_ids, std::slice::from_ref(&old_key));
    assert_ne!(rotation.primary_key_id, old_key);
    let after = stored().await;
    for (entry, sealed) in &after {
        assert_ne!(&before[entry], sealed, "{entry} was not re-encrypted");
        assert_eq!(key_id(sealed), rotation.primary_key_id);
    }
    for name in ["one", "two", "three"] {
        let values = resolve(&server, &server.admin_key, "default", name)
            .await
            .unwrap();
        assert_eq!(values["password"], format!("pw-{name}"));
    }
    let manifest = secret("one", json!({"password": "pw-one", "user": "one"}));
    let (outcome, _) = apply(&mut client, &manifest).await.unwrap();
    assert_eq!(outcome, pb::ApplyOutcome::Unchanged);
    let again = secrets
        .rotate_key(pb::RotateKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.reencrypted, 3);
    assert_eq!(again.retired_key_ids, [rotation.primary_key_id]);
    let rotations: Vec<_> = crate::audit::records(&server)
        .await
        .into_iter()
        .filter(|record| record.verb == "rotate-secret-key")
        .collect();
    assert_eq!(rotations.len(), 2, "each rotation is in the audit log");
    assert!(
        rotations
            .iter()
            .all(|record| record.result == "OK" && record.message.starts_with("3 Secrets")),
        "{rotations:?}"
    );
}

pub async fn a_value_copied_to_another_secret_does_not_open(server: TestServer) {
    let mut client = server.client().await;
    apply(&mut client, &secret("one", json!({"password": "pw-one"})))
        .await
        .unwrap();
    apply(&mut client, &secret("two", json!({"password": "pw-two"})))
        .await
        .unwrap();
    let one = server
        .store
        .get("/minicloud/secrets/default/one")
        .await
        .unwrap()
        .unwrap();
    let two = server
        .store
        .get("/minicloud/secrets/default/two")
        .await
        .unwrap()
        .unwrap();
    let mut forged: Value = serde_json::from_slice(&two.value).unwrap();
    let stolen: Value = serde_json::from_slice(&one.value).unwrap();
    forged["data"]["password"] = stolen["data"]["password"].clone();
    let body = serde_json::to_vec(&forged).unwrap();
    server
        .store
        .update(&two.key, body, two.mod_revision)
        .await
        .unwrap();
    let refused = resolve(&server, &server.admin_key, "default", "two")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Internal);
    assert!(
        refused.message().contains("key \"password\""),
        "{}",
        refused.message()
    );
    assert!(!refused.message().contains("pw-"), "{}", refused.message());
    let healed = secret("two", json!({"password": "pw-two"}));
    let (outcome, _) = apply(&mut client, &healed).await.unwrap();
    assert_eq!(
        outcome,
        pb::ApplyOutcome::Configured,
        "an unreadable value is replaced"
    );
    let values = resolve(&server, &server.admin_key, "default", "two")
        .await
        .unwrap();
    assert_eq!(values["password"], "pw-two");
}

pub async fn a_value_that_is_not_a_string_is_refused_without_being_repeated(server: TestServer) {
    let mut client = server.client().await;
    let manifest = secret("db", json!({"pin": 987654321}));
    let refused = apply(&mut client, &manifest).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("data.pin"),
        "{}",
        refused.message()
    );
    assert!(
        !refused.message().contains("987654321"),
        "{}",
        refused.message()
    );
    for data in [json!("hunter2"), json!(["hunter2"])] {
        let refused = apply(&mut client, &secret("db", data)).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(
            refused
                .message()
                .starts_with("data: a Secret's data must be a map")
                && !refused.message().contains("hunter2"),
            "{}",
            refused.message()
        );
    }
}
