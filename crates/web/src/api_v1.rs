//! The JSON API under `/api/v1`: open reports of every kind, read and list them, move them through
//! their lifecycle, comment, follow up, rate, and read the timeline. The public (beneficiaries,
//! apps) may open, read public views, follow up and rate with the report's phone number; staff
//! actions need an API key whose role the domain checks.

use crate::AppState;
use crate::auth::{Caller, StaffCaller};
use crate::error::HttpError;
use crate::escalations::EscalationProgressView;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use balagh_app::{BoundingBox, Cursor, ReportFilter, StoredEvent};
use balagh_domain::TicketNumber;
use balagh_domain::catalogue::AttributeAnswer;
use balagh_domain::error::{FieldError, ValidationErrors};
use balagh_domain::event::{Actor, Event, EventKind, Role};
use balagh_domain::lifecycle::Command;
use balagh_domain::rating::{ClosureRating, InteractionRating, Score};
use balagh_domain::report::{Report, ReportDraft, ReportId};
use balagh_domain::vocabulary::{Channel, ContactKind, Priority, Status};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", post(create_report).get(list_reports))
        .route("/reports/{ticket}", get(get_report))
        .route("/reports/{ticket}/transitions", post(transition))
        .route("/reports/{ticket}/comments", post(comment))
        .route("/reports/{ticket}/follow-ups", post(follow_up))
        .route("/reports/{ticket}/ratings/interaction", post(rate_interaction))
        .route("/reports/{ticket}/ratings/closure", post(rate_closure))
        .route("/reports/{ticket}/timeline", get(timeline))
        .route("/reports/{ticket}/photos/{sha256}", get(photo))
}

/// JSON body extractor whose rejections are `HttpError`s with stable codes.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(request, state).await.map(|Json(value)| ApiJson(value)).map_err(HttpError::from)
    }
}

/// Query extractor whose rejections are `HttpError`s.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(value)| ApiQuery(value)).map_err(HttpError::from)
    }
}

fn parse_ticket(text: &str) -> Result<TicketNumber, HttpError> {
    TicketNumber::parse(text).map_err(|e| HttpError::field(e.field("ticket")))
}

pub(crate) fn rfc3339(at: Timestamp) -> String {
    at.to_string()
}

/// A report or other contact to open.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReport {
    /// report, complaint, inquiry or suggestion; defaults to the service's kind.
    pub kind: Option<String>,
    pub service_code: Option<String>,
    /// Plain text, at most 4,000 characters.
    pub description: Option<String>,
    /// low, normal, high, urgent or emergency; defaults to the service's priority.
    pub priority: Option<String>,
    pub lat: Option<f64>,
    #[serde(alias = "lon")]
    pub long: Option<f64>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    /// Saudi national address short code, e.g. RRRD2929.
    pub short_address: Option<String>,
    pub name: Option<String>,
    /// Saudi numbers such as 0512345678 are normalised to E.164.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The beneficiary's language (ar, en, ur, …); Arabic by default.
    pub language: Option<String>,
    /// sms, phone, whatsapp, email, …
    pub preferred_channel: Option<String>,
    /// The channel the report came through; `api` by default.
    pub channel: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    #[serde(default)]
    pub media_urls: Vec<String>,
    /// Answers to the service's attributes: a string, or a list for multi-value lists.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, AttributeInput>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AttributeInput {
    One(String),
    Number(f64),
    Many(Vec<String>),
}

impl CreateReport {
    fn into_draft(self) -> ReportDraft {
        ReportDraft {
            kind: self.kind,
            service_code: self.service_code,
            description: self.description,
            priority: self.priority,
            lat: self.lat,
            lon: self.long,
            address: self.address,
            address_id: self.address_id,
            city: self.city,
            district: self.district,
            short_address: self.short_address,
            name: self.name,
            phone: self.phone,
            email: self.email,
            language: self.language,
            preferred_channel: self.preferred_channel,
            device_id: self.device_id,
            account_id: self.account_id,
            media_urls: self.media_urls,
            attributes: self
                .attributes
                .into_iter()
                .map(|(code, value)| {
                    let values = match value {
                        AttributeInput::One(v) => vec![v],
                        AttributeInput::Number(n) => vec![n.to_string()],
                        AttributeInput::Many(vs) => vs,
                    };
                    (code, values)
                })
                .collect(),
            location_pending: false,
        }
    }
}

