//! `balagh bench intake`: a load generator that creates reports over real HTTP against a running
//! Balagh server and measures throughput and latency.
//!
//! The run is split into a warm-up (requests sent, nothing recorded) and a measured window. Each of
//! `concurrency` tasks loops over "build a realistic report, send it, read the whole body" and keeps
//! its own tally; the tallies are merged once every task has finished, so the hot loop shares nothing
//! but the connection pool.

use std::fmt;
use std::time::Duration;

use crate::eastern_province::{self, City};
use anyhow::Context as _;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng, SeedableRng as _};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, RequestBuilder};
use serde::Serialize;
use tokio::time::Instant;

/// The most tasks a run may use; beyond this the generator, not the server, becomes the bottleneck
/// (and most machines run out of file descriptors).
const MAX_CONCURRENCY: usize = 4096;
/// How many distinct error messages a report keeps, so a failing run says why without flooding.
const MAX_ERROR_SAMPLES: usize = 5;
/// How much of an error response body an error sample quotes.
const ERROR_BODY_PREFIX_CHARS: usize = 160;
/// A request slower than this counts as an error rather than stalling its task forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Latency histograms keep three significant figures, enough for p99 to be meaningful. They
/// start small and grow with the slowest latency seen, which keeps thousands of tasks cheap.
const HISTOGRAM_SIGNIFICANT_FIGURES: u8 = 3;

/// Arguments of `balagh bench intake`.
#[derive(Debug, Clone, clap::Args)]
pub struct IntakeArgs {
    /// Base URL of a running server, e.g. http://127.0.0.1:8940
    #[arg(long)]
    pub url: String,
    /// Number of concurrent request loops (1 to 4096)
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds to run
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Which intake API to drive
    #[arg(long, value_enum, default_value_t = Api::V1)]
    pub api: Api,
    /// Open311 api_key (required with --api open311)
    #[arg(long, env = "BALAGH_BENCH_API_KEY")]
    pub api_key: Option<String>,
    /// Seconds of warm-up before measuring (not counted)
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
}

/// The intake API a bench run creates reports through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Api {
    /// `POST /api/v1/reports` with a JSON body and an `Idempotency-Key`.
    V1,
    /// `POST /open311/v2/requests.json` with a form body and an `api_key`.
    Open311,
}

/// What a bench run measured: counts, the measured window and latency percentiles of successful
/// creates (errors are counted but their latency is not mixed into the percentiles).
#[derive(Debug, Clone, PartialEq)]
pub struct IntakeReport {
    pub creates: u64,
    pub errors: u64,
    /// Length of the measured window, from the end of warm-up until the last in-flight request ended.
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Up to five distinct error messages, e.g. `HTTP 422: {"code":"invalid_phone",…`.
    pub error_samples: Vec<String>,
}

impl IntakeReport {
    /// Successful creates per second of measured time.
    pub fn creates_per_second(&self) -> f64 {
        if self.seconds > 0.0 { self.creates as f64 / self.seconds } else { 0.0 }
    }

    /// Share of measured requests that failed, as a percentage.
    fn error_percentage(&self) -> f64 {
        let requests = self.creates + self.errors;
        if requests == 0 { 0.0 } else { self.errors as f64 * 100.0 / requests as f64 }
    }

    /// A latency figure, or a dash when nothing succeeded and there is no latency to speak of.
    fn latency(&self, ms: f64) -> String {
        if self.creates == 0 { "-".to_owned() } else { format_ms(ms) }
    }
}

impl fmt::Display for IntakeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "creates/s  {:.1}  ({} creates in {:.2} s)", self.creates_per_second(), self.creates, self.seconds)?;
        writeln!(f, "p50        {}", self.latency(self.p50_ms))?;
        writeln!(f, "p99        {}", self.latency(self.p99_ms))?;
        writeln!(f, "max        {}", self.latency(self.max_ms))?;
        write!(f, "errors     {}", self.errors)?;
        if self.errors > 0 {
            write!(f, "  ({:.2}% of requests)", self.error_percentage())?;
        }
        for sample in self.error_samples.iter().take(MAX_ERROR_SAMPLES) {
            write!(f, "\n  - {sample}")?;
        }
        Ok(())
    }
}

