//! Rows as the database holds them and their conversion to and from domain values. Instants are
//! stored as UTC microseconds since the Unix epoch in BIGINT columns, identical on both backends.

use crate::StoreError;
use balagh_domain::catalogue::AttributeAnswer;
use balagh_domain::contact::{Contact, Email, Language, PhoneNumber};
use balagh_domain::escalation::Progress;
use balagh_domain::event::{Actor, Event, EventKind, Role};
use balagh_domain::geo::{Coordinates, Location, ShortAddress};
use balagh_domain::report::{Assignment, Description, Report, ReportId};
use balagh_domain::vocabulary::{Channel, ContactKind, Priority, Status};
use jiff::Timestamp;
use sea_query::{Expr, SimpleExpr};
use std::collections::BTreeMap;

pub fn micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

pub fn from_micros(value: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(value).map_err(|e| StoreError::Corrupt(format!("timestamp {value}: {e}")))
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

/// The columns of `reports`, in the order of `report_values`.
pub const REPORT_COLUMNS: [&str; 40] = [
    "id",
    "kind",
    "service_code",
    "department",
    "team",
    "assignee",
    "description",
    "priority",
    "status",
    "lat",
    "lon",
    "cell",
    "address",
    "address_id",
    "city",
    "district",
    "short_address",
    "reporter_name",
    "reporter_phone",
    "reporter_email",
    "language",
    "preferred_channel",
    "device_id",
    "account_id",
    "channel",
    "media",
    "attributes",
    "status_note",
    "duplicate_of",
    "n_follow_ups",
    "version",
    "created_at",
    "updated_at",
    "resolved_at",
    "closed_at",
    "expected_at",
    "escalation_round",
    "escalation_fired",
    "escalated_at",
    "flagged",
];

/// The columns read back into a `ReportRow`: all but the derived grid `cell`.
pub fn report_select_columns() -> impl Iterator<Item = &'static str> {
    REPORT_COLUMNS.into_iter().filter(|column| *column != "cell")
}

/// The columns that a change to a report may rewrite.
pub const MUTABLE_REPORT_COLUMNS: [&str; 20] = [
    "department",
    "team",
    "assignee",
    "priority",
    "status",
    "status_note",
    "duplicate_of",
    "n_follow_ups",
    "updated_at",
    "resolved_at",
    "closed_at",
    "expected_at",
    "description",
    "escalation_round",
    "escalation_fired",
    "escalated_at",
    "flagged",
    "lat",
    "lon",
    "cell",
];

#[derive(sqlx::FromRow, Debug)]
pub struct ReportRow {
    pub id: i64,
    pub kind: String,
    pub service_code: String,
    pub department: String,
    pub team: Option<String>,
    pub assignee: Option<String>,
    pub description: String,
    pub priority: i64,
    pub status: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub short_address: Option<String>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub reporter_email: Option<String>,
    pub language: String,
    pub preferred_channel: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub channel: String,
    pub media: String,
    pub attributes: String,
    pub status_note: Option<String>,
    pub duplicate_of: Option<i64>,
    pub n_follow_ups: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub expected_at: Option<i64>,
    pub escalation_round: i64,
    pub escalation_fired: i64,
    pub escalated_at: Option<i64>,
    pub flagged: bool,
}

fn optional_time(value: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    value.map(from_micros).transpose()
}

