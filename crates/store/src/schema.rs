//! The schema as one ordered, append-only list of migrations for both databases. Each migration is
//! a Rust function returning sea-query statements, rendered for the backend at hand. Never edit a
//! migration that has shipped: append a new one.

use crate::StoreError;
use crate::db::{Backend, Db};
use sea_query::{
    ColumnDef, ConditionalStatement, Expr, ExprTrait, Index, IndexCreateStatement, PostgresQueryBuilder, Query, SqliteQueryBuilder, Table, TableCreateStatement,
};

/// The first report id handed out, so that ticket numbers look like ticket numbers from day one.
pub const FIRST_REPORT_ID: i64 = 1_000_000;

/// One schema statement, rendered per backend.
pub enum Statement {
    Table(TableCreateStatement),
    Index(IndexCreateStatement),
    Insert(sea_query::InsertStatement),
    Alter(sea_query::TableAlterStatement),
}

impl Statement {
    fn render(&self, backend: Backend) -> String {
        match (self, backend) {
            (Statement::Table(t), Backend::Postgres) => t.to_string(PostgresQueryBuilder),
            (Statement::Table(t), Backend::Sqlite) => t.to_string(SqliteQueryBuilder),
            (Statement::Index(i), Backend::Postgres) => i.to_string(PostgresQueryBuilder),
            (Statement::Index(i), Backend::Sqlite) => i.to_string(SqliteQueryBuilder),
            (Statement::Insert(i), Backend::Postgres) => i.to_string(PostgresQueryBuilder),
            (Statement::Insert(i), Backend::Sqlite) => i.to_string(SqliteQueryBuilder),
            (Statement::Alter(a), Backend::Postgres) => a.to_string(PostgresQueryBuilder),
            (Statement::Alter(a), Backend::Sqlite) => a.to_string(SqliteQueryBuilder),
        }
    }
}

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub statements: fn() -> Vec<Statement>,
}

/// Every migration, in order. Append only.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "reports, events, ratings, api keys, catalogue", statements: initial },
    Migration { version: 2, name: "escalation progress, timers, escalations, outbox, positions", statements: escalation },
    Migration { version: 3, name: "notification delivery: claims, segments, receipts, template overrides", statements: notifications },
    Migration { version: 4, name: "ivr calls", statements: ivr_calls },
    Migration { version: 5, name: "report media", statements: media },
    Migration { version: 6, name: "reports waiting for their place", statements: location_requests },
];

fn id_column(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().auto_increment().primary_key().to_owned()
}

fn text(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

fn text_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}

fn int(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

fn int_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().to_owned()
}

