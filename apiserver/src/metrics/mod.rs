//! The API server's metrics endpoint, `GET /metrics`: every family registered in the process's
//! [`Metrics`] (the API's, the store's, the rate limits', the requests', and those of the
//! controllers and ingress running in the same process), as OpenMetrics text. The gate lets
//! admin keys and the scrape token through to it, and refuses tenant keys.

mod requests;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use minicloud_common::metrics::{CONTENT_TYPE, METRICS_PATH, Metrics};

pub use requests::{RequestMetrics, measure};

/// The `/metrics` route over `metrics`.
pub fn router(metrics: Metrics) -> Router {
    Router::new()
        .route(METRICS_PATH, get(scrape))
        .with_state(metrics)
}

async fn scrape(State(metrics): State<Metrics>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.encode())
}
