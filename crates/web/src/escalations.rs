//! Escalations over HTTP: staff and supervisors list what was escalated (to them, or in their
//! department) and acknowledge what was addressed to them; supervisors and administrators read the
//! follow-up and escalation measurements. Who may see and acknowledge what is the application's
//! decision; this module parses, calls it, and renders.

use crate::AppState;
use crate::api_v1::{ApiQuery, instant, rfc3339};
use crate::auth::StaffCaller;
use crate::error::HttpError;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use balagh_app::{EscalationQuery, FollowUpMeasures, StoredEscalation};
use balagh_domain::TicketNumber;
use balagh_domain::error::{FieldError, ValidationErrors};
use balagh_domain::escalation::Progress;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/escalations", get(list_escalations))
        .route("/escalations/{id}/acknowledge", post(acknowledge_escalation))
        .route("/measurements/follow-ups", get(follow_up_measurements))
}

/// The largest page of escalations.
const MAX_PAGE: u64 = 200;

/// The page size when none is asked for.
const DEFAULT_PAGE: u64 = 50;

/// The measurement window when `from` is not given: this long before `to`.
const DEFAULT_WINDOW: SignedDuration = SignedDuration::from_hours(30 * 24);

/// The longest measurement window.
const MAX_WINDOW: SignedDuration = SignedDuration::from_hours(366 * 24);

/// How far a report has climbed its escalation chain (staff only).
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationProgressView {
    /// Counts reopenings: a reopened report climbs its chain again from the first level.
    pub round: u32,
    /// Steps fired this round: the levels, then reminders of the top level.
    pub level_reached: u32,
    /// Marked as escalated for supervisors' queues; cleared when the report is resolved.
    pub flagged: bool,
    pub last_escalated_at: Option<String>,
}

impl EscalationProgressView {
    pub fn new(progress: &Progress) -> Self {
        EscalationProgressView {
            round: progress.round,
            level_reached: progress.fired,
            flagged: progress.flagged,
            last_escalated_at: progress.last_at.map(rfc3339),
        }
    }
}

/// One fired step of a report's escalation chain, as addressed to one target.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationView {
    pub id: i64,
    /// The report's ticket number.
    pub ticket: String,
    /// Counts reopenings of the report, from 0.
    pub round: u32,
    /// The level of the chain, from 1.
    pub level: u32,
    /// The step within the round, from 0: the levels, then reminders of the top level.
    pub step: u32,
    /// A reminder of the top level rather than a level reached for the first time.
    pub reminder: bool,
    /// A position (team_lead, department_manager, deputy_for_services, mayors_office,
    /// emergency_committee), `user:<id>` or `team:<name>`.
    pub target: String,
    /// The report's department.
    pub department: Option<String>,
    /// Why it fired: the trigger, a reminder, or a follow-up.
    pub reason: String,
    pub fired_at: String,
    pub acknowledged_at: Option<String>,
    /// The key name of whoever acknowledged it.
    pub acknowledged_by: Option<String>,
}

impl From<&StoredEscalation> for EscalationView {
    fn from(escalation: &StoredEscalation) -> Self {
        EscalationView {
            id: escalation.id,
            ticket: escalation.report_id.ticket().to_string(),
            round: escalation.round,
            level: escalation.level,
            step: escalation.step,
            reminder: escalation.reminder,
            target: escalation.target.clone(),
            department: escalation.department.clone(),
            reason: escalation.reason.clone(),
            fired_at: rfc3339(escalation.fired_at),
            acknowledged_at: escalation.acknowledged_at.map(rfc3339),
            acknowledged_by: escalation.acknowledged_by.clone(),
        }
    }
}

/// A page of escalations, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationPage {
    pub escalations: Vec<EscalationView>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_before: Option<i64>,
}