fn index(name: &'static str, table: &'static str, columns: &[&'static str]) -> Statement {
    let mut statement = Index::create();
    statement.name(name).table(table).if_not_exists();
    for column in columns {
        statement.col(*column);
    }
    Statement::Index(statement.to_owned())
}

fn initial() -> Vec<Statement> {
    let reports = Table::create()
        .table("reports")
        .if_not_exists()
        .col(ColumnDef::new("id").big_integer().not_null().primary_key())
        .col(text("kind"))
        .col(text("service_code"))
        .col(text("department"))
        .col(text_null("team"))
        .col(text_null("assignee"))
        .col(text("description"))
        .col(int("priority"))
        .col(text("status"))
        .col(ColumnDef::new("lat").double().null())
        .col(ColumnDef::new("lon").double().null())
        .col(int_null("cell"))
        .col(text_null("address"))
        .col(text_null("address_id"))
        .col(text_null("city"))
        .col(text_null("district"))
        .col(text_null("short_address"))
        .col(text_null("reporter_name"))
        .col(text_null("reporter_phone"))
        .col(text_null("reporter_email"))
        .col(text("language"))
        .col(text_null("preferred_channel"))
        .col(text_null("device_id"))
        .col(text_null("account_id"))
        .col(text("channel"))
        .col(text("media"))
        .col(text("attributes"))
        .col(text_null("status_note"))
        .col(int_null("duplicate_of"))
        .col(int("n_follow_ups"))
        .col(int("version"))
        .col(int("created_at"))
        .col(int("updated_at"))
        .col(int_null("resolved_at"))
        .col(int_null("closed_at"))
        .col(int_null("expected_at"))
        .to_owned();
    let events = Table::create()
        .table("report_events")
        .if_not_exists()
        .col(id_column("id"))
        .col(int("report_id"))
        .col(int("at"))
        .col(text("actor_role"))
        .col(text_null("actor_id"))
        .col(text("channel"))
        .col(ColumnDef::new("public").boolean().not_null())
        .col(text("kind"))
        .col(text("status"))
        .col(text_null("note"))
        .col(text("data"))
        .to_owned();
    let idempotency = Table::create()
        .table("idempotency_keys")
        .if_not_exists()
        .col(ColumnDef::new("key").text().not_null().primary_key())
        .col(int("report_id"))
        .col(text("fingerprint"))
        .col(int("created_at"))
        .to_owned();
    let ratings = Table::create()
        .table("ratings")
        .if_not_exists()
        .col(id_column("id"))
        .col(int("report_id"))
        .col(text("kind"))
        .col(int_null("agent_service"))
        .col(int_null("answer_quality"))
        .col(int_null("closure_quality"))
        .col(int_null("closure_speed"))
        .col(ColumnDef::new("not_fixed").boolean().not_null())
        .col(text_null("comment"))
        .col(text_null("agent"))
        .col(text("channel"))
        .col(int("at"))
        .to_owned();
    let api_keys = Table::create()
        .table("api_keys")
        .if_not_exists()
        .col(id_column("id"))
        .col(ColumnDef::new("name").text().not_null().unique_key())
        .col(text("role"))
        .col(text_null("department"))
        .col(ColumnDef::new("key_hash").text().not_null().unique_key())
        .col(int("created_at"))
        .col(int_null("revoked_at"))
        .to_owned();
    let id_blocks =
        Table::create().table("id_blocks").if_not_exists().col(ColumnDef::new("name").text().not_null().primary_key()).col(int("next_id")).to_owned();
    let catalogues = Table::create().table("catalogue_versions").if_not_exists().col(id_column("id")).col(int("loaded_at")).col(text("document")).to_owned();
    let seed_ids =
        Query::insert().into_table("id_blocks").columns(["name", "next_id"]).values_panic([Expr::val("reports"), Expr::val(FIRST_REPORT_ID)]).to_owned();
    vec![
        Statement::Table(reports),
        Statement::Table(events),
        Statement::Table(idempotency),
        Statement::Table(ratings),
        Statement::Table(api_keys),
        Statement::Table(id_blocks),
        Statement::Table(catalogues),
        Statement::Insert(seed_ids),
        // Every list filter and Open311 query is served by an index; lists are newest first.
        index("reports_created", "reports", &["created_at", "id"]),
        index("reports_updated", "reports", &["updated_at"]),
        index("reports_status_created", "reports", &["status", "created_at"]),
        index("reports_service_created", "reports", &["service_code", "created_at"]),
        index("reports_department_status_created", "reports", &["department", "status", "created_at"]),
        index("reports_priority_created", "reports", &["priority", "created_at"]),
        index("reports_channel_created", "reports", &["channel", "created_at"]),
        index("reports_kind_created", "reports", &["kind", "created_at"]),
        // Map queries: the grid cell groups nearby reports, so inserts append per cell instead of
        // landing on random pages of a (lat, lon) index.
        index("reports_cell_created", "reports", &["cell", "created_at"]),
        index("report_events_report", "report_events", &["report_id", "id"]),
        index("report_events_at", "report_events", &["at"]),
        index("ratings_report", "ratings", &["report_id", "at"]),
    ]
}

/// Adds one column (SQLite alters one column per statement).
fn add_column(table: &'static str, column: ColumnDef) -> Statement {
    Statement::Alter(Table::alter().table(table).add_column(column).to_owned())
}

fn escalation() -> Vec<Statement> {
    // One row per report that has a next escalation step due; the worker claims due rows with a
    // lease, so a crashed worker's claims are taken over when the lease runs out.
    let timers = Table::create()
        .table("timers")
        .if_not_exists()
        .col(int("report_id"))
        .col(text("kind"))
        .col(int("due_at"))
        .col(text_null("lease_owner"))
        .col(int_null("lease_until"))
        .primary_key(Index::create().col("report_id").col("kind"))
        .to_owned();
    // One row per fired step and target: the unique key is the "exactly one escalation per level".
    let escalations = Table::create()
        .table("escalations")
        .if_not_exists()
        .col(id_column("id"))
        .col(int("report_id"))
        .col(int("round"))
        .col(int("step"))
        .col(int("level"))
        .col(ColumnDef::new("reminder").boolean().not_null())
        .col(text("target"))
        .col(text_null("department"))
        .col(text("reason"))
        .col(int("fired_at"))
        .col(int_null("acknowledged_at"))
        .col(text_null("acknowledged_by"))
        .to_owned();
    // Notifications to send, written with the change that causes them; delivered by the dispatcher.
    let outbox = Table::create()
        .table("outbox")
        .if_not_exists()
        .col(id_column("id"))
        .col(ColumnDef::new("dedupe_key").text().not_null().unique_key())
        .col(int_null("report_id"))
        .col(text("topic"))
        .col(text("recipient"))
        .col(text("payload"))
        .col(text("state"))
        .col(int("attempts"))
        .col(int("created_at"))
        .col(int("available_at"))
        .col(text_null("lease_owner"))
        .col(int_null("lease_until"))
        .col(text_null("last_error"))
        .col(int_null("sent_at"))
        .col(text_null("provider_ref"))
        .to_owned();
    let mut unique_step = Index::create();
    unique_step.name("escalations_step").table("escalations").col("report_id").col("round").col("step").col("target").unique().if_not_exists();
    vec![
        add_column("reports", ColumnDef::new("escalation_round").big_integer().not_null().default(0).to_owned()),
        add_column("reports", ColumnDef::new("escalation_fired").big_integer().not_null().default(0).to_owned()),
        add_column("reports", int_null("escalated_at")),
        add_column("reports", ColumnDef::new("flagged").boolean().not_null().default(false).to_owned()),
        add_column("api_keys", text_null("position")),
        Statement::Table(timers),
        Statement::Table(escalations),
        Statement::Table(outbox),
        Statement::Index(unique_step.to_owned()),
        index("timers_due", "timers", &["due_at"]),
        // Serves both wake-up lookups as index seeks, with or without planner statistics:
        // `lease_until IS NULL ORDER BY due_at LIMIT 1` and `MIN(lease_until)`.
        index("timers_lease_due", "timers", &["lease_until", "due_at"]),
        // The SLA clocks read only status changes; a small partial index keeps that read an index
        // scan even before the planner has statistics (right after a bulk load).
        Statement::Index(
            Index::create()
                .name("report_events_status_changes")
                .table("report_events")
                .col("report_id")
                .col("id")
                .and_where(Expr::col("kind").eq("status_changed"))
                .if_not_exists()
                .to_owned(),
        ),
        index("escalations_target", "escalations", &["target", "id"]),
        index("escalations_report", "escalations", &["report_id", "id"]),
        index("outbox_state_available", "outbox", &["state", "available_at"]),
    ]
}

fn ivr_calls() -> Vec<Statement> {
    // One row per IVR call, keyed by the provider's call id, so any Balagh process can answer the
    // call's next step. `step` counts the steps answered: a request for an earlier step is a replay
    // (answered again from `last_reply`), and an update only succeeds from the step it read.
    let calls = Table::create()
        .table("ivr_calls")
        .if_not_exists()
        .col(ColumnDef::new("call_sid").text().not_null().primary_key())
        .col(text_null("caller"))
        .col(text("language"))
        .col(int("step"))
        .col(text("state"))
        .col(text_null("last_input"))
        .col(text_null("last_reply"))
        .col(int_null("report_id"))
        .col(text("path"))
        .col(int("started_at"))
        .col(int("updated_at"))
        .col(int_null("ended_at"))
        .col(int_null("duration_seconds"))
        .col(int_null("agent_service"))
        .col(int_null("answer_quality"))
        .to_owned();
    vec![Statement::Table(calls), index("ivr_calls_started", "ivr_calls", &["started_at"])]
}

fn media() -> Vec<Statement> {
    // The photos a beneficiary attached, kept in the database with their report (so every process
    // and every backup has them), named in the report's `media` as `media:photo:SHA256`. Stored
    // only after their location metadata was removed.
    let media = Table::create()
        .table("media")
        .if_not_exists()
        .col(int("report_id"))
        .col(text("sha256"))
        .col(text("content_type"))
        .col(int("size"))
        .col(ColumnDef::new("bytes").blob().not_null())
        .col(int("created_at"))
        .primary_key(Index::create().col("report_id").col("sha256"))
        .to_owned();
    vec![Statement::Table(media)]
}

fn location_requests() -> Vec<Statement> {
    // A report opened by phone whose place the caller marks on a map from a text message's link:
    // the SHA-256 of the link's token, and when the wait ends (its `location` timer fires then).
    let requests = Table::create()
        .table("location_requests")
        .if_not_exists()
        .col(ColumnDef::new("report_id").big_integer().not_null().primary_key())
        .col(text("token_sha256"))
        .col(int("requested_at"))
        .col(int("expires_at"))
        .col(int_null("answered_at"))
        .col(text_null("outcome"))
        .to_owned();
    let by_token = Index::create().name("location_requests_token").table("location_requests").col("token_sha256").unique().if_not_exists().to_owned();
    vec![Statement::Table(requests), Statement::Index(by_token)]
}

fn migrations_table() -> TableCreateStatement {
    Table::create()
        .table("schema_migrations")
        .if_not_exists()
        .col(ColumnDef::new("version").big_integer().not_null().primary_key())
        .col(text("name"))
        .col(int("applied_at"))
        .to_owned()
}

#[derive(sqlx::FromRow)]
struct Applied {
    version: i64,
}

async fn applied_versions(db: &Db) -> Result<Vec<i64>, StoreError> {
    let query = Query::select().column("version").from("schema_migrations").to_owned();
    Ok(db.fetch_all::<Applied, _>(&query).await?.into_iter().map(|a| a.version).collect())
}

/// Applies every migration not yet applied, each in its own transaction; returns how many ran.
pub async fn migrate(db: &Db, now_micros: i64) -> Result<usize, StoreError> {
    let backend = db.backend();
    db.execute_sql(&Statement::Table(migrations_table()).render(backend)).await?;
    let applied = applied_versions(db).await?;
    let mut ran = 0;
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let mut tx = db.begin().await?;
        for statement in (migration.statements)() {
            tx.execute_sql(&statement.render(backend)).await?;
        }
        let record = Query::insert()
            .into_table("schema_migrations")
            .columns(["version", "name", "applied_at"])
            .values_panic([Expr::val(migration.version), Expr::val(migration.name), Expr::val(now_micros)])
            .to_owned();
        tx.execute(&record).await?;
        tx.commit().await?;
        tracing::info!(version = migration.version, name = migration.name, "applied migration");
        ran += 1;
    }
    Ok(ran)
}

