//! The ingress end to end on loopback: a real listener serving through the proxy to real HTTP
//! backends started in the test, with route tables published by hand.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use minicloud_common::metrics::Metrics;
use minicloud_manifests::{
    App, AppSpec, ContainerSpec, Ingress, Instance, InstancePhase, InstanceSpec, InstanceStatus,
    ObjectMeta, Port, PortRef, Resources,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use super::body::Body;
use super::{Proxy, RouteTable, RoutesWriter, route_channel, serve};

/// How long any one step may take.
const STEP: Duration = Duration::from_secs(10);

type Handler = Arc<dyn Fn(Request<Incoming>) -> Response<Body> + Send + Sync>;

/// An HTTP/1.1 server on a loopback port, counting the connections it accepts.
struct Backend {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Backend {
    async fn start(
        handler: impl Fn(Request<Incoming>) -> Response<Body> + Send + Sync + 'static,
    ) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let handler: Handler = Arc::new(handler);
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let service = service_fn(move |request| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(request)) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades(),
                );
            }
        });
        Backend {
            address,
            connections,
        }
    }

    /// A backend answering every request with `text`.
    async fn saying(text: &'static str) -> Backend {
        Backend::start(move |_| text_response(text)).await
    }
}

fn text_response(text: impl Into<Bytes>) -> Response<Body> {
    Response::new(
        Full::new(text.into())
            .map_err(|never| match never {})
            .boxed(),
    )
}

/// A running ingress, the writer of its routes, and the registry of its metrics.
struct Running {
    address: SocketAddr,
    writer: RoutesWriter,
    client: Client<HttpConnector, Empty<Bytes>>,
    metrics: Metrics,
}

impl Running {
    async fn start(timeout: Duration) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (writer, routes) = route_channel();
        let proxy = Proxy::new(routes).with_request_timeout(timeout);
        let metrics = Metrics::default();
        proxy.metrics().register(&metrics);
        tokio::spawn(serve(listener, proxy, std::future::pending()));
        let client = Client::builder(TokioExecutor::new()).build_http();
        Running {
            address,
            writer,
            client,
            metrics,
        }
    }

    /// Routes `web.acme.localhost` to `backends` (the ready ones) and `idle.acme.localhost` to
    /// nothing.
    fn route(&self, backends: &[(SocketAddr, bool)]) {
        let apps = [app("web"), app("idle")];
        let instances: Vec<Instance> = backends
            .iter()
            .enumerate()
            .map(|(i, (address, ready))| instance(&format!("web-{i}"), *address, *ready))
            .collect();
        let table = RouteTable::build("localhost", &apps, &instances, &RouteTable::default());
        self.writer.publish(Arc::new(table));
    }

    async fn get(&self, host: &str, path: &str) -> (StatusCode, String) {
        let request = Request::get(format!("http://{}{path}", self.address))
            .header("host", host)
            .body(Empty::new())
            .unwrap();
        let response = tokio::time::timeout(STEP, self.client.request(request))
            .await
            .expect("the ingress answers in time")
            .expect("the ingress answers");
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

fn app(name: &str) -> App {
    App::new(
        ObjectMeta::named(name, Some("acme")),
        AppSpec {
            image: Some("hello:1".to_owned()),
            ports: vec![Port {
                name: Some("http".to_owned()),
                port: 8080,
                protocol: None,
            }],
            ingress: Some(Ingress {
                port: PortRef::Name("http".to_owned()),
                host: None,
            }),
            ..AppSpec::default()
        },
    )
}

/// An Instance of `web` listening at `address` (its own port declared as `http`).
fn instance(name: &str, address: SocketAddr, ready: bool) -> Instance {
    let container = ContainerSpec {
        image: "hello:1".to_owned(),
        command: Vec::new(),
        args: Vec::new(),
        env: Vec::new(),
        ports: vec![Port {
            name: Some("http".to_owned()),
            port: address.port(),
            protocol: None,
        }],
        resources: Resources::default().resolve(),
        volumes: Vec::new(),
        health_check: None,
        user: None,
        capabilities: Vec::new(),
    };
    let spec = InstanceSpec {
        app: "web".to_owned(),
        release: "web-r1".to_owned(),
        node: Some("n1".to_owned()),
        container,
    };
    let mut instance = Instance::new(ObjectMeta::named(name, Some("acme")), spec);
    instance.status = Some(InstanceStatus {
        phase: InstancePhase::Running,
        ip: Some(address.ip().to_string()),
        ready,
        ..InstanceStatus::default()
    });
    instance
}

/// A loopback address nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn requests_reach_the_ready_backends_round_robin() {
    let (a, b) = (Backend::saying("a").await, Backend::saying("b").await);
    let unready = Backend::saying("unready").await;
    let ingress = Running::start(STEP).await;
    ingress.route(&[
        (a.address, true),
        (b.address, true),
        (unready.address, false),
    ]);
    let mut seen = Vec::new();
    for _ in 0..6 {
        let (status, body) = ingress.get("web.acme.localhost", "/").await;
        assert_eq!(status, StatusCode::OK);
        seen.push(body);
    }
    seen.sort();
    assert_eq!(seen, ["a", "a", "a", "b", "b", "b"]);
}

