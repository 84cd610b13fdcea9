//! The `balagh` binary: parses the command line, loads settings, wires the store, the application
//! and the HTTP server together, and runs one subcommand.

mod bench;
mod bench_database;
mod bench_dispatch;
mod bench_ivr;
mod demo;
mod eastern_province;
mod escalations;
mod ivr_call;
mod providers;
mod settings;

use anyhow::Context;
use balagh_app::{App, EscalationWorker, SystemClock};
use balagh_domain::escalation::Position;
use balagh_domain::event::Role;
use balagh_store::{PoolOptions, Store};
use clap::{Args, Parser, Subcommand};
use escalations::{StatementStats, StatementTable};
use settings::{Settings, redact_url};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

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
    /// Run the server and the escalation worker (migrates, loads the default catalogue on first
    /// start).
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
    /// Fill the store with realistic demo reports: a year of history (--reports), and/or a
    /// backlog of open reports with escalation timers at and after one instant (--open-reports),
    /// for measuring the escalation worker.
    Demo {
        /// How many contacts of the year before now to create (most closed, some still open).
        #[arg(long, default_value_t = 0)]
        reports: u64,
        /// How many open reports (new or assigned, none with an escalation step due before
        /// --due-at) to create besides. Each gets its next escalation timer from its own chain.
        #[arg(long, default_value_t = 0)]
        open_reports: u64,
        /// How many of the open reports have their next escalation step due exactly at --due-at
        /// (their step came due just before it); the others come due after it, over the
        /// following days and weeks, wherever their chains put them.
        #[arg(long, default_value_t = 0)]
        due: u64,
        /// The instant the open reports are due at and seen from (RFC 3339, such as
        /// 2026-03-15T09:30:00Z); default now. `balagh escalations run-once --at` this instant
        /// fires the due ones.
        #[arg(long)]
        due_at: Option<jiff::Timestamp>,
        /// Seed for reproducible data.
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        store: StoreFlags,
    },
    /// Escalations: fire what is due once, or see when the next step is due.
    Escalations {
        #[command(subcommand)]
        action: EscalationAction,
    },
    /// Load generators for measuring a running server.
    Bench {
        #[command(subcommand)]
        action: BenchAction,
    },
    /// The voice line (IVR): play a call against a running server.
    Ivr {
        #[command(subcommand)]
        action: IvrAction,
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
enum EscalationAction {
    /// Fire every escalation step due at an instant, once (what the worker in `serve` does on each
    /// pass), and print how many fired and how long it took.
    RunOnce {
        /// The instant to fire at (RFC 3339, such as 2026-03-15T09:30:00Z); default now.
        #[arg(long)]
        at: Option<jiff::Timestamp>,
        /// Also print the SQL statements run, by kind, with their total time.
        #[arg(long)]
        sql_profile: bool,
        #[command(flatten)]
        store: StoreFlags,
    },
    /// Print when the worker next has something to do (a step due, or a claim's lease running
    /// out), or "nothing due".
    Next {
        #[command(flatten)]
        store: StoreFlags,
    },
}

#[derive(Subcommand)]
enum BenchAction {
    /// Drive report creates over HTTP and print creates/s and latency percentiles.
    Intake(bench::IntakeArgs),
    /// Send pending text messages through the notification dispatchers to a local fake Twilio, on
    /// a fresh database, and print messages/s; with --fail-ratio the fake refuses some requests
    /// for a while. Fails unless every message reached the fake exactly once.
    Dispatch(bench_dispatch::DispatchArgs),
    /// Play many simultaneous new-report calls through the IVR's webhooks against an in-process
    /// server on a fresh database, and print each request's latency percentiles. Fails unless every
    /// request succeeded and every call opened its own report.
    Ivr(bench_ivr::IvrArgs),
    /// Run the escalation worker against the store for a while and print the process CPU time
    /// used meanwhile, the worker's passes and the SQL the process ran (with nothing due: what an
    /// idle worker costs).
    IdleWorker {
        /// How long to run, in seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[command(flatten)]
        store: StoreFlags,
    },
}

#[derive(Subcommand)]
enum IvrAction {
    /// Place one call against a running server's voice webhooks, as Twilio would, and play it on
    /// the terminal: prompts are printed as they are heard, keys and recordings are asked on
    /// standard input (or given with --keys and --say), and the ticket the call opened is printed
    /// at the end as `ticket: N`.
    Call(ivr_call::IvrCallArgs),
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
    // Commands that report the SQL they ran count sqlx's statement events, whatever the log level.
    let counts_statements = matches!(
        cli.command,
        Command::Bench { action: BenchAction::IdleWorker { .. } } | Command::Escalations { action: EscalationAction::RunOnce { sql_profile: true, .. } }
    );
    let statements = counts_statements.then(StatementStats::default);
    let statement_layer =
        statements.clone().map(|stats| stats.with_filter(tracing_subscriber::filter::Targets::new().with_target("sqlx::query", tracing::Level::DEBUG)));
    tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter)).with(statement_layer).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli.command, settings, statements.unwrap_or_default()))
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

