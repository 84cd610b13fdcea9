//! The two databases behind one interface: `Db` (a pool) and `Tx` (a transaction) run sea-query
//! statements on PostgreSQL or SQLite, rendered with that backend's builder and bound natively.
//! Everything above this module is written once.

use crate::StoreError;
use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_sqlx::SqlxBinder;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
// Every SQL string here is rendered by sea-query from typed statements, with values bound
// separately, so asserting it safe is sound.
use sqlx::{AssertSqlSafe, PgPool, Postgres, Sqlite, SqlitePool};

/// A row type readable from both databases (derive `sqlx::FromRow` on a struct of plain types).
pub trait Row: for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin {}

/// The database: PostgreSQL, or SQLite with its writer connections, the gate they pass one at a
/// time, and several readers.
#[derive(Clone, Debug)]
pub enum Db {
    Pg(PgPool),
    Lite { writer: SqlitePool, gate: WriteGate, readers: SqlitePool },
}

/// SQLite takes one write transaction at a time. Writers of this process queue here, in order,
/// instead of on SQLite's lock, whose busy handler sleeps 1, 2, 5, 10… ms between tries and so
/// adds up to tens of milliseconds under load. The lock (and its busy timeout) still keeps other
/// processes out.
#[derive(Clone, Debug, Default)]
pub struct WriteGate(std::sync::Arc<tokio::sync::Mutex<()>>);

/// A place at the write gate, held for one transaction.
type GatePass = tokio::sync::OwnedMutexGuard<()>;

impl WriteGate {
    async fn pass(&self) -> GatePass {
        self.0.clone().lock_owned().await
    }
}

/// Which backend a statement is rendered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Db {
    pub fn backend(&self) -> Backend {
        match self {
            Db::Pg(_) => Backend::Postgres,
            Db::Lite { .. } => Backend::Sqlite,
        }
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
    /// writers queue on the lock (with the busy timeout) instead of failing when one of them read
    /// an older snapshot.
    pub async fn begin(&self) -> Result<Tx<'static>, StoreError> {
        Ok(match self {
            Db::Pg(pool) => Tx::Pg(pool.begin().await?),
            Db::Lite { writer, gate, .. } => {
                let pass = gate.pass().await;
                Tx::Lite(writer.begin_with("BEGIN IMMEDIATE").await?, pass)
            }
        })
    }

    /// A write connection to keep for a long-running writer (the intake), so that each of its
    /// transactions skips the pool.
    pub async fn writer_connection(&self) -> Result<WriterConnection, StoreError> {
        Ok(match self {
            Db::Pg(pool) => WriterConnection::Pg(pool.acquire().await?),
            Db::Lite { writer, gate, .. } => WriterConnection::Lite(writer.acquire().await?, gate.clone()),
        })
    }

    /// Reads rows outside any transaction (on SQLite, from the reader connections).
    pub async fn fetch_all<T: Row, S: SqlxBinder>(&self, stmt: &S) -> Result<Vec<T>, StoreError> {
        Ok(match self {
            Db::Pg(pool) => {
                let (sql, values) = stmt.build_sqlx(PostgresQueryBuilder);
                sqlx::query_as_with::<Postgres, T, _>(AssertSqlSafe(sql), values).fetch_all(pool).await?
            }
            Db::Lite { readers, .. } => {
                let (sql, values) = stmt.build_sqlx(SqliteQueryBuilder);
                sqlx::query_as_with::<Sqlite, T, _>(AssertSqlSafe(sql), values).fetch_all(readers).await?
            }
        })
    }

    pub async fn fetch_optional<T: Row, S: SqlxBinder>(&self, stmt: &S) -> Result<Option<T>, StoreError> {
        Ok(match self {
            Db::Pg(pool) => {
                let (sql, values) = stmt.build_sqlx(PostgresQueryBuilder);
                sqlx::query_as_with::<Postgres, T, _>(AssertSqlSafe(sql), values).fetch_optional(pool).await?
            }
            Db::Lite { readers, .. } => {
                let (sql, values) = stmt.build_sqlx(SqliteQueryBuilder);
                sqlx::query_as_with::<Sqlite, T, _>(AssertSqlSafe(sql), values).fetch_optional(readers).await?
            }
        })
    }

    /// Runs raw SQL text that is the same on both backends (schema statements, `SELECT 1`).
    pub async fn execute_sql(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Pg(pool) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(pool).await.map(drop)?,
            Db::Lite { writer, gate, .. } => {
                let _pass = gate.pass().await;
                sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(writer).await.map(drop)?
            }
        }
        Ok(())
    }

    /// Refreshes the query planner's statistics (after a bulk load, so the first queries do not
    /// run on plans made for empty tables). `PRAGMA optimize` analyzes only what needs it.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        match self {
            Db::Pg(_) => self.execute_sql("ANALYZE").await,
            Db::Lite { .. } => self.execute_sql("PRAGMA optimize=0x10002").await,
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Pg(pool) => pool.close().await,
            Db::Lite { writer, readers, .. } => {
                readers.close().await;
                // Fold the write-ahead log into the database so none is left behind on disk.
                if let Err(error) = sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)").execute(writer).await {
                    tracing::warn!(%error, "could not checkpoint the write-ahead log on close");
                }
                writer.close().await;
            }
        }
    }
}

