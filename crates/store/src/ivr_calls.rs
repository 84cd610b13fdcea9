//! IVR calls by the provider's call id: the flow's state between webhook requests (so any process
//! answers a call's next step), the last reply (so a replayed request is answered the same), and
//! what the call was (caller, language, path, report, duration, the caller's ratings).

use crate::StoreError;
use crate::db::Db;
use crate::rows::{EVENT_COLUMNS, event_values, from_micros, micros};
use balagh_domain::event::Event;
use balagh_domain::report::ReportId;
use balagh_domain::vocabulary::Status;
use jiff::Timestamp;
use sea_query::{Expr, ExprTrait, InsertStatement, OnConflict, Query};

/// One IVR call as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct IvrCall {
    pub call_sid: String,
    /// The caller id the provider gave, if any.
    pub caller: Option<String>,
    pub language: String,
    /// Steps answered so far.
    pub step: i64,
    /// The flow's state, as JSON the channel adapter reads back.
    pub state: String,
    /// What the request that produced `last_reply` carried, so a replay is recognised.
    pub last_input: Option<String>,
    pub last_reply: Option<String>,
    /// The report the call opened or asked about.
    pub report_id: Option<ReportId>,
    /// The menus the caller went through, in order (`language>main>new>…`).
    pub path: String,
    pub started_at: Timestamp,
    pub updated_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub duration_seconds: Option<i64>,
    pub agent_service: Option<u8>,
    pub answer_quality: Option<u8>,
}

const COLUMNS: [&str; 15] = [
    "call_sid",
    "caller",
    "language",
    "step",
    "state",
    "last_input",
    "last_reply",
    "report_id",
    "path",
    "started_at",
    "updated_at",
    "ended_at",
    "duration_seconds",
    "agent_service",
    "answer_quality",
];

#[derive(sqlx::FromRow)]
struct Row {
    call_sid: String,
    caller: Option<String>,
    language: String,
    step: i64,
    state: String,
    last_input: Option<String>,
    last_reply: Option<String>,
    report_id: Option<i64>,
    path: String,
    started_at: i64,
    updated_at: i64,
    ended_at: Option<i64>,
    duration_seconds: Option<i64>,
    agent_service: Option<i64>,
    answer_quality: Option<i64>,
}

impl Row {
    fn into_call(self) -> Result<IvrCall, StoreError> {
        let score = |v: Option<i64>| v.map(|v| u8::try_from(v).map_err(|_| StoreError::Corrupt(format!("ivr call score {v}")))).transpose();
        Ok(IvrCall {
            call_sid: self.call_sid,
            caller: self.caller,
            language: self.language,
            step: self.step,
            state: self.state,
            last_input: self.last_input,
            last_reply: self.last_reply,
            report_id: self.report_id.map(ReportId),
            path: self.path,
            started_at: from_micros(self.started_at)?,
            updated_at: from_micros(self.updated_at)?,
            ended_at: self.ended_at.map(from_micros).transpose()?,
            duration_seconds: self.duration_seconds,
            agent_service: score(self.agent_service)?,
            answer_quality: score(self.answer_quality)?,
        })
    }
}

fn values(call: &IvrCall) -> Vec<Expr> {
    let score = |v: Option<u8>| Expr::val(v.map(i64::from));
    vec![
        Expr::val(call.call_sid.clone()),
        Expr::val(call.caller.clone()),
        Expr::val(call.language.clone()),
        Expr::val(call.step),
        Expr::val(call.state.clone()),
        Expr::val(call.last_input.clone()),
        Expr::val(call.last_reply.clone()),
        Expr::val(call.report_id.map(|id| id.0)),
        Expr::val(call.path.clone()),
        Expr::val(micros(call.started_at)),
        Expr::val(micros(call.updated_at)),
        Expr::val(call.ended_at.map(micros)),
        Expr::val(call.duration_seconds),
        score(call.agent_service),
        score(call.answer_quality),
    ]
}

impl Db {
    /// The call with this provider call id.
    pub async fn ivr_call(&self, call_sid: &str) -> Result<Option<IvrCall>, StoreError> {
        let query = Query::select().columns(COLUMNS).from("ivr_calls").and_where(Expr::col("call_sid").eq(call_sid)).to_owned();
        self.fetch_optional::<Row, _>(&query).await?.map(Row::into_call).transpose()
    }

    /// Stores a new call; false when a call with this id exists already (a replayed first request).
    pub async fn insert_ivr_call(&self, call: &IvrCall) -> Result<bool, StoreError> {
        let insert = Query::insert()
            .into_table("ivr_calls")
            .columns(COLUMNS)
            .values(values(call))
            .map_err(|e| StoreError::Database(e.to_string()))?
            .on_conflict(OnConflict::column("call_sid").do_nothing().to_owned())
            .to_owned();
        let mut tx = self.begin().await?;
        let inserted = tx.execute(&insert).await? == 1;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Writes `call` over the stored row only if that row is still at step `from_step`; false when
    /// another request moved the call on first.
    pub async fn save_ivr_call(&self, call: &IvrCall, from_step: i64) -> Result<bool, StoreError> {
        let columns = COLUMNS.iter().skip(1).copied().zip(values(call).into_iter().skip(1)).collect::<Vec<_>>();
        let update = Query::update()
            .table("ivr_calls")
            .values(columns)
            .and_where(Expr::col("call_sid").eq(call.call_sid.clone()))
            .and_where(Expr::col("step").eq(from_step))
            .to_owned();
        let mut tx = self.begin().await?;
        let saved = tx.execute(&update).await? == 1;
        tx.commit().await?;
        Ok(saved)
    }

    /// Marks the call ended, once, and in the same transaction puts `timeline` (the call, as an
    /// event on the report it was about) on that report's timeline: true for the request that
    /// ended it. A later status callback only fills in the provider's duration.
    pub async fn end_ivr_call(
        &self,
        call_sid: &str,
        ended_at: Timestamp,
        duration_seconds: Option<i64>,
        timeline: Option<(ReportId, &Event)>,
    ) -> Result<bool, StoreError> {
        let end = Query::update()
            .table("ivr_calls")
            .values([("ended_at", Expr::val(micros(ended_at))), ("duration_seconds", Expr::val(duration_seconds))])
            .and_where(Expr::col("call_sid").eq(call_sid))
            .and_where(Expr::col("ended_at").is_null())
            .to_owned();
        let mut tx = self.begin().await?;
        let ended = tx.execute(&end).await? == 1;
        if ended && let Some((report, event)) = timeline {
            tx.execute(&append_event(report, event)?).await?;
        }
        if !ended && let Some(duration) = duration_seconds {
            let fill =
                Query::update().table("ivr_calls").value("duration_seconds", Expr::val(duration)).and_where(Expr::col("call_sid").eq(call_sid)).to_owned();
            tx.execute(&fill).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }
}

/// Adds an event that changes nothing about the report to its timeline, with the report's status
/// as it stands (INSERT … SELECT, so the report is neither read first nor rewritten).
fn append_event(report: ReportId, event: &Event) -> Result<InsertStatement, StoreError> {
    let mut values = event_values(report, Status::New, event);
    let status = EVENT_COLUMNS.iter().position(|c| *c == "status").ok_or_else(|| StoreError::Corrupt("report_events has no status column".into()))?;
    values[status] = Expr::col(("reports", "status"));
    let select = Query::select().exprs(values).from("reports").and_where(Expr::col(("reports", "id")).eq(report.0)).to_owned();
    let mut insert = Query::insert();
    insert.into_table("report_events").columns(EVENT_COLUMNS).select_from(select).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(insert)
}
