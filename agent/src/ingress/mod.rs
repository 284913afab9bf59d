//! The ingress: an HTTP reverse proxy that routes `<app>.<tenant>.<domain>` to the App's ready
//! instances, round robin, with routes kept current from the API server's watches.
//!
//! [`follow`](follow::follow) keeps a [`RouteTable`] current and publishes it through a
//! [`RoutesWriter`]; [`serve`] answers clients with a [`Proxy`] reading the latest table. A new
//! table replaces the old one whole, so requests in flight finish on the backend they started
//! with and no connection is dropped when routes change. The proxy counts requests by tenant,
//! app and status class ([`IngressMetrics`]).
//!
//! ```no_run
//! # async fn run(api: tonic::transport::Channel) -> std::io::Result<()> {
//! use minicloud_agent::ingress::{self, Proxy};
//! use minicloud_proto::v1::resource_service_client::ResourceServiceClient;
//!
//! let (writer, routes) = ingress::route_channel();
//! let client = ResourceServiceClient::new(api);
//! tokio::spawn(ingress::follow::follow(client, "localhost".into(), writer, std::future::pending()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! ingress::serve(listener, Proxy::new(routes), std::future::pending()).await;
//! # Ok(())
//! # }
//! ```

pub mod body;
mod channel;
pub mod follow;
mod headers;
mod metrics;
pub mod proxy;
mod refusal;
pub mod routes;
#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

pub use channel::{Routes, RoutesWriter, route_channel};
pub use metrics::{AppTraffic, IngressMetrics};
pub use proxy::Proxy;
pub use routes::RouteTable;

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long requests in flight may take to finish once the ingress is asked to stop.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed accept (out of file descriptors, say) before accepting again.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Serves HTTP/1.1 (with upgrades) and HTTP/2 cleartext on `listener` through `proxy` until
/// `shutdown` completes; then stops accepting and gives requests in flight a few seconds.
pub async fn serve(listener: TcpListener, proxy: Proxy, shutdown: impl Future<Output = ()>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "the ingress cannot accept a connection");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on an ingress connection");
        }
        let proxy = proxy.clone();
        let service = service_fn(move |request| {
            let proxy = proxy.clone();
            async move { Ok::<_, Infallible>(proxy.handle(request, peer).await) }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "ingress connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("the ingress stopped with requests still in flight after {DRAIN_TIMEOUT:?}");
    }
}