/// A report as the API shows it. `contact`, `assignee`, `attributes` and `escalation` appear only
/// for staff.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    /// The public ticket number: digits with a check digit.
    pub ticket: String,
    #[schema(value_type = String)]
    pub kind: ContactKind,
    pub service_code: String,
    pub service_name: Option<String>,
    /// Shown to the public for reports (problems in public places); for complaints, inquiries and
    /// suggestions, which may be about people, only to staff, as in Open311 output.
    pub description: Option<String>,
    #[schema(value_type = String)]
    pub priority: Priority,
    #[schema(value_type = String)]
    pub status: Status,
    /// Open311's two-valued status: open or closed.
    pub open311_status: String,
    pub location: LocationView,
    #[schema(value_type = String)]
    pub channel: Channel,
    pub department: String,
    pub team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    pub media_urls: Vec<String>,
    /// Answers to the service's questions (names of establishments, plates, employees): staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub attributes: Option<BTreeMap<String, AttributeAnswer>>,
    pub status_note: Option<String>,
    pub duplicate_of: Option<String>,
    pub n_follow_ups: u32,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    pub expected_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactView>,
    /// The SLA clocks; on single-report reads only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaView>,
    /// How far the report has climbed its escalation chain: staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationProgressView>,
}

/// Both SLA clocks of a report.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaView {
    pub first_response: ClockView,
    pub resolution: ClockView,
}

/// One SLA clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockView {
    /// running, paused, met or breached
    pub state: &'static str,
    pub due_at: String,
    /// Counted minutes left (negative once breached); business minutes for business-hours targets.
    pub remaining_minutes: i64,
    pub percent_used: i64,
    /// When the clock stopped in time.
    pub met_at: Option<String>,
}

impl ClockView {
    fn new(clock: &balagh_domain::sla::ClockState) -> Self {
        use balagh_domain::sla::ClockOutcome;
        let (state, met_at) = match clock.outcome {
            ClockOutcome::Running => ("running", None),
            ClockOutcome::Paused => ("paused", None),
            ClockOutcome::Met { at } => ("met", Some(rfc3339(at))),
            ClockOutcome::Breached => ("breached", None),
        };
        ClockView { state, due_at: rfc3339(clock.due_at), remaining_minutes: clock.remaining_minutes, percent_used: clock.percent_used, met_at }
    }
}