/// Escalation filters. Every value is checked; a wrong one is named in the answer.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EscalationParams {
    /// `true`: only those addressed to me (my key's name as `user:<name>`, or the position my key
    /// holds).
    #[param(value_type = Option<bool>)]
    pub mine: Option<String>,
    /// `true`: only those nobody has acknowledged yet.
    #[param(value_type = Option<bool>)]
    pub unacknowledged: Option<String>,
    /// Only this report's escalations (a ticket number, check digit included).
    pub ticket: Option<String>,
    /// The `next_before` of the previous page.
    #[param(value_type = Option<i64>)]
    pub before: Option<String>,
    /// 1 to 200; 50 by default.
    #[param(value_type = Option<u64>)]
    pub limit: Option<String>,
}

/// A query value, unless absent or blank.
pub(crate) fn present(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

fn boolean(field: &str, text: Option<&str>) -> Result<bool, FieldError> {
    match present(text) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(FieldError::new(field, "invalid_boolean", format!("{field} must be true or false, got '{other}'"))),
    }
}

fn before_id(text: Option<&str>) -> Result<Option<i64>, FieldError> {
    let Some(text) = present(text) else { return Ok(None) };
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Some(id)),
        _ => Err(FieldError::new("before", "invalid_before", format!("before must be an escalation id (a positive whole number), got '{text}'"))),
    }
}

pub(crate) fn page_size(text: Option<&str>) -> Result<u64, FieldError> {
    let Some(text) = present(text) else { return Ok(DEFAULT_PAGE) };
    match text.parse::<u64>() {
        Ok(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
        _ => Err(FieldError::new("limit", "invalid_limit", format!("limit must be from 1 to {MAX_PAGE}, got '{text}'"))),
    }
}

pub(crate) fn ticket(text: Option<&str>) -> Result<Option<TicketNumber>, FieldError> {
    present(text).map(|t| TicketNumber::parse(t).map_err(|e| e.field("ticket"))).transpose()
}

impl EscalationParams {
    fn into_query(self) -> Result<EscalationQuery, HttpError> {
        let mut errors = ValidationErrors::default();
        let mine = errors.take(boolean("mine", self.mine.as_deref()));
        let unacknowledged_only = errors.take(boolean("unacknowledged", self.unacknowledged.as_deref()));
        let ticket = errors.take(ticket(self.ticket.as_deref()));
        let before = errors.take(before_id(self.before.as_deref()));
        let limit = errors.take(page_size(self.limit.as_deref()));
        let (Some(mine), Some(unacknowledged_only), Some(ticket), Some(before), Some(limit)) = (mine, unacknowledged_only, ticket, before, limit) else {
            return Err(HttpError::Unprocessable(errors.0));
        };
        Ok(EscalationQuery { mine, unacknowledged_only, report: ticket.map(TicketNumber::report_id), before, limit })
    }
}

/// List escalations, newest first. Staff and supervisors bound to a department see their
/// department's; agents and integrations may not list them.
#[utoipa::path(get, path = "/api/v1/escalations", tag = "escalations", params(EscalationParams), security(("api_key" = [])),
    responses((status = 200, body = EscalationPage), (status = 422, description = "a filter is wrong; the field is named", body = crate::error::ErrorBody),
        (status = 400, description = "an unknown filter", body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_escalations(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    ApiQuery(params): ApiQuery<EscalationParams>,
) -> Result<Json<EscalationPage>, HttpError> {
    let query = params.into_query()?;
    let limit = query.limit;
    let escalations = state.app.escalations(&actor, query).await?;
    let next_before = if escalations.len() as u64 == limit { escalations.last().map(|e| e.id) } else { None };
    Ok(Json(EscalationPage { escalations: escalations.iter().map(EscalationView::from).collect(), next_before }))
}

fn escalation_id(text: &str) -> Result<i64, HttpError> {
    path_id(text, "invalid_escalation_id", "an escalation")
}

/// A row id from the path: a positive whole number, or an error naming `id`.
pub(crate) fn path_id(text: &str, code: &'static str, what: &str) -> Result<i64, HttpError> {
    match text.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(HttpError::field(FieldError::new("id", code, format!("{what} id is a positive whole number, got '{text}'")))),
    }
}

/// Acknowledge an escalation addressed to you (your key's name, or the position your key holds).
/// The report's timeline records it internally; the chain goes on for everyone else.
#[utoipa::path(post, path = "/api/v1/escalations/{id}/acknowledge", tag = "escalations", params(("id" = i64, Path, description = "the escalation's id")),
    security(("api_key" = [])),
    responses((status = 200, body = EscalationView), (status = 403, description = "`not_addressed`: the escalation is addressed to someone else", body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, description = "`already_acknowledged`", body = crate::error::ErrorBody),
        (status = 422, description = "the id is not a number", body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)))]
