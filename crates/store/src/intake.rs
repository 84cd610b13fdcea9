//! Durable intake with group commit. Creates from every channel queue up here; a writer takes
//! everything waiting (up to a batch) and stores the reports, their first events, their
//! idempotency records, photos and acknowledgement messages (outbox rows) in ONE transaction, so a
//! single fsync acknowledges many reports. A caller hears back only after that commit. Ids come
//! from blocks reserved in `id_blocks`, so several processes on one PostgreSQL never collide and
//! the batch needs no round trip per report.

use crate::StoreError;
use crate::db::{Db, Tx, WriterConnection};
use crate::escalations::TimerKind;
use crate::locations::NewLocationRequest;
use crate::media::NewMedia;
use crate::outbox::OutboxMessage;
use crate::rows::{EVENT_COLUMNS, REPORT_COLUMNS, event_values, micros, report_values};
use balagh_domain::event::{Event, EventKind};
use balagh_domain::report::{NewReport, Report, ReportId};
use balagh_domain::vocabulary::Status;
use jiff::Timestamp;
use sea_query::{Expr, ExprTrait, Query};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// A report to store, with what the store needs besides the report itself.
#[derive(Debug, Clone)]
pub struct IntakeRecord {
    pub report: NewReport,
    pub created_at: Timestamp,
    pub expected_at: Option<Timestamp>,
    /// When the report's first escalation step is due, if its chain has one to schedule.
    pub next_due: Option<Timestamp>,
    /// The report's first timeline events, beginning with its creation; a status change among them
    /// gives the status it is stored in.
    pub events: Vec<Event>,
    pub idempotency: Option<IdempotencyKey>,
    /// Messages to queue with the report, in the same transaction (its acknowledgement), built
    /// from the stored report once it has its id and ticket.
    pub messages: Option<Acknowledgement>,
    /// The photos the report names (`media:photo:SHA256`), stored with it.
    pub media: Vec<NewMedia>,
    /// The report waits for its place until then (its `location` timer is set with it).
    pub location_request: Option<NewLocationRequest>,
}

/// Builds the messages of a stored report.
pub type BuildMessages = dyn Fn(&Report) -> Vec<OutboxMessage> + Send + Sync;

/// Builds a new report's acknowledgement messages from the stored report.
#[derive(Clone)]
pub struct Acknowledgement(pub Arc<BuildMessages>);

impl std::fmt::Debug for Acknowledgement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acknowledgement(..)")
    }
}

/// The status a new report is in after its first events.
fn status_after(events: &[Event]) -> Status {
    events.iter().fold(Status::New, |status, event| match event.kind {
        EventKind::StatusChanged { to, .. } => to,
        _ => status,
    })
}

/// A client's `Idempotency-Key`, scoped by the caller, and a fingerprint of the request body: a retry
/// with the same key and body gets the original report; the same key with another body is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

/// What happened to one create.
#[derive(Debug, Clone)]
pub enum IntakeOutcome {
    Created(Box<Report>),
    /// The key was seen before with the same request: this is the report it created.
    Replayed(ReportId),
    /// The key was seen before with a different request.
    KeyReused(ReportId),
}

type Reply = oneshot::Sender<Result<IntakeOutcome, StoreError>>;

/// The most reports committed in one transaction.
pub const MAX_BATCH: usize = 256;
/// Ids reserved from `id_blocks` at a time.
const ID_BLOCK: i64 = 1000;

/// Hands out report ids from reserved blocks.
#[derive(Debug, Default)]
pub struct IdAllocator {
    next: std::sync::Mutex<(i64, i64)>,
}

impl IdAllocator {
    /// `n` fresh ids; reserves a new block (in its own committed transaction) when needed.
    pub async fn take(&self, db: &Db, n: usize) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(n);
        loop {
            {
                let mut range = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                while ids.len() < n && range.0 < range.1 {
                    ids.push(range.0);
                    range.0 += 1;
                }
            }
            if ids.len() == n {
                return Ok(ids);
            }
            let wanted = Ord::max(ID_BLOCK, (n - ids.len()) as i64);
            let end = reserve_ids(db, wanted).await?;
            let mut range = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *range = (end - wanted, end);
        }
    }
}

#[derive(sqlx::FromRow)]
struct NextId {
    next_id: i64,
}

