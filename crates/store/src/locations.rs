//! Reports that wait for their place. A caller who cannot name the place by menu gets a text
//! message with a link to mark it on a map; the report waits as `awaiting_citizen` until the pin
//! comes or the wait is over. One row per waiting report holds the SHA-256 of the link's secret
//! token (the token itself is only in the message) and when the wait ends; the row, the report and
//! the `location` timer that ends the wait are written in the report's own transactions.

use crate::StoreError;
use crate::db::{Db, Tx};
use crate::rows::{from_micros, micros};
use balagh_domain::report::ReportId;
use jiff::Timestamp;
use sea_query::{Expr, ExprTrait, Query};

/// A wait to store with a new report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLocationRequest {
    /// Hex SHA-256 of the link's token.
    pub token_sha256: String,
    pub expires_at: Timestamp,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationOutcome {
    /// The place was marked on the map.
    Placed,
    /// The wait ran out.
    Expired,
    /// Staff moved the report on (assigned it) without the place.
    Superseded,
}

impl LocationOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationOutcome::Placed => "placed",
            LocationOutcome::Expired => "expired",
            LocationOutcome::Superseded => "superseded",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "placed" => Ok(LocationOutcome::Placed),
            "expired" => Ok(LocationOutcome::Expired),
            "superseded" => Ok(LocationOutcome::Superseded),
            other => Err(StoreError::Corrupt(format!("location request outcome '{other}'"))),
        }
    }
}

/// A stored wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationRequest {
    pub report_id: ReportId,
    pub requested_at: Timestamp,
    pub expires_at: Timestamp,
    /// When and how it ended; `None` while the report waits.
    pub answered: Option<(Timestamp, LocationOutcome)>,
}

#[derive(sqlx::FromRow)]
struct LocationRow {
    report_id: i64,
    requested_at: i64,
    expires_at: i64,
    answered_at: Option<i64>,
    outcome: Option<String>,
}

impl LocationRow {
    fn into_request(self) -> Result<LocationRequest, StoreError> {
        let answered = match (self.answered_at, self.outcome) {
            (Some(at), Some(outcome)) => Some((from_micros(at)?, LocationOutcome::parse(&outcome)?)),
            _ => None,
        };
        Ok(LocationRequest {
            report_id: ReportId(self.report_id),
            requested_at: from_micros(self.requested_at)?,
            expires_at: from_micros(self.expires_at)?,
            answered,
        })
    }
}

const COLUMNS: [&str; 5] = ["report_id", "requested_at", "expires_at", "answered_at", "outcome"];

/// Writes new reports' waits.
pub(crate) async fn insert_location_requests(tx: &mut Tx<'_>, rows: &[(ReportId, &NewLocationRequest, Timestamp)]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = Query::insert();
    insert.into_table("location_requests").columns(["report_id", "token_sha256", "requested_at", "expires_at"]);
    for (report, request, requested_at) in rows {
        insert
            .values([Expr::val(report.0), Expr::val(request.token_sha256.clone()), Expr::val(micros(*requested_at)), Expr::val(micros(request.expires_at))])
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    }
    tx.execute(&insert).await?;
    Ok(())
}

/// Ends a report's wait (only a wait still open), with its `location` timer.
pub(crate) async fn answer_location_request(tx: &mut Tx<'_>, report: ReportId, outcome: LocationOutcome, at: Timestamp) -> Result<(), StoreError> {
    let update = Query::update()
        .table("location_requests")
        .values([("answered_at", Expr::val(micros(at))), ("outcome", Expr::val(outcome.as_str()))])
        .and_where(Expr::col("report_id").eq(report.0))
        .and_where(Expr::col("answered_at").is_null())
        .to_owned();
    tx.execute(&update).await?;
    crate::escalations::write_timers(tx, crate::escalations::TimerKind::Location, &[(report, None)]).await
}

impl Db {
    /// The wait a link's token (its SHA-256) is for.
    pub async fn location_request_by_token(&self, token_sha256: &str) -> Result<Option<LocationRequest>, StoreError> {
        let query = Query::select().columns(COLUMNS).from("location_requests").and_where(Expr::col("token_sha256").eq(token_sha256)).to_owned();
        self.fetch_optional::<LocationRow, _>(&query).await?.map(LocationRow::into_request).transpose()
    }

    /// A report's wait for its place, if it ever had one.
    pub async fn location_request(&self, report: ReportId) -> Result<Option<LocationRequest>, StoreError> {
        let query = Query::select().columns(COLUMNS).from("location_requests").and_where(Expr::col("report_id").eq(report.0)).to_owned();
        self.fetch_optional::<LocationRow, _>(&query).await?.map(LocationRow::into_request).transpose()
    }
}
