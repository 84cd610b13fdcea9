//! Test helpers: `spawn_app()` starts the real HTTP server on 127.0.0.1 port 0 with a fresh
//! database of its own (a temporary SQLite file, or a new PostgreSQL database when
//! `BALAGH_TEST_DATABASE_URL` points at a server), the shipped catalogue and a clock that stands
//! still until a test moves it.

pub mod browser;

use balagh_app::{App, DeliverySettings, ManualClock};
use balagh_domain::escalation::Position;
use balagh_domain::event::Role;
use balagh_store::{PoolOptions, Store};
use balagh_web::{AppState, WebConfig};
use jiff::Timestamp;
use rand::RngCore;
use std::sync::Arc;

/// The catalogue every test server starts with.
pub const CATALOGUE: &str = include_str!("../../../catalogue/eastern-province.toml");

/// The instant test clocks start at: Sunday 2026-03-01 10:00 in Riyadh.
pub fn start_instant() -> Timestamp {
    "2026-03-01T07:00:00Z".parse().expect("valid instant")
}

/// A running test server.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub client: reqwest::Client,
    pub app: App,
    pub clock: Arc<ManualClock>,
    database_url: String,
    chains: String,
    delivery: Option<DeliverySettings>,
    database: TestDatabase,
}

/// Where the test's database lives, removed when the test ends.
enum TestDatabase {
    /// Held only so the directory lives as long as the test.
    Sqlite {
        _directory: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

/// Starts a server with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(WebConfig::default()).await
}

/// Starts a server with these web settings (the public base URL is set to the real address).
pub async fn spawn_app_with(config: WebConfig) -> TestApp {
    spawn(config, balagh_app::sla::DEFAULT_CHAINS).await
}

/// Starts a server whose reports climb the escalation chains in `chains` (TOML).
pub async fn spawn_app_with_chains(chains: &str) -> TestApp {
    spawn(WebConfig::default(), chains).await
}

/// The auth token test servers started by `spawn_app_for_calls` check provider signatures with.
pub const TWILIO_AUTH_TOKEN: &str = "test-twilio-auth-token";

/// Starts a server whose notifications carry its own address for update calls and status
/// callbacks (signed with `TWILIO_AUTH_TOKEN`), with these delivery settings otherwise.
pub async fn spawn_app_for_calls(delivery: DeliverySettings) -> TestApp {
    let mut config = WebConfig::default();
    config.voice.auth_token = Some(TWILIO_AUTH_TOKEN.to_owned());
    spawn_with_delivery(config, balagh_app::sla::DEFAULT_CHAINS, Some(delivery)).await
}

/// Starts a server that answers IVR calls with `ivr`, signed with `TWILIO_AUTH_TOKEN`, whose
/// documents name its own address.
pub async fn spawn_app_for_ivr(ivr: balagh_ivr::IvrSettings) -> TestApp {
    let mut config = WebConfig::default();
    config.voice.auth_token = Some(TWILIO_AUTH_TOKEN.to_owned());
    config.voice.ivr = Arc::new(ivr);
    spawn_with_delivery(config, balagh_app::sla::DEFAULT_CHAINS, Some(DeliverySettings::default())).await
}

async fn spawn(config: WebConfig, chains: &str) -> TestApp {
    spawn_with_delivery(config, chains, None).await
}

async fn spawn_with_delivery(mut config: WebConfig, chains: &str, delivery: Option<DeliverySettings>) -> TestApp {
    let (url, database) = fresh_database().await;
    let clock = Arc::new(ManualClock::new(start_instant()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let address = format!("http://{}", listener.local_addr().expect("local address"));
    let delivery = delivery.map(|delivery| DeliverySettings { public_base_url: Some(address.clone()), ..delivery });
    let mut app = open_app(&url, clock.clone(), chains).await;
    if let Some(delivery) = &delivery {
        app = app.with_delivery(delivery.clone());
    }
    config.public_base_url = address.clone();
    let state = AppState { app: app.clone(), config: Arc::new(config), metrics: Some(metrics_handle()) };
    tokio::spawn(async move {
        axum::serve(listener, balagh_web::service(state)).await.expect("serve");
    });
    TestApp { address, client: reqwest::Client::new(), app, clock, database_url: url, chains: chains.to_owned(), delivery, database }
}

/// A photo from a phone camera (320×240 JPEG) whose Exif names the camera and where it was taken.
pub const PHOTO_WITH_LOCATION: &[u8] = include_bytes!("../fixtures/pothole-with-gps.jpg");

/// The camera name inside `PHOTO_WITH_LOCATION`'s Exif, which a stored photo must not carry.
pub const PHOTO_EXIF_MARKER: &[u8] = b"BalaghTestCamera";

/// axe-core, the accessibility rules engine browser tests inject into pages (test-only).
pub const AXE_CORE: &str = include_str!("../fixtures/axe-core/axe.min.js");

/// Portal settings for tests: map tiles from the server itself (a plain tile), so browsers never
/// leave 127.0.0.1, and two cities with districts.
pub fn test_portal() -> balagh_web::portal::PortalConfig {
    let city = |ar: &str, en: &str, districts: &[(&str, &str)]| balagh_ivr::City {
        name_ar: ar.into(),
        name_en: en.into(),
        districts: districts.iter().map(|(ar, en)| ((*ar).to_owned(), (*en).to_owned())).collect(),
    };
    balagh_web::portal::PortalConfig {
        tile_url: "/static/portal/tile.png?z={z}&x={x}&y={y}".into(),
        tile_attribution: "Balagh test tiles".into(),
        cities: vec![
            city("الدمام", "Dammam", &[("الفيصلية", "Al Faisaliyah"), ("الشاطئ", "Ash Shati")]),
            city("الخبر", "Khobar", &[("العقربية", "Al Aqrabiyah")]),
        ],
        ..balagh_web::portal::PortalConfig::default()
    }
}

/// Starts a server whose portal uses `portal` (see `test_portal`).
pub async fn spawn_app_for_portal(portal: balagh_web::portal::PortalConfig) -> TestApp {
    let config = WebConfig { portal, ..WebConfig::default() };
    spawn_with_delivery(config, balagh_app::sla::DEFAULT_CHAINS, Some(DeliverySettings::default())).await
}

/// Connects to the database at `url`, migrates it and loads the shipped settings, as a process
/// starting up does.
async fn open_app(url: &str, clock: Arc<ManualClock>, chains: &str) -> App {
    let store = Store::connect(url, PoolOptions { max_connections: 4 }).await.expect("connect to test database");
    store.migrate(start_instant()).await.expect("migrate test database");
    let catalogue = balagh_app::load_catalogue(&store, CATALOGUE, start_instant()).await.expect("load catalogue");
    let sla = balagh_app::SlaSettings::from_toml(balagh_app::sla::DEFAULT_CALENDARS, balagh_app::sla::DEFAULT_POLICIES, chains, &catalogue)
        .expect("valid SLA settings");
    App::new(store, catalogue, sla, clock)
}

/// One Prometheus recorder per test process (a recorder can be installed only once).
fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn fresh_database() -> (String, TestDatabase) {
    match std::env::var("BALAGH_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(admin_url) => {
            let name = format!("balagh_test_{}", random_suffix());
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await.expect("connect to PostgreSQL for tests");
            sqlx::Executor::execute(&mut admin, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create test database");
            let base = admin_url.rsplit_once('/').map(|(base, _)| base.to_owned()).unwrap_or(admin_url.clone());
            (format!("{base}/{name}"), TestDatabase::Postgres { admin_url, name })
        }
        None => {
            let dir = tempfile::Builder::new().prefix("balagh-test").tempdir().expect("temporary directory");
            let url = format!("sqlite://{}", dir.path().join("balagh.db").display());
            (url, TestDatabase::Sqlite { _directory: dir })
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = &self.database {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async; a short-lived runtime on its own thread removes the database.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    if let Ok(mut admin) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await {
                        let _ = sqlx::Executor::execute(&mut admin, sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
                    }
                });
            })
            .join();
        }
    }
}

impl TestApp {
    /// Another Balagh process on the same database and clock: a second worker on PostgreSQL, or
    /// the process after a restart.
    pub async fn another_process(&self) -> App {
        let app = open_app(&self.database_url, self.clock.clone(), &self.chains).await;
        match &self.delivery {
            Some(delivery) => app.with_delivery(delivery.clone()),
            None => app,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A fresh API key with `role` (bound to `department` when given).
    pub async fn api_key(&self, role: Role, department: Option<&str>) -> String {
        self.api_key_for_position(role, department, None).await
    }

    /// A fresh API key for someone who holds `position` (escalations are addressed to it).
    pub async fn api_key_for_position(&self, role: Role, department: Option<&str>, position: Option<Position>) -> String {
        let name = format!("{}-{}", role.as_str(), random_suffix());
        self.app.create_api_key(&name, role, department, position).await.expect("create api key")
    }

    /// A fresh API key named `name` (escalations to `user:<name>` are addressed to it).
    pub async fn api_key_named(&self, name: &str, role: Role, department: Option<&str>) -> String {
        self.app.create_api_key(name, role, department, None).await.expect("create api key")
    }

    /// `POST /api/v1/reports` with a JSON body.
    pub async fn post_report(&self, body: &serde_json::Value) -> reqwest::Response {
        self.client.post(self.url("/api/v1/reports")).json(body).send().await.expect("request")
    }

    /// `POST` a form body (`application/x-www-form-urlencoded`) built from pairs, in order.
    pub async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        let body = serde_urlencoded::to_string(pairs).expect("encode form");
        self.client.post(self.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }
}

/// A valid report body for `POST /api/v1/reports`.
pub fn report_body() -> serde_json::Value {
    serde_json::json!({
        "kind": "report",
        "service_code": "overflowing-container",
        "description": "الحاوية ممتلئة منذ ثلاثة أيام أمام المسجد",
        "lat": 26.4207,
        "long": 50.0888,
        "phone": "0512345678",
        "name": "محمد العتيبي",
        "language": "ar",
        "channel": "app"
    })
}
