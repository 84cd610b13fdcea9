//! Balagh's persistence on SQLite (the embedded default) and PostgreSQL through one code path:
//! queries are written once with sea-query and rendered per backend (`db`), the schema is one
//! append-only list of migrations (`schema`), and report intake commits in groups (`intake`).
//! Only this crate knows SQL.

pub mod api_keys;
pub mod catalogue;
pub mod db;
pub mod escalations;
pub mod intake;
pub mod ivr_calls;
mod lease;
pub mod locations;
pub mod media;
pub mod outbox;
pub mod ratings;
pub mod reports;
pub mod rows;
pub mod schema;

pub use db::{Backend, Db, Tx, WriterConnection};
pub use escalations::{EscalationFilter, EscalationRecord, EscalationTarget, FollowUpCounts, StatusHistory, StoredEscalation, TimerKind};
pub use intake::{Acknowledgement, IdempotencyKey, Intake, IntakeOutcome, IntakeRecord, SeedReport};
pub use ivr_calls::IvrCall;
pub use locations::{LocationOutcome, LocationRequest, NewLocationRequest};
pub use media::{NewMedia, StoredMedia};
pub use outbox::{OutboxFilter, OutboxMessage, OutboxState, Receipt, Recorded, StoredOutbox, StoredTemplate};
pub use ratings::{Rating, RatingRecord};
pub use reports::{BoundingBox, Cursor, ReportChange, ReportFilter};
pub use rows::StoredEvent;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Why a store operation failed. Cloneable, so one failed batch can answer every caller in it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the report kept changing under us; try again")]
    Contention,
    #[error("the store is shutting down")]
    ShuttingDown,
    #[error("invalid database url: {0}")]
    Url(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

/// The store: the database and the intake writers in front of it.
#[derive(Clone)]
pub struct Store {
    pub db: Db,
    pub intake: Intake,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.db.backend()).finish_non_exhaustive()
    }
}

/// How often the SQLite write-ahead log is copied back into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// Copies the SQLite write-ahead log into the database file from a task of its own, with a PASSIVE
/// checkpoint that never blocks writers or readers. The writer's own automatic checkpoint then
/// finds the log mostly copied already and finishes quickly, which keeps the log small (it restarts
/// once fully copied) without putting the bulk of the copying on the commit path.
fn checkpoint_in_background(writer: sqlx::SqlitePool) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(CHECKPOINT_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if writer.is_closed() {
                return;
            }
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&writer).await {
                tracing::warn!(%error, "background checkpoint failed");
            }
        }
    });
}

/// Connection pool sizes.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_connections: u32,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_connections: 16 }
    }
}

impl Store {
    /// Opens the database named by `url`: `sqlite://PATH` (created if missing; WAL, synchronous=FULL)
    /// or `postgres://…`. Does not migrate.
    pub async fn connect(url: &str, options: PoolOptions) -> Result<Store, StoreError> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Every connection is opened at start and kept: opening one (PostgreSQL forks a
            // backend for it) under the first burst of requests costs them milliseconds each.
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .min_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Db::Pg(pool)
        } else if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Url(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            // The single writer keeps the hot index pages of a growing database in memory.
            // Connections are local files: no liveness ping before each use.
            // Two writer connections: one kept by the intake writer, one for every other change;
            // they take turns at the write gate (and SQLite's write lock, taken by BEGIN IMMEDIATE,
            // keeps other processes out).
            let writer =
                SqlitePoolOptions::new().max_connections(2).test_before_acquire(false).connect_with(base.clone().pragma("cache_size", "-32768")).await?;
            let readers = SqlitePoolOptions::new()
                .max_connections(options.max_connections.clamp(1, 8))
                .test_before_acquire(false)
                .connect_with(base.read_only(true))
                .await?;
            checkpoint_in_background(writer.clone());
            Db::Lite { writer, gate: Default::default(), readers }
        } else {
            return Err(StoreError::Url("expected sqlite://PATH or postgres://…".into()));
        };
        // Each intake writer keeps one connection; on PostgreSQL up to a quarter of the pool, so
        // reads and other changes always find one free.
        let writers = match db.backend() {
            Backend::Postgres => (options.max_connections / 4).clamp(1, 4) as usize,
            Backend::Sqlite => 1,
        };
        let intake = Intake::start(db.clone(), Arc::new(intake::IdAllocator::default()), writers);
        Ok(Store { db, intake })
    }

    /// Applies pending migrations; returns how many ran.
    pub async fn migrate(&self, now: jiff::Timestamp) -> Result<usize, StoreError> {
        schema::migrate(&self.db, rows::micros(now)).await
    }

    /// The database answers and its schema is current.
    pub async fn is_ready(&self) -> Result<bool, StoreError> {
        schema::is_current(&self.db).await
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }
}
