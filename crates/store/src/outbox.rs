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
    /// Not to be sent before this instant (a call tried again later); `None` is at once.
    pub available_at: Option<Timestamp>,
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
    pub claims: i64,
    pub created_at: i64,
    pub available_at: i64,
    pub last_error: Option<String>,
    pub provider: Option<String>,
    pub provider_ref: Option<String>,
    pub segments: Option<i64>,
    pub delivery_status: Option<String>,
}

const OUTBOX_COLUMNS: [&str; 16] = [
    "id",
    "dedupe_key",
    "report_id",
    "topic",
    "recipient",
    "payload",
    "state",
    "attempts",
    "claims",
    "created_at",
    "available_at",
    "last_error",
    "provider",
    "provider_ref",
    "segments",
    "delivery_status",
];

impl StoredOutbox {
    pub fn available_at(&self) -> Result<Timestamp, StoreError> {
        from_micros(self.available_at)
    }

    /// An earlier claim of this row ended without an outcome recorded (its dispatcher crashed or
    /// stalled past its lease), so the message may already have gone out.
    pub fn in_doubt(&self) -> bool {
        self.claims > self.attempts + 1
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
    /// Not tried: held until `until` (quiet hours). Counts as neither an attempt nor a claim.
    Deferred { until: Timestamp },
}

/// The outcome of one claimed row, as a dispatcher records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub id: i64,
    pub outcome: Outcome,
    /// The provider that took it (`twilio-sms`, `log`, …).
    pub provider: Option<String>,
    /// SMS segments the text took.
    pub segments: Option<u32>,
    /// A note kept even on success (a template override that failed and was replaced by the
    /// built-in text).
    pub note: Option<String>,
}

/// A provider's later word on a message (a status callback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub outbox_id: i64,
    pub provider_ref: String,
    pub status: String,
    pub error_code: Option<String>,
    pub received_at: Timestamp,
}

