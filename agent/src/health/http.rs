//! The HTTP probe: a GET of the check's path on the container's address, passing on a 2xx or
//! 3xx answer within the timeout. Each probe opens its own connection and closes it, as a
//! client arriving fresh would.

use std::io;
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::check::{Checker, Outcome, Target};

/// The User-Agent of every probe, so apps can tell probes from users in their logs.
pub const PROBE_USER_AGENT: &str = "minicloud-probe";

/// Probes over HTTP/1.1.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpChecker;

#[async_trait]
impl Checker for HttpChecker {
    async fn check(&self, target: &Target, timeout: Duration) -> Outcome {
        match tokio::time::timeout(timeout, get(target)).await {
            Ok(Ok(status)) if status.is_success() || status.is_redirection() => {
                Outcome::passed(format!("HTTP {}", status.as_u16())).with_status(status.as_u16())
            }
            Ok(Ok(status)) => {
                Outcome::failed(format!("HTTP {}", status.as_u16())).with_status(status.as_u16())
            }
            Ok(Err(message)) => Outcome::failed(message),
            Err(_) => Outcome::failed(format!(
                "timed out after {}",
                humantime::format_duration(timeout)
            )),
        }
    }
}

/// The status of a GET of `target`, or why there is none.
async fn get(target: &Target) -> Result<StatusCode, String> {
    let request = Request::get(target.path.as_str())
        .header(HOST, target.address.to_string())
        .header(USER_AGENT, PROBE_USER_AGENT)
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("cannot request {:?}: {e}", target.path))?;
    let stream = TcpStream::connect(target.address)
        .await
        .map_err(|e| connect_error(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    // The connection is driven here rather than on a task of its own, so that a probe that
    // times out leaves nothing behind. It may finish (the server closing after answering)
    // before the answer is picked up; the answer is then ready.
    let exchange = sender.send_request(request);
    tokio::pin!(exchange);
    let response = tokio::select! {
        response = &mut exchange => response,
        ended = connection => match ended {
            Ok(()) => exchange.await,
            Err(e) => return Err(format!("no HTTP answer: {e}")),
        },
    };
    response
        .map(|r| r.status())
        .map_err(|e| format!("no HTTP answer: {e}"))
}

fn connect_error(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        _ => format!("cannot connect: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A server answering every connection with `answer` after `delay`; returns its address.
    async fn serve(answer: String, delay: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut request = [0; 1024];
                    let _ = socket.read(&mut request).await;
                    tokio::time::sleep(delay).await;
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        address
    }

    async fn probe(address: SocketAddr) -> Outcome {
        let target = Target {
            address,
            path: "/healthz".into(),
        };
        HttpChecker.check(&target, Duration::from_millis(300)).await
    }

    fn reply(status: &str) -> String {
        format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    }

    #[tokio::test]
    async fn a_2xx_or_3xx_answer_passes() {
        for (status, message, code) in [("200 OK", "HTTP 200", 200), ("302 Found", "HTTP 302", 302)]
        {
            let outcome = probe(serve(reply(status), Duration::ZERO).await).await;
            assert_eq!(outcome, Outcome::passed(message).with_status(code));
        }
    }

    #[tokio::test]
    async fn a_4xx_or_5xx_answer_fails_with_its_code() {
        for (status, message, code) in [
            ("404 Not Found", "HTTP 404", 404),
            ("503 Busy", "HTTP 503", 503),
        ] {
            let outcome = probe(serve(reply(status), Duration::ZERO).await).await;
            assert_eq!(outcome, Outcome::failed(message).with_status(code));
        }
    }

    #[tokio::test]
    async fn a_closed_port_fails_as_connection_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        assert_eq!(probe(address).await, Outcome::failed("connection refused"));
    }

    #[tokio::test]
    async fn a_slow_answer_fails_as_timed_out() {
        let address = serve(reply("200 OK"), Duration::from_secs(5)).await;
        assert_eq!(
            probe(address).await,
            Outcome::failed("timed out after 300ms")
        );
    }

    #[tokio::test]
    async fn garbage_or_silence_fails_with_a_reason() {
        let garbage = probe(serve("not http\r\n\r\n".into(), Duration::ZERO).await).await;
        assert!(!garbage.ok);
        assert!(garbage.message.starts_with("no HTTP answer"), "{garbage:?}");
        let silent = probe(serve(String::new(), Duration::ZERO).await).await;
        assert!(!silent.ok);
    }

    #[tokio::test]
    async fn the_probe_sends_its_path_host_and_user_agent() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 1024];
            let n = socket.read(&mut request).await.unwrap();
            socket
                .write_all(reply("204 No Content").as_bytes())
                .await
                .unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        assert!(probe(address).await.ok);
        let request = server.await.unwrap().to_lowercase();
        assert!(
            request.starts_with("get /healthz http/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!("host: {address}\r\n")),
            "{request}"
        );
        assert!(
            request.contains("user-agent: minicloud-probe\r\n"),
            "{request}"
        );
    }
}