/// Formats milliseconds with about three significant figures, matching the histogram's precision.
fn format_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// Runs the intake benchmark described by `args` and returns what it measured.
///
/// Fails only for invalid arguments or a client that cannot be built; an unreachable or failing
/// server shows up as errors in the report, so the caller always sees what happened.
pub async fn run_intake(args: &IntakeArgs) -> anyhow::Result<IntakeReport> {
    let plan = Plan::from_args(args)?;
    let client = build_client(plan.concurrency)?;

    let started = Instant::now();
    let window = MeasurementWindow { measure_from: started + plan.warmup, stop_at: started + plan.warmup + plan.duration };
    let workers: Vec<_> = (0..plan.concurrency).map(|_| tokio::spawn(run_worker(client.clone(), plan.target.clone(), window))).collect();

    let mut total = Tally::new();
    for finished in futures::future::join_all(workers).await {
        total.merge(finished.context("bench worker panicked")?)?;
    }
    Ok(total.into_report(window.measured_seconds(Instant::now())))
}

/// Validated arguments: once a `Plan` exists, the run can start.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    target: Target,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
}

/// Why `bench intake` arguments were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum InvalidArgs {
    #[error("--concurrency must be between 1 and {MAX_CONCURRENCY}, got {0}")]
    Concurrency(usize),
    #[error("--duration must be at least 1 second")]
    Duration,
    #[error("--url must start with http:// or https://, got {0:?}")]
    Url(String),
    #[error("--api open311 needs --api-key (or BALAGH_BENCH_API_KEY)")]
    MissingApiKey,
}

impl Plan {
    fn from_args(args: &IntakeArgs) -> Result<Plan, InvalidArgs> {
        if !(1..=MAX_CONCURRENCY).contains(&args.concurrency) {
            return Err(InvalidArgs::Concurrency(args.concurrency));
        }
        if args.duration == 0 {
            return Err(InvalidArgs::Duration);
        }
        let base_url = parse_base_url(&args.url)?;
        let target = match args.api {
            Api::V1 => Target::V1 { endpoint: format!("{base_url}/api/v1/reports") },
            Api::Open311 => Target::Open311 {
                endpoint: format!("{base_url}/open311/v2/requests.json"),
                api_key: args.api_key.clone().filter(|key| !key.trim().is_empty()).ok_or(InvalidArgs::MissingApiKey)?,
            },
        };
        Ok(Plan { target, concurrency: args.concurrency, warmup: Duration::from_secs(args.warmup), duration: Duration::from_secs(args.duration) })
    }
}

/// Checks that `url` is an absolute HTTP(S) URL with a host and returns it without a trailing
/// slash, so endpoint paths can be appended as-is.
fn parse_base_url(url: &str) -> Result<&str, InvalidArgs> {
    let invalid = || InvalidArgs::Url(url.to_owned());
    let trimmed = url.trim().trim_end_matches('/');
    let has_http_scheme = trimmed.starts_with("http://") || trimmed.starts_with("https://");
    if !has_http_scheme {
        return Err(invalid());
    }
    let parsed = reqwest::Url::parse(trimmed).map_err(|_| invalid())?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    Ok(trimmed)
}

/// One shared client: a keep-alive HTTP/1.1 pool with one idle connection per task, so each task
/// reuses its connection instead of measuring TCP handshakes.
fn build_client(concurrency: usize) -> anyhow::Result<Client> {
    Client::builder()
        .http1_only()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("balagh-bench/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")
}

/// When measuring starts and when tasks stop starting new requests.
#[derive(Debug, Clone, Copy)]
struct MeasurementWindow {
    measure_from: Instant,
    stop_at: Instant,
}

