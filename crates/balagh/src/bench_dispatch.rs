//! `balagh bench dispatch`: measures the notification dispatcher against the local fake Twilio,
//! and checks that every message reaches the fake exactly once, with or without injected failures.
//!
//! A run makes a fresh database (a new SQLite file, or a new PostgreSQL database on the server the
//! URL names, dropped at the end), stores demo reports and one pending text message about each
//! (distinct numbers; in Arabic to beneficiaries who wrote in Arabic, in English to the others),
//! then starts the clock and runs `--dispatchers` real `Dispatcher`s, each calling
//! `run_once(now)` with the real clock in a loop (looking again within 20 ms when a pass found
//! nothing to do), until nothing is pending. Messages per second is the message count over that
//! time. The fake runs in the same process, so its side of every request is on the same cores.
//!
//! With `--fail-ratio` the fake refuses that share of requests at random (half 500, half 429 with
//! `Retry-After: 1`; a refused request creates nothing) for `--fail-for-seconds`, then recovers;
//! the dispatchers retry on a short policy. With `--provider-delay-ms` it answers every request
//! that much later, as a distant provider does.
//!
//! Whatever the faults, the run ends with the same check: every outbox row is sent, none is dead,
//! and the fake holds exactly one message per outbox row (each message names its row in its
//! status callback URL), sent to the row's number, whose sid the row recorded. The requests the
//! provider saw are counted too, so a request whose outcome a dispatcher could not record (another
//! had taken the row over) shows.

use crate::bench_database::FreshDatabase;
use anyhow::Context as _;
use balagh_app::{App, DeliverySettings, Dispatched, Dispatcher, RetryPolicy, SlaSettings, SystemClock};
use balagh_domain::report::ReportId;
use balagh_fakes::{Failure, FakeTwilio, Faults};
use balagh_notify::twilio::{TwilioConfig, TwilioSms};
use balagh_notify::{LogProvider, Medium, Notification, Provider, SendFuture};
use balagh_store::{OutboxFilter, OutboxMessage, PoolOptions, Store};
use hdrhistogram::Histogram;
use jiff::{SignedDuration, Timestamp};
use rand::SeedableRng as _;
use rand::rngs::SmallRng;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fake account the provider sends through.
const ACCOUNT_SID: &str = "ACbe4c4b00000000000000000000000001";
const AUTH_TOKEN: &str = "bench-auth-token";
const FROM_NUMBER: &str = "+15005550006";
/// Status callbacks name this address; nothing listens there, and the fake posts to it only when
/// asked to (it never is here): the URL exists so that each message carries its outbox id.
const PUBLIC_BASE_URL: &str = "http://127.0.0.1:9";
/// The path prefix of a message's status callback, followed by its outbox id.
const STATUS_CALLBACK_PREFIX: &str = "/notify/twilio/status/";
/// Reports generated and stored per transaction while seeding.
const SEED_CHUNK: usize = 5_000;
/// A fixed seed, so that runs of the same size store much the same reports.
const SEED: u64 = 0x4449_5350_4154_4348;
/// Operator digits of Saudi mobile numbers (050, 053, …): recipients are `+9665`, one of these,
/// then seven digits, all distinct.
const OPERATOR_DIGITS: [char; 7] = ['0', '3', '4', '5', '6', '8', '9'];
/// The longest a dispatcher waits before looking again when nothing is available to it (rows
/// retried later, or held by the other dispatcher's lease).
const MAX_IDLE_POLL: Duration = Duration::from_millis(20);
/// How long a dispatcher waits after a pass that failed.
const FAILED_PASS_PAUSE: Duration = Duration::from_millis(100);
/// How many distinct pass errors a report quotes.
const MAX_ERROR_SAMPLES: usize = 3;