/// Opens the store, loads the catalogue in force and the SLA calendars, policies and escalation
/// chains (the files the settings name, or the shipped ones).
async fn open_app(settings: &Settings) -> anyhow::Result<App> {
    let store = open_store(settings).await?;
    let catalogue = balagh_app::load_catalogue(&store, DEFAULT_CATALOGUE, jiff::Timestamp::now()).await.context("cannot load the catalogue")?;
    let sla = settings.sla_settings(&catalogue)?;
    Ok(App::new(store, catalogue, sla, Arc::new(SystemClock)))
}

async fn run(command: Command, settings: Settings, statements: StatementStats) -> anyhow::Result<()> {
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
        Command::Demo { reports, open_reports, due, due_at, seed, store } => {
            anyhow::ensure!(reports > 0 || open_reports > 0, "say how many reports to create: --reports N, --open-reports N, or both");
            anyhow::ensure!(due <= open_reports, "--due ({due}) cannot exceed --open-reports ({open_reports})");
            let app = open_app(&apply_store_flags(settings, &store)).await?;
            if reports > 0 {
                let options = demo::DemoOptions { reports, seed, show_progress: true };
                let summary = demo::run(&app.store, app.catalogue(), app.sla(), jiff::Timestamp::now(), &options).await?;
                println!("created {} demo reports in {:.1} s ({:.0}/s)", summary.reports, summary.seconds, summary.reports as f64 / summary.seconds.max(1e-9));
                for (kind, count) in &summary.by_kind {
                    println!("  {kind}: {count}");
                }
            }
            if open_reports > 0 {
                let due_at = due_at.unwrap_or_else(|| app.now());
                let options = demo::open::OpenOptions { reports: open_reports, due, due_at, seed, show_progress: true };
                let summary = demo::open::run(&app.store, app.catalogue(), app.sla(), &options).await?;
                println!(
                    "created {} open reports ({} assigned) in {:.1} s ({:.0}/s)",
                    summary.reports,
                    summary.assigned,
                    summary.seconds,
                    summary.reports as f64 / summary.seconds.max(1e-9)
                );
                println!("  next escalation step due at {due_at}: {}", summary.due);
                match summary.latest_due {
                    Some(latest) => println!("  due after it, until {latest}: {}", summary.reports - summary.due),
                    None => println!("  due after it: 0"),
                }
            }
            app.store.db.close().await;
            Ok(())
        }
        Command::Escalations { action: EscalationAction::RunOnce { at, sql_profile, store } } => {
            let app = open_app(&apply_store_flags(settings, &store)).await?;
            let before = statements.snapshot();
            let run = escalations::run_once(&app, at.unwrap_or_else(|| app.now())).await?;
            println!("{run}");
            if sql_profile {
                print!("{}", StatementTable(&StatementStats::difference(&statements.snapshot(), &before)));
            }
            Ok(())
        }
        Command::Escalations { action: EscalationAction::Next { store } } => {
            let app = open_app(&apply_store_flags(settings, &store)).await?;
            match escalations::next(&app).await? {
                Some(at) => println!("{at}"),
                None => println!("nothing due"),
            }
            Ok(())
        }
        Command::Bench { action: BenchAction::Intake(args) } => {
            let report = bench::run_intake(&args).await?;
            println!("{report}");
            Ok(())
        }
        Command::Bench { action: BenchAction::Dispatch(args) } => {
            let report = bench_dispatch::run(&args).await?;
            println!("{report}");
            anyhow::ensure!(report.check.is_exactly_once(), "messages were lost or duplicated (see above)");
            Ok(())
        }
        Command::Bench { action: BenchAction::Ivr(args) } => {
            let report = bench_ivr::run(&args).await?;
            println!("{report}");
            anyhow::ensure!(report.is_clean(), "calls failed, or the reports do not match the calls (see above)");
            Ok(())
        }
        Command::Bench { action: BenchAction::IdleWorker { seconds, store } } => {
            let app = open_app(&apply_store_flags(settings, &store)).await?;
            let measured = escalations::idle_worker(app, seconds, &statements).await?;
            print!("{measured}");
            Ok(())
        }
        Command::Ivr { action: IvrAction::Call(args) } => {
            let defaults = ivr_call::CallDefaults {
                auth_token: settings.twilio_auth_token.clone(),
                account_sid: settings.twilio_account_sid.clone(),
                recordings_base: settings.twilio_base_url.clone(),
            };
            ivr_call::run(&args, defaults).await?;
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
    // Notification settings are checked before anything is opened, so a mistake stops the start.
    let notification_providers = providers::Providers::from_settings(&settings)?;
    let app = open_app(&settings).await?.with_delivery(notification_providers.delivery.clone()).with_place_wait(settings.place_wait()?);
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
        voice: notification_providers.voice.clone(),
        portal: settings.portal()?,
        ..balagh_web::WebConfig::default()
    };
    // Signal handlers are in place before the banner tells anyone the server is up.
    let shutdown = shutdown_signal()?;
    let worker = EscalationWorker::for_this_process(app.clone());
    tracing::info!(owner = worker.owner(), "escalation worker running");
    let worker = tokio::spawn(worker.run(shutdown.clone().stopped()));
    // Every dispatcher shares the router; each claims outbox rows under its own owner name. A
    // medium with no provider configured goes to the log provider, which prints and files under
    // the data directory what Balagh would send.
    let owner = balagh_app::worker::process_owner();
    let dispatchers: Vec<_> = (0..notification_providers.dispatchers)
        .map(|i| {
            let router: Arc<dyn balagh_notify::Provider> = notification_providers.router.clone();
            let dispatcher = balagh_app::Dispatcher::new(app.clone(), router, format!("{owner}-d{i}"), balagh_app::RetryPolicy::default());
            tokio::spawn(dispatcher.run(shutdown.clone().stopped()))
        })
        .collect();
    tracing::info!(
        dispatchers = notification_providers.dispatchers,
        owner = %owner,
        directory = %notification_providers.outbox_dir.display(),
        "notification dispatcher running; providers: {}",
        notification_providers.router.describe()
    );
    let store = app.store.clone();
    let state = balagh_web::AppState { app, config: Arc::new(config), metrics: Some(metrics) };
    // A closed standard output (a detached terminal) must not stop the server: write errors are ignored.
    let banner = format!(
        "Balagh is serving on {base} (database: {})\n  portal        {base}/  (Arabic {base}/ar/, English {base}/en/)\n  JSON API      {base}/api/v1/reports\n  API docs      {base}/api/docs\n  OpenAPI       {base}/api/openapi.json\n  Open311       {base}/open311/v2/discovery.json\n  health        {base}/healthz  {base}/readyz\n  metrics       {base}/metrics\n",
        redact_url(&settings.database_url())
    );
    let _ = std::io::Write::write_all(&mut std::io::stdout(), banner.as_bytes());
    if let Err(error) = axum::serve(listener, balagh_web::service(state)).with_graceful_shutdown(shutdown.stopped()).await {
        worker.abort();
        for dispatcher in &dispatchers {
            dispatcher.abort();
        }
        return Err(error).context("the HTTP server failed");
    }
    // The worker saw the same signal; a pass in progress finishes its transaction first.
    worker.await.context("the escalation worker failed")?;
    tracing::info!("escalation worker stopped");
    for dispatcher in dispatchers {
        dispatcher.await.context("a notification dispatcher failed")?;
    }
    tracing::info!("notification dispatcher stopped");
    // The intake writer keeps its connection until the last handle to its queue is gone, and
    // closing waits for every connection: let go of the queue first.
    let balagh_store::Store { db, intake } = store;
    drop(intake);
    db.close().await;
    tracing::info!("Balagh stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM, seen by every holder of a clone (the HTTP server and the worker).
#[derive(Clone)]
struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    /// Resolves once the signal has come.
    async fn stopped(mut self) {
        // An error means the sender is gone, which happens only after the signal.
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

/// Installs the signal handlers now (so a signal that arrives before anything waits on it is not
/// lost or fatal) and returns what resolves when one arrives.
fn shutdown_signal() -> anyhow::Result<Shutdown> {
    let (sender, receiver) = tokio::sync::watch::channel(false);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle Ctrl-C")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            let _ = sender.send(true);
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = sender.send(true);
    });
    Ok(Shutdown(receiver))
}