/// A write connection held by one writer.
pub enum WriterConnection {
    Pg(sqlx::pool::PoolConnection<Postgres>),
    Lite(sqlx::pool::PoolConnection<Sqlite>, WriteGate),
}

impl WriterConnection {
    pub async fn begin(&mut self) -> Result<Tx<'_>, StoreError> {
        Ok(match self {
            WriterConnection::Pg(conn) => Tx::Pg(sqlx::Connection::begin(&mut **conn).await?),
            WriterConnection::Lite(conn, gate) => {
                let pass = gate.pass().await;
                Tx::Lite(sqlx::Connection::begin_with(&mut **conn, "BEGIN IMMEDIATE").await?, pass)
            }
        })
    }
}

/// A transaction on either backend (on SQLite, with its place at the write gate, given up after
/// the transaction ends).
pub enum Tx<'c> {
    Pg(sqlx::Transaction<'c, Postgres>),
    Lite(sqlx::Transaction<'c, Sqlite>, GatePass),
}

impl Tx<'_> {
    fn backend(&self) -> Backend {
        match self {
            Tx::Pg(_) => Backend::Postgres,
            Tx::Lite(..) => Backend::Sqlite,
        }
    }

    /// Executes a statement and returns the number of rows it affected.
    pub async fn execute<S: SqlxBinder>(&mut self, stmt: &S) -> Result<u64, StoreError> {
        Ok(match self {
            Tx::Pg(tx) => {
                let (sql, values) = stmt.build_sqlx(PostgresQueryBuilder);
                sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut **tx).await?.rows_affected()
            }
            Tx::Lite(tx, _) => {
                let (sql, values) = stmt.build_sqlx(SqliteQueryBuilder);
                sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut **tx).await?.rows_affected()
            }
        })
    }

    pub async fn fetch_all<T: Row, S: SqlxBinder>(&mut self, stmt: &S) -> Result<Vec<T>, StoreError> {
        Ok(match self {
            Tx::Pg(tx) => {
                let (sql, values) = stmt.build_sqlx(PostgresQueryBuilder);
                sqlx::query_as_with::<Postgres, T, _>(AssertSqlSafe(sql), values).fetch_all(&mut **tx).await?
            }
            Tx::Lite(tx, _) => {
                let (sql, values) = stmt.build_sqlx(SqliteQueryBuilder);
                sqlx::query_as_with::<Sqlite, T, _>(AssertSqlSafe(sql), values).fetch_all(&mut **tx).await?
            }
        })
    }

    pub async fn fetch_optional<T: Row, S: SqlxBinder>(&mut self, stmt: &S) -> Result<Option<T>, StoreError> {
        Ok(self.fetch_all(stmt).await?.into_iter().next())
    }

    /// Runs raw SQL text that is the same on both backends.
    pub async fn execute_sql(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Tx::Pg(tx) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(&mut **tx).await.map(drop)?,
            Tx::Lite(tx, _) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(&mut **tx).await.map(drop)?,
        }
        Ok(())
    }

    /// Commits durably: PostgreSQL's synchronous commit, SQLite's `synchronous=FULL`.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Pg(tx) => tx.commit().await?,
            Tx::Lite(tx, _) => tx.commit().await?,
        }
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        self.backend() == Backend::Postgres
    }
}