/// An administrator's template override.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredTemplate {
    pub topic: String,
    pub medium: String,
    pub language: String,
    pub source: String,
    pub updated_at: i64,
    pub updated_by: Option<String>,
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
                    Expr::val(micros(message.available_at.unwrap_or(message.created_at))),
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

    /// Writes messages about reports on their own (backfills, benchmarks); changes write theirs
    /// with the change instead.
    pub async fn enqueue(&self, messages: &[(ReportId, OutboxMessage)]) -> Result<(), StoreError> {
        let rows: Vec<(ReportId, &OutboxMessage)> = messages.iter().map(|(id, message)| (*id, message)).collect();
        let mut tx = self.begin().await?;
        insert_messages(&mut tx, &rows).await?;
        tx.commit().await
    }

    /// One outbox row.
    pub async fn outbox_row(&self, id: i64) -> Result<StoredOutbox, StoreError> {
        let query = Query::select().columns(OUTBOX_COLUMNS).from("outbox").and_where(Expr::col("id").eq(id)).to_owned();
        self.fetch_optional::<StoredOutbox, _>(&query).await?.ok_or(StoreError::NotFound)
    }

    /// Claims up to `limit` pending rows available at `now` for `owner` until `now + lease`.
    pub async fn claim_outbox(&self, owner: &str, now: Timestamp, lease: SignedDuration, limit: u64) -> Result<Vec<StoredOutbox>, StoreError> {
        let eligible = Cond::all().add(Expr::col("state").eq(OutboxState::Pending.as_str())).add(Expr::col("available_at").lte(micros(now)));
        let also_set = vec![("claims", Expr::col("claims").add(1))];
        let claim = Claim { table: "outbox", key: "id", eligible, order_by: "available_at", also_set }
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
        let recorded = Recorded { id, outcome: outcome.clone(), provider: None, segments: None, note: None };
        Ok(self.record_outbox_batch(owner, at, std::slice::from_ref(&recorded)).await?[0])
    }

    /// Records the outcomes of many claimed rows in one transaction; for each, whether `owner`
    /// still held it (a row another dispatcher took over is left alone).
    pub async fn record_outbox_batch(&self, owner: &str, at: Timestamp, outcomes: &[Recorded]) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.begin().await?;
        let mut held = Vec::with_capacity(outcomes.len());
        for recorded in outcomes {
            held.push(tx.execute(&record_statement(recorded, owner, at)).await? == 1);
        }
        tx.commit().await?;
        Ok(held)
    }

    /// Records a provider's status callback for a message, with the rows it causes (a retried or
    /// fallback message), in one transaction. False when this status was already recorded (a
    /// replayed callback), in which case nothing is written.
    pub async fn record_receipt(&self, receipt: &Receipt, follow_on: &[OutboxMessage]) -> Result<bool, StoreError> {
        let row = self.outbox_row(receipt.outbox_id).await?;
        let insert = Query::insert()
            .into_table("delivery_receipts")
            .columns(["outbox_id", "provider_ref", "status", "error_code", "received_at"])
            .values_panic([
                Expr::val(receipt.outbox_id),
                Expr::val(receipt.provider_ref.clone()),
                Expr::val(receipt.status.clone()),
                Expr::val(receipt.error_code.clone()),
                Expr::val(micros(receipt.received_at)),
            ])
            .on_conflict(OnConflict::columns(["outbox_id", "provider_ref", "status"]).do_nothing().to_owned())
            .to_owned();
        let status = Query::update()
            .table("outbox")
            .values([("delivery_status", Expr::val(receipt.status.clone())), ("delivery_status_at", Expr::val(micros(receipt.received_at)))])
            .and_where(Expr::col("id").eq(receipt.outbox_id))
            .to_owned();
        let mut tx = self.begin().await?;
        if tx.execute(&insert).await? == 0 {
            return Ok(false);
        }
        tx.execute(&status).await?;
        if let Some(report) = row.report_id {
            let messages: Vec<(ReportId, &OutboxMessage)> = follow_on.iter().map(|message| (ReportId(report), message)).collect();
            insert_messages(&mut tx, &messages).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The provider ids of messages among `ids` that a provider has reported on: they were sent.
    pub async fn receipts_for(&self, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let query = Query::select()
            .columns(["outbox_id", "provider_ref"])
            .from("delivery_receipts")
            .and_where(Expr::col("outbox_id").is_in(ids.iter().copied()))
            .order_by("id", Order::Asc)
            .to_owned();
        self.fetch_all::<(i64, String), _>(&query).await
    }

    /// Receipts of one message, oldest first, as (provider id, status, error code).
    pub async fn receipts(&self, outbox_id: i64) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        let query = Query::select()
            .columns(["provider_ref", "status", "error_code"])
            .from("delivery_receipts")
            .and_where(Expr::col("outbox_id").eq(outbox_id))
            .order_by("id", Order::Asc)
            .to_owned();
        self.fetch_all::<(String, String, Option<String>), _>(&query).await
    }

    /// Every template override.
    pub async fn templates(&self) -> Result<Vec<StoredTemplate>, StoreError> {
        let query = Query::select()
            .columns(["topic", "medium", "language", "source", "updated_at", "updated_by"])
            .from("notification_templates")
            .order_by("topic", Order::Asc)
            .order_by("medium", Order::Asc)
            .order_by("language", Order::Asc)
            .to_owned();
        self.fetch_all::<StoredTemplate, _>(&query).await
    }

    /// Sets (or replaces) a template override.
    pub async fn set_template(&self, template: &StoredTemplate) -> Result<(), StoreError> {
        let insert = Query::insert()
            .into_table("notification_templates")
            .columns(["topic", "medium", "language", "source", "updated_at", "updated_by"])
            .values_panic([
                Expr::val(template.topic.clone()),
                Expr::val(template.medium.clone()),
                Expr::val(template.language.clone()),
                Expr::val(template.source.clone()),
                Expr::val(template.updated_at),
                Expr::val(template.updated_by.clone()),
            ])
            .on_conflict(OnConflict::columns(["topic", "medium", "language"]).update_columns(["source", "updated_at", "updated_by"]).to_owned())
            .to_owned();
        let mut tx = self.begin().await?;
        tx.execute(&insert).await?;
        tx.commit().await
    }

    /// Removes a template override; false when there was none.
    pub async fn delete_template(&self, topic: &str, medium: &str, language: &str) -> Result<bool, StoreError> {
        let delete = Query::delete()
            .from_table("notification_templates")
            .and_where(Expr::col("topic").eq(topic))
            .and_where(Expr::col("medium").eq(medium))
            .and_where(Expr::col("language").eq(language))
            .to_owned();
        let mut tx = self.begin().await?;
        let deleted = tx.execute(&delete).await? == 1;
        tx.commit().await?;
        Ok(deleted)
    }

    /// When the next pending row may be claimed: its availability, or the end of the lease
    /// another dispatcher holds on it.
    pub async fn next_outbox_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let query = Query::select()
            .expr(Expr::col("lease_until").if_null(Expr::col("available_at")).min())
            .from("outbox")
            .and_where(Expr::col("state").eq(OutboxState::Pending.as_str()))
            .to_owned();
        let due: Option<(Option<i64>,)> = self.fetch_optional(&query).await?;
        due.and_then(|(due,)| due).map(from_micros).transpose()
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

/// The UPDATE that records one outcome, if `owner` still holds the row.
fn record_statement(recorded: &Recorded, owner: &str, at: Timestamp) -> sea_query::UpdateStatement {
    let mut update = Query::update();
    update
        .table("outbox")
        .value("lease_owner", Expr::val(None::<String>))
        .value("lease_until", Expr::val(None::<i64>))
        .and_where(Expr::col("id").eq(recorded.id))
        .and_where(Expr::col("lease_owner").eq(owner.to_owned()))
        .and_where(Expr::col("state").eq(OutboxState::Pending.as_str()));
    if !matches!(recorded.outcome, Outcome::Deferred { .. }) {
        update.value("attempts", Expr::col("attempts").add(1));
    }
    if let Some(provider) = &recorded.provider {
        update.value("provider", provider.clone());
    }
    if let Some(segments) = recorded.segments {
        update.value("segments", i64::from(segments));
    }
    match &recorded.outcome {
        Outcome::Sent { provider_ref } => {
            update
                .value("state", OutboxState::Sent.as_str())
                .value("sent_at", micros(at))
                .value("provider_ref", Expr::val(provider_ref.clone()))
                .value("last_error", Expr::val(recorded.note.clone()));
        }
        Outcome::Retry { error, retry_at } => {
            update.value("available_at", micros(*retry_at)).value("last_error", error.clone());
        }
        Outcome::Dead { error } => {
            update.value("state", OutboxState::Dead.as_str()).value("last_error", error.clone());
        }
        Outcome::Deferred { until } => {
            update.value("available_at", micros(*until)).value("claims", Expr::col("claims").sub(1));
        }
    }
    update
}