impl From<&balagh_domain::sla::SlaState> for SlaView {
    fn from(state: &balagh_domain::sla::SlaState) -> Self {
        SlaView { first_response: ClockView::new(&state.first_response), resolution: ClockView::new(&state.resolution) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationView {
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub short_address: Option<String>,
}

/// Personal data: shown to staff only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub language: String,
    #[schema(value_type = String)]
    pub preferred_channel: Option<Channel>,
}

impl ReportView {
    pub fn new(report: &Report, state: &AppState, staff: bool) -> Self {
        let service_name = state.app.catalogue().service(&report.service_code).map(|s| s.name_ar.clone());
        let location = &report.location;
        ReportView {
            ticket: report.ticket().to_string(),
            kind: report.kind,
            service_code: report.service_code.clone(),
            service_name,
            description: (staff || report.kind == ContactKind::Report).then(|| report.description.as_str().to_owned()),
            priority: report.priority,
            status: report.status,
            open311_status: report.status.open311().as_str().to_owned(),
            location: LocationView {
                lat: location.coordinates.map(|c| c.lat()),
                long: location.coordinates.map(|c| c.lon()),
                address: location.address.clone(),
                address_id: location.address_id.clone(),
                city: location.city.clone(),
                district: location.district.clone(),
                short_address: location.short_address.as_ref().map(|s| s.as_str().to_owned()),
            },
            channel: report.channel,
            department: report.assignment.department.clone(),
            team: report.assignment.team.clone(),
            assignee: if staff { report.assignment.user.clone() } else { None },
            media_urls: report.media.clone(),
            attributes: staff.then(|| report.attributes.clone()),
            status_note: report.status_note.clone(),
            duplicate_of: report.duplicate_of.map(|d| d.ticket().to_string()),
            n_follow_ups: report.n_follow_ups,
            created_at: rfc3339(report.created_at),
            updated_at: rfc3339(report.updated_at),
            resolved_at: report.resolved_at.map(rfc3339),
            closed_at: report.closed_at.map(rfc3339),
            expected_at: report.expected_at.map(rfc3339),
            contact: staff.then(|| ContactView {
                name: report.contact.name.clone(),
                phone: report.contact.phone.as_ref().map(|p| p.as_str().to_owned()),
                email: report.contact.email.as_ref().map(|e| e.as_str().to_owned()),
                language: report.contact.language.as_str().to_owned(),
                preferred_channel: report.contact.preferred_channel,
            }),
            sla: None,
            escalation: staff.then(|| EscalationProgressView::new(&report.escalation)),
        }
    }
}

/// Whether this caller sees personal data and internal events for `report`.
fn sees_everything(caller: &Option<Actor>, report: &Report) -> bool {
    match caller {
        Some(actor) if actor.role == Role::Staff => actor.department.as_ref().is_none_or(|d| *d == report.assignment.department),
        Some(actor) => actor.role.is_staff_side(),
        None => false,
    }
}

/// Open a report, complaint, inquiry or suggestion.
///
/// Answers 201 only once the report is durably stored. Send an `Idempotency-Key` header so a retry
/// returns the same report instead of opening a second one.
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports", request_body = CreateReport,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    responses((status = 201, body = ReportView), (status = 200, description = "replay of an earlier request with the same key", body = ReportView), (status = 422, body = crate::error::ErrorBody), (status = 400, body = crate::error::ErrorBody)))]
pub async fn create_report(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateReport>,
) -> Result<Response, HttpError> {
    let channel = match body.channel.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(text) => Channel::parse_contact("channel", text).map_err(HttpError::field)?,
        None => Channel::Api,
    };
    let actor = caller.clone().unwrap_or_else(Actor::beneficiary);
    let key = match headers.get("idempotency-key") {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| HttpError::field(FieldError::new("Idempotency-Key", "invalid_idempotency_key", "Idempotency-Key must be printable ASCII")))?,
        ),
        None => None,
    };
    let opened = state.app.open_report(&body.into_draft(), channel, &actor, key).await?;
    let view = ReportView::new(&opened.report, &state, sees_everything(&caller, &opened.report));
    let status = if opened.replayed { StatusCode::OK } else { StatusCode::CREATED };
    let location = format!("/api/v1/reports/{}", view.ticket);
    Ok((status, [(header::LOCATION, location)], Json(view)).into_response())
}

/// Read one report by its ticket number. Staff keys also see contact details.
#[utoipa::path(get, path = "/api/v1/reports/{ticket}", tag = "reports", params(("ticket" = String, Path)),
    responses((status = 200, body = ReportView), (status = 404, body = crate::error::ErrorBody), (status = 422, description = "bad ticket number", body = crate::error::ErrorBody)))]
pub async fn get_report(State(state): State<AppState>, Caller(caller): Caller, Path(ticket): Path<String>) -> Result<Json<ReportView>, HttpError> {
    let report = state.app.report(parse_ticket(&ticket)?).await?;
    let sla = state.app.sla_state(&report).await?;
    let mut view = ReportView::new(&report, &state, sees_everything(&caller, &report));
    view.sla = Some(SlaView::from(&sla));
    Ok(Json(view))
}

/// List filters. Lists are comma-separated; times are RFC 3339.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub status: Option<String>,
    pub service_code: Option<String>,
    pub department: Option<String>,
    pub priority: Option<String>,
    pub channel: Option<String>,
    pub kind: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    /// min_lat,min_long,max_lat,max_long
    pub bbox: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500; 50 by default.
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPage {
    pub items: Vec<ReportView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

const MAX_PAGE: u64 = 500;

fn list_of<T>(field: &str, text: Option<&str>, parse: impl Fn(&str, &str) -> Result<T, FieldError>, errors: &mut ValidationErrors) -> Vec<T> {
    text.map(|t| t.split(',').map(str::trim).filter(|s| !s.is_empty()).filter_map(|s| errors.take(parse(field, s))).collect()).unwrap_or_default()
}

pub(crate) fn instant(field: &str, text: Option<&str>, errors: &mut ValidationErrors) -> Option<Timestamp> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    errors.take(
        text.parse::<Timestamp>()
            .map_err(|_| FieldError::new(field, "invalid_datetime", format!("{field} must be an RFC 3339 date-time with an offset, got '{text}'"))),
    )
}

