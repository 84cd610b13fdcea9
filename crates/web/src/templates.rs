//! Notification template overrides over HTTP, for administrators: list them, set one for a topic,
//! medium and language (checked before it is stored), remove one to go back to the built-in text.

use crate::AppState;
use crate::api_v1::{ApiJson, rfc3339};
use crate::auth::StaffCaller;
use crate::error::HttpError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notification-templates", get(list_templates))
        .route("/notification-templates/{topic}/{medium}/{language}", axum::routing::put(set_template).delete(delete_template))
}

/// An administrator's text for one topic, medium and language.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    /// `status_changed`, `closure_survey`, `escalation`, …
    pub topic: String,
    /// `sms`, `call`, `email`, `whatsapp`, `webhook` or `staff`.
    pub medium: String,
    pub language: String,
    /// The minijinja source.
    pub source: String,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

impl TemplateView {
    fn new(template: balagh_app::StoredTemplate) -> Self {
        let updated_at = jiff::Timestamp::from_microsecond(template.updated_at).map(rfc3339).unwrap_or_default();
        TemplateView {
            topic: template.topic,
            medium: template.medium,
            language: template.language,
            source: template.source,
            updated_at,
            updated_by: template.updated_by,
        }
    }
}

/// The new text of a template.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// minijinja source; the context has `ticket`, `status`, `status_code`, `note`, `service`,
    /// `date`, `expected_at`, `portal_url`, `language` and the whole `payload`.
    pub source: String,
}

/// List the notification template overrides (administrators).
#[utoipa::path(get, path = "/api/v1/notification-templates", tag = "notifications", security(("api_key" = [])),
    responses((status = 200, body = [TemplateView]), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_templates(State(state): State<AppState>, StaffCaller(actor): StaffCaller) -> Result<Json<Vec<TemplateView>>, HttpError> {
    Ok(Json(state.app.templates(&actor).await?.into_iter().map(TemplateView::new).collect()))
}

/// Set the text of a topic, medium and language (administrators). It is compiled and rendered
/// against sample reports first; a template that does not render is refused with the problem.
#[utoipa::path(put, path = "/api/v1/notification-templates/{topic}/{medium}/{language}", tag = "notifications", security(("api_key" = [])),
    params(("topic" = String, Path), ("medium" = String, Path), ("language" = String, Path)), request_body = TemplateBody,
    responses((status = 200, body = TemplateView), (status = 422, description = "unknown topic, medium or language, or a template that does not render", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn set_template(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    Path((topic, medium, language)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> Result<Json<TemplateView>, HttpError> {
    let template = state.app.set_template(&actor, &topic, &medium, &language, &body.source).await?;
    Ok(Json(TemplateView::new(template)))
}

/// Remove an override: the built-in text is sent again (administrators).
#[utoipa::path(delete, path = "/api/v1/notification-templates/{topic}/{medium}/{language}", tag = "notifications", security(("api_key" = [])),
    params(("topic" = String, Path), ("medium" = String, Path), ("language" = String, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn delete_template(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    Path((topic, medium, language)): Path<(String, String, String)>,
) -> Result<StatusCode, HttpError> {
    state.app.delete_template(&actor, &topic, &medium, &language).await?;
    Ok(StatusCode::NO_CONTENT)
}