/// Moves the `reports` id counter on by `n` and returns its new value: ids `[value - n, value)` are ours.
pub(crate) async fn reserve_ids(db: &Db, n: i64) -> Result<i64, StoreError> {
    let mut tx = db.begin().await?;
    let update = Query::update()
        .table("id_blocks")
        .value("next_id", Expr::col("next_id").add(n))
        .and_where(Expr::col("name").eq("reports"))
        .returning_col("next_id")
        .to_owned();
    let next = tx.fetch_optional::<NextId, _>(&update).await?.ok_or_else(|| StoreError::Corrupt("id_blocks has no 'reports' row".into()))?;
    tx.commit().await?;
    Ok(next.next_id)
}

/// The queue in front of the intake writers.
#[derive(Clone)]
pub struct Intake {
    sender: mpsc::Sender<(IntakeRecord, Reply)>,
    db: Db,
}

impl Intake {
    /// Starts `writers` writer tasks (one for SQLite, a few for PostgreSQL).
    pub fn start(db: Db, ids: Arc<IdAllocator>, writers: usize) -> Intake {
        let (sender, receiver) = mpsc::channel::<(IntakeRecord, Reply)>(MAX_BATCH * 8);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..writers.max(1) {
            let (db, ids, receiver) = (db.clone(), ids.clone(), receiver.clone());
            tokio::spawn(async move {
                let mut connection = None;
                loop {
                    let mut batch = Vec::new();
                    {
                        let mut receiver = receiver.lock().await;
                        if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
                            return;
                        }
                    }
                    commit_batch(&db, &ids, &mut connection, batch).await;
                }
            });
        }
        Intake { sender, db }
    }

    /// Stores one report; returns once it is durably committed. A key seen before is answered from
    /// the store at once, on a reader, without queueing behind the writer.
    pub async fn submit(&self, record: IntakeRecord) -> Result<IntakeOutcome, StoreError> {
        if let Some(key) = &record.idempotency
            && let Some(row) = self.db.fetch_optional::<KeyRow, _>(&key_lookup(&key.key)).await?
        {
            return Ok(earlier_outcome(row, key));
        }
        let (reply, answer) = oneshot::channel();
        self.sender.send((record, reply)).await.map_err(|_| StoreError::ShuttingDown)?;
        answer.await.map_err(|_| StoreError::ShuttingDown)?
    }
}