fn parse_cursor(text: &str) -> Result<Cursor, FieldError> {
    let invalid = || FieldError::new("cursor", "invalid_cursor", "cursor is not one this server gave out");
    let (micros, id) = text.split_once('.').ok_or_else(invalid)?;
    let created_at = Timestamp::from_microsecond(micros.parse().map_err(|_| invalid())?).map_err(|_| invalid())?;
    Ok(Cursor { created_at, id: ReportId(id.parse().map_err(|_| invalid())?) })
}

fn parse_bbox(text: &str) -> Result<BoundingBox, FieldError> {
    let invalid = || FieldError::new("bbox", "invalid_bbox", "bbox must be min_lat,min_long,max_lat,max_long within WGS84 with min <= max");
    let parts: Vec<f64> = text.split(',').map(|p| p.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| invalid())?;
    let [min_lat, min_lon, max_lat, max_lon] = parts[..] else { return Err(invalid()) };
    balagh_domain::Coordinates::new(min_lat, min_lon).map_err(|_| invalid())?;
    balagh_domain::Coordinates::new(max_lat, max_lon).map_err(|_| invalid())?;
    if min_lat > max_lat || min_lon > max_lon {
        return Err(invalid());
    }
    Ok(BoundingBox { min_lat, min_lon, max_lat, max_lon })
}

impl ListParams {
    fn into_filter(self) -> Result<ReportFilter, HttpError> {
        let mut errors = ValidationErrors::default();
        let limit = self.limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            errors.add("limit", "invalid_limit", format!("limit must be from 1 to {MAX_PAGE}"));
        }
        let filter = ReportFilter {
            statuses: list_of("status", self.status.as_deref(), Status::parse, &mut errors),
            service_codes: list_of("service_code", self.service_code.as_deref(), |_, s| Ok(s.to_owned()), &mut errors),
            departments: list_of("department", self.department.as_deref(), |_, s| Ok(s.to_owned()), &mut errors),
            priorities: list_of("priority", self.priority.as_deref(), Priority::parse, &mut errors),
            channels: list_of("channel", self.channel.as_deref(), Channel::parse, &mut errors),
            kinds: list_of("kind", self.kind.as_deref(), ContactKind::parse, &mut errors),
            created_from: instant("created_from", self.created_from.as_deref(), &mut errors),
            created_to: instant("created_to", self.created_to.as_deref(), &mut errors),
            bbox: self.bbox.as_deref().filter(|b| !b.is_empty()).and_then(|b| errors.take(parse_bbox(b))),
            after: self.cursor.as_deref().filter(|c| !c.is_empty()).and_then(|c| errors.take(parse_cursor(c))),
            limit,
            ..ReportFilter::default()
        };
        if errors.is_empty() { Ok(filter) } else { Err(HttpError::Unprocessable(errors.0)) }
    }
}

/// List reports, newest first, with filters and cursor pagination. The public sees public views;
/// staff bound to a department see only that department's reports.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ListParams),
    responses((status = 200, body = ReportPage), (status = 422, body = crate::error::ErrorBody)))]