impl ReportRow {
    pub fn into_report(self) -> Result<Report, StoreError> {
        let coordinates = match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => Some(Coordinates::new(lat, lon).map_err(|e| corrupt("coordinates", e))?),
            _ => None,
        };
        let media: Vec<String> = serde_json::from_str(&self.media).map_err(|e| corrupt("media", e))?;
        let attributes: BTreeMap<String, AttributeAnswer> = serde_json::from_str(&self.attributes).map_err(|e| corrupt("attributes", e))?;
        Ok(Report {
            id: ReportId(self.id),
            kind: ContactKind::parse("kind", &self.kind).map_err(|e| corrupt("kind", e))?,
            service_code: self.service_code,
            description: Description::parse("description", &self.description).map_err(|e| corrupt("description", e))?,
            priority: Priority::from_rank(i16::try_from(self.priority).unwrap_or(-1)).ok_or_else(|| corrupt("priority", self.priority))?,
            status: Status::parse("status", &self.status).map_err(|e| corrupt("status", e))?,
            location: Location {
                coordinates,
                address: self.address,
                address_id: self.address_id,
                city: self.city,
                district: self.district,
                short_address: self.short_address.map(|s| ShortAddress::parse("short_address", &s)).transpose().map_err(|e| corrupt("short_address", e))?,
            },
            contact: Contact {
                name: self.reporter_name,
                phone: self.reporter_phone.map(|p| PhoneNumber::parse("phone", &p)).transpose().map_err(|e| corrupt("phone", e))?,
                email: self.reporter_email.map(|e| Email::parse("email", &e)).transpose().map_err(|e| corrupt("email", e))?,
                language: Language::parse("language", &self.language).unwrap_or_default(),
                preferred_channel: self
                    .preferred_channel
                    .map(|c| Channel::parse("preferred_channel", &c))
                    .transpose()
                    .map_err(|e| corrupt("preferred_channel", e))?,
                device_id: self.device_id,
                account_id: self.account_id,
            },
            channel: Channel::parse("channel", &self.channel).map_err(|e| corrupt("channel", e))?,
            assignment: Assignment { department: self.department, team: self.team, user: self.assignee },
            media,
            attributes,
            status_note: self.status_note,
            duplicate_of: self.duplicate_of.map(ReportId),
            n_follow_ups: u32::try_from(self.n_follow_ups).unwrap_or(u32::MAX),
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
            resolved_at: optional_time(self.resolved_at)?,
            closed_at: optional_time(self.closed_at)?,
            expected_at: optional_time(self.expected_at)?,
            escalation: Progress {
                round: u32::try_from(self.escalation_round).map_err(|e| corrupt("escalation_round", e))?,
                fired: u32::try_from(self.escalation_fired).map_err(|e| corrupt("escalation_fired", e))?,
                last_at: optional_time(self.escalated_at)?,
                flagged: self.flagged,
            },
        })
    }
}

fn opt<T: Into<sea_query::Value>>(value: Option<T>) -> SimpleExpr
where
    Option<T>: Into<sea_query::Value>,
{
    Expr::val(value)
}

/// The values of every column, in `REPORT_COLUMNS` order.
pub fn report_values(report: &Report, version: i64) -> Vec<SimpleExpr> {
    let location = &report.location;
    let contact = &report.contact;
    vec![
        Expr::val(report.id.0),
        Expr::val(report.kind.as_str()),
        Expr::val(report.service_code.clone()),
        Expr::val(report.assignment.department.clone()),
        opt(report.assignment.team.clone()),
        opt(report.assignment.user.clone()),
        Expr::val(report.description.as_str().to_owned()),
        Expr::val(i64::from(report.priority.rank())),
        Expr::val(report.status.as_str()),
        opt(location.coordinates.map(|c| c.lat())),
        opt(location.coordinates.map(|c| c.lon())),
        opt(location.coordinates.map(|c| c.grid_cell())),
        opt(location.address.clone()),
        opt(location.address_id.clone()),
        opt(location.city.clone()),
        opt(location.district.clone()),
        opt(location.short_address.as_ref().map(|s| s.as_str().to_owned())),
        opt(contact.name.clone()),
        opt(contact.phone.as_ref().map(|p| p.as_str().to_owned())),
        opt(contact.email.as_ref().map(|e| e.as_str().to_owned())),
        Expr::val(contact.language.as_str()),
        opt(contact.preferred_channel.map(|c| c.as_str())),
        opt(contact.device_id.clone()),
        opt(contact.account_id.clone()),
        Expr::val(report.channel.as_str()),
        Expr::val(serde_json::to_string(&report.media).unwrap_or_else(|_| "[]".into())),
        Expr::val(serde_json::to_string(&report.attributes).unwrap_or_else(|_| "{}".into())),
        opt(report.status_note.clone()),
        opt(report.duplicate_of.map(|d| d.0)),
        Expr::val(i64::from(report.n_follow_ups)),
        Expr::val(version),
        Expr::val(micros(report.created_at)),
        Expr::val(micros(report.updated_at)),
        opt(report.resolved_at.map(micros)),
        opt(report.closed_at.map(micros)),
        opt(report.expected_at.map(micros)),
        Expr::val(i64::from(report.escalation.round)),
        Expr::val(i64::from(report.escalation.fired)),
        opt(report.escalation.last_at.map(micros)),
        Expr::val(report.escalation.flagged),
    ]
}

