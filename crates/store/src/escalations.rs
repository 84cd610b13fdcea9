//! Escalation timers and fired escalations. A report's next escalation
//! step is one row of `timers` with its due instant, written in the same transaction as the change
//! that moved it. Workers claim due rows with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; the
//! single writer on SQLite), then fire them in a second transaction that first checks the lease is
//! still theirs, so a crashed worker's claims pass to another when the lease runs out and a timer
//! rewritten by a change in between is left alone. The unique key on `escalations` (report, round,
//! step, target) is the backstop for "exactly one escalation per level".

use crate::StoreError;
use crate::db::{Db, Tx};
use crate::lease::Claim;
use crate::reports::ReportChange;
use crate::rows::{EVENT_COLUMNS, MUTABLE_REPORT_COLUMNS, REPORT_COLUMNS, ReportRow, event_values, from_micros, micros, report_select_columns, report_values};
use balagh_domain::report::{Report, ReportId};
use balagh_domain::vocabulary::Status;
use jiff::{SignedDuration, Timestamp};
use sea_query::{Cond, Expr, ExprTrait, Func, LockType, OnConflict, Order, Query};
use std::collections::HashMap;

/// What a row of `timers` is for (a report has at most one of each kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// The next step of the report's escalation chain.
    Escalation,
    /// The end of the report's wait for its place.
    Location,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Escalation => "escalation",
            TimerKind::Location => "location",
        }
    }
}

/// Rows per multi-row INSERT.
const ROWS_PER_INSERT: usize = 500;

/// One fired step, as stored: a row per target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationRecord {
    pub round: u32,
    pub step: u32,
    pub level: u32,
    pub reminder: bool,
    pub targets: Vec<EscalationTarget>,
    pub reason: String,
    pub fired_at: Timestamp,
}

/// Whom a step addresses: a position (with the department it is of, for departmental positions),
/// a user or a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationTarget {
    pub target: String,
    pub department: Option<String>,
}

/// A stored escalation row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEscalation {
    pub id: i64,
    pub report_id: ReportId,
    pub round: u32,
    pub step: u32,
    pub level: u32,
    pub reminder: bool,
    pub target: String,
    pub department: Option<String>,
    pub reason: String,
    pub fired_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub acknowledged_by: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EscalationRow {
    id: i64,
    report_id: i64,
    round: i64,
    step: i64,
    level: i64,
    reminder: bool,
    target: String,
    department: Option<String>,
    reason: String,
    fired_at: i64,
    acknowledged_at: Option<i64>,
    acknowledged_by: Option<String>,
}

const ESCALATION_COLUMNS: [&str; 12] =
    ["id", "report_id", "round", "step", "level", "reminder", "target", "department", "reason", "fired_at", "acknowledged_at", "acknowledged_by"];

impl EscalationRow {
    fn into_stored(self) -> Result<StoredEscalation, StoreError> {
        let small = |what: &str, value: i64| u32::try_from(value).map_err(|e| StoreError::Corrupt(format!("escalation {what}: {e}")));
        Ok(StoredEscalation {
            id: self.id,
            report_id: ReportId(self.report_id),
            round: small("round", self.round)?,
            step: small("step", self.step)?,
            level: small("level", self.level)?,
            reminder: self.reminder,
            target: self.target,
            department: self.department,
            reason: self.reason,
            fired_at: from_micros(self.fired_at)?,
            acknowledged_at: self.acknowledged_at.map(from_micros).transpose()?,
            acknowledged_by: self.acknowledged_by,
        })
    }
}

/// Which escalations to list: those addressed to any of `addressees`, newest first.
#[derive(Debug, Clone, Default)]
pub struct EscalationFilter {
    /// Target and department pairs; a `None` department matches any department.
    pub addressees: Vec<EscalationTarget>,
    /// Only rows whose target department is this one (staff and supervisors of a department).
    pub department: Option<String>,
    pub report: Option<ReportId>,
    pub unacknowledged_only: bool,
    /// Rows with a smaller id than this (the next page).
    pub before: Option<i64>,
    pub limit: u64,
}