pub async fn list_reports(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ReportPage>, HttpError> {
    let filter = params.into_filter()?;
    let limit = filter.limit;
    let viewer = caller.clone().unwrap_or_else(Actor::beneficiary);
    let reports = state.app.list_reports(filter, &viewer).await?;
    let next_cursor = (reports.len() as u64 == limit).then(|| reports.last().map(|r| format!("{}.{}", r.created_at.as_microsecond(), r.id.0))).flatten();
    let items = reports.iter().map(|r| ReportView::new(r, &state, sees_everything(&caller, r))).collect();
    Ok(Json(ReportPage { items, next_cursor }))
}

/// A lifecycle action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// acknowledge, assign, start, hold, await_citizen, resume, resolve, close, reopen, reject, mark_duplicate
    pub action: String,
    /// assign: the department (defaults to the report's).
    pub department: Option<String>,
    pub team: Option<String>,
    pub user: Option<String>,
    /// resolve: what was done (required).
    pub resolution: Option<String>,
    /// hold, reopen, reject: why (required).
    pub reason: Option<String>,
    /// await_citizen: what is asked of the beneficiary (required).
    pub question: Option<String>,
    /// mark_duplicate: the original report's ticket number.
    pub original: Option<String>,
    /// The channel the action came through; `api` by default.
    pub channel: Option<String>,
}

impl TransitionRequest {
    fn into_command(self, report_department: Option<String>) -> Result<Command, HttpError> {
        let text = |value: Option<String>| value.unwrap_or_default();
        Ok(match self.action.as_str() {
            "acknowledge" => Command::Acknowledge,
            "assign" => Command::Assign { department: self.department.or(report_department).unwrap_or_default(), team: self.team, user: self.user },
            "start" => Command::Start,
            "hold" => Command::Hold { reason: text(self.reason) },
            "await_citizen" => Command::AwaitCitizen { question: text(self.question) },
            "resume" => Command::Resume,
            "resolve" => Command::Resolve { resolution: text(self.resolution) },
            "close" => Command::Close,
            "reopen" => Command::Reopen { reason: text(self.reason) },
            "reject" => Command::Reject { reason: text(self.reason) },
            "mark_duplicate" => {
                let original = self.original.as_deref().ok_or_else(|| {
                    HttpError::field(FieldError::new("original", "missing_original", "mark_duplicate needs the original report's ticket number"))
                })?;
                Command::MarkDuplicate { original: TicketNumber::parse(original).map_err(|e| HttpError::field(e.field("original")))?.report_id() }
            }
            other => {
                return Err(HttpError::field(FieldError::new(
                    "action",
                    "unknown_action",
                    format!("'{other}' is not one of: acknowledge, assign, start, hold, await_citizen, resume, resolve, close, reopen, reject, mark_duplicate"),
                )));
            }
        })
    }
}

fn optional_channel(text: Option<&str>, default: Channel) -> Result<Channel, HttpError> {
    match text.filter(|c| !c.trim().is_empty()) {
        Some(text) => Channel::parse_contact("channel", text).map_err(HttpError::field),
        None => Ok(default),
    }
}

/// Move a report through its lifecycle (staff key required; the role decides what is allowed).
#[utoipa::path(post, path = "/api/v1/reports/{ticket}/transitions", tag = "lifecycle", params(("ticket" = String, Path)), request_body = TransitionRequest,
    security(("api_key" = [])),
    responses((status = 200, body = ReportView), (status = 409, description = "illegal transition", body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)))]
pub async fn transition(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    Path(ticket): Path<String>,
    ApiJson(body): ApiJson<TransitionRequest>,
) -> Result<Json<ReportView>, HttpError> {
    let ticket = parse_ticket(&ticket)?;
    let channel = optional_channel(body.channel.as_deref(), Channel::Api)?;
    let department = if body.action == "assign" && body.department.is_none() { Some(state.app.report(ticket).await?.assignment.department) } else { None };
    let report = state.app.transition(ticket, body.into_command(department)?, &actor, channel).await?;
    Ok(Json(ReportView::new(&report, &state, true)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    pub text: String,
    /// Public comments are shown to the beneficiary; internal ones (the default) only to staff.
    #[serde(default)]
    pub public: bool,
}

/// Comment on a report (staff key required).
#[utoipa::path(post, path = "/api/v1/reports/{ticket}/comments", tag = "lifecycle", params(("ticket" = String, Path)), request_body = CommentRequest,
    security(("api_key" = [])), responses((status = 201, body = ReportView), (status = 401, body = crate::error::ErrorBody)))]
pub async fn comment(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    Path(ticket): Path<String>,
    ApiJson(body): ApiJson<CommentRequest>,
) -> Result<(StatusCode, Json<ReportView>), HttpError> {
    let report = state.app.comment(parse_ticket(&ticket)?, &body.text, body.public, &actor, Channel::Api).await?;
    Ok((StatusCode::CREATED, Json(ReportView::new(&report, &state, true))))
}