/// Whether every known migration has been applied (for `/readyz`).
pub async fn is_current(db: &Db) -> Result<bool, StoreError> {
    let applied = applied_versions(db).await?;
    Ok(MIGRATIONS.iter().all(|m| applied.contains(&m.version)))
}

fn notifications() -> Vec<Statement> {
    // What the providers said afterwards about a message: Twilio's status callbacks (queued, sent,
    // delivered, undelivered; a call's ringing, completed, busy, no-answer). One row per status, so
    // a replayed callback changes nothing.
    let receipts = Table::create()
        .table("delivery_receipts")
        .if_not_exists()
        .col(id_column("id"))
        .col(int("outbox_id"))
        .col(text("provider_ref"))
        .col(text("status"))
        .col(text_null("error_code"))
        .col(int("received_at"))
        .to_owned();
    // Administrators' own texts (minijinja) for a topic, medium and language, used instead of the
    // built-in Fluent text.
    let templates = Table::create()
        .table("notification_templates")
        .if_not_exists()
        .col(text("topic"))
        .col(text("medium"))
        .col(text("language"))
        .col(text("source"))
        .col(int("updated_at"))
        .col(text_null("updated_by"))
        .primary_key(Index::create().col("topic").col("medium").col("language"))
        .to_owned();
    let mut unique_receipt = Index::create();
    unique_receipt.name("delivery_receipts_status").table("delivery_receipts").col("outbox_id").col("provider_ref").col("status").unique().if_not_exists();
    vec![
        // Incremented by each claim; `attempts` by each recorded outcome. A claim that finds
        // `claims > attempts + 1` knows an earlier dispatcher sent without recording.
        add_column("outbox", ColumnDef::new("claims").big_integer().not_null().default(0).to_owned()),
        add_column("outbox", int_null("segments")),
        add_column("outbox", text_null("provider")),
        add_column("outbox", text_null("delivery_status")),
        add_column("outbox", int_null("delivery_status_at")),
        Statement::Table(receipts),
        Statement::Table(templates),
        Statement::Index(unique_receipt.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_change_index_is_partial_on_both_backends() {
        let statements = escalation();
        let rendered: Vec<String> = [Backend::Sqlite, Backend::Postgres]
            .into_iter()
            .flat_map(|backend| statements.iter().map(move |s| s.render(backend)))
            .filter(|sql| sql.contains("report_events_status_changes"))
            .collect();
        assert_eq!(rendered.len(), 2);
        for sql in rendered {
            assert!(sql.contains(r#"WHERE "kind" = 'status_changed'"#), "{sql}");
        }
    }
}