impl MeasurementWindow {
    /// Measured time, counted until `finished` because requests started before `stop_at` are
    /// recorded even when they end after it.
    fn measured_seconds(&self, finished: Instant) -> f64 {
        finished.saturating_duration_since(self.measure_from).as_secs_f64()
    }
}

/// One request loop: build a report, send it, record the outcome if it started inside the window.
async fn run_worker(client: Client, target: Target, window: MeasurementWindow) -> Tally {
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let mut tally = Tally::new();
    loop {
        let report = ReportSample::random(&mut rng);
        let request = target.request(&client, &report, &mut rng);
        let sent_at = Instant::now();
        if sent_at >= window.stop_at {
            return tally;
        }
        let outcome = send(request, target.api()).await;
        if sent_at >= window.measure_from {
            tally.record(outcome, sent_at.elapsed());
        }
    }
}

/// The result of one create request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Created,
    Failed(String),
}

/// Sends `request` and reads the whole body, so the latency covers the full response.
async fn send(request: RequestBuilder, api: Api) -> Outcome {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Outcome::Failed(transport_error_sample(&error)),
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(_) if is_created(api, status) => Outcome::Created,
        Ok(body) => Outcome::Failed(http_error_sample(status, &body)),
        Err(error) => Outcome::Failed(transport_error_sample(&error)),
    }
}

/// Whether `status` means the report was created: v1 answers 201 only, while Open311 servers
/// commonly answer 200 as well.
fn is_created(api: Api, status: u16) -> bool {
    match api {
        Api::V1 => status == 201,
        Api::Open311 => status == 200 || status == 201,
    }
}

/// An error sample for an unexpected status, quoting the start of the body on one line.
fn http_error_sample(status: u16, body: &[u8]) -> String {
    let body = String::from_utf8_lossy(body);
    let one_line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut prefix: String = one_line.chars().take(ERROR_BODY_PREFIX_CHARS).collect();
    if prefix.len() < one_line.len() {
        prefix.push('…');
    }
    if prefix.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {prefix}") }
}

/// An error sample for a request that got no usable response, with its cause chain (the useful
/// part, such as "connection refused", is usually in a source).
fn transport_error_sample(error: &reqwest::Error) -> String {
    let mut sample = format!("transport: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        sample.push_str(": ");
        sample.push_str(&cause.to_string());
        source = cause.source();
    }
    sample
}

/// What one task measured; tallies are merged into the final report.
#[derive(Debug)]
struct Tally {
    latencies_us: Histogram<u64>,
    creates: u64,
    errors: u64,
    error_samples: Vec<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latencies_us: Histogram::new(HISTOGRAM_SIGNIFICANT_FIGURES).expect("three significant figures is a valid histogram precision"),
            creates: 0,
            errors: 0,
            error_samples: Vec::new(),
        }
    }

    fn record(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Created => {
                self.creates += 1;
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                // `record` grows the auto-resizing histogram to fit; `saturating_record` would
                // clamp to its current (tiny) range instead, so it is only the fallback.
                if self.latencies_us.record(micros).is_err() {
                    self.latencies_us.saturating_record(micros);
                }
            }
            Outcome::Failed(sample) => {
                self.errors += 1;
                self.keep_error_sample(sample);
            }
        }
    }

    fn keep_error_sample(&mut self, sample: String) {
        if self.error_samples.len() < MAX_ERROR_SAMPLES && !self.error_samples.contains(&sample) {
            self.error_samples.push(sample);
        }
    }

    fn merge(&mut self, other: Tally) -> anyhow::Result<()> {
        self.latencies_us.add(&other.latencies_us).context("cannot merge latency histograms")?;
        self.creates += other.creates;
        self.errors += other.errors;
        for sample in other.error_samples {
            self.keep_error_sample(sample);
        }
        Ok(())
    }

    fn into_report(self, seconds: f64) -> IntakeReport {
        let ms = |micros: u64| micros as f64 / 1000.0;
        IntakeReport {
            creates: self.creates,
            errors: self.errors,
            seconds,
            p50_ms: ms(self.latencies_us.value_at_quantile(0.50)),
            p99_ms: ms(self.latencies_us.value_at_quantile(0.99)),
            max_ms: ms(self.latencies_us.max()),
            error_samples: self.error_samples,
        }
    }
}