#[tokio::test]
async fn the_host_matches_with_a_port_and_in_any_case() {
    let backend = Backend::saying("hello").await;
    let ingress = Running::start(STEP).await;
    ingress.route(&[(backend.address, true)]);
    let (status, body) = ingress.get("WEB.Acme.LocalHost:8080", "/").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "hello"));
}

#[tokio::test]
async fn the_backend_sees_the_path_host_and_forwarded_headers() {
    let backend = Backend::start(|request| {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        text_response(format!(
            "{} host={} xff={} proto={} xhost={}",
            request.uri(),
            header("host"),
            header("x-forwarded-for"),
            header("x-forwarded-proto"),
            header("x-forwarded-host"),
        ))
    })
    .await;
    let ingress = Running::start(STEP).await;
    ingress.route(&[(backend.address, true)]);
    let (_, body) = ingress.get("web.acme.localhost:8080", "/a/b?c=d").await;
    assert_eq!(
        body,
        "/a/b?c=d host=web.acme.localhost:8080 xff=127.0.0.1 proto=http \
         xhost=web.acme.localhost:8080"
    );
}

#[tokio::test]
async fn an_unknown_host_is_404_and_an_app_with_no_ready_instance_503() {
    let backend = Backend::saying("unready").await;
    let ingress = Running::start(STEP).await;
    ingress.route(&[(backend.address, false)]);
    let (status, body) = ingress.get("shop.acme.localhost", "/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, "no app is served at shop.acme.localhost\n");
    let (status, body) = ingress.get("web.acme.localhost", "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, "app web of tenant acme has no ready instance\n");
    let (status, _) = ingress.get("idle.acme.localhost", "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn requests_are_counted_by_app_and_status_class_and_unknown_hosts_by_none() {
    let backend = Backend::saying("hello").await;
    let ingress = Running::start(STEP).await;
    ingress.route(&[(backend.address, true)]);
    for _ in 0..3 {
        assert_eq!(
            ingress.get("web.acme.localhost", "/").await.0,
            StatusCode::OK
        );
    }
    let idle = ingress.get("idle.acme.localhost", "/").await.0;
    assert_eq!(idle, StatusCode::SERVICE_UNAVAILABLE);
    let unknown = ingress.get("made-up.example.org", "/").await.0;
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    let text = ingress.metrics.encode();
    for expected in [
        "minicloud_ingress_requests_total{tenant=\"acme\",app=\"web\",code=\"2xx\"} 3",
        "minicloud_ingress_requests_total{tenant=\"acme\",app=\"idle\",code=\"5xx\"} 1",
        "minicloud_ingress_requests_total{tenant=\"\",app=\"\",code=\"4xx\"} 1",
        "minicloud_ingress_request_duration_seconds_count{tenant=\"acme\",app=\"web\"} 3",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert!(!text.contains("made-up"), "no label holds a client's host");
}

#[tokio::test]
async fn before_the_first_table_requests_get_503() {
    let ingress = Running::start(STEP).await;
    let (status, body) = ingress.get("web.acme.localhost", "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("still loading its routes"), "{body}");
}

#[tokio::test]
async fn an_unreachable_backend_is_502() {
    let ingress = Running::start(STEP).await;
    ingress.route(&[(closed_port().await, true)]);
    let (status, body) = ingress.get("web.acme.localhost", "/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body.contains("Connection refused"), "{body}");
}

#[tokio::test]
async fn a_request_without_body_moves_on_from_an_unreachable_backend() {
    let backend = Backend::saying("alive").await;
    let ingress = Running::start(STEP).await;
    ingress.route(&[(closed_port().await, true), (backend.address, true)]);
    for _ in 0..4 {
        let (status, body) = ingress.get("web.acme.localhost", "/").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alive"));
    }
}

#[tokio::test]
async fn a_backend_slower_than_the_request_timeout_is_504() {
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    let ingress = Running::start(Duration::from_millis(300)).await;
    ingress.route(&[(address, true)]);
    let (status, body) = ingress.get("web.acme.localhost", "/").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(body.contains("did not answer within 300ms"), "{body}");
    drop(silent);
}

#[tokio::test]
async fn connections_to_backends_are_kept_alive_and_reused() {
    let backend = Backend::saying("hi").await;
    let ingress = Running::start(STEP).await;
    ingress.route(&[(backend.address, true)]);
    for _ in 0..10 {
        assert_eq!(
            ingress.get("web.acme.localhost", "/").await.0,
            StatusCode::OK
        );
    }
    assert_eq!(backend.connections.load(Ordering::SeqCst), 1);
}

/// A backend whose single response streams the chunks sent on the returned channel.
async fn streaming_backend() -> (Backend, mpsc::Sender<&'static str>) {
    let (chunks_tx, chunks_rx) = mpsc::channel::<&'static str>(1);
    let chunks_rx = Arc::new(std::sync::Mutex::new(Some(chunks_rx)));
    let backend = Backend::start(move |_| {
        let receiver = chunks_rx.lock().unwrap().take().expect("one request");
        let frames = futures::stream::unfold(receiver, |mut receiver| async move {
            let chunk = receiver.recv().await?;
            Some((Ok(Frame::data(Bytes::from(chunk))), receiver))
        });
        Response::new(BodyExt::boxed(StreamBody::new(frames)))
    })
    .await;
    (backend, chunks_tx)
}

#[tokio::test]
async fn a_streaming_response_arrives_chunk_by_chunk_and_survives_route_changes() {
    let (backend, chunks) = streaming_backend().await;
    let ingress = Running::start(STEP).await;
    ingress.route(&[(backend.address, true)]);
    let request = Request::get(format!("http://{}/events", ingress.address))
        .header("host", "web.acme.localhost")
        .body(Empty::new())
        .unwrap();
    chunks.send("first").await.unwrap();
    let response = ingress.client.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let next = async |body: &mut Incoming| {
        let frame = tokio::time::timeout(STEP, body.frame()).await.unwrap();
        frame.unwrap().unwrap().into_data().unwrap()
    };
    assert_eq!(next(&mut body).await, "first");
    ingress.route(&[]);
    chunks.send("second").await.unwrap();
    assert_eq!(next(&mut body).await, "second");
    drop(chunks);
    let end = tokio::time::timeout(STEP, body.frame()).await.unwrap();
    assert!(end.is_none(), "the stream ends when the backend's does");
}

/// A backend that switches to the protocol `echo` and then sends back every byte it reads.
async fn echo_backend() -> Backend {
    Backend::start(|mut request| {
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            let mut io = TokioIo::new(upgrade.await.expect("the client upgraded"));
            let mut buffer = [0u8; 1024];
            while let Ok(n) = io.read(&mut buffer).await {
                if n == 0 || io.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
            }
        });
        let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert("connection", "upgrade".parse().unwrap());
        headers.insert("upgrade", "echo".parse().unwrap());
        response
    })
    .await
}

#[tokio::test]
async fn an_upgraded_connection_carries_bytes_both_ways() {
    let backend = echo_backend().await;
    let ingress = Running::start(STEP).await;
    ingress.route(&[(backend.address, true)]);
    let mut stream = TcpStream::connect(ingress.address).await.unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: web.acme.localhost\r\nConnection: Upgrade\r\n\
              Upgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let head = read_until(&mut stream, b"\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: echo"),
        "{head}"
    );
    for message in ["ping", "pong, longer"] {
        stream.write_all(message.as_bytes()).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(STEP, stream.read_exact(&mut echoed))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(echoed, message.as_bytes());
    }
}

/// Reads from `stream` until `end` has arrived; returns everything read.
async fn read_until(stream: &mut TcpStream, end: &[u8]) -> String {
    let mut read = Vec::new();
    let mut byte = [0u8; 1];
    while !read.ends_with(end) {
        let n = tokio::time::timeout(STEP, stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "the connection closed after {read:?}");
        read.push(byte[0]);
    }
    String::from_utf8(read).unwrap()
}

#[tokio::test]
async fn a_request_body_reaches_the_backend() {
    let (seen_tx, seen_rx) = oneshot::channel::<String>();
    let seen_tx = Arc::new(std::sync::Mutex::new(Some(seen_tx)));
    let backend = Backend::start(move |request| {
        let seen_tx = seen_tx.lock().unwrap().take().expect("one request");
        tokio::spawn(async move {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let _ = seen_tx.send(String::from_utf8_lossy(&body).into_owned());
        });
        text_response("ok")
    })
    .await;
    let ingress = Running::start(STEP).await;
    ingress.route(&[(backend.address, true)]);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::post(format!("http://{}/upload", ingress.address))
        .header("host", "web.acme.localhost")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = tokio::time::timeout(STEP, seen_rx).await.unwrap().unwrap();
    assert_eq!(seen, "payload");
}
