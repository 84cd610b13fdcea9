//! `balagh bench ivr`: measures the IVR's webhooks under many simultaneous calls, each a whole
//! new-report call played as a Twilio-compatible provider plays it, and checks that every call
//! opened exactly one report.
//!
//! A run makes a fresh database (a new SQLite file, in a temporary directory unless `--database-url`
//! names one, or a new PostgreSQL database on the server the URL names, dropped at the end) and
//! serves the real Balagh application on 127.0.0.1, port 0, with the real clock, in this process.
//! Then `--calls` callers (`balagh_fakes::Caller`, signed requests) play side by side, each dialling
//! at a random moment within the first think time, and all play the same call: key 1 at every menu before
//! the recording (Arabic, a new report, the first group and service, the first choice or the number
//! 1 for each detail the service asks, the first city and district), a 10 s recording whose
//! transcription follows, the caller's own number for the callback, confirm, and no key at the last
//! menu, so the call says goodbye and hangs up, which the status callback reports. Between two
//! steps a caller pauses a random time between half and one and a half times `--think-ms`, as a
//! person listening to a prompt does.
//!
//! Every webhook request is timed at the caller, from sending it to having read the whole answer;
//! the callers run in the same process as the server, so their side of every request is on the
//! same cores. At the end the store is checked: one report per call, each the one its call's
//! ticket names, described by its transcription (VoiceXML has none), and every call ended.

use crate::bench_database::FreshDatabase;
use crate::ivr_call::MarkupArg;
use anyhow::Context as _;
use balagh_app::{App, DeliverySettings, SlaSettings, SystemClock};
use balagh_domain::TicketNumber;
use balagh_domain::vocabulary::Channel;
use balagh_fakes::caller::{Caller, CallerError, CallerOptions, RequestTiming, Waiting};
use balagh_ivr::IvrSettings;
use balagh_store::{PoolOptions, ReportFilter, Store};
use balagh_voice::markup::Markup;
use balagh_web::voice::VoiceConfig;
use balagh_web::{AppState, WebConfig};
use hdrhistogram::Histogram;
use jiff::Timestamp;
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The auth token the server checks the callers' signatures with.
const AUTH_TOKEN: &str = "bench-ivr-auth-token";
/// The account every call carries.
const ACCOUNT_SID: &str = "ACbe4c4b00000000000000000000000002";
/// What every caller says at the recording, delivered as its transcription.
const TRANSCRIPTION: &str = "حفرة كبيرة في الشارع أمام المسجد تسببت في تعطل السيارات";
/// How long every caller speaks at the recording.
const RECORDING_SECONDS: u32 = 10;
/// The most menus a caller answers before the recording: language, main, group, service, place,
/// city and district, and room for the service's details.
const MAX_MENUS_BEFORE_RECORDING: usize = 16;
/// The keys after the recording: call me back on this number, confirm (the report is opened), and
/// nothing at the last menu (goodbye; the call ends without a request).
const AFTER_RECORDING: [&str; 3] = ["1", "1", ""];
/// The target for the 99th percentile of a webhook request, in milliseconds.
const TARGET_P99_MS: f64 = 10.0;
/// One call in this many asks for a text message with a link to mark the place on a map (the others
/// choose city and district), so both ways of opening a report are measured.
const BY_LINK_EVERY: usize = 4;
/// A fixed seed, so that runs of the same size pause alike.
const SEED: u64 = 0x4956_5242_454e_4348;
/// How many distinct call errors a report quotes.
const MAX_ERROR_SAMPLES: usize = 3;
/// How long the server may take to finish its open connections once the calls are over.
const SERVER_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Arguments of `balagh bench ivr`.
#[derive(Debug, Clone, clap::Args)]
pub struct IvrArgs {
    /// How many calls run side by side, each a whole new-report call.
    #[arg(long, default_value_t = 500)]
    pub calls: usize,
    /// `sqlite://PATH` (a file that does not exist yet) or `postgres://…/DB` (a server where a new
    /// database is created next to DB, and dropped at the end); default a new SQLite file in a
    /// temporary directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// The mean pause between a caller's steps, in milliseconds; each pause is drawn between half
    /// and one and a half times it, and calls start spread over one. 0 for none.
    #[arg(long, default_value_t = 1000)]
    pub think_ms: u64,
    /// The markup the server answers in.
    #[arg(long, value_enum, default_value_t = MarkupArg::Twiml)]
    pub markup: MarkupArg,
    /// Keep the database instead of removing it at the end.
    #[arg(long)]
    pub keep_database: bool,
}

