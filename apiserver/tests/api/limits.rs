//! Request size limits and the REST face: oversized bodies are refused early, without the server
//! buffering them, and REST speaks the same semantics as gRPC.

use futures::StreamExt;
use minicloud_apiserver::api::MAX_BODY_BYTES;
use serde_json::{Value, json};

use crate::fixture::*;

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    line.split_whitespace()
        .nth(1)
        .and_then(|kb| kb.parse::<u64>().ok())
        .expect("VmRSS kB")
        * 1024
}

pub async fn an_oversized_grpc_message_is_resource_exhausted(server: TestServer) {
    let mut client = server.client().await;
    let mut manifest = app("big", "hello:1", 1);
    manifest["metadata"]["annotations"] = json!({"blob": "x".repeat(MAX_BODY_BYTES + 1024)});
    let error = apply(&mut client, &manifest).await.unwrap_err();
    assert_eq!(
        (error.code(), reason(&error)),
        (tonic::Code::ResourceExhausted, "RequestTooLarge")
    );
    assert!(
        error.message().contains("byte limit"),
        "{}",
        error.message()
    );
}

/// Only the headers are sent, declaring one byte over the limit: the 413 must come back without
/// the server waiting for (or reading) any of the body.
pub async fn an_oversized_rest_body_is_refused_from_its_length(server: TestServer) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut connection = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PUT /api/v1/apps/big HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.admin_key,
        MAX_BODY_BYTES + 1
    );
    connection.write_all(head.as_bytes()).await.unwrap();
    let mut reply = vec![0; 4096];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        connection.read(&mut reply),
    )
    .await
    .expect("an answer before any body byte was sent")
    .unwrap();
    let reply = String::from_utf8_lossy(&reply[..read]);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("\"reason\":\"RequestTooLarge\""), "{reply}");
}

/// 64 MiB streamed without a Content-Length: the server stops reading at the limit, so its memory
/// does not grow by anything like the body's size.
pub async fn a_streamed_oversized_body_is_not_buffered(server: TestServer) {
    const TOTAL: usize = 64 * 1024 * 1024;
    let before = resident_bytes();
    let chunks = futures::stream::iter(0..TOTAL / 65_536)
        .map(|_| Ok::<_, std::io::Error>(vec![b' '; 65_536]));
    let url = format!("{}/api/v1/apps/big", server.url());
    let sent = server
        .http()
        .put(&url)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    if let Ok(response) = sent {
        assert_eq!(response.status(), 413);
    }
    let grown = resident_bytes().saturating_sub(before);
    eprintln!("streamed {TOTAL} bytes; server-side resident memory grew by {grown} bytes");
    assert!(
        grown < (TOTAL / 4) as u64,
        "memory grew by {grown} bytes for a {TOTAL}-byte body"
    );
}

pub async fn rest_serves_the_same_resources(server: TestServer) {
    let http = server.http();
    let base = format!("{}/api/v1", server.url());
    let created = http
        .put(format!("{base}/apps/web"))
        .json(&app("web", "hello:1", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let reply: Value = created.json().await.unwrap();
    assert_eq!(reply["outcome"], "created");
    let again: Value = http
        .put(format!("{base}/apps/web"))
        .json(&app("web", "hello:1", 1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["outcome"], "unchanged");
    let object: Value = http
        .get(format!("{base}/apps/web"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        object["metadata"]["uid"],
        reply["object"]["metadata"]["uid"]
    );
    let list: Value = http
        .get(format!("{base}/apps?labelSelector=team%3Dblue"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let missing = http.get(format!("{base}/apps/ghost")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(
        (error["reason"].as_str(), error["code"].as_u64()),
        (Some("NotFound"), Some(404))
    );
    let mismatch = http
        .put(format!("{base}/apps/other"))
        .json(&app("web", "hello:1", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), 400);
    let deleted = http
        .delete(format!("{base}/apps/web"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
}

pub async fn rest_watch_streams_json_lines(server: TestServer) {
    let http = server.http();
    let base = format!("{}/api/v1", server.url());
    http.put(format!("{base}/apps/web"))
        .json(&app("web", "hello:1", 1))
        .send()
        .await
        .unwrap();
    let response = http
        .get(format!("{base}/apps?watch=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut body = response.bytes_stream();
    let mut buffered = String::new();
    let mut lines = Vec::new();
    http.put(format!("{base}/apps/web"))
        .json(&app("web", "hello:1", 2))
        .send()
        .await
        .unwrap();
    while lines.len() < 3 {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        buffered.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some((line, rest)) = buffered.split_once('\n') {
            lines.push(serde_json::from_str::<Value>(line).unwrap());
            buffered = rest.to_owned();
        }
    }
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "BOOKMARK", "MODIFIED"]);
    assert_eq!(lines[2]["object"]["spec"]["replicas"], 2);
}