/// How many reports were received in a period, and how many of them followed up or escalated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct FollowUpCounts {
    pub reports: i64,
    pub followed_up: i64,
    pub follow_ups: i64,
    pub escalated: i64,
}

#[derive(sqlx::FromRow)]
struct ReportIdRow {
    report_id: i64,
}

#[derive(sqlx::FromRow)]
struct MinRow {
    at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    report_id: i64,
    at: i64,
    status: String,
}

/// A status change from the timeline, as the SLA clocks need it.
pub type StatusHistory = Vec<(Timestamp, Status)>;

impl Db {
    /// Claims up to `limit` due, unleased timers of `kind` for `owner` until `now + lease`.
    pub async fn claim_due_timers(&self, kind: TimerKind, owner: &str, now: Timestamp, lease: SignedDuration, limit: u64) -> Result<Vec<ReportId>, StoreError> {
        let eligible = Cond::all().add(Expr::col("kind").eq(kind.as_str())).add(Expr::col("due_at").lte(micros(now)));
        let claim = Claim { table: "timers", key: "report_id", eligible, order_by: "due_at", also_set: vec![] }
            .statement(owner, now, lease, limit)
            .returning_col("report_id")
            .to_owned();
        let mut tx = self.begin().await?;
        let claimed = tx.fetch_all::<ReportIdRow, _>(&claim).await?;
        tx.commit().await?;
        Ok(claimed.into_iter().map(|row| ReportId(row.report_id)).collect())
    }

    /// When the worker should look again: the earliest unleased due instant or lease expiry.
    /// Two index seeks; no scan.
    pub async fn next_timer_wake(&self) -> Result<Option<Timestamp>, StoreError> {
        let due = Query::select()
            .expr_as(Expr::col("due_at"), "at")
            .from("timers")
            .and_where(Expr::col("lease_until").is_null())
            .order_by("due_at", Order::Asc)
            .limit(1)
            .to_owned();
        let lease = Query::select().expr_as(Func::min(Expr::col("lease_until")), "at").from("timers").to_owned();
        let due = self.fetch_optional::<MinRow, _>(&due).await?.and_then(|row| row.at);
        let lease = self.fetch_optional::<MinRow, _>(&lease).await?.and_then(|row| row.at);
        [due, lease].into_iter().flatten().min().map(from_micros).transpose()
    }

    /// The due instant of a report's timer of `kind`, if it has one.
    pub async fn timer_due(&self, kind: TimerKind, id: ReportId) -> Result<Option<Timestamp>, StoreError> {
        let query = Query::select()
            .expr_as(Expr::col("due_at"), "at")
            .from("timers")
            .and_where(Expr::col("report_id").eq(id.0))
            .and_where(Expr::col("kind").eq(kind.as_str()))
            .to_owned();
        self.fetch_optional::<MinRow, _>(&query).await?.and_then(|row| row.at).map(from_micros).transpose()
    }

    /// Fires claimed timers of `kind` in one transaction: locks the reports whose timers `owner`
    /// still holds, lets `decide` turn each (with its status history) into a change, and writes
    /// every change. Returns how many reports changed.
    pub async fn fire_claimed<E>(
        &self,
        kind: TimerKind,
        owner: &str,
        ids: &[ReportId],
        mut decide: impl FnMut(&Report, &StatusHistory) -> Result<Option<ReportChange>, E>,
    ) -> Result<Result<usize, E>, StoreError> {
        if ids.is_empty() {
            return Ok(Ok(0));
        }
        let mut tx = self.begin().await?;
        let held = Query::select()
            .column("report_id")
            .from("timers")
            .and_where(Expr::col("kind").eq(kind.as_str()))
            .and_where(Expr::col("lease_owner").eq(owner.to_owned()))
            .and_where(Expr::col("report_id").is_in(ids.iter().map(|id| id.0)))
            .to_owned();
        let query = Query::select()
            .columns(report_select_columns())
            .from("reports")
            .and_where(Expr::col("id").in_subquery(held))
            .order_by("id", Order::Asc)
            .lock(LockType::Update)
            .to_owned();
        let rows = tx.fetch_all::<ReportRow, _>(&query).await?;
        let held: Vec<ReportId> = rows.iter().map(|row| ReportId(row.id)).collect();
        let mut histories = status_histories(&mut tx, &held).await?;
        let mut changes = Vec::with_capacity(rows.len());
        for row in rows {
            let version = row.version;
            let report = row.into_report()?;
            let history = histories.remove(&report.id).unwrap_or_default();
            match decide(&report, &history) {
                Ok(Some(change)) => changes.push((version, change)),
                Ok(None) => {}
                Err(refusal) => return Ok(Err(refusal)),
            }
        }
        write_locked_reports(&mut tx, &changes).await?;
        let changes: Vec<&ReportChange> = changes.iter().map(|(_, change)| change).collect();
        write_effects(&mut tx, &changes).await?;
        tx.commit().await?;
        Ok(Ok(changes.len()))
    }