/// Arguments of `balagh bench dispatch`.
#[derive(Debug, Clone, clap::Args)]
pub struct DispatchArgs {
    /// `sqlite://PATH` (a file that does not exist yet) or `postgres://…/DB` (a server where a new
    /// database is created next to DB, and dropped at the end).
    #[arg(long)]
    pub database_url: String,
    /// How many pending text messages to store and send.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// How many dispatchers run side by side.
    #[arg(long, default_value_t = 2)]
    pub dispatchers: usize,
    /// The share of requests (0 to 1) the fake refuses at random, from the start, half with 500 and
    /// half with 429 and `Retry-After: 1`; 0 for none.
    #[arg(long, default_value_t = 0.0)]
    pub fail_ratio: f64,
    /// For how many seconds the fake refuses requests (with --fail-ratio).
    #[arg(long, default_value_t = 60)]
    pub fail_for_seconds: u64,
    /// The fake answers every request after this many milliseconds, the whole run (Twilio itself
    /// takes a few hundred); 0 answers at once.
    #[arg(long, default_value_t = 0)]
    pub provider_delay_ms: u64,
    /// Give up (and fail) if the messages are not all sent after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout_seconds: u64,
    /// Keep the database instead of removing it at the end.
    #[arg(long)]
    pub keep_database: bool,
}

impl DispatchArgs {
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.messages > 0, "--messages must be at least 1");
        anyhow::ensure!(self.messages <= OPERATOR_DIGITS.len() * 10_000_000, "--messages must be at most 70,000,000 (distinct numbers run out)");
        anyhow::ensure!((1..=64).contains(&self.dispatchers), "--dispatchers must be between 1 and 64, got {}", self.dispatchers);
        anyhow::ensure!((0.0..=1.0).contains(&self.fail_ratio), "--fail-ratio must be between 0 and 1, got {}", self.fail_ratio);
        anyhow::ensure!(self.fail_ratio < 1.0 || self.fail_for_seconds < self.timeout_seconds, "with --fail-ratio 1 nothing is sent before the faults end");
        Ok(())
    }

    /// The failures the run injects, if any: the ratio and for how long.
    fn failures(&self) -> Option<(f64, Duration)> {
        (self.fail_ratio > 0.0 && self.fail_for_seconds > 0).then(|| (self.fail_ratio, Duration::from_secs(self.fail_for_seconds)))
    }

    /// How long the fake takes to answer each request, if it is slowed down.
    fn provider_delay(&self) -> Option<Duration> {
        (self.provider_delay_ms > 0).then(|| Duration::from_millis(self.provider_delay_ms))
    }
}

/// The retry policy of the benchmark's dispatchers: short waits (1 s, doubling to at most 10 s) and
/// attempts enough that no message goes dead from temporary failures within a run.
pub fn bench_retry_policy() -> RetryPolicy {
    RetryPolicy { first_delay: SignedDuration::from_secs(1), max_delay: SignedDuration::from_secs(10), max_attempts: 1_000 }
}

/// What a run measured and found.
#[derive(Debug, Clone)]
pub struct DispatchReport {
    pub backend: &'static str,
    pub messages: usize,
    /// Messages whose payload language is Arabic (the others are English).
    pub arabic: usize,
    pub dispatchers: usize,
    /// The injected failure ratio and how long it lasted, in seconds.
    pub failures: Option<(f64, f64)>,
    /// How long the fake took to answer each request, in milliseconds, when slowed down.
    pub provider_delay_ms: Option<u64>,
    /// Storing the reports and the outbox rows (not timed into the rate).
    pub seed_seconds: f64,
    /// From the start until a dispatcher found nothing pending.
    pub seconds: f64,
    /// The outcomes the dispatchers' passes counted, over all passes of all dispatchers.
    pub dispatched: Dispatched,
    pub passes: u64,
    pub failed_passes: u64,
    /// Requests made to the provider: sent, retried and dead outcomes, and those whose outcome
    /// could not be recorded because another dispatcher had taken the row over.
    pub requests: u64,
    pub error_samples: Vec<String>,
    /// Batches that sent something, and the time each took from its first send starting to its
    /// last send ending, in milliseconds.
    pub batches: u64,
    pub batch_send_ms: Percentiles,
    /// From the last send of a batch ending to the first send of the dispatcher's next batch
    /// starting, within one pass: recording the batch's outcomes (one transaction), claiming the
    /// next batch (another) and rendering it.
    pub between_batches_ms: Percentiles,
    pub check: DeliveryCheck,
}

/// Median and 99th percentile, in milliseconds; zero when nothing was measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
}

impl Percentiles {
    fn of(histogram: &Histogram<u64>) -> Percentiles {
        if histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles { p50: histogram.value_at_quantile(0.50) as f64 / 1000.0, p99: histogram.value_at_quantile(0.99) as f64 / 1000.0 }
    }
}

