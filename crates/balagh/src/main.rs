//! The `balagh` binary: parses the command line, loads settings, wires the store, the application
//! and the HTTP server together, and runs one subcommand.

mod bench;
mod demo;
mod eastern_province;
mod settings;

use anyhow::Context;
use balagh_app::{App, SystemClock};
use balagh_domain::escalation::Position;
use balagh_domain::event::Role;
use balagh_store::{PoolOptions, Store};
use clap::{Args, Parser, Subcommand};
use settings::{Settings, redact_url};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The default catalogue, loaded into an empty database on first start.
const DEFAULT_CATALOGUE: &str = include_str!("../../../catalogue/eastern-province.toml");

#[derive(Parser)]
#[command(name = "balagh", version, about = "Balagh (بلاغ): a multichannel citizen-report platform for a municipality's contact center")]
struct Cli {
    /// A TOML settings file (also BALAGH_CONFIG).
    #[arg(long, global = true, env = "BALAGH_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Flags shared by every subcommand that touches the store.
#[derive(Args, Clone, Default)]
struct StoreFlags {
    /// `postgres://…` or `sqlite://…` (also BALAGH_DATABASE_URL); default: SQLite in the data directory.
    #[arg(long)]
    database_url: Option<String>,
    /// Where the embedded database lives (also BALAGH_DATA_DIR); default ./balagh-data.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrates, loads the default catalogue on first start).
    Serve {
        /// ADDR:PORT to listen on (also BALAGH_LISTEN); default 127.0.0.1:8940.
        #[arg(long)]
        listen: Option<SocketAddr>,
        #[command(flatten)]
        store: StoreFlags,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreFlags,
    },
    /// Import or export the service catalogue.
    Catalogue {
        #[command(subcommand)]
        action: CatalogueAction,
    },
    /// Fill the store with realistic demo reports.
    Demo {
        /// How many reports to create.
        #[arg(long)]
        reports: u64,
        /// Seed for reproducible data.
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        store: StoreFlags,
    },
    /// Load generators for measuring a running server.
    Bench {
        #[command(subcommand)]
        action: BenchAction,
    },
    /// Administration: API keys.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand)]
enum CatalogueAction {
    /// Validate a catalogue TOML file and make it the catalogue in force (a running server picks it
    /// up at its next start).
    Import {
        file: PathBuf,
        #[command(flatten)]
        store: StoreFlags,
    },
    /// Print the catalogue in force as TOML.
    Export {
        #[command(flatten)]
        store: StoreFlags,
    },
}

#[derive(Subcommand)]
enum BenchAction {
    /// Drive report creates over HTTP and print creates/s and latency percentiles.
    Intake(bench::IntakeArgs),
}

#[derive(Subcommand)]
enum AdminAction {
    /// API keys for Open311 clients and staff tools.
    ApiKey {
        #[command(subcommand)]
        action: ApiKeyAction,
    },
}

#[derive(Subcommand)]
enum ApiKeyAction {
    /// Create a key; the key is printed alone on the last line (shown once, stored hashed).
    Create {
        name: String,
        /// integration (Open311 clients), agent, staff, supervisor or admin.
        #[arg(long, default_value = "integration")]
        role: String,
        /// Bind a staff key to one department.
        #[arg(long)]
        department: Option<String>,
        /// The position a supervisor key holds, for escalations addressed to it: team_lead,
        /// department_manager (both need --department), deputy_for_services, mayors_office or
        /// emergency_committee.
        #[arg(long)]
        position: Option<String>,
        #[command(flatten)]
        store: StoreFlags,
    },
    /// List keys (never the secrets).
    List {
        #[command(flatten)]
        store: StoreFlags,
    },
    /// Revoke a key by name.
    Revoke {
        name: String,
        #[command(flatten)]
        store: StoreFlags,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref(), std::env::vars())?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli.command, settings))
}

fn apply_store_flags(mut settings: Settings, flags: &StoreFlags) -> Settings {
    if let Some(url) = &flags.database_url {
        settings.database_url = Some(url.clone());
    }
    if let Some(dir) = &flags.data_dir {
        settings.data_dir = dir.clone();
    }
    settings
}

/// Opens the store named by the settings (creating the data directory for SQLite) and migrates it.
async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let url = settings.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| format!("cannot create data directory {}", settings.data_dir.display()))?;
    }
    let store = Store::connect(&url, PoolOptions { max_connections: settings.max_connections })
        .await
        .with_context(|| format!("cannot open database {}", redact_url(&url)))?;
    let ran = store.migrate(jiff::Timestamp::now()).await.context("migrations failed")?;
    if ran > 0 {
        tracing::info!(migrations = ran, "database schema brought up to date");
    }
    Ok(store)
}