    /// A report's status changes, oldest first.
    pub async fn status_history(&self, id: ReportId) -> Result<StatusHistory, StoreError> {
        let rows = self.fetch_all::<StatusRow, _>(&status_changes_of(&[id])).await?;
        Ok(group_by_report(rows)?.remove(&id).unwrap_or_default())
    }

    /// Escalations matching `filter`, newest first.
    pub async fn escalations(&self, filter: &EscalationFilter) -> Result<Vec<StoredEscalation>, StoreError> {
        let mut query = Query::select().columns(ESCALATION_COLUMNS).from("escalations").order_by("id", Order::Desc).limit(filter.limit).to_owned();
        if !filter.addressees.is_empty() {
            let mut any = Cond::any();
            for addressee in &filter.addressees {
                let mut one = Cond::all().add(Expr::col("target").eq(addressee.target.clone()));
                if let Some(department) = &addressee.department {
                    one = one.add(Expr::col("department").eq(department.clone()));
                }
                any = any.add(one);
            }
            query.cond_where(any);
        }
        if let Some(department) = &filter.department {
            query.and_where(Expr::col("department").eq(department.clone()));
        }
        if let Some(report) = filter.report {
            query.and_where(Expr::col("report_id").eq(report.0));
        }
        if filter.unacknowledged_only {
            query.and_where(Expr::col("acknowledged_at").is_null());
        }
        if let Some(before) = filter.before {
            query.and_where(Expr::col("id").lt(before));
        }
        self.fetch_all::<EscalationRow, _>(&query).await?.into_iter().map(EscalationRow::into_stored).collect()
    }

    pub async fn escalation(&self, id: i64) -> Result<Option<StoredEscalation>, StoreError> {
        let query = Query::select().columns(ESCALATION_COLUMNS).from("escalations").and_where(Expr::col("id").eq(id)).to_owned();
        self.fetch_optional::<EscalationRow, _>(&query).await?.map(EscalationRow::into_stored).transpose()
    }

    /// Records that `by` acknowledged escalation `id`, with `change` (its timeline event) in the
    /// same transaction. False when it was already acknowledged.
    pub async fn acknowledge_escalation(&self, id: i64, by: &str, at: Timestamp, change: &ReportChange) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let update = Query::update()
            .table("escalations")
            .values([("acknowledged_at", Expr::val(micros(at))), ("acknowledged_by", Expr::val(by.to_owned()))])
            .and_where(Expr::col("id").eq(id))
            .and_where(Expr::col("acknowledged_at").is_null())
            .to_owned();
        if tx.execute(&update).await? == 0 {
            return Ok(false);
        }
        write_effects(&mut tx, &[change]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Reports received in `[from, to]` (of one department, when given): how many, how many were
    /// followed up and how often, and how many were escalated at least once.
    pub async fn follow_up_counts(&self, from: Timestamp, to: Timestamp, department: Option<&str>) -> Result<FollowUpCounts, StoreError> {
        let sum_if = |condition: &str| Expr::cust(format!("CAST(COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0) AS BIGINT)"));
        let query = Query::select()
            .expr_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "reports")
            .expr_as(sum_if("n_follow_ups > 0"), "followed_up")
            .expr_as(Expr::cust("CAST(COALESCE(SUM(n_follow_ups), 0) AS BIGINT)"), "follow_ups")
            .expr_as(sum_if("escalated_at IS NOT NULL"), "escalated")
            .from("reports")
            .and_where(Expr::col("created_at").between(micros(from), micros(to)))
            .to_owned();
        let mut query = query;
        if let Some(department) = department {
            query.and_where(Expr::col("department").eq(department.to_owned()));
        }
        Ok(self.fetch_optional::<FollowUpCounts, _>(&query).await?.unwrap_or_default())
    }
}