/// How the outbox and the fake's messages compare at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCheck {
    /// The messages the run stored.
    pub expected: usize,
    /// Outbox rows by state.
    pub sent: usize,
    pub pending: usize,
    pub dead: usize,
    /// Attempts over all rows, and the most any one row took.
    pub attempts: u64,
    pub most_attempts: i64,
    /// Messages the fake accepted.
    pub at_fake: usize,
    /// Outbox rows the fake received exactly once.
    pub exactly_once: usize,
    /// Outbox rows the fake received more than once.
    pub duplicated: usize,
    /// Outbox rows the fake never received.
    pub lost: usize,
    /// Messages at the fake that name no outbox row of the run.
    pub unknown: usize,
    /// Messages sent to another number than their row's recipient.
    pub wrong_recipient: usize,
    /// Sent rows whose recorded provider reference is not the sid of their message at the fake.
    pub wrong_reference: usize,
}

impl DeliveryCheck {
    /// Every row sent, none dead or pending, and each received exactly once, by the right number,
    /// with the right sid recorded.
    pub fn is_exactly_once(&self) -> bool {
        self.sent == self.expected
            && self.pending == 0
            && self.dead == 0
            && self.at_fake == self.expected
            && self.exactly_once == self.expected
            && self.duplicated == 0
            && self.lost == 0
            && self.unknown == 0
            && self.wrong_recipient == 0
            && self.wrong_reference == 0
    }
}

/// Runs the benchmark described by `args` and reports what it measured and found. A run that
/// loses or duplicates messages still returns its report; see `DeliveryCheck::is_exactly_once`.
pub async fn run(args: &DispatchArgs) -> anyhow::Result<DispatchReport> {
    args.check()?;
    FreshDatabase::run(Some(&args.database_url), "dispatch", args.keep_database, async |database| measure(args, database).await).await
}

async fn measure(args: &DispatchArgs, database: &FreshDatabase) -> anyhow::Result<DispatchReport> {
    let store = Store::connect(&database.url, PoolOptions { max_connections: 16 }).await.context("cannot open the benchmark database")?;
    let outcome = measure_on(args, &store, database.backend).await;
    store.db.close().await;
    outcome
}