/// A beneficiary's follow-up, proven by the phone number on the report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    pub phone: String,
    pub text: Option<String>,
    pub channel: Option<String>,
}

/// File a follow-up on a report the beneficiary feels is being ignored.
#[utoipa::path(post, path = "/api/v1/reports/{ticket}/follow-ups", tag = "beneficiary", params(("ticket" = String, Path)), request_body = FollowUpRequest,
    responses((status = 201, body = FollowUpView), (status = 403, description = "phone does not match", body = crate::error::ErrorBody), (status = 409, description = "report is closed, or a follow-up came too soon", body = crate::error::ErrorBody)))]
pub async fn follow_up(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    ApiJson(body): ApiJson<FollowUpRequest>,
) -> Result<(StatusCode, Json<FollowUpView>), HttpError> {
    let channel = optional_channel(body.channel.as_deref(), Channel::Api)?;
    let followed = state.app.follow_up(parse_ticket(&ticket)?, &body.phone, body.text.as_deref(), channel).await?;
    let outcome = if followed.escalated { "escalated" } else { "assignee_notified" };
    Ok((StatusCode::CREATED, Json(FollowUpView { report: ReportView::new(&followed.report, &state, false), outcome })))
}

/// The report after a follow-up, and what the follow-up did: `escalated` (the report was past due
/// or idle and climbed one level at once) or `assignee_notified`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpView {
    #[serde(flatten)]
    pub report: ReportView,
    pub outcome: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionRatingRequest {
    pub phone: String,
    /// 1 to 5: the agent's service.
    pub agent_service: i64,
    /// 1 to 5: the quality of the answer.
    pub answer_quality: i64,
    pub agent: Option<String>,
    pub channel: Option<String>,
}