async fn open_app(settings: &Settings) -> anyhow::Result<App> {
    let store = open_store(settings).await?;
    let catalogue = balagh_app::load_catalogue(&store, DEFAULT_CATALOGUE, jiff::Timestamp::now()).await.context("cannot load the catalogue")?;
    let sla = balagh_app::SlaSettings::eastern_province(&catalogue).context("the shipped SLA calendars and policies are invalid")?;
    Ok(App::new(store, catalogue, sla, Arc::new(SystemClock)))
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { listen, store } => {
            let mut settings = apply_store_flags(settings, &store);
            if let Some(listen) = listen {
                settings.listen = listen;
            }
            serve(settings).await
        }
        Command::Migrate { store } => {
            let settings = apply_store_flags(settings, &store);
            open_store(&settings).await?;
            println!("migrations are current on {}", redact_url(&settings.database_url()));
            Ok(())
        }
        Command::Catalogue { action: CatalogueAction::Import { file, store } } => {
            let settings = apply_store_flags(settings, &store);
            let document = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let store = open_store(&settings).await?;
            let catalogue = balagh_app::import_catalogue(&store, &document, jiff::Timestamp::now()).await?;
            println!("imported {} services in {} departments from {}", catalogue.services.len(), catalogue.departments.len(), file.display());
            Ok(())
        }
        Command::Catalogue { action: CatalogueAction::Export { store } } => {
            let app = open_app(&apply_store_flags(settings, &store)).await?;
            print!("{}", app.catalogue().to_toml());
            Ok(())
        }
        Command::Demo { reports, seed, store } => {
            let app = open_app(&apply_store_flags(settings, &store)).await?;
            let options = demo::DemoOptions { reports, seed, show_progress: true };
            let summary = demo::run(&app.store, app.catalogue(), app.sla(), jiff::Timestamp::now(), &options).await?;
            println!("created {} demo reports in {:.1} s ({:.0}/s)", summary.reports, summary.seconds, summary.reports as f64 / summary.seconds.max(1e-9));
            for (kind, count) in &summary.by_kind {
                println!("  {kind}: {count}");
            }
            Ok(())
        }
        Command::Bench { action: BenchAction::Intake(args) } => {
            let report = bench::run_intake(&args).await?;
            println!("{report}");
            Ok(())
        }
        Command::Admin { action: AdminAction::ApiKey { action } } => admin_api_key(settings, action).await,
    }
}

async fn admin_api_key(settings: Settings, action: ApiKeyAction) -> anyhow::Result<()> {
    match action {
        ApiKeyAction::Create { name, role, department, position, store } => {
            let app = open_app(&apply_store_flags(settings, &store)).await?;
            let role = Role::parse(&role).with_context(|| format!("unknown role '{role}'; use integration, agent, staff, supervisor or admin"))?;
            let position = match position {
                Some(text) => Some(Position::parse(&text).with_context(|| {
                    format!("unknown position '{text}'; use team_lead, department_manager, deputy_for_services, mayors_office or emergency_committee")
                })?),
                None => None,
            };
            let secret = app.create_api_key(&name, role, department.as_deref(), position).await?;
            println!("created API key '{name}' with role {} (shown once; store it safely):", role.as_str());
            println!("{secret}");
        }
        ApiKeyAction::List { store } => {
            let store = open_store(&apply_store_flags(settings, &store)).await?;
            for key in store.db.api_keys().await? {
                let state = if key.revoked { "revoked" } else { "active" };
                println!("{}\t{}\t{}\t{}", key.name, key.role.as_str(), key.department.as_deref().unwrap_or("-"), state);
            }
        }
        ApiKeyAction::Revoke { name, store } => {
            let store = open_store(&apply_store_flags(settings, &store)).await?;
            if !store.db.revoke_api_key(&name, jiff::Timestamp::now()).await? {
                anyhow::bail!("no active API key named '{name}'");
            }
            println!("revoked API key '{name}'");
        }
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])
        .context("metrics buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let app = open_app(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen).await.with_context(|| format!("cannot listen on {}", settings.listen))?;
    let bound = listener.local_addr().context("cannot read the bound address")?;
    // With port 0 the OS picks the port: advertise the one actually bound.
    let base = match &settings.public_base_url {
        Some(_) => settings.public_base_url(),
        None => format!("http://{bound}"),
    };
    let config = balagh_web::WebConfig {
        jurisdiction_id: settings.jurisdiction_id.clone(),
        max_body_bytes: settings.max_body_bytes,
        public_base_url: base.clone(),
        ..balagh_web::WebConfig::default()
    };
    let state = balagh_web::AppState { app, config: Arc::new(config), metrics: Some(metrics) };
    // A closed standard output (a detached terminal) must not stop the server: write errors are ignored.
    let banner = format!(
        "Balagh is serving on {base} (database: {})\n  JSON API      {base}/api/v1/reports\n  API docs      {base}/api/docs\n  OpenAPI       {base}/api/openapi.json\n  Open311       {base}/open311/v2/discovery.json\n  health        {base}/healthz  {base}/readyz\n  metrics       {base}/metrics\n",
        redact_url(&settings.database_url())
    );
    let _ = std::io::Write::write_all(&mut std::io::stdout(), banner.as_bytes());
    axum::serve(listener, balagh_web::app(state)).with_graceful_shutdown(shutdown_signal()).await?;
    tracing::info!("Balagh stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