/// The status changes of the reports `ids`, per report and oldest first.
fn status_changes_of(ids: &[ReportId]) -> sea_query::SelectStatement {
    Query::select()
        .columns(["report_id", "at", "status"])
        .from("report_events")
        .and_where(Expr::col("report_id").is_in(ids.iter().map(|id| id.0)))
        .and_where(Expr::col("kind").eq("status_changed"))
        .order_by("report_id", Order::Asc)
        .order_by("id", Order::Asc)
        .to_owned()
}

fn group_by_report(rows: Vec<StatusRow>) -> Result<HashMap<ReportId, StatusHistory>, StoreError> {
    let mut histories: HashMap<ReportId, StatusHistory> = HashMap::new();
    for row in rows {
        let status = Status::parse("status", &row.status).map_err(|e| StoreError::Corrupt(format!("event status: {e}")))?;
        histories.entry(ReportId(row.report_id)).or_default().push((from_micros(row.at)?, status));
    }
    Ok(histories)
}

/// The status histories of `ids`, read inside the transaction that will change them.
async fn status_histories(tx: &mut Tx<'_>, ids: &[ReportId]) -> Result<HashMap<ReportId, StatusHistory>, StoreError> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(ROWS_PER_INSERT) {
        rows.extend(tx.fetch_all::<StatusRow, _>(&status_changes_of(chunk)).await?);
    }
    group_by_report(rows)
}

/// Rewrites a locked report's mutable columns; false when its version moved.
pub(crate) async fn write_report(tx: &mut Tx<'_>, version: i64, report: &Report) -> Result<bool, StoreError> {
    let mut update = Query::update();
    update.table("reports");
    for (column, value) in crate::rows::mutable_values(report) {
        update.value(column, value);
    }
    update.value("version", version + 1).and_where(Expr::col("id").eq(report.id.0)).and_where(Expr::col("version").eq(version));
    Ok(tx.execute(&update).await? > 0)
}

/// Rewrites reports locked in this transaction with multi-row upserts (one statement per few
/// hundred reports instead of one per report), bumping each version.
async fn write_locked_reports(tx: &mut Tx<'_>, changes: &[(i64, ReportChange)]) -> Result<(), StoreError> {
    let bad = |e: sea_query::error::Error| StoreError::Corrupt(e.to_string());
    let mut update_columns: Vec<&'static str> = MUTABLE_REPORT_COLUMNS.to_vec();
    update_columns.push("version");
    for chunk in changes.chunks(REPORTS_PER_UPSERT) {
        let mut upsert = Query::insert();
        upsert.into_table("reports").columns(REPORT_COLUMNS).on_conflict(OnConflict::column("id").update_columns(update_columns.clone()).to_owned());
        for (version, change) in chunk {
            upsert.values(report_values(&change.report, version + 1)).map_err(bad)?;
        }
        tx.execute(&upsert).await?;
    }
    Ok(())
}

/// Reports per upsert: 40 columns each, well under both backends' bound-parameter limits.
const REPORTS_PER_UPSERT: usize = 400;