/// The values of `MUTABLE_REPORT_COLUMNS`, for an update.
pub fn mutable_values(report: &Report) -> Vec<(&'static str, SimpleExpr)> {
    let coordinates = report.location.coordinates;
    let values: [SimpleExpr; 20] = [
        Expr::val(report.assignment.department.clone()),
        opt(report.assignment.team.clone()),
        opt(report.assignment.user.clone()),
        Expr::val(i64::from(report.priority.rank())),
        Expr::val(report.status.as_str()),
        opt(report.status_note.clone()),
        opt(report.duplicate_of.map(|d| d.0)),
        Expr::val(i64::from(report.n_follow_ups)),
        Expr::val(micros(report.updated_at)),
        opt(report.resolved_at.map(micros)),
        opt(report.closed_at.map(micros)),
        opt(report.expected_at.map(micros)),
        Expr::val(report.description.as_str().to_owned()),
        Expr::val(i64::from(report.escalation.round)),
        Expr::val(i64::from(report.escalation.fired)),
        opt(report.escalation.last_at.map(micros)),
        Expr::val(report.escalation.flagged),
        opt(coordinates.map(|c| c.lat())),
        opt(coordinates.map(|c| c.lon())),
        opt(coordinates.map(|c| c.grid_cell())),
    ];
    MUTABLE_REPORT_COLUMNS.into_iter().zip(values).collect()
}

/// The columns of `report_events` written on insert.
pub const EVENT_COLUMNS: [&str; 10] = ["report_id", "at", "actor_role", "actor_id", "channel", "public", "kind", "status", "note", "data"];

/// The values of `EVENT_COLUMNS`; `status` is the report's status after the change, except that a
/// status change records the status it moved to.
pub fn event_values(report_id: ReportId, status: Status, event: &Event) -> Vec<SimpleExpr> {
    let status = match event.kind {
        EventKind::StatusChanged { to, .. } => to,
        _ => status,
    };
    vec![
        Expr::val(report_id.0),
        Expr::val(micros(event.at)),
        Expr::val(event.actor.role.as_str()),
        opt(event.actor.id.clone()),
        Expr::val(event.channel.as_str()),
        Expr::val(event.public),
        Expr::val(event.kind.name()),
        Expr::val(status.as_str()),
        opt(event.note.clone()),
        Expr::val(serde_json::to_string(&event.kind).unwrap_or_else(|_| "{}".into())),
    ]
}

/// A stored timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub report_id: ReportId,
    /// The report's status just after this event.
    pub status: Status,
    pub event: Event,
}

#[derive(sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub report_id: i64,
    pub at: i64,
    pub actor_role: String,
    pub actor_id: Option<String>,
    pub channel: String,
    pub public: bool,
    pub status: String,
    pub note: Option<String>,
    pub data: String,
}

pub const EVENT_SELECT: [&str; 10] = ["id", "report_id", "at", "actor_role", "actor_id", "channel", "public", "status", "note", "data"];

impl EventRow {
    pub fn into_event(self) -> Result<StoredEvent, StoreError> {
        let kind: EventKind = serde_json::from_str(&self.data).map_err(|e| corrupt("event data", e))?;
        Ok(StoredEvent {
            id: self.id,
            report_id: ReportId(self.report_id),
            status: Status::parse("status", &self.status).map_err(|e| corrupt("event status", e))?,
            event: Event {
                at: from_micros(self.at)?,
                actor: Actor {
                    role: Role::parse(&self.actor_role).ok_or_else(|| corrupt("actor role", &self.actor_role))?,
                    id: self.actor_id,
                    department: None,
                    position: None,
                },
                channel: Channel::parse("channel", &self.channel).map_err(|e| corrupt("event channel", e))?,
                public: self.public,
                kind,
                note: self.note,
            },
        })
    }
}
