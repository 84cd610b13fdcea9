//! The OpenAPI 3 document, generated from the handlers' annotations, and an interactive docs page
//! (Swagger UI, vendored under `assets/swagger-ui`, served by Balagh itself: no CDN at run time).

use crate::AppState;
use crate::api_v1;
use crate::error;
use crate::escalations;
use crate::notifications;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Balagh API", description = "Reports, complaints, inquiries and suggestions for a municipality's contact center (940/311). Open311 GeoReport v2 is served under /open311/v2 as its specification defines."),
    paths(
        api_v1::create_report, api_v1::get_report, api_v1::list_reports, api_v1::transition, api_v1::comment,
        api_v1::follow_up, api_v1::rate_interaction, api_v1::rate_closure, api_v1::timeline, api_v1::photo,
        escalations::list_escalations, escalations::acknowledge_escalation, escalations::follow_up_measurements,
        notifications::list_notifications, notifications::retry_notification,
        crate::templates::list_templates, crate::templates::set_template, crate::templates::delete_template,
        crate::health::healthz, crate::health::readyz,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, error::FieldErrorBody)),
    modifiers(&ApiKeyScheme),
    tags((name = "reports"), (name = "lifecycle", description = "staff actions; need an API key"), (name = "beneficiary", description = "follow-ups and ratings, proven by the report's phone number"), (name = "escalations", description = "what a report's escalation chain fired, and acknowledging it; need an API key"), (name = "measurements", description = "supervisors and administrators"), (name = "notifications", description = "the outbox, for administrators"), (name = "operations"))
)]
pub struct ApiDoc;

struct ApiKeyScheme;

impl utoipa::Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs_page))
        .route("/api/docs/swagger-ui-bundle.js", get(|headers: HeaderMap| async move { asset(&headers, SWAGGER_JS, "text/javascript; charset=utf-8") }))
        .route("/api/docs/swagger-ui.css", get(|headers: HeaderMap| async move { asset(&headers, SWAGGER_CSS, "text/css; charset=utf-8") }))
        .route("/api/docs/init.js", get(|headers: HeaderMap| async move { asset(&headers, INIT_JS.as_bytes(), "text/javascript; charset=utf-8") }))
}

async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], ApiDoc::openapi().to_pretty_json().unwrap_or_default()).into_response()
}

const SWAGGER_JS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_CSS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css");
const INIT_JS: &str = r##"window.onload = () => { window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui" }); };"##;

async fn docs_page() -> Html<&'static str> {
    Html(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Balagh API</title><link rel="stylesheet" href="/api/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div><script src="/api/docs/swagger-ui-bundle.js"></script><script src="/api/docs/init.js"></script></body></html>"#,
    )
}

/// A strong ETag for compiled-in bytes: FNV-1a of the content (cheap, stable across builds).
fn etag(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    format!("\"{hash:016x}\"")
}

/// Serves compiled-in bytes with an ETag, answering 304 when the client already has them.
pub fn asset(headers: &HeaderMap, bytes: &'static [u8], content_type: &'static str) -> Response {
    let tag = etag(bytes);
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim() == tag)) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut response = ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], bytes).into_response();
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}