/// Where and how reports are created.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    V1 { endpoint: String },
    Open311 { endpoint: String, api_key: String },
}

impl Target {
    fn api(&self) -> Api {
        match self {
            Target::V1 { .. } => Api::V1,
            Target::Open311 { .. } => Api::Open311,
        }
    }

    /// The create request for `report`; v1 requests carry a fresh idempotency key so that every
    /// request is a genuinely new report rather than a replay.
    fn request(&self, client: &Client, report: &ReportSample, rng: &mut impl Rng) -> RequestBuilder {
        match self {
            Target::V1 { endpoint } => client.post(endpoint).header("Idempotency-Key", random_idempotency_key(rng)).json(&V1ReportBody::from(report)),
            Target::Open311 { endpoint, api_key } => {
                client.post(endpoint).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(open311_form(report, api_key))
            }
        }
    }
}

/// A realistic citizen report: a service without required attributes, a place in Dammam or
/// Al Khobar, a description in Arabic or English and a valid Saudi mobile number.
#[derive(Debug, Clone, PartialEq)]
struct ReportSample {
    service_code: &'static str,
    lat: f64,
    long: f64,
    description: String,
    phone: String,
    language: Language,
    first_name: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    Arabic,
    English,
}

impl Language {
    fn code(self) -> &'static str {
        match self {
            Language::Arabic => "ar",
            Language::English => "en",
        }
    }
}

/// A catalogue service with no required attributes, and how a citizen would describe the problem.
struct ServiceText {
    code: &'static str,
    problem_ar: &'static str,
    problem_en: &'static str,
}

const SERVICES: [ServiceText; 12] = [
    ServiceText {
        code: "overflowing-container",
        problem_ar: "حاوية النفايات ممتلئة والقمامة حولها على الأرض",
        problem_en: "The waste container is full and rubbish is piling up around it",
    },
    ServiceText {
        code: "damaged-container",
        problem_ar: "حاوية النفايات مكسورة وغطاؤها مفقود",
        problem_en: "The waste container is broken and its lid is missing",
    },
    ServiceText {
        code: "street-cleaning", problem_ar: "الشارع متسخ ويحتاج إلى تنظيف", problem_en: "The street is dirty and needs sweeping"
    },
    ServiceText {
        code: "damaged-speed-bump", problem_ar: "مطب صناعي متكسر ويضر بالسيارات", problem_en: "A speed bump is broken and damaging cars"
    },
    ServiceText {
        code: "damaged-sidewalk", problem_ar: "الرصيف متكسر وبلاطه مرتفع", problem_en: "The sidewalk is cracked and tiles are sticking up"
    },
    ServiceText {
        code: "rainwater-pooling",
        problem_ar: "تجمع مياه الأمطار في الشارع بعد المطر",
        problem_en: "Rainwater is pooling across the road after the rain",
    },
    ServiceText {
        code: "open-manhole",
        problem_ar: "غطاء فتحة تصريف مفقود وهو خطر على المارة",
        problem_en: "A manhole cover is missing and it is dangerous for pedestrians",
    },
    ServiceText { code: "blocked-drain", problem_ar: "فتحة تصريف المياه مسدودة", problem_en: "The storm drain is blocked" },
    ServiceText { code: "graffiti", problem_ar: "كتابات مشوهة على الجدار", problem_en: "There is graffiti on the wall" },
    ServiceText {
        code: "illegal-signage",
        problem_ar: "لوحة إعلانية مخالفة مثبتة على عمود الإنارة",
        problem_en: "An illegal advertising sign is fixed to the lamp post",
    },
    ServiceText {
        code: "dead-animal", problem_ar: "حيوان نافق على جانب الطريق", problem_en: "There is a dead animal by the side of the road"
    },
    ServiceText {
        code: "fallen-tree", problem_ar: "شجرة ساقطة تغلق جزءاً من الطريق", problem_en: "A fallen tree is blocking part of the road"
    },
];

