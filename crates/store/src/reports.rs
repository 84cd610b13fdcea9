//! Reading and changing reports: lookups, filtered lists with keyset pagination, and changes made
//! under optimistic concurrency (a `version` column) with their timeline events and ratings in the
//! same transaction.

use crate::StoreError;
use crate::db::{Db, Tx};
use crate::rows::{EVENT_SELECT, EventRow, ReportRow, StoredEvent, micros, report_select_columns};
use balagh_domain::event::Event;
use balagh_domain::geo::Coordinates;
use balagh_domain::report::{Report, ReportId};
use balagh_domain::vocabulary::{Channel, ContactKind, Priority, Status};
use jiff::Timestamp;
use sea_query::{Cond, Expr, ExprTrait, LockType, Order, Query, SelectStatement};

/// A geographic filter: reports whose coordinates fall inside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_lat: f64,
    pub min_lon: f64,
    pub max_lat: f64,
    pub max_lon: f64,
}

/// Where a newest-first page ends: the next page holds reports strictly older than this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: Timestamp,
    pub id: ReportId,
}

/// A list query. Empty vectors mean "any"; lists are newest first.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub ids: Vec<ReportId>,
    pub statuses: Vec<Status>,
    pub service_codes: Vec<String>,
    pub departments: Vec<String>,
    pub priorities: Vec<Priority>,
    pub channels: Vec<Channel>,
    pub kinds: Vec<ContactKind>,
    pub districts: Vec<String>,
    pub created_from: Option<Timestamp>,
    pub created_to: Option<Timestamp>,
    pub bbox: Option<BoundingBox>,
    pub after: Option<Cursor>,
    pub offset: u64,
    pub limit: u64,
}

/// A bounding box covering more grid cells than this is answered by scanning recent reports.
const MAX_BBOX_CELLS: usize = 400;

fn select_reports() -> SelectStatement {
    Query::select().columns(report_select_columns()).from("reports").to_owned()
}

fn rows_to_reports(rows: Vec<ReportRow>) -> Result<Vec<Report>, StoreError> {
    rows.into_iter().map(ReportRow::into_report).collect()
}

impl ReportFilter {
    fn condition(&self) -> Cond {
        let mut cond = Cond::all();
        if !self.ids.is_empty() {
            cond = cond.add(Expr::col("id").is_in(self.ids.iter().map(|i| i.0)));
        }
        if !self.statuses.is_empty() {
            cond = cond.add(Expr::col("status").is_in(self.statuses.iter().map(|s| s.as_str())));
        }
        if !self.service_codes.is_empty() {
            cond = cond.add(Expr::col("service_code").is_in(self.service_codes.iter().cloned()));
        }
        if !self.departments.is_empty() {
            cond = cond.add(Expr::col("department").is_in(self.departments.iter().cloned()));
        }
        if !self.priorities.is_empty() {
            cond = cond.add(Expr::col("priority").is_in(self.priorities.iter().map(|p| i64::from(p.rank()))));
        }
        if !self.channels.is_empty() {
            cond = cond.add(Expr::col("channel").is_in(self.channels.iter().map(|c| c.as_str())));
        }
        if !self.kinds.is_empty() {
            cond = cond.add(Expr::col("kind").is_in(self.kinds.iter().map(|k| k.as_str())));
        }
        if !self.districts.is_empty() {
            cond = cond.add(Expr::col("district").is_in(self.districts.iter().cloned()));
        }
        if let Some(from) = self.created_from {
            cond = cond.add(Expr::col("created_at").gte(micros(from)));
        }
        if let Some(to) = self.created_to {
            cond = cond.add(Expr::col("created_at").lte(micros(to)));
        }
        if let Some(bbox) = self.bbox {
            if let (Ok(south_west), Ok(north_east)) = (Coordinates::new(bbox.min_lat, bbox.min_lon), Coordinates::new(bbox.max_lat, bbox.max_lon))
                && let Some(cells) = Coordinates::cells_between(south_west, north_east, MAX_BBOX_CELLS)
            {
                cond = cond.add(Expr::col("cell").is_in(cells));
            }
            cond = cond.add(Expr::col("lat").between(bbox.min_lat, bbox.max_lat)).add(Expr::col("lon").between(bbox.min_lon, bbox.max_lon));
        }
        if let Some(cursor) = self.after {
            let at = micros(cursor.created_at);
            cond = cond
                .add(Cond::any().add(Expr::col("created_at").lt(at)).add(Cond::all().add(Expr::col("created_at").eq(at)).add(Expr::col("id").lt(cursor.id.0))));
        }
        cond
    }
}

impl Db {
    pub async fn report(&self, id: ReportId) -> Result<Option<Report>, StoreError> {
        let query = select_reports().and_where(Expr::col("id").eq(id.0)).to_owned();
        self.fetch_optional::<ReportRow, _>(&query).await?.map(ReportRow::into_report).transpose()
    }

    /// Reports matching `filter`, newest first, at most `filter.limit`.
    pub async fn reports(&self, filter: &ReportFilter) -> Result<Vec<Report>, StoreError> {
        let query = select_reports()
            .cond_where(filter.condition())
            .order_by("created_at", Order::Desc)
            .order_by("id", Order::Desc)
            .limit(filter.limit)
            .offset(Ord::min(filter.offset, i64::MAX as u64))
            .to_owned();
        rows_to_reports(self.fetch_all::<ReportRow, _>(&query).await?)
    }