pub async fn acknowledge_escalation(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    Path(id): Path<String>,
) -> Result<Json<EscalationView>, HttpError> {
    let escalation = state.app.acknowledge_escalation(escalation_id(&id)?, &actor).await?;
    Ok(Json(EscalationView::from(&escalation)))
}

/// The measurement window: RFC 3339 instants; the last 30 days ending now by default.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MeasurementParams {
    /// Reports received from this instant; 30 days before `to` by default.
    pub from: Option<String>,
    /// Reports received up to this instant; now by default.
    pub to: Option<String>,
}

/// `[from, to]` of the reports measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    from: Timestamp,
    to: Timestamp,
}

impl MeasurementParams {
    fn window(&self, now: Timestamp) -> Result<Window, HttpError> {
        let mut errors = ValidationErrors::default();
        let from = instant("from", self.from.as_deref(), &mut errors);
        let to = instant("to", self.to.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(HttpError::Unprocessable(errors.0));
        }
        // The field at fault in a reversed window is the one given; `to` when both are.
        let reversed_field = if to.is_some() { "to" } else { "from" };
        let to = to.unwrap_or(now);
        let from = from.unwrap_or_else(|| to.checked_sub(DEFAULT_WINDOW).unwrap_or(Timestamp::MIN));
        if to < from {
            let message = format!("to ({to}) is before from ({from})");
            return Err(HttpError::field(FieldError::new(reversed_field, "reversed_window", message)));
        }
        if to.duration_since(from) > MAX_WINDOW {
            return Err(HttpError::field(FieldError::new("from", "window_too_long", "from must be at most 366 days before to")));
        }
        Ok(Window { from, to })
    }
}

/// Follow-ups and escalations of the reports received in a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpMeasurementsView {
    pub from: String,
    pub to: String,
    /// Reports received in the window.
    pub reports: i64,
    /// Of those, how many were followed up at least once.
    pub followed_up: i64,
    /// Their follow-ups in all.
    pub follow_ups: i64,
    /// Of those, how many were escalated at least once.
    pub escalated: i64,
    /// followed_up / reports, 0 to 1 (0 when there are no reports).
    pub followed_up_share: f64,
    /// follow_ups / reports.
    pub follow_ups_per_report: f64,
    /// escalated / reports, 0 to 1.
    pub escalated_share: f64,
}

impl FollowUpMeasurementsView {
    fn new(window: Window, measures: &FollowUpMeasures) -> Self {
        let counts = &measures.counts;
        FollowUpMeasurementsView {
            from: rfc3339(window.from),
            to: rfc3339(window.to),
            reports: counts.reports,
            followed_up: counts.followed_up,
            follow_ups: counts.follow_ups,
            escalated: counts.escalated,
            followed_up_share: measures.followed_up_share,
            follow_ups_per_report: measures.follow_ups_per_report,
            escalated_share: measures.escalated_share,
        }
    }
}

