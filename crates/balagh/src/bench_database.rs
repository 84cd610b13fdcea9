//! The fresh database each benchmark runs on: a new SQLite file (in a temporary directory unless a
//! `sqlite://` URL names one), or a new PostgreSQL database on the server a URL names, removed
//! (dropped) at the end.

use anyhow::Context as _;
use balagh_store::{PoolOptions, Store};
use std::path::PathBuf;

/// The run's database: a new SQLite file, or a new PostgreSQL database on the named server.
pub(crate) struct FreshDatabase {
    pub(crate) url: String,
    pub(crate) backend: &'static str,
    place: Place,
}

enum Place {
    /// The database file (its `-wal` and `-shm` companions go with it), and the temporary
    /// directory made for it, removed too, when no URL was given.
    Sqlite {
        file: PathBuf,
        directory: Option<PathBuf>,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl FreshDatabase {
    /// Runs `measure` on a new database (see `create`), then removes it unless `keep` says
    /// otherwise; a failed measurement still removes it.
    pub(crate) async fn run<T>(
        url: Option<&str>,
        label: &str,
        keep: bool,
        measure: impl AsyncFnOnce(&FreshDatabase) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let database = FreshDatabase::create(url, label).await?;
        let result = measure(&database).await;
        let removed = if keep {
            tracing::info!(database = %database.describe(), "database kept");
            Ok(())
        } else {
            database.remove().await
        };
        let report = result?;
        removed?;
        Ok(report)
    }

    /// A new database at `url`, or a new SQLite file in a temporary directory; `label` names it
    /// (`balagh_bench_{label}_…`).
    pub(crate) async fn create(url: Option<&str>, label: &str) -> anyhow::Result<FreshDatabase> {
        let Some(url) = url else {
            let directory = std::env::temp_dir().join(format!("balagh-bench-{label}-{:016x}", rand::random::<u64>()));
            std::fs::create_dir(&directory).with_context(|| format!("cannot create directory {}", directory.display()))?;
            let file = directory.join("bench.db");
            return Ok(FreshDatabase {
                url: format!("sqlite://{}", file.display()),
                backend: "SQLite",
                place: Place::Sqlite { file, directory: Some(directory) },
            });
        };
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let file = PathBuf::from(rest.trim_start_matches("//").split('?').next().unwrap_or_default());
            anyhow::ensure!(!file.as_os_str().is_empty(), "{url} names no file");
            anyhow::ensure!(!file.exists(), "{} already exists; the benchmark needs a new database file", file.display());
            if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| format!("cannot create directory {}", parent.display()))?;
            }
            return Ok(FreshDatabase { url: url.to_owned(), backend: "SQLite", place: Place::Sqlite { file, directory: None } });
        }
        anyhow::ensure!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "expected sqlite://PATH or postgres://…, got {}",
            crate::settings::redact_url(url)
        );
        let mut parsed = reqwest::Url::parse(url).with_context(|| format!("{} is not a valid URL", crate::settings::redact_url(url)))?;
        let name = format!("balagh_bench_{label}_{:016x}", rand::random::<u64>());
        let admin =
            Store::connect(url, PoolOptions { max_connections: 1 }).await.with_context(|| format!("cannot connect to {}", crate::settings::redact_url(url)))?;
        let created = admin.db.execute_sql(&format!("CREATE DATABASE {name}")).await;
        admin.db.close().await;
        created.with_context(|| format!("cannot create database {name}"))?;
        parsed.set_path(&format!("/{name}"));
        Ok(FreshDatabase { url: parsed.to_string(), backend: "PostgreSQL", place: Place::Postgres { admin_url: url.to_owned(), name } })
    }

    pub(crate) fn describe(&self) -> String {
        match &self.place {
            Place::Sqlite { file, .. } => file.display().to_string(),
            Place::Postgres { name, .. } => name.clone(),
        }
    }

    pub(crate) async fn remove(&self) -> anyhow::Result<()> {
        match &self.place {
            Place::Sqlite { file, directory } => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut path = file.clone().into_os_string();
                    path.push(suffix);
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                        Err(error) => return Err(error).with_context(|| format!("cannot remove {}", PathBuf::from(path).display())),
                    }
                }
                if let Some(directory) = directory {
                    std::fs::remove_dir(directory).with_context(|| format!("cannot remove directory {}", directory.display()))?;
                }
                Ok(())
            }
            Place::Postgres { admin_url, name } => {
                let admin = Store::connect(admin_url, PoolOptions { max_connections: 1 }).await.context("cannot connect to drop the benchmark database")?;
                let dropped = admin.db.execute_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                admin.db.close().await;
                dropped.with_context(|| format!("cannot drop database {name}"))
            }
        }
    }
}