/// Dammam and Al Khobar, where the load generator places its reports.
const CITIES: &[City] = eastern_province::CITIES.split_at(2).0;

/// Where on the street the problem is, in both languages.
const LANDMARKS: [(&str, &str); 6] = [
    ("قرب المسجد", "near the mosque"),
    ("أمام المدرسة", "in front of the school"),
    ("بجوار الحديقة", "next to the park"),
    ("على الشارع الرئيسي", "on the main street"),
    ("خلف السوق", "behind the market"),
    ("عند الإشارة المرورية", "at the traffic lights"),
];

/// Names some Open311 reporters give; `None` is the common anonymous case.
const FIRST_NAMES: [Option<&str>; 5] = [None, None, Some("محمد"), Some("نورة"), Some("Abdullah")];

/// Second digits of Saudi mobile numbers whose every subscriber number is valid: 050, 053, 054,
/// 055, 056, 058, 059 (057 is only partly allocated, so random 057 numbers are often refused).
const MOBILE_PREFIX_DIGITS: [char; 7] = ['0', '3', '4', '5', '6', '8', '9'];

impl ReportSample {
    fn random(rng: &mut impl Rng) -> ReportSample {
        let service = SERVICES.choose(rng).expect("the service list is not empty");
        let city = CITIES.choose(rng).expect("the city list is not empty");
        let district = city.districts.choose(rng).expect("every city has districts");
        let landmark = LANDMARKS.choose(rng).expect("the landmark list is not empty");
        // Most reports in the Eastern Province are written in Arabic.
        let language = if rng.random_bool(0.7) { Language::Arabic } else { Language::English };
        let description = match language {
            Language::Arabic => {
                format!("{} في حي {}، {}", service.problem_ar, district.0, landmark.0)
            }
            Language::English => {
                format!("{} in {}, {}.", service.problem_en, district.1, landmark.1)
            }
        };
        ReportSample {
            service_code: service.code,
            lat: round_to_micro_degrees(rng.random_range(city.lat.0..city.lat.1)),
            long: round_to_micro_degrees(rng.random_range(city.lon.0..city.lon.1)),
            description,
            phone: random_saudi_mobile(rng),
            language,
            first_name: *FIRST_NAMES.choose(rng).expect("the name list is not empty"),
        }
    }
}

/// Six decimals (about 10 cm) is what a phone's GPS reports; more digits would look synthetic.
fn round_to_micro_degrees(degrees: f64) -> f64 {
    (degrees * 1e6).round() / 1e6
}

/// A valid Saudi mobile number in local form: `05`, an operator digit, then seven digits.
fn random_saudi_mobile(rng: &mut impl Rng) -> String {
    let mut phone = String::with_capacity(10);
    phone.push_str("05");
    phone.push(*MOBILE_PREFIX_DIGITS.choose(rng).expect("the digit list is not empty"));
    for _ in 0..7 {
        phone.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    phone
}

/// A random 128-bit key as 32 lowercase hex digits.
fn random_idempotency_key(rng: &mut impl Rng) -> String {
    format!("{:032x}", rng.random::<u128>())
}

/// The JSON body of `POST /api/v1/reports`.
#[derive(Debug, Serialize)]
struct V1ReportBody<'a> {
    kind: &'static str,
    service_code: &'a str,
    description: &'a str,
    lat: f64,
    long: f64,
    phone: &'a str,
    language: &'static str,
    channel: &'static str,
}

impl<'a> From<&'a ReportSample> for V1ReportBody<'a> {
    fn from(report: &'a ReportSample) -> Self {
        V1ReportBody {
            kind: "report",
            service_code: report.service_code,
            description: &report.description,
            lat: report.lat,
            long: report.long,
            phone: &report.phone,
            language: report.language.code(),
            channel: "app",
        }
    }
}