    /// A report's timeline, oldest first; internal events only when `include_internal`.
    pub async fn events(&self, id: ReportId, include_internal: bool) -> Result<Vec<StoredEvent>, StoreError> {
        let mut query =
            Query::select().columns(EVENT_SELECT).from("report_events").and_where(Expr::col("report_id").eq(id.0)).order_by("id", Order::Asc).to_owned();
        if !include_internal {
            query.and_where(Expr::col("public").eq(true));
        }
        self.fetch_all::<EventRow, _>(&query).await?.into_iter().map(EventRow::into_event).collect()
    }

    /// When the report's latest event of `kind` (by `EventKind::name`) happened, if ever.
    pub async fn last_event_at(&self, id: ReportId, kind: &'static str) -> Result<Option<Timestamp>, StoreError> {
        let query = Query::select()
            .column("at")
            .from("report_events")
            .and_where(Expr::col("report_id").eq(id.0))
            .and_where(Expr::col("kind").eq(kind))
            .order_by("id", Order::Desc)
            .limit(1)
            .to_owned();
        self.fetch_optional::<EventAt, _>(&query).await?.map(|row| crate::rows::from_micros(row.at)).transpose()
    }

    /// Public events of the given kinds (by `EventKind::name`) in `[from, to]` across all reports,
    /// oldest first, for Open311 update feeds.
    pub async fn public_events_between(&self, from: Timestamp, to: Timestamp, kinds: &[&'static str], limit: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let query = Query::select()
            .columns(EVENT_SELECT)
            .from("report_events")
            .and_where(Expr::col("at").between(micros(from), micros(to)))
            .and_where(Expr::col("public").eq(true))
            .and_where(Expr::col("kind").is_in(kinds.iter().copied()))
            .order_by("at", Order::Asc)
            .order_by("id", Order::Asc)
            .limit(limit)
            .to_owned();
        self.fetch_all::<EventRow, _>(&query).await?.into_iter().map(EventRow::into_event).collect()
    }
}

#[derive(sqlx::FromRow)]
struct EventAt {
    at: i64,
}

/// What a decision about a report wants stored: the report as it now is, what happened, and what
/// it causes (escalation rows, notifications, the report's next escalation timer).
#[derive(Debug, Clone)]
pub struct ReportChange {
    pub report: Report,
    pub events: Vec<Event>,
    pub ratings: Vec<crate::ratings::RatingRecord>,
    pub escalations: Vec<crate::escalations::EscalationRecord>,
    pub outbox: Vec<crate::outbox::OutboxMessage>,
    /// Whether to rewrite the report's escalation timer to `next_due` (`None` removes it).
    pub timer_changed: bool,
    pub next_due: Option<Timestamp>,
    /// The change ends the report's wait for its place (with its timer), this way, at this time.
    pub location_answered: Option<(crate::locations::LocationOutcome, Timestamp)>,
}

impl ReportChange {
    /// A change with events and nothing else; the timer is left as it is.
    pub fn new(report: Report, events: Vec<Event>) -> ReportChange {
        ReportChange { report, events, ratings: vec![], escalations: vec![], outbox: vec![], timer_changed: false, next_due: None, location_answered: None }
    }

    /// The same change, setting the report's next escalation timer.
    pub fn with_timer(self, next_due: Option<Timestamp>) -> ReportChange {
        ReportChange { timer_changed: true, next_due, ..self }
    }
}

/// How often a change is retried when another writer changed the same report first.
const CHANGE_ATTEMPTS: usize = 5;

impl Db {
    /// Reads the report, lets `decide` say what changes, and stores the change with its events in one
    /// transaction. The row is locked on PostgreSQL and guarded by its version on both backends, so a
    /// concurrent change makes this one re-read and decide again rather than overwrite.
    pub async fn change_report<E>(&self, id: ReportId, mut decide: impl FnMut(&Report) -> Result<ReportChange, E>) -> Result<Result<Report, E>, StoreError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let mut tx = self.begin().await?;
            let query = Query::select().columns(report_select_columns()).from("reports").and_where(Expr::col("id").eq(id.0)).lock(LockType::Update).to_owned();
            let Some(row) = tx.fetch_optional::<ReportRow, _>(&query).await? else {
                return Err(StoreError::NotFound);
            };
            let version = row.version;
            let current = row.into_report()?;
            let change = match decide(&current) {
                Ok(change) => change,
                Err(refusal) => return Ok(Err(refusal)),
            };
            if write_change(&mut tx, version, &change).await? {
                tx.commit().await?;
                return Ok(Ok(change.report));
            }
        }
        Err(StoreError::Contention)
    }
}

/// Writes a change if the report still has `version`; false when someone else changed it first.
async fn write_change(tx: &mut Tx<'_>, version: i64, change: &ReportChange) -> Result<bool, StoreError> {
    if !crate::escalations::write_report(tx, version, &change.report).await? {
        return Ok(false);
    }
    crate::escalations::write_effects(tx, &[change]).await?;
    Ok(true)
}