/// Rate a contact: the agent's service and the quality of the answer, 1 to 5 each.
#[utoipa::path(post, path = "/api/v1/reports/{ticket}/ratings/interaction", tag = "beneficiary", params(("ticket" = String, Path)), request_body = InteractionRatingRequest,
    responses((status = 201, body = ReportView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn rate_interaction(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    ApiJson(body): ApiJson<InteractionRatingRequest>,
) -> Result<(StatusCode, Json<ReportView>), HttpError> {
    let ticket = parse_ticket(&ticket)?;
    let mut errors = ValidationErrors::default();
    let agent_service = errors.take(Score::new("agent_service", body.agent_service));
    let answer_quality = errors.take(Score::new("answer_quality", body.answer_quality));
    let channel = optional_channel(body.channel.as_deref(), Channel::Api)?;
    let (Some(agent_service), Some(answer_quality)) = (agent_service, answer_quality) else { return Err(HttpError::Unprocessable(errors.0)) };
    let rating = InteractionRating { agent_service, answer_quality, agent: body.agent };
    let report = state.app.rate_interaction(ticket, &body.phone, rating, channel).await?;
    Ok((StatusCode::CREATED, Json(ReportView::new(&report, &state, false))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureRatingRequest {
    pub phone: String,
    /// 1 to 5: how well the problem was fixed. 2 or less reopens the report.
    pub quality: i64,
    /// 1 to 5: how fast.
    pub speed: i64,
    pub comment: Option<String>,
    /// The problem is still there: reopens the report.
    #[serde(default)]
    pub not_fixed: bool,
    pub channel: Option<String>,
}

/// Rate the closure of a resolved report: quality and speed. Accepting closes it; "not fixed" or a
/// quality of 2 or less reopens it.
#[utoipa::path(post, path = "/api/v1/reports/{ticket}/ratings/closure", tag = "beneficiary", params(("ticket" = String, Path)), request_body = ClosureRatingRequest,
    responses((status = 201, body = ReportView), (status = 409, description = "not resolved, or already rated", body = crate::error::ErrorBody)))]
pub async fn rate_closure(
    State(state): State<AppState>,
    Path(ticket): Path<String>,
    ApiJson(body): ApiJson<ClosureRatingRequest>,
) -> Result<(StatusCode, Json<ReportView>), HttpError> {
    let ticket = parse_ticket(&ticket)?;
    let mut errors = ValidationErrors::default();
    let quality = errors.take(Score::new("quality", body.quality));
    let speed = errors.take(Score::new("speed", body.speed));
    let channel = optional_channel(body.channel.as_deref(), Channel::Api)?;
    let (Some(quality), Some(speed)) = (quality, speed) else { return Err(HttpError::Unprocessable(errors.0)) };
    let rating = ClosureRating { quality, speed, comment: body.comment.filter(|c| !c.trim().is_empty()), not_fixed: body.not_fixed };
    let report = state.app.rate_closure(ticket, &body.phone, rating, channel).await?;
    Ok((StatusCode::CREATED, Json(ReportView::new(&report, &state, false))))
}

/// One timeline entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub at: String,
    /// created, status_changed, assigned, commented, followed_up, interaction_rated, closure_rated,
    /// escalated, escalation_acknowledged (staff only)
    pub kind: String,
    #[schema(value_type = String)]
    pub status: Status,
    #[schema(value_type = String)]
    pub channel: Channel,
    pub public: bool,
    pub actor_role: String,
    /// Staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// For the public, an escalation's note (why it fired) is left out.
    pub note: Option<String>,
    /// The event's details. For the public, an escalation shows only `type` and `level`: not whom
    /// it went to, nor what it did.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl EventView {
    fn new(stored: &StoredEvent, staff: bool) -> Self {
        let event = &stored.event;
        let (note, data) = if staff { (event.note.clone(), serde_json::to_value(&event.kind).unwrap_or_default()) } else { public_details(event) };
        EventView {
            at: rfc3339(event.at),
            kind: event.kind.name().to_owned(),
            status: stored.status,
            channel: event.channel,
            public: event.public,
            actor_role: event.actor.role.as_str().to_owned(),
            actor_id: if staff { event.actor.id.clone() } else { None },
            note,
            data,
        }
    }
}

/// An event's note and details as the public sees them. An escalation says only that the report
/// was escalated and to which level; whom it addressed, what it did and why stay internal.
fn public_details(event: &Event) -> (Option<String>, serde_json::Value) {
    match &event.kind {
        EventKind::Escalated { level, .. } => (None, serde_json::json!({ "type": event.kind.name(), "level": level })),
        kind => (event.note.clone(), serde_json::to_value(kind).unwrap_or_default()),
    }
}

/// One photo of a report (named in its `media` as `media:photo:SHA256`), for staff who may see
/// the report. Stored without its metadata.
#[utoipa::path(get, path = "/api/v1/reports/{ticket}/photos/{sha256}", tag = "lifecycle", params(("ticket" = String, Path), ("sha256" = String, Path)),
    responses((status = 200, description = "the photo", content_type = "image/jpeg"), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub async fn photo(
    State(state): State<AppState>,
    StaffCaller(caller): StaffCaller,
    Path((ticket, sha256)): Path<(String, String)>,
) -> Result<Response, HttpError> {
    let photo = state.app.report_photo(parse_ticket(&ticket)?, &sha256, &caller).await?;
    let headers = [(header::CONTENT_TYPE, photo.content_type), (header::CACHE_CONTROL, "private, max-age=86400".to_owned())];
    Ok((headers, photo.bytes).into_response())
}

/// A report's timeline, oldest first: public events for everyone, all events for staff. The public
/// sees an escalation only as the level it reached.
#[utoipa::path(get, path = "/api/v1/reports/{ticket}/timeline", tag = "reports", params(("ticket" = String, Path)),
    responses((status = 200, body = [EventView]), (status = 404, body = crate::error::ErrorBody)))]
pub async fn timeline(State(state): State<AppState>, Caller(caller): Caller, Path(ticket): Path<String>) -> Result<Json<Vec<EventView>>, HttpError> {
    let viewer = caller.unwrap_or_else(Actor::beneficiary);
    let events = state.app.timeline(parse_ticket(&ticket)?, &viewer).await?;
    let staff = viewer.role.is_staff_side();
    Ok(Json(events.iter().filter(|e| staff || e.event.public).map(|e| EventView::new(e, staff)).collect()))
}