/// The form body of an Open311 GeoReport v2 `POST requests.json`.
fn open311_form(report: &ReportSample, api_key: &str) -> String {
    let lat = format!("{:.6}", report.lat);
    let long = format!("{:.6}", report.long);
    let mut fields = vec![
        ("api_key", api_key),
        ("service_code", report.service_code),
        ("lat", lat.as_str()),
        ("long", long.as_str()),
        ("description", report.description.as_str()),
        ("phone", report.phone.as_str()),
    ];
    if let Some(first_name) = report.first_name {
        fields.push(("first_name", first_name));
    }
    encode_form(&fields)
}

/// Encodes pairs as `application/x-www-form-urlencoded`, byte-for-byte as `serde_urlencoded` does.
fn encode_form(fields: &[(&str, &str)]) -> String {
    let mut body = String::new();
    for (index, (name, value)) in fields.iter().enumerate() {
        if index > 0 {
            body.push('&');
        }
        percent_encode_form_component(name, &mut body);
        body.push('=');
        percent_encode_form_component(value, &mut body);
    }
    body
}

/// Appends `text` encoded with the WHATWG `application/x-www-form-urlencoded` byte serializer:
/// ASCII alphanumerics and `*-._` stay, space becomes `+`, every other UTF-8 byte becomes `%XX`.
fn percent_encode_form_component(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0F)]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(api: Api) -> IntakeArgs {
        IntakeArgs { url: "http://127.0.0.1:8940".to_owned(), concurrency: 64, duration: 10, api, api_key: None, warmup: 2 }
    }

    fn seeded_rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    fn sample() -> ReportSample {
        ReportSample {
            service_code: "open-manhole",
            lat: 26.412345,
            long: 50.101234,
            description: "غطاء مفقود & خطر".to_owned(),
            phone: "0551234567".to_owned(),
            language: Language::Arabic,
            first_name: Some("نورة"),
        }
    }

    #[test]
    fn default_v1_args_make_a_plan_for_the_v1_endpoint() {
        let plan = Plan::from_args(&args(Api::V1)).unwrap();
        assert_eq!(
            plan,
            Plan {
                target: Target::V1 { endpoint: "http://127.0.0.1:8940/api/v1/reports".to_owned() },
                concurrency: 64,
                warmup: Duration::from_secs(2),
                duration: Duration::from_secs(10),
            }
        );
    }

    #[test]
    fn open311_plan_carries_the_api_key_and_drops_a_trailing_slash() {
        let mut open311 = args(Api::Open311);
        open311.url = "http://localhost:8940/".to_owned();
        open311.api_key = Some("key-1".to_owned());
        assert_eq!(
            Plan::from_args(&open311).unwrap().target,
            Target::Open311 { endpoint: "http://localhost:8940/open311/v2/requests.json".to_owned(), api_key: "key-1".to_owned() }
        );
    }

    #[test]
    fn invalid_args_are_refused_with_the_reason() {
        fn check(change: impl FnOnce(&mut IntakeArgs), expected: InvalidArgs) {
            let mut args = args(Api::V1);
            change(&mut args);
            assert_eq!(Plan::from_args(&args), Err(expected));
        }
        check(|a| a.concurrency = 0, InvalidArgs::Concurrency(0));
        check(|a| a.concurrency = 4097, InvalidArgs::Concurrency(4097));
        check(|a| a.duration = 0, InvalidArgs::Duration);
        check(|a| a.url = "127.0.0.1:8940".to_owned(), InvalidArgs::Url("127.0.0.1:8940".to_owned()));
        check(|a| a.url = "ftp://host".to_owned(), InvalidArgs::Url("ftp://host".to_owned()));
        check(|a| a.url = "http://".to_owned(), InvalidArgs::Url("http://".to_owned()));
        check(|a| a.api = Api::Open311, InvalidArgs::MissingApiKey);
        check(
            |a| {
                a.api = Api::Open311;
                a.api_key = Some("  ".to_owned());
            },
            InvalidArgs::MissingApiKey,
        );
    }

    #[test]
    fn boundary_concurrency_and_zero_warmup_are_accepted() {
        for concurrency in [1, MAX_CONCURRENCY] {
            let mut args = args(Api::V1);
            args.concurrency = concurrency;
            args.warmup = 0;
            assert!(Plan::from_args(&args).is_ok(), "concurrency {concurrency}");
        }
    }

    #[test]
    fn invalid_args_messages_name_the_flag() {
        assert_eq!(InvalidArgs::Concurrency(0).to_string(), "--concurrency must be between 1 and 4096, got 0");
        assert_eq!(InvalidArgs::MissingApiKey.to_string(), "--api open311 needs --api-key (or BALAGH_BENCH_API_KEY)");
    }

    #[test]
    fn milliseconds_are_formatted_with_about_three_significant_figures() {
        fn check(ms: f64, expected: &str) {
            assert_eq!(format_ms(ms), expected, "{ms}");
        }
        check(0.0, "0.000 ms");
        check(0.4125, "0.412 ms");
        check(3.2149, "3.21 ms");
        check(12.44, "12.4 ms");
        check(153.6, "154 ms");
        check(2048.0, "2048 ms");
    }

    #[test]
    fn report_prints_one_line_per_figure_with_error_samples() {
        let report = IntakeReport {
            creates: 12_000,
            errors: 3,
            seconds: 10.0,
            p50_ms: 3.215,
            p99_ms: 12.43,
            max_ms: 153.6,
            error_samples: vec!["HTTP 422: {\"code\":\"invalid_phone\"}".to_owned()],
        };
        assert_eq!(
            report.to_string(),
            "creates/s  1200.0  (12000 creates in 10.00 s)\n\
             p50        3.21 ms\n\
             p99        12.4 ms\n\
             max        154 ms\n\
             errors     3  (0.02% of requests)\n  \
             - HTTP 422: {\"code\":\"invalid_phone\"}"
        );
    }

    #[test]
    fn report_without_creates_shows_no_latency_and_zero_throughput() {
        let report = IntakeReport { creates: 0, errors: 0, seconds: 0.0, p50_ms: 0.0, p99_ms: 0.0, max_ms: 0.0, error_samples: Vec::new() };
        assert_eq!(report.creates_per_second(), 0.0);
        assert_eq!(report.to_string(), "creates/s  0.0  (0 creates in 0.00 s)\np50        -\np99        -\nmax        -\nerrors     0");
    }

    #[test]
    fn tallies_merge_counts_latencies_and_distinct_error_samples() {
        let mut first = Tally::new();
        first.record(Outcome::Created, Duration::from_millis(2));
        first.record(Outcome::Failed("HTTP 500".to_owned()), Duration::from_millis(1));
        let mut second = Tally::new();
        second.record(Outcome::Created, Duration::from_millis(4));
        for status in [500, 502, 503, 504, 429, 400] {
            second.record(Outcome::Failed(format!("HTTP {status}")), Duration::ZERO);
        }
        first.merge(second).unwrap();
        let report = first.into_report(2.0);
        assert_eq!((report.creates, report.errors), (2, 7));
        assert_eq!(report.creates_per_second(), 1.0);
        assert!((report.max_ms - 4.0).abs() < 0.01, "{}", report.max_ms);
        assert!((report.p50_ms - 2.0).abs() < 0.01, "{}", report.p50_ms);
        assert_eq!(report.error_samples, ["HTTP 500", "HTTP 502", "HTTP 503", "HTTP 504", "HTTP 429"]);
    }

    #[test]
    fn success_depends_on_the_api() {
        assert!(is_created(Api::V1, 201));
        assert!(!is_created(Api::V1, 200));
        assert!(is_created(Api::Open311, 200));
        assert!(is_created(Api::Open311, 201));
        assert!(!is_created(Api::Open311, 422));
    }

    #[test]
    fn http_error_samples_quote_a_one_line_prefix_of_the_body() {
        assert_eq!(http_error_sample(503, b""), "HTTP 503");
        assert_eq!(http_error_sample(422, b"{\"code\":\n  \"invalid_phone\"}"), "HTTP 422: {\"code\": \"invalid_phone\"}");
        let long_body = "ب".repeat(500);
        let sample = http_error_sample(400, long_body.as_bytes());
        assert_eq!(sample.chars().count(), "HTTP 400: ".len() + ERROR_BODY_PREFIX_CHARS + 1);
        assert!(sample.ends_with('…'));
    }

    #[test]
    fn saudi_mobiles_have_ten_digits_and_a_valid_operator_digit() {
        let mut rng = seeded_rng();
        for _ in 0..1000 {
            let phone = random_saudi_mobile(&mut rng);
            assert_eq!(phone.len(), 10, "{phone}");
            assert!(phone.starts_with("05"), "{phone}");
            assert!(phone.bytes().all(|b| b.is_ascii_digit()), "{phone}");
            assert!(MOBILE_PREFIX_DIGITS.contains(&char::from(phone.as_bytes()[2])), "{phone}");
        }
    }

    #[test]
    fn idempotency_keys_are_32_hex_digits_and_differ() {
        let mut rng = seeded_rng();
        let first = random_idempotency_key(&mut rng);
        let second = random_idempotency_key(&mut rng);
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }

    #[test]
    fn random_reports_use_known_services_inside_dammam_or_al_khobar() {
        let mut rng = seeded_rng();
        for _ in 0..1000 {
            let report = ReportSample::random(&mut rng);
            assert!(SERVICES.iter().any(|s| s.code == report.service_code));
            let inside = CITIES.iter().any(|city| (city.lat.0..=city.lat.1).contains(&report.lat) && (city.lon.0..=city.lon.1).contains(&report.long));
            assert!(inside, "{} {}", report.lat, report.long);
            assert_eq!(CITIES.iter().map(|c| c.slug).collect::<Vec<_>>(), ["dammam", "khobar"]);
            assert!(!report.description.is_empty());
        }
    }

    #[test]
    fn v1_body_has_the_report_fields() {
        let body = serde_json::to_value(V1ReportBody::from(&sample())).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "kind": "report",
                "service_code": "open-manhole",
                "description": "غطاء مفقود & خطر",
                "lat": 26.412345,
                "long": 50.101234,
                "phone": "0551234567",
                "language": "ar",
                "channel": "app",
            })
        );
    }

    #[test]
    fn open311_form_encodes_every_field() {
        assert_eq!(
            open311_form(&sample(), "k 1"),
            "api_key=k+1&service_code=open-manhole&lat=26.412345&long=50.101234\
             &description=%D8%BA%D8%B7%D8%A7%D8%A1+%D9%85%D9%81%D9%82%D9%88%D8%AF+%26+%D8%AE%D8%B7%D8%B1\
             &phone=0551234567&first_name=%D9%86%D9%88%D8%B1%D8%A9"
        );
        let anonymous = ReportSample { first_name: None, ..sample() };
        assert!(!open311_form(&anonymous, "k").contains("first_name"));
    }

    #[test]
    fn form_components_are_encoded_like_serde_urlencoded() {
        fn check(input: &str, expected: &str) {
            let mut out = String::new();
            percent_encode_form_component(input, &mut out);
            assert_eq!(out, expected, "{input:?}");
        }
        check("", "");
        check("abcXYZ019", "abcXYZ019");
        check("*-._", "*-._");
        check("a b", "a+b");
        check("a+b", "a%2Bb");
        check("a&b=c", "a%26b%3Dc");
        check("100%", "100%25");
        check("~/?#", "%7E%2F%3F%23");
        check("é", "%C3%A9");
        check("\n", "%0A");
    }

    #[test]
    fn form_pairs_are_joined_with_ampersands() {
        assert_eq!(encode_form(&[]), "");
        assert_eq!(encode_form(&[("a", "1"), ("b c", "2")]), "a=1&b+c=2");
    }
}
