//! The notification outbox: rows written in the same transaction as the change that causes them
//! (escalations, follow-ups), claimed by dispatchers with a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; the single writer on SQLite), and marked sent, retried later, or dead. Recording an
//! outcome checks the lease is still the dispatcher's, so a dispatcher that stalled past its lease
//! cannot overwrite what another recorded.

use crate::StoreError;
use crate::db::{Db, Tx};
use crate::lease::Claim;
use crate::rows::{from_micros, micros};
use balagh_domain::report::ReportId;
use jiff::{SignedDuration, Timestamp};
use sea_query::{Cond, Expr, ExprTrait, OnConflict, Order, Query};

/// Rows per multi-row INSERT.
const ROWS_PER_INSERT: usize = 500;

/// A notification to deliver, written with the change that causes it. The dedupe key makes a retry
/// of the same change a no-op: one notification per event and recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub dedupe_key: String,
    pub topic: &'static str,
    pub recipient: String,
    pub payload: serde_json::Value,
    pub created_at: Timestamp,
}

/// Where a row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    /// Waiting to be sent (again) from `available_at`.
    Pending,
    Sent,
    /// Given up on: a permanent failure, or too many temporary ones. An administrator may retry it.
    Dead,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Dead => "dead",
        }
    }
}

/// An outbox row as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredOutbox {
    pub id: i64,
    pub dedupe_key: String,
    pub report_id: Option<i64>,
    pub topic: String,
    pub recipient: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub created_at: i64,
    pub available_at: i64,
    pub last_error: Option<String>,
    pub provider_ref: Option<String>,
}

const OUTBOX_COLUMNS: [&str; 12] =
    ["id", "dedupe_key", "report_id", "topic", "recipient", "payload", "state", "attempts", "created_at", "available_at", "last_error", "provider_ref"];

impl StoredOutbox {
    pub fn available_at(&self) -> Result<Timestamp, StoreError> {
        from_micros(self.available_at)
    }
}

/// Which rows to list, oldest first.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub report: Option<ReportId>,
    pub state: Option<OutboxState>,
    pub limit: u64,
}

/// What happened when a claimed row was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered; the provider's id for the message, if it gave one.
    Sent { provider_ref: Option<String> },
    /// Try again from `retry_at`.
    Retry { error: String, retry_at: Timestamp },
    /// Give up.
    Dead { error: String },
}

pub(crate) async fn insert_messages(tx: &mut Tx<'_>, messages: &[(ReportId, &OutboxMessage)]) -> Result<(), StoreError> {
    let bad = |e: sea_query::error::Error| StoreError::Corrupt(e.to_string());
    for chunk in messages.chunks(ROWS_PER_INSERT) {
        let mut insert = Query::insert();
        insert
            .into_table("outbox")
            .columns(["dedupe_key", "report_id", "topic", "recipient", "payload", "state", "attempts", "created_at", "available_at"])
            .on_conflict(OnConflict::column("dedupe_key").do_nothing().to_owned());
        for (id, message) in chunk {
            insert
                .values([
                    Expr::val(message.dedupe_key.clone()),
                    Expr::val(id.0),
                    Expr::val(message.topic),
                    Expr::val(message.recipient.clone()),
                    Expr::val(message.payload.to_string()),
                    Expr::val(OutboxState::Pending.as_str()),
                    Expr::val(0i64),
                    Expr::val(micros(message.created_at)),
                    Expr::val(micros(message.created_at)),
                ])
                .map_err(bad)?;
        }
        tx.execute(&insert).await?;
    }
    Ok(())
}

impl Db {
    /// Outbox rows matching `filter`, oldest first.
    pub async fn outbox_rows(&self, filter: &OutboxFilter) -> Result<Vec<StoredOutbox>, StoreError> {
        let mut query = Query::select().columns(OUTBOX_COLUMNS).from("outbox").order_by("id", Order::Asc).limit(filter.limit).to_owned();
        if let Some(report) = filter.report {
            query.and_where(Expr::col("report_id").eq(report.0));
        }
        if let Some(state) = filter.state {
            query.and_where(Expr::col("state").eq(state.as_str()));
        }
        self.fetch_all::<StoredOutbox, _>(&query).await
    }

    /// Outbox rows for a report (or all when `None`), oldest first.
    pub async fn outbox(&self, report: Option<ReportId>, limit: u64) -> Result<Vec<StoredOutbox>, StoreError> {
        self.outbox_rows(&OutboxFilter { report, state: None, limit }).await
    }

    /// Claims up to `limit` pending rows available at `now` for `owner` until `now + lease`.
    pub async fn claim_outbox(&self, owner: &str, now: Timestamp, lease: SignedDuration, limit: u64) -> Result<Vec<StoredOutbox>, StoreError> {
        let eligible = Cond::all().add(Expr::col("state").eq(OutboxState::Pending.as_str())).add(Expr::col("available_at").lte(micros(now)));
        let claim = Claim { table: "outbox", key: "id", eligible, order_by: "available_at" }
            .statement(owner, now, lease, limit)
            .returning(Query::returning().columns(OUTBOX_COLUMNS))
            .to_owned();
        let mut tx = self.begin().await?;
        let mut claimed = tx.fetch_all::<StoredOutbox, _>(&claim).await?;
        tx.commit().await?;
        claimed.sort_by_key(|row| (row.available_at, row.id));
        Ok(claimed)
    }

    /// Records what sending a claimed row did; false when `owner` no longer holds it (its lease
    /// ended and another dispatcher took it), in which case nothing is written.
    pub async fn record_outbox(&self, id: i64, owner: &str, at: Timestamp, outcome: &Outcome) -> Result<bool, StoreError> {
        let mut update = Query::update();
        update
            .table("outbox")
            .value("attempts", Expr::col("attempts").add(1))
            .value("lease_owner", Expr::val(None::<String>))
            .value("lease_until", Expr::val(None::<i64>))
            .and_where(Expr::col("id").eq(id))
            .and_where(Expr::col("lease_owner").eq(owner.to_owned()))
            .and_where(Expr::col("state").eq(OutboxState::Pending.as_str()));
        match outcome {
            Outcome::Sent { provider_ref } => {
                update
                    .value("state", OutboxState::Sent.as_str())
                    .value("sent_at", micros(at))
                    .value("provider_ref", Expr::val(provider_ref.clone()))
                    .value("last_error", Expr::val(None::<String>));
            }
            Outcome::Retry { error, retry_at } => {
                update.value("available_at", micros(*retry_at)).value("last_error", error.clone());
            }
            Outcome::Dead { error } => {
                update.value("state", OutboxState::Dead.as_str()).value("last_error", error.clone());
            }
        }
        let mut tx = self.begin().await?;
        let changed = tx.execute(&update).await? == 1;
        tx.commit().await?;
        Ok(changed)
    }

    /// Puts a dead row back in line, available at `now`; false when the row is not dead.
    pub async fn retry_outbox(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let update = Query::update()
            .table("outbox")
            .values([("state", Expr::val(OutboxState::Pending.as_str())), ("available_at", Expr::val(micros(now)))])
            .and_where(Expr::col("id").eq(id))
            .and_where(Expr::col("state").eq(OutboxState::Dead.as_str()))
            .to_owned();
        let mut tx = self.begin().await?;
        let changed = tx.execute(&update).await? == 1;
        tx.commit().await?;
        Ok(changed)
    }
}