/// Commits a batch on the writer's own connection (acquired on first use, and again after an error
/// in case the connection is what failed) and answers every caller in it.
async fn commit_batch(db: &Db, ids: &IdAllocator, connection: &mut Option<WriterConnection>, batch: Vec<(IntakeRecord, Reply)>) {
    let records: Vec<&IntakeRecord> = batch.iter().map(|(r, _)| r).collect();
    let started = std::time::Instant::now();
    let result = match connection {
        Some(held) => store_batch(db, held, ids, &records, KeyCheck::AlreadyChecked).await,
        None => match db.writer_connection().await {
            Ok(mut fresh) => {
                let result = store_batch(db, &mut fresh, ids, &records, KeyCheck::AlreadyChecked).await;
                *connection = Some(fresh);
                result
            }
            Err(error) => Err(error),
        },
    };
    if result.is_err() {
        *connection = None;
    }
    match result {
        Ok(outcomes) => {
            metrics::histogram!("balagh_intake_batch_size").record(batch.len() as f64);
            metrics::histogram!("balagh_intake_commit_seconds").record(started.elapsed().as_secs_f64());
            tracing::debug!(size = batch.len(), micros = started.elapsed().as_micros() as u64, "intake batch committed");
            for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(error) if batch.len() > 1 => {
            // One bad apple (or a race with another process on an idempotency key) must not sink
            // the others: store each alone and give each its own answer.
            tracing::warn!(%error, size = batch.len(), "intake batch failed; retrying one by one");
            for (record, reply) in batch {
                let outcome = match db.writer_connection().await {
                    Ok(mut single) => store_batch(db, &mut single, ids, &[&record], KeyCheck::InTransaction).await.map(|mut o| o.remove(0)),
                    Err(error) => Err(error),
                };
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            for (_, reply) in batch {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

fn key_lookup(key: &str) -> sea_query::SelectStatement {
    Query::select().columns(["key", "report_id", "fingerprint"]).from("idempotency_keys").and_where(Expr::col("key").eq(key)).to_owned()
}

/// What an earlier request with this idempotency key produced, if any.
fn earlier_outcome(row: KeyRow, key: &IdempotencyKey) -> IntakeOutcome {
    if row.fingerprint == key.fingerprint { IntakeOutcome::Replayed(ReportId(row.report_id)) } else { IntakeOutcome::KeyReused(ReportId(row.report_id)) }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    key: String,
    report_id: i64,
    fingerprint: String,
}

/// Whether a batch looks its idempotency keys up again inside its transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyCheck {
    /// Callers looked their keys up before queueing; the unique key constraint catches a race.
    AlreadyChecked,
    /// Look up inside the transaction (the one-by-one retry after a batch failed).
    InTransaction,
}

/// Stores a batch in one transaction and returns each record's outcome in order.
async fn store_batch(
    db: &Db,
    connection: &mut WriterConnection,
    ids: &IdAllocator,
    records: &[&IntakeRecord],
    check: KeyCheck,
) -> Result<Vec<IntakeOutcome>, StoreError> {
    let fresh_ids = ids.take(db, records.len()).await?;
    let mut tx = connection.begin().await?;
    let mut known: HashMap<String, (i64, String)> = HashMap::new();
    if check == KeyCheck::InTransaction {
        for key in records.iter().filter_map(|r| r.idempotency.as_ref()) {
            if let Some(row) = tx.fetch_optional::<KeyRow, _>(&key_lookup(&key.key)).await? {
                known.insert(row.key, (row.report_id, row.fingerprint));
            }
        }
    }
    let mut outcomes = Vec::with_capacity(records.len());
    let mut new_reports: Vec<(Report, &IntakeRecord)> = Vec::new();
    for (record, id) in records.iter().zip(fresh_ids) {
        if let Some(key) = &record.idempotency
            && let Some((existing, fingerprint)) = known.get(&key.key)
        {
            outcomes.push(earlier_outcome(KeyRow { key: key.key.clone(), report_id: *existing, fingerprint: fingerprint.clone() }, key));
            continue;
        }
        let mut report = record.report.clone().into_report(ReportId(id), record.created_at, record.expected_at);
        report.status = status_after(&record.events);
        if let Some(key) = &record.idempotency {
            known.insert(key.key.clone(), (id, key.fingerprint.clone()));
        }
        outcomes.push(IntakeOutcome::Created(Box::new(report.clone())));
        new_reports.push((report, record));
    }
    insert_reports(&mut tx, &new_reports).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Rows per multi-row INSERT, well under both backends' bound-parameter limits.
const ROWS_PER_INSERT: usize = 128;

/// Splits `items` into chunks whose sizes are powers of two (largest first, at most
/// `ROWS_PER_INSERT`), so a multi-row INSERT has one of only eight shapes and its prepared
/// statement is reused from the connection's cache instead of being compiled for every batch.
fn power_of_two_chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let size = ROWS_PER_INSERT.min(1 << items.len().ilog2());
        let (chunk, rest) = items.split_at(size);
        items = rest;
        Some(chunk)
    })
}

async fn insert_reports(tx: &mut Tx<'_>, reports: &[(Report, &IntakeRecord)]) -> Result<(), StoreError> {
    let bad = |e: sea_query::error::Error| StoreError::Corrupt(e.to_string());
    for chunk in power_of_two_chunks(reports) {
        let mut insert = Query::insert();
        insert.into_table("reports").columns(REPORT_COLUMNS);
        let mut events = Query::insert();
        events.into_table("report_events").columns(EVENT_COLUMNS);
        let mut keys = Query::insert();
        keys.into_table("idempotency_keys").columns(["key", "report_id", "fingerprint", "created_at"]);
        let mut any_key = false;
        for (report, record) in chunk {
            insert.values(report_values(report, 0)).map_err(bad)?;
            let mut status = Status::New;
            for event in &record.events {
                events.values(event_values(report.id, status, event)).map_err(bad)?;
                if let EventKind::StatusChanged { to, .. } = event.kind {
                    status = to;
                }
            }
            if let Some(key) = &record.idempotency {
                keys.values([Expr::val(key.key.clone()), Expr::val(report.id.0), Expr::val(key.fingerprint.clone()), Expr::val(micros(record.created_at))])
                    .map_err(bad)?;
                any_key = true;
            }
        }
        tx.execute(&insert).await?;
        tx.execute(&events).await?;
        if any_key {
            tx.execute(&keys).await?;
        }
    }
    let messages: Vec<(ReportId, OutboxMessage)> = reports
        .iter()
        .filter_map(|(report, record)| record.messages.as_ref().map(|build| (report, build)))
        .flat_map(|(report, build)| (build.0)(report).into_iter().map(|m| (report.id, m)))
        .collect();
    if !messages.is_empty() {
        let rows: Vec<(ReportId, &OutboxMessage)> = messages.iter().map(|(id, message)| (*id, message)).collect();
        crate::outbox::insert_messages(tx, &rows).await?;
    }
    for (report, record) in reports.iter().filter(|(_, record)| !record.media.is_empty()) {
        let rows: Vec<(ReportId, &NewMedia)> = record.media.iter().map(|media| (report.id, media)).collect();
        crate::media::insert_media(tx, &rows, record.created_at).await?;
    }
    let waits: Vec<(ReportId, &NewLocationRequest, Timestamp)> =
        reports.iter().filter_map(|(report, record)| record.location_request.as_ref().map(|wait| (report.id, wait, report.created_at))).collect();
    crate::locations::insert_location_requests(tx, &waits).await?;
    let wait_timers: Vec<_> = waits.iter().map(|(report, wait, _)| (*report, Some(wait.expires_at))).collect();
    crate::escalations::write_timers(tx, TimerKind::Location, &wait_timers).await?;
    let timers: Vec<_> = reports.iter().filter(|(_, record)| record.next_due.is_some()).map(|(report, record)| (report.id, record.next_due)).collect();
    crate::escalations::write_timers(tx, TimerKind::Escalation, &timers).await
}

/// A report with its full history already decided, for `balagh demo`: stored as is.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub report: Report,
    pub events: Vec<Event>,
    pub ratings: Vec<crate::ratings::RatingRecord>,
    /// When its next escalation step is due (open reports).
    pub next_due: Option<Timestamp>,
}

impl Db {
    /// Reserves `n` report ids for seeding.
    pub async fn reserve_report_ids(&self, n: usize) -> Result<Vec<i64>, StoreError> {
        let end = reserve_ids(self, n as i64).await?;
        Ok((end - n as i64..end).collect())
    }

    /// Stores already-decided reports in one transaction with multi-row inserts (demo data).
    pub async fn insert_seed_reports(&self, seeds: &[SeedReport]) -> Result<(), StoreError> {
        let bad = |e: sea_query::error::Error| StoreError::Corrupt(e.to_string());
        let mut tx = self.begin().await?;
        for chunk in seeds.chunks(ROWS_PER_INSERT) {
            let mut insert = Query::insert();
            insert.into_table("reports").columns(REPORT_COLUMNS);
            for seed in chunk {
                insert.values(report_values(&seed.report, 0)).map_err(bad)?;
            }
            tx.execute(&insert).await?;
        }
        let events: Vec<(ReportId, Status, &Event)> = seeds.iter().flat_map(|s| s.events.iter().map(move |e| (s.report.id, s.report.status, e))).collect();
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let mut insert = Query::insert();
            insert.into_table("report_events").columns(EVENT_COLUMNS);
            for (id, status, event) in chunk {
                insert.values(event_values(*id, *status, event)).map_err(bad)?;
            }
            tx.execute(&insert).await?;
        }
        for seed in seeds.iter().filter(|s| !s.ratings.is_empty()) {
            crate::ratings::insert_ratings(&mut tx, seed.report.id, &seed.ratings).await?;
        }
        let timers: Vec<_> = seeds.iter().filter(|s| s.next_due.is_some()).map(|s| (s.report.id, s.next_due)).collect();
        crate::escalations::write_timers(&mut tx, TimerKind::Escalation, &timers).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_largest_first_and_cover_everything() {
        let items: Vec<usize> = (0..333).collect();
        let sizes: Vec<usize> = power_of_two_chunks(&items).map(<[usize]>::len).collect();
        assert_eq!(sizes, [128, 128, 64, 8, 4, 1]);
        assert_eq!(power_of_two_chunks(&items).flatten().copied().collect::<Vec<_>>(), items);
        assert_eq!(power_of_two_chunks::<u8>(&[]).count(), 0);
    }
}