impl IvrArgs {
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=100_000).contains(&self.calls), "--calls must be between 1 and 100,000, got {}", self.calls);
        anyhow::ensure!(self.think_ms <= 60_000, "--think-ms must be at most 60,000, got {}", self.think_ms);
        Ok(())
    }
}

/// What a run measured and found.
#[derive(Debug, Clone)]
pub struct IvrReport {
    pub backend: &'static str,
    pub markup: Markup,
    pub calls: usize,
    pub think_ms: u64,
    /// From the start (calls dial within the first think time) to the last status callback answered.
    pub seconds: f64,
    /// Every webhook request answered, over all calls.
    pub requests: u64,
    pub latency_ms: Latency,
    /// When the last call dialled, in seconds from the start: calls start spread over one think
    /// time, so until then the server also takes every call's first request.
    pub last_dial_seconds: f64,
    /// The requests sent after the last call dialled, and their latency: the run without its start.
    pub after_dials: u64,
    pub after_dials_ms: Latency,
    /// Every request's latency by kind (path and the stage it answers), in the order of a call.
    /// By the stage answered, in the order calls meet them.
    pub by_kind: Vec<KindLatency>,
    /// Requests answered with a status outside 2xx.
    pub non_2xx: u64,
    /// Calls that could not play to the end (each stops at its first error).
    pub failed_calls: usize,
    pub error_samples: Vec<String>,
    pub check: CallCheck,
}

impl IvrReport {
    /// No error, and every call opened its own report.
    pub fn is_clean(&self) -> bool {
        self.failed_calls == 0 && self.non_2xx == 0 && self.check.is_complete()
    }

    /// Whether the 99th percentile over every request is under the target.
    pub fn meets_target(&self) -> bool {
        self.requests > 0 && self.latency_ms.p99 < TARGET_P99_MS
    }
}

/// Percentiles and maximum, in milliseconds; zero when nothing was measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        let millis = |micros: u64| micros as f64 / 1000.0;
        Latency {
            p50: millis(histogram.value_at_quantile(0.50)),
            p90: millis(histogram.value_at_quantile(0.90)),
            p99: millis(histogram.value_at_quantile(0.99)),
            max: millis(histogram.max()),
        }
    }
}

/// The latency of one kind of request.
#[derive(Debug, Clone, PartialEq)]
pub struct KindLatency {
    /// The path; every step is `/ivr/step/{n}`.
    pub path: String,
    /// The stage whose prompt it answers (`group`), from the path the server stored for a call,
    /// or what it is (`incoming`, `transcription`, `status`).
    pub stage: String,
    pub requests: u64,
    pub latency_ms: Latency,
}

/// How the calls and the store compare at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallCheck {
    pub calls: usize,
    /// Calls that were given a ticket, and how many distinct tickets they were given.
    pub tickets: usize,
    pub distinct_tickets: usize,
    /// Reports in the store (the database is new: every one was opened by a call).
    pub reports: usize,
    /// Calls whose ticket names the report the store says the call opened, on the IVR channel,
    /// described by the call's transcription (when the markup has one).
    pub matched: usize,
    /// Calls the store has ended.
    pub ended: usize,
}

impl CallCheck {
    /// Every call got its own ticket, for a report it opened, and ended; no other report exists.
    pub fn is_complete(&self) -> bool {
        self.tickets == self.calls
            && self.distinct_tickets == self.calls
            && self.reports == self.calls
            && self.matched == self.calls
            && self.ended == self.calls
    }
}

/// Runs the benchmark described by `args` and reports what it measured and found. A run with
/// errors still returns its report; see `IvrReport::is_clean`.
pub async fn run(args: &IvrArgs) -> anyhow::Result<IvrReport> {
    args.check()?;
    FreshDatabase::run(args.database_url.as_deref(), "ivr", args.keep_database, async |database| measure(args, database).await).await
}

async fn measure(args: &IvrArgs, database: &FreshDatabase) -> anyhow::Result<IvrReport> {
    // As many connections as `serve` opens by default.
    let store = Store::connect(&database.url, PoolOptions { max_connections: 16 }).await.context("cannot open the benchmark database")?;
    let db = store.db.clone();
    // The intake writer keeps its connection until every handle on the store is gone, and closing
    // waits for it: `measure_on` drops them all (the server's with the server).
    let outcome = measure_on(args, store, database.backend).await;
    db.close().await;
    outcome
}

