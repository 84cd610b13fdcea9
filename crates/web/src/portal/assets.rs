//! The portal's static files, compiled into the binary (no CDN, nothing read from disk): styles,
//! scripts, the vendored Leaflet, icons, the web app manifest and the service worker (served at
//! the root so its scope is the whole portal). Each is served with a strong ETag, so a phone
//! revalidates with a 304 instead of downloading again; the router compresses them.

use crate::AppState;
use crate::docs::asset;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One compiled-in file under `/static/portal/`.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $content_type:literal),* $(,)?) => {
        &[$(Asset { path: $path, content_type: $content_type, bytes: include_bytes!(concat!("../../assets/portal/", $path)) }),*]
    };
}

const ASSETS: &[Asset] = assets! {
    "portal.css" => "text/css; charset=utf-8",
    "portal.js" => "text/javascript; charset=utf-8",
    "tile.png" => "image/png",
    "icons/icon.svg" => "image/svg+xml",
    "icons/icon-192.png" => "image/png",
    "icons/icon-512.png" => "image/png",
    "icons/apple-touch-icon.png" => "image/png",
    "vendor/leaflet/leaflet.js" => "text/javascript; charset=utf-8",
    "vendor/leaflet/leaflet.css" => "text/css; charset=utf-8",
    "vendor/leaflet/images/marker-icon.png" => "image/png",
    "vendor/leaflet/images/marker-icon-2x.png" => "image/png",
    "vendor/leaflet/images/marker-shadow.png" => "image/png",
};

const SERVICE_WORKER: &[u8] = include_bytes!("../../assets/portal/sw.js");
const MANIFEST: &[u8] = include_bytes!("../../assets/portal/manifest.webmanifest");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/portal/{*path}", get(static_file))
        .route("/sw.js", get(service_worker))
        .route("/manifest.webmanifest", get(|headers: HeaderMap| async move { asset(&headers, MANIFEST, "application/manifest+json") }))
}

async fn static_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(file) => asset(&headers, file.bytes, file.content_type),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The service worker must be checked for updates on every visit, so it is never cached.
async fn service_worker(headers: HeaderMap) -> Response {
    let mut response = asset(&headers, SERVICE_WORKER, "text/javascript; charset=utf-8");
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