/// Follow-up and escalation measurements over the reports received in `[from, to]`: how many
/// were followed up, how often, and how many escalated. Supervisors and administrators only.
#[utoipa::path(get, path = "/api/v1/measurements/follow-ups", tag = "measurements", params(MeasurementParams), security(("api_key" = [])),
    responses((status = 200, body = FollowUpMeasurementsView), (status = 422, description = "a bad instant, to before from, or a window over 366 days", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn follow_up_measurements(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    ApiQuery(params): ApiQuery<MeasurementParams>,
) -> Result<Json<FollowUpMeasurementsView>, HttpError> {
    let window = params.window(state.app.now())?;
    let measures = state.app.follow_up_measures(&actor, window.from, window.to).await?;
    Ok(Json(FollowUpMeasurementsView::new(window, &measures)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn window(from: Option<&str>, to: Option<&str>) -> Result<Window, (String, &'static str)> {
        let params = MeasurementParams { from: from.map(str::to_owned), to: to.map(str::to_owned) };
        params.window(at("2026-03-31T00:00:00Z")).map_err(|error| match error {
            HttpError::Unprocessable(fields) => (fields[0].field.clone(), fields[0].code),
            other => panic!("unexpected {other:?}"),
        })
    }

    #[test]
    fn the_window_defaults_to_the_last_thirty_days_and_is_checked() {
        let default = Window { from: at("2026-03-01T00:00:00Z"), to: at("2026-03-31T00:00:00Z") };
        assert_eq!(window(None, None), Ok(default));
        assert_eq!(window(None, Some("2026-02-01T00:00:00Z")), Ok(Window { from: at("2026-01-02T00:00:00Z"), to: at("2026-02-01T00:00:00Z") }));
        assert_eq!(window(Some("2026-03-30T00:00:00Z"), None).unwrap().to, default.to);
        assert_eq!(window(Some("2026-04-01T00:00:00Z"), None), Err(("from".into(), "reversed_window")));
        assert_eq!(window(Some("2026-03-02T00:00:00Z"), Some("2026-03-01T00:00:00Z")), Err(("to".into(), "reversed_window")));
        assert_eq!(window(Some("2025-03-29T00:00:00Z"), None), Err(("from".into(), "window_too_long")));
        assert!(window(Some("2025-03-30T00:00:00Z"), None).is_ok(), "exactly 366 days is allowed");
        assert_eq!(window(Some("yesterday"), None), Err(("from".into(), "invalid_datetime")));
        assert_eq!(window(None, Some("2026-13-01T00:00:00Z")), Err(("to".into(), "invalid_datetime")));
    }

    fn query(pairs: &str) -> Result<EscalationQuery, Vec<(String, &'static str)>> {
        let params: EscalationParams = serde_urlencoded::from_str(pairs).unwrap();
        params.into_query().map_err(|error| match error {
            HttpError::Unprocessable(fields) => fields.into_iter().map(|f| (f.field, f.code)).collect(),
            other => panic!("unexpected {other:?}"),
        })
    }

    #[test]
    fn escalation_filters_default_sensibly_and_every_bad_value_is_named() {
        let default = query("").unwrap();
        assert_eq!((default.mine, default.unacknowledged_only, default.report, default.before, default.limit), (false, false, None, None, 50));
        let ticket = TicketNumber::for_report(balagh_domain::ReportId(42)).to_string();
        let full = query(&format!("mine=true&unacknowledged=true&ticket={ticket}&before=17&limit=200")).unwrap();
        assert_eq!((full.mine, full.unacknowledged_only, full.report, full.before, full.limit), (true, true, Some(balagh_domain::ReportId(42)), Some(17), 200));
        let blank = query("mine=&limit=").unwrap();
        assert_eq!((blank.mine, blank.limit), (false, 50));
        for (pairs, field, code) in [
            ("mine=yes", "mine", "invalid_boolean"),
            ("unacknowledged=1", "unacknowledged", "invalid_boolean"),
            ("ticket=12ab", "ticket", "ticket_not_digits"),
            ("before=0", "before", "invalid_before"),
            ("before=x", "before", "invalid_before"),
            ("limit=0", "limit", "invalid_limit"),
            ("limit=201", "limit", "invalid_limit"),
            ("limit=-1", "limit", "invalid_limit"),
        ] {
            assert_eq!(query(pairs).unwrap_err(), vec![(field.to_owned(), code)], "{pairs}");
        }
        let several: Vec<String> = query("mine=maybe&limit=0").unwrap_err().into_iter().map(|(field, _)| field).collect();
        assert_eq!(several, ["mine", "limit"]);
    }
}