async fn measure_on(args: &IvrArgs, store: Store, backend: &'static str) -> anyhow::Result<IvrReport> {
    let now = Timestamp::now();
    store.migrate(now).await.context("migrations failed")?;
    let catalogue = balagh_app::load_catalogue(&store, crate::DEFAULT_CATALOGUE, now).await.context("cannot load the catalogue")?;
    let sla = SlaSettings::from_toml(balagh_app::sla::DEFAULT_CALENDARS, balagh_app::sla::DEFAULT_POLICIES, balagh_app::sla::DEFAULT_CHAINS, &catalogue)
        .context("the shipped SLA settings are invalid")?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot listen on 127.0.0.1")?;
    let address = format!("http://{}", listener.local_addr().context("cannot read the bound address")?);
    let delivery = DeliverySettings { public_base_url: Some(address.clone()), ..DeliverySettings::default() };
    let app = App::new(store.clone(), catalogue, sla, Arc::new(SystemClock)).with_delivery(delivery);
    let markup = Markup::from(args.markup);
    let ivr = Arc::new(IvrSettings { markup, cities: crate::eastern_province::cities(), ..IvrSettings::default() });
    // The phone-number metadata (about 80 ms) and the prompts of every language are loaded once per
    // process, at their first use: a running server did it at its first call, so this run does it
    // before the clock starts.
    balagh_domain::PhoneNumber::parse("From", &caller_number(0)).map_err(|error| anyhow::anyhow!("the callers' numbers are not valid: {error:?}"))?;
    balagh_ivr::Ivr::new(app.clone(), ivr.clone()).waiting("ar");
    let config = WebConfig { public_base_url: address.clone(), voice: VoiceConfig { auth_token: Some(AUTH_TOKEN.to_owned()), ivr }, ..WebConfig::default() };
    // The server records its request metrics as `serve` does; a process installs one recorder,
    // so a second run in the same process (tests) goes without.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().ok();
    let state = AppState { app, config: Arc::new(config), metrics };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, balagh_web::service(state))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });

    let think = Duration::from_millis(args.think_ms);
    // One client for every call, as a provider's webhook sender keeps one pool of connections:
    // 500 clients built within the first second would load their TLS roots on the server's cores.
    let client = CallerOptions::client().context("could not build the callers' HTTP client")?;
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.calls)
        .map(|index| {
            let options = CallerOptions {
                markup,
                from: caller_number(index),
                account_sid: Some(ACCOUNT_SID.to_owned()),
                client: Some(client.clone()),
                ..CallerOptions::new(format!("{address}/ivr/voice"), AUTH_TOKEN)
            };
            let rng = SmallRng::seed_from_u64(SEED.wrapping_add(index as u64));
            tokio::spawn(play_call(options, think, rng, index % BY_LINK_EVERY == 0))
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    let mut panicked = None;
    for task in tasks {
        match task.await {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => panicked = Some(error),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // The server goes first in any case: it holds the store, which the database's closing waits for.
    let _ = stop.send(());
    let abort = server.abort_handle();
    match tokio::time::timeout(SERVER_STOP_TIMEOUT, server).await {
        Ok(joined) => joined.context("the server task panicked")?.context("the HTTP server failed")?,
        Err(_) => {
            tracing::warn!("the server did not stop within {SERVER_STOP_TIMEOUT:?}; stopped");
            abort.abort();
        }
    }
    if let Some(error) = panicked {
        return Err(error).context("a call task panicked");
    }

    let mut report = IvrReport {
        backend,
        markup,
        calls: args.calls,
        think_ms: args.think_ms,
        seconds,
        requests: 0,
        latency_ms: Latency::default(),
        last_dial_seconds: 0.0,
        after_dials: 0,
        after_dials_ms: Latency::default(),
        by_kind: Vec::new(),
        non_2xx: 0,
        failed_calls: 0,
        error_samples: Vec::new(),
        check: CallCheck::default(),
    };
    let mut all = new_histogram();
    let last_dial = outcomes.iter().filter_map(|outcome| outcome.timings.first()).map(|timing| timing.started).max().unwrap_or(started);
    report.last_dial_seconds = last_dial.saturating_duration_since(started).as_secs_f64();
    let mut after_dials = new_histogram();
    let (check, stages) = check_calls(&store, &outcomes).await?;
    report.check = check;
    // Requests are grouped by the stage they answered (calls take different paths), in the order
    // calls meet them: by their mean position within a call.
    let mut kinds: Vec<KindStats> = Vec::new();
    for (outcome, stages) in outcomes.iter().zip(&stages) {
        for (index, timing) in outcome.timings.iter().enumerate() {
            report.requests += 1;
            if timing.started > last_dial {
                record_micros(&mut after_dials, timing.elapsed);
            }
            report.non_2xx += u64::from(!(200..300).contains(&timing.status));
            let path = request_path(&timing.url);
            let stage = kind_of(&path, stages);
            let position = match kinds.iter().position(|kind| kind.stage == stage) {
                Some(position) => position,
                None => {
                    kinds.push(KindStats { path: generic_path(&path), stage, positions: 0, histogram: new_histogram() });
                    kinds.len() - 1
                }
            };
            record_micros(&mut all, timing.elapsed);
            kinds[position].positions += index;
            record_micros(&mut kinds[position].histogram, timing.elapsed);
        }
        if let Some(error) = &outcome.error {
            report.failed_calls += 1;
            if report.error_samples.len() < MAX_ERROR_SAMPLES && !report.error_samples.contains(error) {
                report.error_samples.push(error.clone());
            }
        }
    }
    report.latency_ms = Latency::of(&all);
    report.after_dials = after_dials.len();
    report.after_dials_ms = Latency::of(&after_dials);
    kinds.sort_by(|a, b| a.mean_position().total_cmp(&b.mean_position()));
    report.by_kind = kinds
        .into_iter()
        .map(|kind| KindLatency { stage: kind.stage, path: kind.path, requests: kind.histogram.len(), latency_ms: Latency::of(&kind.histogram) })
        .collect();
    Ok(report)
}

/// The requests of one stage, as they are gathered.
struct KindStats {
    path: String,
    stage: String,
    /// The sum of the requests' positions within their calls.
    positions: usize,
    histogram: Histogram<u64>,
}

impl KindStats {
    fn mean_position(&self) -> f64 {
        self.positions as f64 / self.histogram.len().max(1) as f64
    }
}

/// A request's path without its step number, which differs between calls that take different
/// paths: `/ivr/step/{n}`.
fn generic_path(path: &str) -> String {
    if path.starts_with("/ivr/step/") { "/ivr/step/{n}".to_owned() } else { path.to_owned() }
}

/// What one call did.
#[derive(Debug, Default)]
struct CallOutcome {
    call_sid: Option<String>,
    ticket: Option<String>,
    timings: Vec<RequestTiming>,
    /// Why the call stopped before its end, if it did.
    error: Option<String>,
}

/// Plays the whole call: a pause of up to one think time, the dial, then every step of the script
/// after a pause, and the hang-up.
async fn play_call(options: CallerOptions, think: Duration, mut rng: SmallRng, by_link: bool) -> CallOutcome {
    tokio::time::sleep(think.mul_f64(rng.random_range(0.0..1.0))).await;
    let mut caller = match Caller::dial(options).await {
        Ok(caller) => caller,
        Err(error) => return CallOutcome { error: Some(format!("dialling: {}", error_chain(&error))), ..CallOutcome::default() },
    };
    let played = play_script(&mut caller, think, &mut rng, by_link).await;
    CallOutcome {
        call_sid: Some(caller.call_sid().to_owned()),
        ticket: caller.ticket().map(str::to_owned),
        timings: caller.request_timings(),
        error: played.err().map(|error| format!("{error:#}")),
    }
}

/// Presses 1 at every menu up to the recording, except 2 at the place menu for a caller who asks
/// for a link to mark the place on a map.
async fn play_script(caller: &mut Caller, think: Duration, rng: &mut SmallRng, by_link: bool) -> anyhow::Result<()> {
    let place_menu = balagh_i18n::text("ar", "ivr-place-menu", &[]);
    let mut menus = 0;
    while caller.waiting() == Waiting::Keys {
        anyhow::ensure!(menus < MAX_MENUS_BEFORE_RECORDING, "still at a menu after {menus} menus; last heard: {}", caller.heard().join(" / "));
        tokio::time::sleep(pause(think, rng)).await;
        let key = if by_link && caller.heard().last() == Some(&place_menu) { "2" } else { "1" };
        let pressed = caller.press(key).await;
        pressed.map_err(|error| failed(caller, &format!("pressing {key} at menu {}", menus + 1), &error))?;
        menus += 1;
    }
    tokio::time::sleep(pause(think, rng)).await;
    let recorded = caller.record(RECORDING_SECONDS, Some(TRANSCRIPTION)).await;
    recorded.map_err(|error| failed(caller, "recording", &error))?;
    for keys in AFTER_RECORDING {
        tokio::time::sleep(pause(think, rng)).await;
        let pressed = caller.press(keys).await;
        pressed.map_err(|error| failed(caller, &format!("pressing {keys:?} after the recording"), &error))?;
    }
    anyhow::ensure!(caller.waiting() == Waiting::Ended, "the call waits for {} after its last key instead of ending", caller.waiting());
    caller.hang_up().await.map_err(|error| failed(caller, "hanging up", &error))
}

/// What the caller was doing when `error` stopped the call, and what he heard before: a caller
/// that is not where the script expects heard why at the step before.
fn failed(caller: &Caller, doing: &str, error: &CallerError) -> anyhow::Error {
    anyhow::anyhow!("{doing}: {}; last heard: {}", error_chain(error), caller.heard().join(" / "))
}

/// A think time: uniform between half and one and a half times `think`.
fn pause(think: Duration, rng: &mut SmallRng) -> Duration {
    if think.is_zero() { Duration::ZERO } else { think.mul_f64(rng.random_range(0.5..1.5)) }
}

/// An error with its sources, on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `index`th caller's number: distinct Saudi mobiles, `+96650` and seven digits.
fn caller_number(index: usize) -> String {
    format!("+96650{index:07}")
}

/// The path of a request's URL, or the URL itself when it cannot be read.
fn request_path(url: &str) -> String {
    reqwest::Url::parse(url).map(|url| url.path().to_owned()).unwrap_or_else(|_| url.to_owned())
}

/// What a request path answers: `/ivr/step/{n}` the prompt of the `n`th of `stages` (the stages a
/// call went through, one per step), the others what they are.
fn kind_of(path: &str, stages: &[String]) -> String {
    match path {
        "/ivr/voice" => "incoming".to_owned(),
        "/ivr/transcription" => "transcription".to_owned(),
        "/ivr/status" => "status".to_owned(),
        "/ivr/wait" => "wait".to_owned(),
        _ => {
            let step = path.strip_prefix("/ivr/step/").and_then(|n| n.parse::<usize>().ok());
            step.and_then(|n| n.checked_sub(1)).and_then(|i| stages.get(i)).cloned().unwrap_or_else(|| "?".to_owned())
        }
    }
}

/// The stage each step of a call answered, from the path the server stored for it
/// (`language>main>…>confirm>done`) and the number of step requests it made: step `n` answers
/// the `n`th stage, and the last stage was left without a request. The server writes a stage
/// once however many steps stay in it, so a path that does not have one stage per step gives
/// none.
fn step_stages(path: &str, steps: usize) -> Vec<String> {
    let stages: Vec<String> = path.split('>').map(str::to_owned).collect();
    if stages.len() == steps + 1 { stages[..steps].to_vec() } else { Vec::new() }
}

/// Compares the calls with the reports and calls the store holds; also gives, for each call, the
/// stage each of its steps answered.
async fn check_calls(store: &Store, outcomes: &[CallOutcome]) -> anyhow::Result<(CallCheck, Vec<Vec<String>>)> {
    let filter = ReportFilter { limit: outcomes.len() as u64 + 1_000, ..ReportFilter::default() };
    let reports = store.db.reports(&filter).await.context("cannot read the reports")?;
    let by_id: HashMap<i64, &balagh_domain::report::Report> = reports.iter().map(|report| (report.id.0, report)).collect();
    let mut check = CallCheck { calls: outcomes.len(), reports: reports.len(), ..CallCheck::default() };
    let mut distinct = HashSet::new();
    let mut stages = vec![Vec::new(); outcomes.len()];
    for (outcome, stages) in outcomes.iter().zip(&mut stages) {
        let Some(call_sid) = &outcome.call_sid else { continue };
        let stored = store.db.ivr_call(call_sid).await.with_context(|| format!("cannot read call {call_sid}"))?;
        let Some(stored) = stored else { continue };
        let steps = outcome.timings.iter().filter(|timing| request_path(&timing.url).starts_with("/ivr/step/")).count();
        *stages = step_stages(&stored.path, steps);
        check.ended += usize::from(stored.ended_at.is_some());
        let Some(ticket) = &outcome.ticket else { continue };
        check.tickets += 1;
        distinct.insert(ticket.clone());
        let Ok(ticket) = TicketNumber::parse(ticket) else { continue };
        // VoiceXML has no transcription callback: such a report has no description.
        let transcribed = outcome.timings.iter().any(|timing| request_path(&timing.url) == "/ivr/transcription");
        let description = if transcribed { TRANSCRIPTION } else { "" };
        let report = by_id.get(&ticket.report_id().0);
        let matched = stored.report_id == Some(ticket.report_id())
            && report.is_some_and(|report| report.channel == Channel::Ivr && report.description.as_str() == description);
        check.matched += usize::from(matched);
    }
    check.distinct_tickets = distinct.len();
    Ok((check, stages))
}

/// Histograms of microseconds, three significant figures, growing as needed.
fn new_histogram() -> Histogram<u64> {
    Histogram::new(3).expect("three significant figures are valid")
}

fn record_micros(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
    // `record` grows the auto-resizing histogram to fit; `saturating_record` would clamp to its
    // current top instead.
    if histogram.record(micros).is_err() {
        histogram.saturating_record(micros);
    }
}

impl fmt::Display for IvrReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per_second = |count: f64| if self.seconds > 0.0 { count / self.seconds } else { 0.0 };
        let think = if self.think_ms == 0 { "none".to_owned() } else { format!("{} ms ({}–{} ms)", self.think_ms, self.think_ms / 2, self.think_ms * 3 / 2) };
        writeln!(f, "ivr         {} calls on {} ({}), think time {think}", self.calls, self.backend, self.markup)?;
        writeln!(
            f,
            "requests    {} in {:.2} s: {:.1}/s; calls {:.1}/s",
            self.requests,
            self.seconds,
            per_second(self.requests as f64),
            per_second(self.calls as f64)
        )?;
        let latency = &self.latency_ms;
        writeln!(
            f,
            "latency     p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (every request, at the caller)",
            latency.p50, latency.p90, latency.p99, latency.max
        )?;
        let after = &self.after_dials_ms;
        writeln!(
            f,
            "after dials p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (the {} requests sent after the last call dialled, {:.2} s in)",
            after.p50, after.p90, after.p99, after.max, self.after_dials, self.last_dial_seconds
        )?;
        for kind in &self.by_kind {
            let l = &kind.latency_ms;
            writeln!(
                f,
                "  {:<20} {:<14} {:>7}  p50 {:>7.2}  p90 {:>7.2}  p99 {:>7.2}  max {:>8.2} ms",
                kind.path, kind.stage, kind.requests, l.p50, l.p90, l.p99, l.max
            )?;
        }
        writeln!(f, "errors      {} calls failed, {} answers outside 2xx", self.failed_calls, self.non_2xx)?;
        for error in &self.error_samples {
            writeln!(f, "  - {error}")?;
        }
        let check = &self.check;
        writeln!(
            f,
            "reports     {} in the store for {} calls; {} calls got a ticket ({} distinct), {} the report they opened; {} calls ended",
            check.reports, check.calls, check.tickets, check.distinct_tickets, check.matched, check.ended
        )?;
        writeln!(f, "target      p99 under {TARGET_P99_MS} ms: {}", if self.meets_target() { "met" } else { "NOT met" })?;
        write!(f, "clean       {}", if self.is_clean() { "yes" } else { "NO" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments for `calls` calls without pauses on `database_url`.
    fn args(database_url: impl Into<String>, calls: usize) -> IvrArgs {
        IvrArgs { calls, database_url: Some(database_url.into()), think_ms: 0, markup: MarkupArg::Twiml, keep_database: false }
    }

    #[test]
    fn requests_are_named_by_the_stage_they_answer() {
        let stages = step_stages("language>main>group>record>confirm>done", 5);
        assert_eq!(stages, ["language", "main", "group", "record", "confirm"]);
        fn check(url: &str, path: &str, stages: &[String], kind: &str) {
            assert_eq!(request_path(url), path, "{url}");
            assert_eq!(kind_of(path, stages), kind, "{url}");
        }
        check("http://127.0.0.1:4000/ivr/voice", "/ivr/voice", &stages, "incoming");
        check("http://127.0.0.1:4000/ivr/step/1", "/ivr/step/1", &stages, "language");
        check("http://127.0.0.1:4000/ivr/step/4", "/ivr/step/4", &stages, "record");
        check("http://127.0.0.1:4000/ivr/step/5", "/ivr/step/5", &stages, "confirm");
        check("http://127.0.0.1:4000/ivr/step/6", "/ivr/step/6", &stages, "?");
        check("http://127.0.0.1:4000/ivr/step/0", "/ivr/step/0", &stages, "?");
        check("http://127.0.0.1:4000/ivr/transcription", "/ivr/transcription", &stages, "transcription");
        check("http://127.0.0.1:4000/ivr/status", "/ivr/status", &stages, "status");
        // Two steps in one stage (an invalid key) leave the path shorter than the steps.
        assert!(step_stages("language>main>done", 3).is_empty());
    }

    #[test]
    fn pauses_stay_within_half_and_one_and_a_half_think_times() {
        let mut rng = SmallRng::seed_from_u64(1);
        let think = Duration::from_millis(1000);
        for _ in 0..1_000 {
            let drawn = pause(think, &mut rng);
            assert!(drawn >= Duration::from_millis(500) && drawn < Duration::from_millis(1500), "{drawn:?}");
        }
        assert_eq!(pause(Duration::ZERO, &mut rng), Duration::ZERO);
    }

    #[test]
    fn invalid_arguments_are_refused_with_the_flag() {
        assert!(args("sqlite://x.db", 0).check().unwrap_err().to_string().contains("--calls"));
        let slow = IvrArgs { think_ms: 60_001, ..args("sqlite://x.db", 5) };
        assert!(slow.check().unwrap_err().to_string().contains("--think-ms"));
        assert!(args("sqlite://x.db", 5).check().is_ok());
    }

    #[test]
    fn a_check_is_complete_only_when_every_call_opened_its_own_report() {
        let good = CallCheck { calls: 3, tickets: 3, distinct_tickets: 3, reports: 3, matched: 3, ended: 3 };
        assert!(good.is_complete());
        for bad in [
            CallCheck { tickets: 2, ..good.clone() },
            CallCheck { distinct_tickets: 2, ..good.clone() },
            CallCheck { reports: 4, ..good.clone() },
            CallCheck { matched: 2, ..good.clone() },
            CallCheck { ended: 2, ..good.clone() },
        ] {
            assert!(!bad.is_complete(), "{bad:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_call_opens_one_report_through_the_webhooks_on_sqlite() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("bench.db");
        let report = run(&args(format!("sqlite://{}", path.display()), 5)).await.unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!((report.check.reports, report.check.matched, report.check.ended), (5, 5, 5), "{report}");
        // The dial, every step, the transcription and the status callback; the service's details
        // (if any) come between the service and the place. Calls 0 and 4 ask for a link to mark
        // the place, so they skip the city and the district.
        let stages: Vec<&str> = report.by_kind.iter().map(|kind| kind.stage.as_str()).collect();
        assert_eq!(stages[..5], ["incoming", "language", "main", "group", "service"], "{report}");
        assert_eq!(stages[stages.len() - 8..], ["place", "city", "district", "record", "transcription", "callback", "confirm", "status"], "{report}");
        assert_eq!(report.requests, 5 * stages.len() as u64 - 2 * 2, "{report}");
        let by_link = |stage: &str| matches!(stage, "city" | "district");
        assert!(report.by_kind.iter().all(|kind| kind.requests == if by_link(&kind.stage) { 3 } else { 5 }), "{report}");
        assert!(report.after_dials > 0 && report.after_dials < report.requests, "{report}");
        assert!(!path.exists(), "the database is removed at the end");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_in_voicexml_open_their_reports_too() {
        let directory = tempfile::tempdir().unwrap();
        let args = IvrArgs { markup: MarkupArg::VoiceXml, ..args(format!("sqlite://{}", directory.path().join("bench.db").display()), 3) };
        let report = run(&args).await.unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.check.matched, 3, "{report}");
        assert!(report.by_kind.iter().all(|kind| kind.stage != "transcription"), "VoiceXML has no transcription callback: {report}");
    }
}
