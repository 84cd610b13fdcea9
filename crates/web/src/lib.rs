//! Balagh's HTTP surface, built with axum: the JSON API under `/api/v1` (reports, escalations,
//! measurements), Open311 GeoReport v2 under `/open311/v2`, the citizen portal's pages, the
//! OpenAPI document and its docs page, health checks and Prometheus metrics. Handlers only parse,
//! call the application, and render; only this crate knows HTTP.

pub mod api_v1;
pub mod auth;
pub mod docs;
pub mod error;
pub mod escalations;
pub mod health;
pub mod ivr;
pub mod notifications;
pub mod open311;
pub mod portal;
pub mod templates;
pub mod voice;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use balagh_app::App;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::Instant;

/// Settings the HTTP layer needs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The Open311 `jurisdiction_id` this server answers for; requests naming another get 404.
    pub jurisdiction_id: Option<String>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The address clients reach this server at, for discovery and links (no trailing slash).
    pub public_base_url: String,
    /// Open311 discovery `contact` text.
    pub contact: String,
    /// Open311 discovery `key_service` text: how to get an API key.
    pub key_service: String,
    /// The voice and delivery webhooks' signing token and agent routing.
    pub voice: voice::VoiceConfig,
    /// The citizen portal's map, cities and rate limits.
    pub portal: portal::PortalConfig,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            jurisdiction_id: None,
            max_body_bytes: 64 * 1024,
            public_base_url: "http://127.0.0.1:8940".into(),
            contact: "Eastern Province Municipality, 940 center".into(),
            key_service: "Ask the municipality's 940 center administrator for an API key (balagh admin api-key create NAME)".into(),
            voice: voice::VoiceConfig::default(),
            portal: portal::PortalConfig::default(),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub config: Arc<WebConfig>,
    /// The Prometheus recorder's handle; `/metrics` renders it. `None` when metrics are not installed.
    pub metrics: Option<PrometheusHandle>,
}

/// The whole HTTP application, without a socket, so tests and the binary serve the same thing.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .nest("/api/v1", api_v1::routes().merge(escalations::routes()).merge(notifications::routes()).merge(templates::routes()))
        .merge(voice::routes())
        .merge(ivr::routes())
        .nest("/open311/v2", open311::routes())
        .merge(docs::routes())
        .merge(portal::routes(&state.config.portal))
        .merge(health::routes())
        .fallback(error::not_found_fallback)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(record_request))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(error::panic_response))
        .with_state(state)
}

/// The whole HTTP application as a server runs it: each request knows its connection's peer
/// address (the portal's rate limits count by it).
pub fn service(state: AppState) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, std::net::SocketAddr> {
    app(state).into_make_service_with_connect_info::<std::net::SocketAddr>()
}

/// Counts requests and records their latency by route pattern and status.
async fn record_request(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("balagh_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("balagh_http_request_duration_seconds", "method" => method, "route" => route).record(started.elapsed().as_secs_f64());
    response
}