async fn measure_on(args: &DispatchArgs, store: &Store, backend: &'static str) -> anyhow::Result<DispatchReport> {
    let now = Timestamp::now();
    store.migrate(now).await.context("migrations failed")?;
    let catalogue = balagh_app::load_catalogue(store, crate::DEFAULT_CATALOGUE, now).await.context("cannot load the catalogue")?;
    let sla = SlaSettings::from_toml(balagh_app::sla::DEFAULT_CALENDARS, balagh_app::sla::DEFAULT_POLICIES, balagh_app::sla::DEFAULT_CHAINS, &catalogue)
        .context("the shipped SLA settings are invalid")?;

    let seeding = Instant::now();
    let seeded = seed(store, &catalogue, &sla, args.messages, now).await?;
    let seed_seconds = seeding.elapsed().as_secs_f64();
    tracing::info!(messages = args.messages, seconds = seed_seconds, "reports and pending messages stored");

    let fake = Arc::new(FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN).await);
    let config = TwilioConfig { base_url: fake.base_url(), ..TwilioConfig::new(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER) };
    let sms: Arc<dyn Provider> = Arc::new(TwilioSms::new(config).context("cannot build the twilio client")?);
    let router: Arc<dyn Provider> = Arc::new(balagh_notify::Router::new(Arc::new(LogProvider::new(None))).with(Medium::Sms, sms));
    let delivery = DeliverySettings { public_base_url: Some(PUBLIC_BASE_URL.to_owned()), ..DeliverySettings::default() };
    let app = App::new(store.clone(), catalogue, sla, Arc::new(SystemClock)).with_delivery(delivery);

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout_seconds);
    let failures = args.failures();
    let recovered = Faults { delay: args.provider_delay(), ..Faults::none() };
    fake.set_faults(recovered);
    let lifting = failures.map(|(ratio, lasting)| {
        fake.set_faults(Faults { delay: recovered.delay, ..Faults::failing(ratio, Failure::Mixed) });
        let fake = fake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(lasting).await;
            fake.set_faults(recovered);
        })
    });
    let tasks: Vec<_> = (0..args.dispatchers)
        .map(|number| {
            let timed = Arc::new(TimedProvider::new(router.clone()));
            let dispatcher = Dispatcher::new(app.clone(), timed.clone(), format!("bench-dispatcher-{number}"), bench_retry_policy());
            tokio::spawn(drain(dispatcher, app.clone(), timed, deadline))
        })
        .collect();
    let mut runs = Vec::with_capacity(tasks.len());
    for task in tasks {
        runs.push(task.await.context("a dispatcher task panicked"));
    }
    // When everything was sent before the window ended, the fake recovers now.
    if let Some(lifting) = lifting {
        lifting.abort();
    }
    fake.set_faults(recovered);
    let mut runs: Vec<DrainRun> = runs.into_iter().map(|joined| joined.and_then(|run| run)).collect::<anyhow::Result<_>>()?;
    let finished = runs.iter().filter_map(|run| run.drained_at).min().context("no dispatcher saw the outbox drained")?;
    let seconds = finished.duration_since(started).as_secs_f64();

    let mut report = DispatchReport {
        backend,
        messages: args.messages,
        arabic: seeded.arabic,
        dispatchers: args.dispatchers,
        failures: failures.map(|(ratio, lasting)| (ratio, lasting.as_secs_f64().min(seconds))),
        provider_delay_ms: args.provider_delay().map(|_| args.provider_delay_ms),
        seed_seconds,
        seconds,
        dispatched: Dispatched::default(),
        passes: 0,
        failed_passes: 0,
        requests: 0,
        error_samples: Vec::new(),
        batches: 0,
        batch_send_ms: Percentiles::default(),
        between_batches_ms: Percentiles::default(),
        check: DeliveryCheck::default(),
    };
    let mut sends = new_histogram();
    let mut gaps = new_histogram();
    for run in &mut runs {
        report.dispatched.sent += run.dispatched.sent;
        report.dispatched.retried += run.dispatched.retried;
        report.dispatched.dead += run.dispatched.dead;
        report.dispatched.held += run.dispatched.held;
        report.passes += run.passes;
        report.failed_passes += run.failed_passes;
        for error in run.error_samples.drain(..) {
            if report.error_samples.len() < MAX_ERROR_SAMPLES && !report.error_samples.contains(&error) {
                report.error_samples.push(error);
            }
        }
        let timings = run.timings.lock().expect("timings lock");
        report.batches += timings.batch_send.len();
        report.requests += timings.requests;
        sends.add(&timings.batch_send).context("merging batch timings")?;
        gaps.add(&timings.between_batches).context("merging batch timings")?;
    }
    report.batch_send_ms = Percentiles::of(&sends);
    report.between_batches_ms = Percentiles::of(&gaps);
    report.check = check_delivery(store, &fake, args.messages).await?;
    Ok(report)
}

/// What one dispatcher did until the outbox was drained.
struct DrainRun {
    dispatched: Dispatched,
    passes: u64,
    failed_passes: u64,
    error_samples: Vec<String>,
    /// When it found nothing pending.
    drained_at: Option<Instant>,
    timings: Arc<Mutex<BatchTimings>>,
}

/// Runs `dispatcher` pass after pass, with the real clock, until nothing is pending (no row in the
/// outbox waits to be sent or is leased by a dispatcher).
async fn drain(dispatcher: Dispatcher, app: App, timed: Arc<TimedProvider>, deadline: Instant) -> anyhow::Result<DrainRun> {
    let mut run = DrainRun {
        dispatched: Dispatched::default(),
        passes: 0,
        failed_passes: 0,
        error_samples: Vec::new(),
        drained_at: None,
        timings: timed.timings.clone(),
    };
    loop {
        let pass = dispatcher.run_once(app.now()).await;
        timed.end_pass();
        run.passes += 1;
        let did_something = match pass {
            Ok(done) => {
                run.dispatched.sent += done.sent;
                run.dispatched.retried += done.retried;
                run.dispatched.dead += done.dead;
                run.dispatched.held += done.held;
                done.sent + done.retried + done.dead + done.held > 0
            }
            Err(error) => {
                run.failed_passes += 1;
                let error = error.to_string();
                tracing::warn!(%error, "a dispatch pass failed; trying again");
                if run.error_samples.len() < MAX_ERROR_SAMPLES && !run.error_samples.contains(&error) {
                    run.error_samples.push(error);
                }
                tokio::time::sleep(FAILED_PASS_PAUSE).await;
                false
            }
        };
        let next_due = app.store.db.next_outbox_due().await.context("cannot read when the next message is due")?;
        let Some(due) = next_due else {
            run.drained_at = Some(Instant::now());
            return Ok(run);
        };
        anyhow::ensure!(Instant::now() < deadline, "messages were still pending when the time ran out ({} sent by this dispatcher)", run.dispatched.sent);
        if !did_something {
            let wait = Duration::try_from(due.duration_since(app.now())).unwrap_or(Duration::ZERO);
            tokio::time::sleep(wait.clamp(Duration::from_millis(1), MAX_IDLE_POLL)).await;
        }
    }
}