/// Writes what changes cause besides the report row, with multi-row statements: timeline events,
/// ratings, escalation rows, outbox rows, and each report's next escalation timer.
pub(crate) async fn write_effects(tx: &mut Tx<'_>, changes: &[&ReportChange]) -> Result<(), StoreError> {
    let bad = |e: sea_query::error::Error| StoreError::Corrupt(e.to_string());
    let events: Vec<_> = changes.iter().flat_map(|c| c.events.iter().map(move |e| event_values(c.report.id, c.report.status, e))).collect();
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let mut insert = Query::insert();
        insert.into_table("report_events").columns(EVENT_COLUMNS);
        for values in chunk {
            insert.values(values.clone()).map_err(bad)?;
        }
        tx.execute(&insert).await?;
    }
    for change in changes {
        crate::ratings::insert_ratings(tx, change.report.id, &change.ratings).await?;
    }
    let escalations: Vec<_> = changes
        .iter()
        .flat_map(|c| c.escalations.iter().flat_map(move |e| e.targets.iter().map(move |t| (c.report.id, e, t))))
        .map(|(id, e, t)| {
            [
                Expr::val(id.0),
                Expr::val(i64::from(e.round)),
                Expr::val(i64::from(e.step)),
                Expr::val(i64::from(e.level)),
                Expr::val(e.reminder),
                Expr::val(t.target.clone()),
                Expr::val(t.department.clone()),
                Expr::val(e.reason.clone()),
                Expr::val(micros(e.fired_at)),
            ]
        })
        .collect();
    for chunk in escalations.chunks(ROWS_PER_INSERT) {
        let mut insert = Query::insert();
        insert.into_table("escalations").columns(["report_id", "round", "step", "level", "reminder", "target", "department", "reason", "fired_at"]);
        for values in chunk {
            insert.values(values.clone()).map_err(bad)?;
        }
        tx.execute(&insert).await?;
    }
    let messages: Vec<_> = changes.iter().flat_map(|c| c.outbox.iter().map(move |m| (c.report.id, m))).collect();
    crate::outbox::insert_messages(tx, &messages).await?;
    for change in changes {
        if let Some((outcome, at)) = change.location_answered {
            crate::locations::answer_location_request(tx, change.report.id, outcome, at).await?;
        }
    }
    let timers: Vec<(ReportId, Option<Timestamp>)> = changes.iter().filter(|c| c.timer_changed).map(|c| (c.report.id, c.next_due)).collect();
    write_timers(tx, TimerKind::Escalation, &timers).await
}

/// Sets (or, for `None`, removes) reports' timers of `kind`, clearing any lease.
pub(crate) async fn write_timers(tx: &mut Tx<'_>, kind: TimerKind, timers: &[(ReportId, Option<Timestamp>)]) -> Result<(), StoreError> {
    let bad = |e: sea_query::error::Error| StoreError::Corrupt(e.to_string());
    let set: Vec<_> = timers.iter().filter_map(|(id, due)| due.map(|due| (*id, due))).collect();
    for chunk in set.chunks(ROWS_PER_INSERT) {
        let mut upsert = Query::insert();
        upsert
            .into_table("timers")
            .columns(["report_id", "kind", "due_at", "lease_owner", "lease_until"])
            .on_conflict(OnConflict::columns(["report_id", "kind"]).update_columns(["due_at", "lease_owner", "lease_until"]).to_owned());
        for (id, due) in chunk {
            upsert
                .values([Expr::val(id.0), Expr::val(kind.as_str()), Expr::val(micros(*due)), Expr::val(None::<String>), Expr::val(None::<i64>)])
                .map_err(bad)?;
        }
        tx.execute(&upsert).await?;
    }
    let cleared: Vec<i64> = timers.iter().filter(|(_, due)| due.is_none()).map(|(id, _)| id.0).collect();
    for chunk in cleared.chunks(ROWS_PER_INSERT) {
        let delete = Query::delete()
            .from_table("timers")
            .and_where(Expr::col("kind").eq(kind.as_str()))
            .and_where(Expr::col("report_id").is_in(chunk.iter().copied()))
            .to_owned();
        tx.execute(&delete).await?;
    }
    Ok(())
}
