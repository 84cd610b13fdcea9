//! Notifications over HTTP, for administrators: list the outbox (by state and report) to watch
//! delivery, and put a dead notification back in line. Who may do so is the application's
//! decision; this module parses, calls it, and renders.

use crate::AppState;
use crate::api_v1::{ApiQuery, rfc3339};
use crate::auth::StaffCaller;
use crate::error::HttpError;
use crate::escalations::{page_size, path_id, present, ticket};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use balagh_app::{OutboxFilter, OutboxState, StoredOutbox};
use balagh_domain::TicketNumber;
use balagh_domain::error::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new().route("/notifications", get(list_notifications)).route("/notifications/{id}/retry", post(retry_notification))
}

/// One notification in the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    /// The report's ticket number, when the notification is about a report.
    pub ticket: Option<String>,
    /// What it is about: `escalation`, `follow_up`, …
    pub topic: String,
    /// Whom it goes to: a position of a department (`department_manager@roads`), `user:<id>`, …
    pub recipient: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub created_at: String,
    /// When it is (or was last) due to be sent.
    pub available_at: String,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The provider's id for the delivered message.
    pub provider_ref: Option<String>,
    /// The provider that took it: `twilio-sms`, `twilio-voice`, `email`, `whatsapp`, `webhook`, `log`.
    pub provider: Option<String>,
    /// SMS segments the text took.
    pub segments: Option<i64>,
    /// The provider's last reported status (`delivered`, `undelivered`, `no-answer`, …).
    pub delivery_status: Option<String>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl NotificationView {
    fn new(row: &StoredOutbox) -> Result<Self, HttpError> {
        let instant =
            |micros: i64| jiff::Timestamp::from_microsecond(micros).map(rfc3339).map_err(|e| HttpError::Internal(format!("stored instant {micros}: {e}")));
        Ok(NotificationView {
            id: row.id,
            ticket: row.report_id.map(|id| balagh_domain::ReportId(id).ticket().to_string()),
            topic: row.topic.clone(),
            recipient: row.recipient.clone(),
            state: row.state.clone(),
            attempts: row.attempts,
            created_at: instant(row.created_at)?,
            available_at: instant(row.available_at)?,
            last_error: row.last_error.clone(),
            provider_ref: row.provider_ref.clone(),
            provider: row.provider.clone(),
            segments: row.segments,
            delivery_status: row.delivery_status.clone(),
            payload: serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::String(row.payload.clone())),
        })
    }
}

/// Outbox filters. Every value is checked; a wrong one is named in the answer.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// `pending`, `sent` or `dead`.
    pub state: Option<String>,
    /// Only this report's notifications (a ticket number, check digit included).
    pub ticket: Option<String>,
    /// 1 to 200; 50 by default.
    #[param(value_type = Option<u64>)]
    pub limit: Option<String>,
}

fn outbox_state(text: Option<&str>) -> Result<Option<OutboxState>, FieldError> {
    match present(text) {
        None => Ok(None),
        Some("pending") => Ok(Some(OutboxState::Pending)),
        Some("sent") => Ok(Some(OutboxState::Sent)),
        Some("dead") => Ok(Some(OutboxState::Dead)),
        Some(other) => Err(FieldError::new("state", "invalid_state", format!("state must be pending, sent or dead, got '{other}'"))),
    }
}

impl NotificationParams {
    fn into_filter(self) -> Result<OutboxFilter, HttpError> {
        let mut errors = ValidationErrors::default();
        let state = errors.take(outbox_state(self.state.as_deref()));
        let ticket = errors.take(ticket(self.ticket.as_deref()));
        let limit = errors.take(page_size(self.limit.as_deref()));
        let (Some(state), Some(ticket), Some(limit)) = (state, ticket, limit) else {
            return Err(HttpError::Unprocessable(errors.0));
        };
        Ok(OutboxFilter { report: ticket.map(TicketNumber::report_id), state, limit })
    }
}

/// List notifications in the outbox, oldest first (administrators).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(NotificationParams), security(("api_key" = [])),
    responses((status = 200, body = [NotificationView]), (status = 422, description = "a filter is wrong; the field is named", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    ApiQuery(params): ApiQuery<NotificationParams>,
) -> Result<Json<Vec<NotificationView>>, HttpError> {
    let filter = params.into_filter()?;
    let rows = state.app.notifications(&actor, &filter).await?;
    Ok(Json(rows.iter().map(NotificationView::new).collect::<Result<_, _>>()?))
}

/// Put a dead notification back in line, to be sent at once (administrators).
#[utoipa::path(post, path = "/api/v1/notifications/{id}/retry", tag = "notifications", params(("id" = i64, Path)), security(("api_key" = [])),
    responses((status = 202, description = "queued again"), (status = 409, description = "the notification is not dead", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn retry_notification(State(state): State<AppState>, StaffCaller(actor): StaffCaller, Path(id): Path<String>) -> Result<StatusCode, HttpError> {
    let id = path_id(&id, "invalid_notification_id", "a notification")?;
    state.app.retry_notification(id, &actor).await?;
    Ok(StatusCode::ACCEPTED)
}