/// The reports and messages a run stored.
struct Seeded {
    arabic: usize,
}

/// Stores `messages` demo reports and one pending text message about each, available at `now`.
async fn seed(store: &Store, catalogue: &balagh_domain::Catalogue, sla: &SlaSettings, messages: usize, now: Timestamp) -> anyhow::Result<Seeded> {
    let mut rng = SmallRng::seed_from_u64(SEED);
    let mut outbox = Vec::with_capacity(messages);
    let mut arabic = 0;
    while outbox.len() < messages {
        let wanted = (messages - outbox.len()).min(SEED_CHUNK);
        let ids = store.db.reserve_report_ids(wanted).await.context("reserving report ids")?;
        let seeds = crate::demo::generate_chunk(&mut rng, catalogue, sla, &ids, now, 0.0..1.0);
        anyhow::ensure!(!seeds.is_empty(), "the catalogue gave no demo reports to write messages about");
        store.db.insert_seed_reports(&seeds).await.context("storing reports")?;
        for seed in seeds.iter().take(messages - outbox.len()) {
            let report = &seed.report;
            let language = if report.contact.language.as_str() == "ar" { "ar" } else { "en" };
            arabic += usize::from(language == "ar");
            let recipient = format!("sms:{}", recipient_number(outbox.len()));
            let message = OutboxMessage {
                dedupe_key: format!("status_changed:{}:{}:{recipient}", report.id.0, now.as_microsecond()),
                topic: "status_changed",
                recipient,
                payload: serde_json::json!({
                    "ticket": report.ticket().to_string(),
                    "service_code": report.service_code,
                    "status": "assigned",
                    "note": null,
                    "language": language,
                    "expected_at": report.expected_at.map(|at| at.to_string()),
                }),
                created_at: now,
                available_at: None,
            };
            outbox.push((ReportId(report.id.0), message));
        }
    }
    store.db.enqueue(&outbox).await.context("storing pending messages")?;
    // Plans made for empty tables would otherwise serve the claims (autovacuum may be off).
    store.db.analyze().await.context("refreshing planner statistics")?;
    Ok(Seeded { arabic })
}

/// The `index`th distinct Saudi mobile number, in E.164.
fn recipient_number(index: usize) -> String {
    format!("+9665{}{:07}", OPERATOR_DIGITS[index % OPERATOR_DIGITS.len()], index / OPERATOR_DIGITS.len())
}

/// The outbox id a status callback URL names.
fn outbox_id_of(status_callback: &str) -> Option<i64> {
    let (_, id) = status_callback.rsplit_once(STATUS_CALLBACK_PREFIX)?;
    id.parse().ok()
}

/// Compares every outbox row with what the fake received.
async fn check_delivery(store: &Store, fake: &FakeTwilio, expected: usize) -> anyhow::Result<DeliveryCheck> {
    let rows = store.db.outbox_rows(&OutboxFilter { report: None, state: None, limit: expected as u64 + 1_000 }).await.context("cannot read the outbox")?;
    let mut check = DeliveryCheck { expected, ..DeliveryCheck::default() };
    for row in &rows {
        match row.state.as_str() {
            "sent" => check.sent += 1,
            "pending" => check.pending += 1,
            _ => check.dead += 1,
        }
        check.attempts += u64::try_from(row.attempts).unwrap_or(0);
        check.most_attempts = check.most_attempts.max(row.attempts);
    }
    let messages = fake.messages();
    check.at_fake = messages.len();
    let mut received: HashMap<i64, Vec<&balagh_fakes::twilio::FakeMessage>> = HashMap::with_capacity(messages.len());
    for message in &messages {
        match message.status_callback.as_deref().and_then(outbox_id_of) {
            Some(id) => received.entry(id).or_default().push(message),
            None => check.unknown += 1,
        }
    }
    for row in &rows {
        match received.remove(&row.id).as_deref() {
            None | Some([]) => check.lost += 1,
            Some([message]) => {
                check.exactly_once += 1;
                if Some(message.to.as_str()) != row.recipient.strip_prefix("sms:") {
                    check.wrong_recipient += 1;
                }
                if row.state == "sent" && row.provider_ref.as_deref() != Some(message.sid.as_str()) {
                    check.wrong_reference += 1;
                }
            }
            Some(_) => check.duplicated += 1,
        }
    }
    check.unknown += received.values().map(Vec::len).sum::<usize>();
    Ok(check)
}

/// Histograms of microseconds, three significant figures, growing as needed.
fn new_histogram() -> Histogram<u64> {
    Histogram::new(3).expect("three significant figures are valid")
}

/// Per batch: how long its sends took, and the time between it and the next batch.
struct BatchTimings {
    /// Every request passed to the provider.
    requests: u64,
    batch_send: Histogram<u64>,
    between_batches: Histogram<u64>,
    in_flight: usize,
    batch_started: Option<Instant>,
    /// When the last batch's last send ended, within the current pass.
    last_batch_ended: Option<Instant>,
}

/// A provider that passes every send on and times the dispatcher's batches: a batch's sends run
/// with some always in flight, so a batch starts when the first send starts from none in flight,
/// and ends when none is left.
struct TimedProvider {
    inner: Arc<dyn Provider>,
    timings: Arc<Mutex<BatchTimings>>,
}

impl TimedProvider {
    fn new(inner: Arc<dyn Provider>) -> TimedProvider {
        let timings = BatchTimings {
            requests: 0,
            batch_send: new_histogram(),
            between_batches: new_histogram(),
            in_flight: 0,
            batch_started: None,
            last_batch_ended: None,
        };
        TimedProvider { inner, timings: Arc::new(Mutex::new(timings)) }
    }

    fn send_started(&self) {
        let now = Instant::now();
        let mut timings = self.timings.lock().expect("timings lock");
        if timings.in_flight == 0 {
            timings.batch_started = Some(now);
            if let Some(ended) = timings.last_batch_ended.take() {
                record_micros(&mut timings.between_batches, now.duration_since(ended));
            }
        }
        timings.in_flight += 1;
        timings.requests += 1;
    }

    fn send_ended(&self) {
        let now = Instant::now();
        let mut timings = self.timings.lock().expect("timings lock");
        timings.in_flight = timings.in_flight.saturating_sub(1);
        if timings.in_flight == 0 {
            if let Some(started) = timings.batch_started.take() {
                record_micros(&mut timings.batch_send, now.duration_since(started));
            }
            timings.last_batch_ended = Some(now);
        }
    }

    /// A pass ended: the time until the next pass is idle time, not time between batches.
    fn end_pass(&self) {
        self.timings.lock().expect("timings lock").last_batch_ended = None;
    }
}

fn record_micros(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
    // `record` grows the auto-resizing histogram to fit; `saturating_record` would clamp to its
    // current top instead. Growing fails only past what memory can hold.
    if histogram.record(micros).is_err() {
        histogram.saturating_record(micros);
    }
}

impl Provider for TimedProvider {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn provider_name(&self, notification: &Notification) -> &'static str {
        self.inner.provider_name(notification)
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        Box::pin(async move {
            self.send_started();
            let result = self.inner.send(notification).await;
            self.send_ended();
            result
        })
    }
}

impl fmt::Display for DispatchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut faults = match self.failures {
            Some((ratio, seconds)) => format!("{:.0}% of requests refused for {seconds:.1} s", ratio * 100.0),
            None => "none".to_owned(),
        };
        if let Some(delay) = self.provider_delay_ms {
            faults.push_str(&format!("; every answer after {delay} ms"));
        }
        let rate = if self.seconds > 0.0 { self.messages as f64 / self.seconds } else { 0.0 };
        let check = &self.check;
        writeln!(
            f,
            "dispatch    {} messages ({} Arabic, {} English) on {}, {} dispatchers; faults: {faults}",
            self.messages,
            self.arabic,
            self.messages - self.arabic,
            self.backend,
            self.dispatchers
        )?;
        writeln!(f, "messages/s  {rate:.1}  ({} messages in {:.2} s; seeding took {:.1} s)", self.messages, self.seconds, self.seed_seconds)?;
        writeln!(
            f,
            "passes      {} ({} failed): sent {}, retried {}, dead {}, held {}",
            self.passes, self.failed_passes, self.dispatched.sent, self.dispatched.retried, self.dispatched.dead, self.dispatched.held
        )?;
        for error in &self.error_samples {
            writeln!(f, "  - {error}")?;
        }
        let recorded = (self.dispatched.sent + self.dispatched.retried + self.dispatched.dead) as u64;
        writeln!(
            f,
            "requests    {} to the provider; {} whose outcome was not recorded (the row's lease was taken over)",
            self.requests,
            self.requests.saturating_sub(recorded)
        )?;
        writeln!(f, "batches     {}: sends p50 {:.2} ms, p99 {:.2} ms", self.batches, self.batch_send_ms.p50, self.batch_send_ms.p99)?;
        writeln!(f, "between     batches (record, claim, render): p50 {:.2} ms, p99 {:.2} ms", self.between_batches_ms.p50, self.between_batches_ms.p99)?;
        writeln!(
            f,
            "outbox      {} rows: {} sent, {} pending, {} dead; {} attempts (at most {} for one)",
            check.sent + check.pending + check.dead,
            check.sent,
            check.pending,
            check.dead,
            check.attempts,
            check.most_attempts
        )?;
        writeln!(
            f,
            "fake        {} messages: {} rows exactly once, {} duplicated, {} lost, {} unknown, {} to a wrong number, {} with a wrong sid recorded",
            check.at_fake, check.exactly_once, check.duplicated, check.lost, check.unknown, check.wrong_recipient, check.wrong_reference
        )?;
        write!(f, "exactly once  {}", if check.is_exactly_once() { "yes" } else { "NO" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments for a run of `messages` on `database_url`, with the defaults otherwise.
    fn args(database_url: impl Into<String>, messages: usize) -> DispatchArgs {
        DispatchArgs {
            database_url: database_url.into(),
            messages,
            dispatchers: 2,
            fail_ratio: 0.0,
            fail_for_seconds: 60,
            provider_delay_ms: 0,
            timeout_seconds: 900,
            keep_database: false,
        }
    }

    #[test]
    fn recipients_are_distinct_saudi_mobiles_in_e164() {
        let numbers: std::collections::HashSet<String> = (0..10_000).map(recipient_number).collect();
        assert_eq!(numbers.len(), 10_000);
        for number in &numbers {
            assert_eq!(number.len(), 13, "{number}");
            assert!(number.starts_with("+9665"), "{number}");
            assert!(OPERATOR_DIGITS.contains(&char::from(number.as_bytes()[5])), "{number}");
        }
        assert_eq!(recipient_number(0), "+966500000000");
        assert_eq!(recipient_number(8), "+966530000001");
    }

    #[test]
    fn the_outbox_id_is_read_from_the_status_callback() {
        fn check(url: &str, expected: Option<i64>) {
            assert_eq!(outbox_id_of(url), expected, "{url}");
        }
        check("http://127.0.0.1:9/notify/twilio/status/42", Some(42));
        check(&format!("{PUBLIC_BASE_URL}{}", DeliverySettings::status_callback_path(1_234_567)), Some(1_234_567));
        check("http://127.0.0.1:9/notify/twilio/status/", None);
        check("http://127.0.0.1:9/notify/twilio/status/x1", None);
        check("http://127.0.0.1:9/voice/updates/42", None);
    }

    #[test]
    fn invalid_arguments_are_refused_with_the_flag() {
        fn refused(change: impl FnOnce(&mut DispatchArgs), flag: &str) {
            let mut args = args("sqlite://x.db", 10);
            change(&mut args);
            let error = args.check().unwrap_err().to_string();
            assert!(error.contains(flag), "{error}");
        }
        refused(|a| a.messages = 0, "--messages");
        refused(|a| a.dispatchers = 0, "--dispatchers");
        refused(|a| a.fail_ratio = 1.5, "--fail-ratio");
        refused(|a| a.fail_ratio = -0.1, "--fail-ratio");
        assert!(args("sqlite://x.db", 10).check().is_ok());
    }

    #[test]
    fn a_check_passes_only_when_every_message_arrived_once() {
        let good = DeliveryCheck { expected: 3, sent: 3, at_fake: 3, exactly_once: 3, attempts: 4, most_attempts: 2, ..DeliveryCheck::default() };
        assert!(good.is_exactly_once());
        for bad in [
            DeliveryCheck { sent: 2, pending: 1, ..good.clone() },
            DeliveryCheck { sent: 2, dead: 1, ..good.clone() },
            DeliveryCheck { at_fake: 4, exactly_once: 2, duplicated: 1, ..good.clone() },
            DeliveryCheck { at_fake: 2, exactly_once: 2, lost: 1, ..good.clone() },
            DeliveryCheck { at_fake: 4, unknown: 1, ..good.clone() },
            DeliveryCheck { wrong_recipient: 1, ..good.clone() },
            DeliveryCheck { wrong_reference: 1, ..good.clone() },
        ] {
            assert!(!bad.is_exactly_once(), "{bad:?}");
        }
    }

    #[test]
    fn batch_timings_keep_values_beyond_the_histograms_first_range() {
        let mut histogram = new_histogram();
        for millis in [12, 15, 40] {
            record_micros(&mut histogram, Duration::from_millis(millis));
        }
        let percentiles = Percentiles::of(&histogram);
        assert!((percentiles.p50 - 15.0).abs() < 0.1 && (percentiles.p99 - 40.0).abs() < 0.1, "{percentiles:?}");
        assert_eq!(Percentiles::of(&new_histogram()), Percentiles::default());
    }

    #[test]
    fn a_report_shows_the_rate_the_requests_not_recorded_and_the_verdict() {
        let check = DeliveryCheck {
            expected: 300,
            sent: 300,
            at_fake: 400,
            exactly_once: 200,
            duplicated: 100,
            attempts: 300,
            most_attempts: 1,
            ..DeliveryCheck::default()
        };
        let report = DispatchReport {
            backend: "SQLite",
            messages: 300,
            arabic: 210,
            dispatchers: 2,
            failures: Some((0.3, 2.0)),
            provider_delay_ms: Some(300),
            seed_seconds: 0.5,
            seconds: 1.5,
            dispatched: Dispatched { sent: 300, retried: 0, dead: 0, held: 0 },
            passes: 4,
            failed_passes: 0,
            requests: 400,
            error_samples: vec![],
            batches: 6,
            batch_send_ms: Percentiles { p50: 12.0, p99: 20.0 },
            between_batches_ms: Percentiles { p50: 3.0, p99: 4.5 },
            check,
        };
        let text = report.to_string();
        for line in [
            "dispatch    300 messages (210 Arabic, 90 English) on SQLite, 2 dispatchers; faults: 30% of requests refused for 2.0 s; every answer after 300 ms",
            "messages/s  200.0  (300 messages in 1.50 s; seeding took 0.5 s)",
            "requests    400 to the provider; 100 whose outcome was not recorded (the row's lease was taken over)",
            "fake        400 messages: 200 rows exactly once, 100 duplicated, 0 lost, 0 unknown, 0 to a wrong number, 0 with a wrong sid recorded",
            "exactly once  NO",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_message_reaches_the_fake_exactly_once_through_random_failures_on_sqlite() {
        let directory = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", directory.path().join("bench.db").display());
        let args = DispatchArgs { fail_ratio: 0.3, fail_for_seconds: 2, timeout_seconds: 120, ..args(url, 300) };
        let report = run(&args).await.unwrap();
        let check = &report.check;
        assert!(check.is_exactly_once(), "{report}");
        assert_eq!((check.sent, check.at_fake, check.exactly_once, check.dead), (300, 300, 300, 0));
        assert!(report.dispatched.retried > 0, "the fake refused some requests: {report}");
        assert_eq!(check.attempts, 300 + report.dispatched.retried as u64, "{report}");
        assert!(report.arabic > 0 && report.arabic < 300, "Arabic and English messages: {report}");
        assert!(!directory.path().join("bench.db").exists(), "the database is removed at the end");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_existing_sqlite_file_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("taken.db");
        std::fs::write(&path, b"").unwrap();
        let error = run(&args(format!("sqlite://{}", path.display()), 10)).await.unwrap_err();
        assert!(error.to_string().contains("already exists"), "{error}");
    }
}
