//! `balagh demo`: fills the store with a year of realistic, reproducible Eastern Province contacts.
//!
//! Every report is built the way the application builds one: a `ReportDraft` validated against the
//! catalogue, then a history made by calling `lifecycle::apply` step by step with the actors who
//! would really act (agents, department staff, supervisors, the beneficiary, Balagh itself). The
//! story of each report is cut off at `now`, so old reports are mostly closed and recent ones open.
//!
//! Generation is pure (`generate_chunk`) and runs on a blocking thread one chunk ahead of the
//! database, which stores each chunk in one transaction.
//!
//! `open` adds a backlog of open reports with escalation timers at and after a chosen instant, for
//! measuring the escalation worker.

pub mod open;

use crate::eastern_province::{CITIES, City};
use anyhow::Context as _;
use balagh_app::SlaSettings;
use balagh_domain::catalogue::{Attribute, Datatype};
use balagh_domain::event::{Actor, Event, EventKind, Role};
use balagh_domain::lifecycle::{self, Command, Transition};
use balagh_domain::rating::{ClosureRating, InteractionRating, Score};
use balagh_domain::report::{NewReport, Report, ReportDraft, ReportId};
use balagh_domain::vocabulary::{Channel, ContactKind, Priority, Status};
use balagh_domain::{Catalogue, Service};
use balagh_store::{Rating, RatingRecord, SeedReport, Store};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::{SignedDuration, Timestamp};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

/// What `balagh demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How many contacts (reports, complaints, suggestions and inquiries together) to create.
    pub reports: u64,
    /// The random seed: the same seed, catalogue, count and `now` give the same data, ids aside.
    pub seed: Option<u64>,
    pub show_progress: bool,
}

/// What `balagh demo` stored.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub reports: u64,
    /// Contacts per kind (`report`, `complaint`, `inquiry`, `suggestion`), every kind present.
    pub by_kind: BTreeMap<&'static str, u64>,
    pub seconds: f64,
}

/// Contacts generated and stored per transaction.
const CHUNK: usize = 5_000;
/// The seed used when none is given.
const DEFAULT_SEED: u64 = 0x0042_414c_4147_4821;
/// The service that inquiries are opened under.
const INQUIRY_SERVICE: &str = "general-inquiry";
/// The share of contacts that are inquiries: the brief's 15,000 contacts held 11,000 reports.
const INQUIRY_SHARE: f64 = 4.0 / 15.0;
/// Arabia Standard Time, UTC+3 all year, in seconds.
const LOCAL_OFFSET: i64 = 3 * 3600;
const DAY: i64 = 86_400;
const HOUR: f64 = 3600.0;
/// Resolved reports the beneficiary does not confirm are closed by Balagh after three days.
const AUTO_CLOSE_HOURS: f64 = 72.0;

/// Fills `store` with `options.reports` contacts created during the year before `now`.
pub async fn run(store: &Store, catalogue: &Catalogue, sla: &SlaSettings, now: Timestamp, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    let sla = Arc::new(sla.clone());
    let started = Instant::now();
    anyhow::ensure!(Plan::new(catalogue, &sla, now).is_some(), "the catalogue has no services to create demo reports for");
    let catalogue = Arc::new(catalogue.clone());
    let progress = if options.show_progress { ProgressBar::new(options.reports) } else { ProgressBar::hidden() };
    progress.enable_steady_tick(std::time::Duration::from_millis(250));
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} reports, {per_sec}, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut by_kind: BTreeMap<&'static str, u64> = ContactKind::ALL.iter().map(|k| (k.as_str(), 0)).collect();
    let mut stored = 0u64;
    let mut chunks = Chunks { total: options.reports, planned: 0 };
    let rng = SmallRng::seed_from_u64(options.seed.unwrap_or(DEFAULT_SEED));

    // While one chunk is being inserted the next is generated on a blocking thread. The random
    // generator travels with the work and comes back with the chunk, so the data is the same as
    // a sequential run would make.
    let mut generating = start_chunk(store, &catalogue, &sla, rng, &mut chunks, now).await?;
    while let Some(handle) = generating {
        let (rng, seeds) = handle.await.context("generating demo reports")?;
        generating = start_chunk(store, &catalogue, &sla, rng, &mut chunks, now).await?;
        store.db.insert_seed_reports(&seeds).await.context("storing demo reports")?;
        for seed in &seeds {
            *by_kind.entry(seed.report.kind.as_str()).or_default() += 1;
        }
        stored += seeds.len() as u64;
        progress.inc(seeds.len() as u64);
    }
    progress.finish();
    // Plans made for the empty tables would otherwise serve the first queries on the new data.
    store.db.analyze().await.context("refreshing planner statistics")?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(reports = stored, seconds, per_second = stored as f64 / seconds.max(1e-9), "demo data stored");
    Ok(DemoSummary { reports: stored, by_kind, seconds })
}

type Generating = tokio::task::JoinHandle<(SmallRng, Vec<SeedReport>)>;

/// How far through the run the chunks handed out so far reach.
struct Chunks {
    total: u64,
    planned: u64,
}

/// Reserves ids for the next chunk and starts generating it; `None` when nothing remains.
async fn start_chunk(
    store: &Store,
    catalogue: &Arc<Catalogue>,
    sla: &Arc<SlaSettings>,
    mut rng: SmallRng,
    chunks: &mut Chunks,
    now: Timestamp,
) -> anyhow::Result<Option<Generating>> {
    if chunks.planned >= chunks.total {
        return Ok(None);
    }
    let size = (chunks.total - chunks.planned).min(CHUNK as u64);
    let share = chunks.planned as f64 / chunks.total as f64..(chunks.planned + size) as f64 / chunks.total as f64;
    chunks.planned += size;
    let ids = store.db.reserve_report_ids(size as usize).await.context("reserving demo report ids")?;
    let (catalogue, sla) = (catalogue.clone(), sla.clone());
    Ok(Some(tokio::task::spawn_blocking(move || {
        let seeds = generate_chunk(&mut rng, &catalogue, &sla, &ids, now, share);
        (rng, seeds)
    })))
}

/// Builds one contact per id in `ids`, with its timeline and ratings, created during `share` of
/// the year before `now`: `0.0..1.0` is the whole year, and consecutive shares follow each other
/// in time, weighted by how busy each hour is. Creation times rise with the ids, as they do when
/// the application assigns them. Pure: the same generator state gives the same chunk.
pub fn generate_chunk(rng: &mut SmallRng, catalogue: &Catalogue, sla: &SlaSettings, ids: &[i64], now: Timestamp, share: Range<f64>) -> Vec<SeedReport> {
    let Some(plan) = Plan::new(catalogue, sla, now) else { return Vec::new() };
    let mut points: Vec<f64> = ids.iter().map(|_| if share.start < share.end { rng.random_range(share.clone()) } else { share.start }).collect();
    points.sort_by(f64::total_cmp);
    let mut seeds = Vec::with_capacity(ids.len());
    for (index, (&id, point)) in ids.iter().zip(points).enumerate() {
        // A duplicate points at an earlier report of the same chunk.
        let duplicate_of = (index > 0).then(|| ReportId(ids[rng.random_range(index.saturating_sub(500)..index)]));
        if let Some(seed) = plan.contact(rng, ReportId(id), plan.timeline.at(point), duplicate_of, now) {
            seeds.push(seed);
        }
    }
    seeds
}

/// The catalogue and the tables, prepared for drawing from.
struct Plan<'c> {
    catalogue: &'c Catalogue,
    /// Expected resolution times come from the same SLA policies the application uses.
    sla: &'c SlaSettings,
    services: Vec<&'c Service>,
    service_weights: Option<WeightedIndex<f64>>,
    inquiry: Option<&'c Service>,
    timeline: Timeline,
    report_channels: WeightedIndex<u32>,
    inquiry_channels: WeightedIndex<u32>,
    languages: WeightedIndex<u32>,
    cities: WeightedIndex<u32>,
    scores: Scores,
}

impl<'c> Plan<'c> {
    /// `None` when the catalogue offers nothing to report about.
    fn new(catalogue: &'c Catalogue, sla: &'c SlaSettings, now: Timestamp) -> Option<Plan<'c>> {
        let inquiry = catalogue.service(INQUIRY_SERVICE).or_else(|| catalogue.services.iter().find(|s| s.kind == ContactKind::Inquiry));
        let services: Vec<&Service> = catalogue.services.iter().filter(|s| s.kind != ContactKind::Inquiry).collect();
        if services.is_empty() && inquiry.is_none() {
            return None;
        }
        // Each group gets its share; within a group the first services are the common ones and
        // emergencies are rare.
        let mut weights = Vec::with_capacity(services.len());
        for service in &services {
            let siblings: Vec<&&Service> = services.iter().filter(|s| s.group == service.group).collect();
            let factor = |s: &Service, position: usize| {
                let rarity = match s.default_priority {
                    Priority::Emergency => 0.2,
                    Priority::Urgent => 0.5,
                    _ => 1.0,
                };
                rarity / (1.0 + 0.5 * position as f64)
            };
            let total: f64 = siblings.iter().enumerate().map(|(i, s)| factor(s, i)).sum();
            let position = siblings.iter().position(|s| s.code == service.code).unwrap_or(0);
            weights.push(group_weight(&service.group) * factor(service, position) / total);
        }
        Some(Plan {
            catalogue,
            sla,
            scores: Scores::new()?,
            service_weights: WeightedIndex::new(&weights).ok(),
            services,
            inquiry,
            timeline: Timeline::new(now)?,
            report_channels: WeightedIndex::new(CHANNELS.iter().map(|c| c.1)).ok()?,
            inquiry_channels: WeightedIndex::new(CHANNELS.iter().map(|c| c.2)).ok()?,
            languages: WeightedIndex::new(LANGUAGES.iter().map(|l| l.1)).ok()?,
            cities: WeightedIndex::new(CITIES.iter().map(|c| c.weight)).ok()?,
        })
    }

    /// One contact with its history up to `now`; `None` only if the draft fails validation,
    /// which would be a bug in the tables here.
    fn contact(&self, rng: &mut SmallRng, id: ReportId, created_at: Timestamp, duplicate_of: Option<ReportId>, now: Timestamp) -> Option<SeedReport> {
        let service = match (self.inquiry, &self.service_weights) {
            (Some(inquiry), _) if rng.random_bool(INQUIRY_SHARE) => inquiry,
            (_, Some(weights)) => self.services[weights.sample(rng)],
            (Some(inquiry), None) => inquiry,
            (None, None) => return None,
        };
        let is_inquiry = service.kind == ContactKind::Inquiry;
        let opening = self.opening(rng, service, id, created_at)?;
        let new_report = opening.new_report;
        let expected_at = self.sla.expected_resolution(&new_report.department, &new_report.service_code, new_report.priority, created_at);
        let report = new_report.into_report(id, created_at, Some(expected_at));
        let created = created_event(&report, opening.created_by, opening.channel);
        let age_days = (now.as_second() - created_at.as_second()) / DAY;
        let mut story = Story {
            clock: created_at,
            now,
            // Recent reports are still being worked; a few old ones were left behind.
            stall_chance: if age_days < 30 { 0.05 } else { 0.006 },
            arabic: opening.arabic,
            group: group_of(service),
            agent: opening.agent,
            city_slug: opening.city_slug,
            scores: self.scores,
            events: vec![created],
            ratings: Vec::new(),
            report,
        };
        if is_inquiry {
            story.inquiry(rng);
        } else {
            story.report_lifecycle(rng, duplicate_of);
        }
        story.interaction_rating(rng);
        story.follow_ups(rng);
        story.events.sort_by_key(|e| e.at);
        let history = balagh_app::sla::status_history(&story.events);
        let next_due = self.sla.next_escalation_due(&story.report, &history, now);
        Some(SeedReport { report: story.report, events: story.events, ratings: story.ratings, next_due })
    }

    /// A contact as it is opened: the validated report a channel adapter would hand over for
    /// `service`, the channel it came through, who opened it, and the agent who handles it.
    /// `None` only if the draft fails validation, which would be a bug in the tables here.
    fn opening(&self, rng: &mut SmallRng, service: &Service, id: ReportId, created_at: Timestamp) -> Option<Opening> {
        let is_inquiry = service.kind == ContactKind::Inquiry;
        let channel = CHANNELS[if is_inquiry { self.inquiry_channels.sample(rng) } else { self.report_channels.sample(rng) }].0;
        let language = LANGUAGES[self.languages.sample(rng)].0;
        let arabic = language == "ar";
        let city = &CITIES[self.cities.sample(rng)];
        let district = city.districts.choose(rng).copied().unwrap_or(("", ""));
        let draft = self.draft(rng, service, channel, language, city, district, created_at, id);
        let new_report = match NewReport::validate(&draft, channel, self.catalogue) {
            Ok(report) => report,
            Err(errors) => {
                debug_assert!(false, "demo draft for '{}' is invalid: {errors:?}", service.code);
                tracing::warn!(service = %service.code, ?errors, "skipping an invalid demo draft");
                return None;
            }
        };
        let agent = Actor::new(Role::Agent, format!("agent-{:03}", rng.random_range(1..=80)));
        let created_by = match channel {
            Channel::Phone | Channel::WalkIn | Channel::Email | Channel::X | Channel::Facebook | Channel::Telegram => agent.clone(),
            Channel::Api => Actor::new(Role::Integration, "open311-partner"),
            Channel::System => Actor::system(),
            Channel::Ivr | Channel::App | Channel::Web | Channel::Whatsapp | Channel::Sms => Actor::beneficiary(),
        };
        Some(Opening { new_report, channel, arabic, city_slug: city.slug, agent, created_by })
    }

    /// The draft a channel adapter would hand over for this contact.
    #[allow(clippy::too_many_arguments)]
    fn draft(
        &self,
        rng: &mut SmallRng,
        service: &Service,
        channel: Channel,
        language: &'static str,
        city: &City,
        district: (&'static str, &'static str),
        created_at: Timestamp,
        id: ReportId,
    ) -> ReportDraft {
        let arabic = language == "ar";
        let place = if service.location_required { (format!("حي {}", district.0), district.1) } else { (city.name_ar.to_owned(), city.name_en) };
        let description = description(rng, service, arabic, (&place.0, place.1));

        let mut draft = ReportDraft {
            service_code: Some(service.code.clone()),
            description: Some(description),
            language: Some(language.to_owned()),
            ..ReportDraft::default()
        };

        // Urgency: mostly the service's default, sometimes raised or lowered by the agent.
        let priority = match rng.random_range(0..100) {
            0..8 => Priority::from_rank(service.default_priority.rank() + 1),
            8..13 => Priority::from_rank(service.default_priority.rank() - 1),
            _ => None,
        };
        draft.priority = priority.map(|p| p.as_str().to_owned());

        if service.location_required {
            let with_pin = match channel {
                Channel::App => 0.95,
                Channel::Whatsapp | Channel::Api => 0.85,
                Channel::Web => 0.75,
                _ => 0.45,
            };
            if rng.random_bool(with_pin) {
                draft.lat = Some(round6(rng.random_range(city.lat.0..city.lat.1)));
                draft.lon = Some(round6(rng.random_range(city.lon.0..city.lon.1)));
            }
            draft.address = Some(if arabic { format!("حي {}، {}", district.0, city.name_ar) } else { format!("{}, {}", district.1, city.name_en) });
            draft.city = Some(city.name_ar.to_owned());
            draft.district = Some(district.0.to_owned());
        } else if rng.random_bool(0.5) {
            draft.city = Some(city.name_ar.to_owned());
        }

        let with_phone = match channel {
            Channel::Phone | Channel::Ivr | Channel::Sms | Channel::Whatsapp | Channel::WalkIn => 1.0,
            Channel::App | Channel::Web => 0.85,
            Channel::X | Channel::Facebook | Channel::Telegram => 0.5,
            Channel::Email => 0.4,
            Channel::Api => 0.3,
            Channel::System => 0.0,
        };
        if rng.random_bool(with_phone) {
            draft.phone = Some(saudi_mobile(rng));
            draft.preferred_channel = match rng.random_range(0..100) {
                0..20 => Some("whatsapp".to_owned()),
                20..32 => Some("sms".to_owned()),
                _ => None,
            };
        }
        if rng.random_bool(0.6) {
            draft.name = Some(name(rng, language));
        }
        let with_email = match channel {
            Channel::Email => 1.0,
            Channel::App | Channel::Web => 0.3,
            _ => 0.05,
        };
        if rng.random_bool(with_email) {
            draft.email = Some(format!("resident{}@example.com", rng.random_range(1_000..1_000_000)));
        }
        if channel == Channel::App {
            draft.device_id = Some(format!("app-{:016x}", rng.random::<u64>()));
        }
        if matches!(channel, Channel::App | Channel::Web) && rng.random_bool(0.5) {
            draft.account_id = Some(format!("account-{}", rng.random_range(10_000..999_999)));
        }
        if matches!(channel, Channel::App | Channel::Whatsapp | Channel::Web | Channel::X) && service.location_required && rng.random_bool(0.45) {
            draft.media_urls = (1..=rng.random_range(1..=3)).map(|k| format!("media:demo/{}-{k}.jpg", id.0)).collect();
        }
        draft.attributes = answers(rng, service, arabic, created_at, id);
        draft
    }
}

/// A contact as it is opened, before anything happens to it.
#[derive(Debug, Clone)]
struct Opening {
    new_report: NewReport,
    channel: Channel,
    arabic: bool,
    city_slug: &'static str,
    /// The call-center agent who handles the contact.
    agent: Actor,
    created_by: Actor,
}

/// The first event of `report`'s timeline.
fn created_event(report: &Report, actor: Actor, channel: Channel) -> Event {
    Event {
        at: report.created_at,
        actor,
        channel,
        public: true,
        kind: EventKind::Created { kind: report.kind, service_code: report.service_code.clone(), priority: report.priority },
        note: None,
    }
}

/// The year before `now` in local hours, each weighted by how busy it is: more on working days
/// (Sunday to Thursday) and in working hours, and a little more in recent months.
struct Timeline {
    /// Each hour's first second and the second after its last (the current hour ends at `now`).
    hours: Vec<(i64, i64)>,
    /// The running total of the hours' weights.
    cumulative: Vec<f64>,
}

impl Timeline {
    fn new(now: Timestamp) -> Option<Timeline> {
        let now_second = now.as_second();
        let today = (now_second + LOCAL_OFFSET).div_euclid(DAY);
        let mut hours = Vec::with_capacity(365 * 24);
        let mut cumulative = Vec::with_capacity(365 * 24);
        let mut total = 0.0;
        for days_ago in (0..365).rev() {
            let day = today - days_ago;
            // 1970-01-01 was a Thursday; 0 is Sunday, 5 Friday and 6 Saturday.
            let weekday_weight = match (day + 4).rem_euclid(7) {
                5 => 0.45,
                6 => 0.6,
                _ => 1.0,
            };
            let growth = 0.75 + 0.25 * (1.0 - days_ago as f64 / 365.0);
            for (hour, hour_weight) in (0..).zip(HOUR_WEIGHTS) {
                let start = day * DAY + hour * 3600 - LOCAL_OFFSET;
                let end = (start + 3600).min(now_second);
                if end <= start {
                    continue;
                }
                total += weekday_weight * growth * f64::from(hour_weight) * (end - start) as f64 / 3600.0;
                hours.push((start, end));
                cumulative.push(total);
            }
        }
        (total > 0.0).then_some(Timeline { hours, cumulative })
    }

    /// The moment `point` (from 0 to 1) of the way through the year's contacts.
    fn at(&self, point: f64) -> Timestamp {
        let total = self.cumulative.last().copied().unwrap_or_default();
        let target = point.clamp(0.0, 1.0) * total;
        let index = self.cumulative.partition_point(|c| *c <= target).min(self.hours.len() - 1);
        let before = if index == 0 { 0.0 } else { self.cumulative[index - 1] };
        let within = ((target - before) / (self.cumulative[index] - before)).clamp(0.0, 1.0);
        let (start, end) = self.hours[index];
        let second = (start + (within * (end - start) as f64) as i64).min(end - 1);
        Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// Which closure a story is at: only a first one may be refused, and inquiries are rated per
/// contact rather than on closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    FirstTime,
    AfterRework,
    Inquiry,
}

/// One report's history as it is being lived.
struct Story {
    report: Report,
    events: Vec<Event>,
    ratings: Vec<RatingRecord>,
    /// When the latest thing happened.
    clock: Timestamp,
    now: Timestamp,
    /// The chance that work stops at any one step (the backlog).
    stall_chance: f64,
    arabic: bool,
    group: &'static str,
    /// The call-center agent who handles the contact.
    agent: Actor,
    city_slug: &'static str,
    scores: Scores,
}

impl Story {
    /// Applies `command` `seconds` after the latest step. False when that moment is after `now`
    /// (the story is not over yet) or, which would be a bug here, the lifecycle refuses.
    fn step(&mut self, seconds: f64, command: Command, actor: &Actor, channel: Channel) -> bool {
        let at = later(self.clock, seconds);
        self.step_at(at, command, actor, channel)
    }

    fn step_at(&mut self, at: Timestamp, command: Command, actor: &Actor, channel: Channel) -> bool {
        if at > self.now {
            return false;
        }
        let name = command.name();
        match lifecycle::apply(&self.report, command, actor, channel, at) {
            Ok(transition) => {
                self.record(transition);
                true
            }
            Err(error) => {
                debug_assert!(false, "demo step '{name}' refused: {error}");
                tracing::warn!(%error, command = name, "demo lifecycle step refused");
                false
            }
        }
    }

    /// Stores a transition's outcome on the report, as the application does.
    fn record(&mut self, transition: Transition) {
        let report = &mut self.report;
        report.status = transition.to;
        if let Some(assignment) = transition.assignment {
            report.assignment = assignment;
        }
        if let Some(note) = transition.status_note {
            report.status_note = Some(note);
        }
        if transition.duplicate_of.is_some() {
            report.duplicate_of = transition.duplicate_of;
        }
        match transition.to {
            Status::Resolved => report.resolved_at = Some(transition.at),
            Status::Reopened => {
                report.resolved_at = None;
                report.closed_at = None;
            }
            _ => {}
        }
        if transition.to.is_terminal() {
            report.closed_at = Some(transition.at);
        }
        report.updated_at = transition.at;
        self.clock = transition.at;
        self.events.extend(transition.events);
    }

    fn stalls(&self, rng: &mut SmallRng) -> bool {
        rng.random_bool(self.stall_chance)
    }

    /// Held and waiting reports are the ones most often left waiting.
    fn stalls_while_waiting(&self, rng: &mut SmallRng) -> bool {
        rng.random_bool((self.stall_chance * 5.0).min(1.0))
    }

    fn note(&self, rng: &mut SmallRng, notes: &[(&'static str, &'static str)]) -> String {
        let (ar, en) = notes.choose(rng).copied().unwrap_or(("تم", "Done"));
        if self.arabic { ar } else { en }.to_owned()
    }

    /// The channel an agent works a contact through: the conversation's own, or the back office.
    fn agent_channel(&self) -> Channel {
        match self.report.channel {
            c @ (Channel::Phone | Channel::WalkIn | Channel::Whatsapp | Channel::X | Channel::Facebook | Channel::Telegram | Channel::Email) => c,
            _ => Channel::Web,
        }
    }

    /// The channel the beneficiary answers through later (confirmations, ratings).
    fn beneficiary_channel(&self) -> Channel {
        match self.report.channel {
            Channel::Phone | Channel::Ivr => Channel::Ivr,
            Channel::WalkIn | Channel::Api | Channel::Email => Channel::Sms,
            other => other,
        }
    }

    fn staff(&self, rng: &mut SmallRng) -> Actor {
        let department = self.report.assignment.department.clone();
        Actor { role: Role::Staff, id: Some(format!("{department}-{:02}", rng.random_range(1..=40))), department: Some(department), position: None }
    }

    fn supervisor(&self) -> Actor {
        Actor::new(Role::Supervisor, format!("supervisor-{}", self.report.assignment.department))
    }

    fn assign(&self, staff: &Actor) -> Command {
        let department = self.report.assignment.department.clone();
        Command::Assign { team: Some(format!("{department}-{}", self.city_slug)), user: staff.id.clone(), department }
    }

    /// A report, complaint or suggestion: triage, dispatch, field work, resolution, closure.
    fn report_lifecycle(&mut self, rng: &mut SmallRng, duplicate_of: Option<ReportId>) {
        let speed = speed(self.report.priority);
        let agent = self.agent.clone();
        let agent_channel = self.agent_channel();
        if self.stalls(rng) {
            return;
        }
        let triage = exponential(rng, 2.0 * speed);
        let roll: f64 = rng.random();
        if roll < 0.03 {
            let reason = self.note(rng, REJECTIONS);
            self.step(triage, Command::Reject { reason }, &agent, agent_channel);
            return;
        }
        if roll < 0.06
            && let Some(original) = duplicate_of
        {
            self.step(triage, Command::MarkDuplicate { original }, &agent, agent_channel);
            return;
        }
        // Acknowledged reports wait for dispatch; some wait a long time.
        if rng.random_bool(0.2)
            && (!self.step(rng.random_range(60.0..1800.0), Command::Acknowledge, &Actor::system(), Channel::Api) || self.stalls_while_waiting(rng))
        {
            return;
        }
        let mut staff = self.staff(rng);
        let dispatcher = match rng.random_range(0..10) {
            0..6 => agent.clone(),
            6..9 => self.supervisor(),
            _ => Actor::system(),
        };
        let dispatch_channel = if dispatcher.role == Role::Agent { agent_channel } else { Channel::Web };
        if !self.step(triage, self.assign(&staff), &dispatcher, dispatch_channel) || self.stalls(rng) {
            return;
        }
        // On site, staff sometimes find it is not theirs to fix or already reported.
        let roll: f64 = rng.random();
        if roll < 0.02 {
            let reason = self.note(rng, REJECTIONS);
            self.step(exponential(rng, 12.0 * speed), Command::Reject { reason }, &staff, Channel::Web);
            return;
        }
        if roll < 0.035
            && let Some(original) = duplicate_of
        {
            self.step(exponential(rng, 12.0 * speed), Command::MarkDuplicate { original }, &staff, Channel::Web);
            return;
        }
        if !self.step(exponential(rng, 20.0 * speed), Command::Start, &staff, Channel::Web) || !self.work(rng, &staff, speed) {
            return;
        }
        if !self.close(rng, Closing::FirstTime) {
            return;
        }
        // Reopened by the beneficiary: back to the field once, often after a wait.
        if self.report.status != Status::Reopened || self.stalls_while_waiting(rng) || self.stalls_while_waiting(rng) {
            return;
        }
        if rng.random_bool(0.3) {
            staff = self.staff(rng);
            if !self.step(exponential(rng, 6.0), self.assign(&staff), &self.supervisor(), Channel::Web) {
                return;
            }
        }
        if self.step(exponential(rng, 12.0 * speed), Command::Start, &staff, Channel::Web) && self.work(rng, &staff, speed) {
            self.close(rng, Closing::AfterRework);
        }
    }

    /// From in progress to resolved, perhaps by way of a hold or a question to the beneficiary.
    /// False when the story stops before the resolution.
    fn work(&mut self, rng: &mut SmallRng, staff: &Actor, speed: f64) -> bool {
        if rng.random_bool(0.10) {
            let reason = self.note(rng, HOLD_REASONS);
            if !self.step(exponential(rng, 24.0 * speed), Command::Hold { reason }, staff, Channel::Web) || self.stalls_while_waiting(rng) {
                return false;
            }
            if !self.step(exponential(rng, 120.0), Command::Resume, staff, Channel::Web) {
                return false;
            }
        }
        if rng.random_bool(0.08) {
            let question = self.note(rng, QUESTIONS);
            if !self.step(exponential(rng, 12.0 * speed), Command::AwaitCitizen { question }, staff, Channel::Web) || self.stalls_while_waiting(rng) {
                return false;
            }
            let (who, channel) =
                if rng.random_bool(0.8) { (Actor::beneficiary(), self.beneficiary_channel()) } else { (self.agent.clone(), self.agent_channel()) };
            if !self.step(exponential(rng, 30.0), Command::Resume, &who, channel) {
                return false;
            }
        }
        if self.stalls(rng) {
            return false;
        }
        let resolution = self.note(rng, resolutions(self.group));
        self.step(exponential(rng, 48.0 * speed), Command::Resolve { resolution }, staff, Channel::Web)
    }

    /// From resolved to closed (or straight back to work), then perhaps a closure rating. True
    /// when the story went on to closure or reopening.
    fn close(&mut self, rng: &mut SmallRng, closing: Closing) -> bool {
        let may_reopen = closing == Closing::FirstTime;
        if self.stalls(rng) {
            return false;
        }
        let beneficiary = Actor::beneficiary();
        let channel = self.beneficiary_channel();
        if may_reopen && rng.random_bool(0.03) {
            let reason = self.note(rng, REOPEN_REASONS);
            return self.step(exponential(rng, 20.0), Command::Reopen { reason }, &beneficiary, channel);
        }
        let closed = if rng.random_bool(0.45) {
            self.step(exponential(rng, 10.0).min(AUTO_CLOSE_HOURS * HOUR - 60.0), Command::Close, &beneficiary, channel)
        } else {
            self.step(AUTO_CLOSE_HOURS * HOUR, Command::Close, &Actor::system(), Channel::Api)
        };
        if !closed || closing == Closing::Inquiry || !rng.random_bool(0.22) {
            return closed;
        }
        let at = later(self.clock, exponential(rng, 4.0));
        if at > self.now {
            return true;
        }
        let late = self.report.resolved_at > self.report.expected_at;
        let rating = closure_rating(rng, self.scores, may_reopen, late, self.arabic);
        let reopens = rating.reopens();
        self.ratings.push(RatingRecord { rating: Rating::Closure(rating.clone()), channel, at });
        self.events.push(Event { at, actor: beneficiary.clone(), channel, public: false, kind: EventKind::ClosureRated { rating }, note: None });
        self.clock = at;
        if reopens {
            // A rating that does not accept the fix sends the report back to work at once.
            let reason = self.note(rng, REOPEN_REASONS);
            self.step_at(at, Command::Reopen { reason }, &beneficiary, channel);
        }
        true
    }

    /// An inquiry: mostly answered at first contact, otherwise by the department.
    fn inquiry(&mut self, rng: &mut SmallRng) {
        let agent = self.agent.clone();
        let agent_channel = self.agent_channel();
        if self.stalls(rng) {
            return;
        }
        if rng.random_bool(0.01) {
            let reason = self.note(rng, REJECTIONS);
            self.step(exponential(rng, 2.0), Command::Reject { reason }, &agent, agent_channel);
            return;
        }
        let answer = self.note(rng, INQUIRY_ANSWERS);
        let answered = if rng.random_bool(0.72) {
            self.step(rng.random_range(60.0..900.0), Command::Resolve { resolution: answer }, &agent, agent_channel)
        } else {
            let staff = self.staff(rng);
            self.step(exponential(rng, 2.0), self.assign(&staff), &agent, agent_channel)
                && !self.stalls(rng)
                && self.step(exponential(rng, 24.0), Command::Resolve { resolution: answer }, &staff, Channel::Web)
        };
        if answered {
            self.close(rng, Closing::Inquiry);
        }
    }

    /// Some contacts handled by an agent are rated in the survey that follows.
    fn interaction_rating(&mut self, rng: &mut SmallRng) {
        if !matches!(self.report.channel, Channel::Phone | Channel::WalkIn | Channel::Whatsapp) || !rng.random_bool(0.12) {
            return;
        }
        let at = later(self.report.created_at, rng.random_range(120.0..900.0));
        if at > self.now {
            return;
        }
        let channel = if self.report.channel == Channel::Phone { Channel::Ivr } else { self.beneficiary_channel() };
        let rating =
            InteractionRating { agent_service: self.scores.draw(rng, false), answer_quality: self.scores.draw(rng, false), agent: self.agent.id.clone() };
        self.ratings.push(RatingRecord { rating: Rating::Interaction(rating.clone()), channel, at });
        self.events.push(Event { at, actor: Actor::beneficiary(), channel, public: false, kind: EventKind::InteractionRated { rating }, note: None });
    }

    /// Beneficiaries whose report stayed open for days ask again about it.
    fn follow_ups(&mut self, rng: &mut SmallRng) {
        let settled = self.events.iter().find_map(|e| match e.kind {
            EventKind::StatusChanged { to, .. } if to == Status::Resolved || to.is_terminal() => Some(e.at),
            _ => None,
        });
        let from = self.report.created_at.as_second() + 2 * DAY;
        let until = settled.unwrap_or(self.now).as_second();
        if until - from < DAY || !rng.random_bool(0.25) {
            return;
        }
        let mut times: Vec<i64> = (0..rng.random_range(1..=3)).map(|_| rng.random_range(from..until)).collect();
        times.sort_unstable();
        let channel = match self.report.channel {
            Channel::Api | Channel::Email => Channel::Phone,
            other => other,
        };
        for (n, second) in (1u32..).zip(times) {
            let at = Timestamp::from_second(second).unwrap_or(self.report.created_at);
            self.events.push(Event { at, actor: Actor::beneficiary(), channel, public: true, kind: EventKind::FollowedUp { n_follow_ups: n }, note: None });
            self.report.n_follow_ups = n;
            self.report.updated_at = self.report.updated_at.max(at);
        }
    }
}

fn later(at: Timestamp, seconds: f64) -> Timestamp {
    at + SignedDuration::from_secs(seconds.max(60.0) as i64)
}

/// An exponentially distributed delay with the given mean in hours, in seconds, at most 60 days.
fn exponential(rng: &mut SmallRng, mean_hours: f64) -> f64 {
    let u: f64 = rng.random();
    (-mean_hours * HOUR * (1.0 - u).ln()).min(60.0 * DAY as f64)
}

/// How much faster than a normal report urgent work moves.
fn speed(priority: Priority) -> f64 {
    match priority {
        Priority::Emergency => 0.05,
        Priority::Urgent => 0.2,
        Priority::High => 0.5,
        Priority::Normal => 1.0,
        Priority::Low => 1.6,
    }
}

/// The scores 1 to 5, made once (`Score` has only a checking constructor).
#[derive(Debug, Clone, Copy)]
struct Scores([Score; 5]);

impl Scores {
    fn new() -> Option<Scores> {
        let [a, b, c, d, e] = [1, 2, 3, 4, 5].map(|v| Score::new("score", v).ok());
        Some(Scores([a?, b?, c?, d?, e?]))
    }

    /// A beneficiary's score: mostly content. An `accepting` one is never below 3.
    fn draw(self, rng: &mut SmallRng, accepting: bool) -> Score {
        let value = match rng.random_range(0..100) {
            0..42 => 5,
            42..72 => 4,
            72..86 => 3,
            86..94 if !accepting => 2,
            _ if !accepting => 1,
            _ => 3,
        };
        self.0[value - 1]
    }

    /// How a beneficiary scores the speed of work that came after the promised time.
    fn draw_late(self, rng: &mut SmallRng) -> Score {
        let value = match rng.random_range(0..100) {
            0..25 => 1,
            25..60 => 2,
            60..90 => 3,
            _ => 4,
        };
        self.0[value - 1]
    }
}

fn closure_rating(rng: &mut SmallRng, scores: Scores, may_reopen: bool, late: bool, arabic: bool) -> ClosureRating {
    let quality = scores.draw(rng, !may_reopen);
    let speed = if late { scores.draw_late(rng) } else { scores.draw(rng, false) };
    let not_fixed = may_reopen && quality.value() > 2 && rng.random_bool(0.03);
    let comment = rng.random_bool(0.2).then(|| {
        let (ar, en) = if quality.value() >= 4 {
            ("شكراً على سرعة الاستجابة", "Thank you for the quick response")
        } else {
            ("تأخر التنفيذ", "It took too long")
        };
        if arabic { ar } else { en }.to_owned()
    });
    ClosureRating { quality, speed, comment, not_fixed }
}

fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// A random Saudi mobile number as a person would type it: 05, an operator digit, seven digits.
/// 052 and 05799 are not allocated, so they are never drawn.
fn saudi_mobile(rng: &mut SmallRng) -> String {
    let operator = [0, 3, 4, 5, 6, 7, 8, 9].choose(rng).copied().unwrap_or(5);
    let most = if operator == 7 { 9_900_000 } else { 10_000_000 };
    format!("05{operator}{:07}", rng.random_range(0..most))
}

fn name(rng: &mut SmallRng, language: &str) -> String {
    let names: &[&str] = match language {
        "ar" => {
            let first = ARABIC_FIRST_NAMES.choose(rng).copied().unwrap_or("محمد");
            let family = ARABIC_FAMILY_NAMES.choose(rng).copied().unwrap_or("الدوسري");
            return format!("{first} {family}");
        }
        "ur" => &["Muhammad Imran", "Asif Khan", "Bilal Ahmed", "Usman Ali", "Zahid Hussain", "Naveed Akhtar"],
        "hi" => &["Rajesh Kumar", "Suresh Nair", "Anil Sharma", "Priya Menon", "Mohammed Rafi", "Vijay Pillai"],
        "bn" => &["Abdul Karim", "Rahim Uddin", "Jahangir Alam", "Shahidul Islam", "Nasir Hossain"],
        "fil" => &["Maria Santos", "Jose Reyes", "Mark Dela Cruz", "Angelica Garcia", "Ramon Bautista"],
        "id" => &["Siti Rahayu", "Budi Santoso", "Dewi Lestari", "Agus Setiawan", "Nur Hidayah"],
        _ => &["Mohammed Al-Otaibi", "Ahmed Hassan", "Omar Farouk", "Sarah Thompson", "John Smith", "Fatima Al-Zahrani", "Khalid Al-Mutairi"],
    };
    names.choose(rng).copied().unwrap_or("Resident").to_owned()
}

/// Valid answers to the service's questions: every required one, some optional ones.
fn answers(rng: &mut SmallRng, service: &Service, arabic: bool, created_at: Timestamp, id: ReportId) -> BTreeMap<String, Vec<String>> {
    let mut answers = BTreeMap::new();
    for attribute in service.attributes.iter().filter(|a| a.variable) {
        if !attribute.required && !rng.random_bool(0.35) {
            continue;
        }
        let values = match attribute.datatype {
            Datatype::Singlevaluelist => attribute.values.choose(rng).map(|v| vec![v.key.clone()]).unwrap_or_default(),
            Datatype::Multivaluelist => {
                let count = rng.random_range(1..=attribute.values.len().clamp(1, 2));
                attribute.values.choose_multiple(rng, count).map(|v| v.key.clone()).collect()
            }
            Datatype::Number => vec![number_answer(rng, attribute).to_string()],
            Datatype::Datetime => {
                let before = rng.random_range(10..72 * 60) * 60;
                let second = (created_at.as_second() - before).div_euclid(60) * 60;
                vec![Timestamp::from_second(second).unwrap_or(created_at).to_string()]
            }
            Datatype::String => vec![string_answer(rng, attribute, arabic, id)],
            Datatype::Text => vec![
                if arabic {
                    "تكرر الأمر أكثر من مرة ولم يتم اتخاذ أي إجراء حتى الآن"
                } else {
                    "This has happened more than once and nothing has been done so far"
                }
                .to_owned(),
            ],
        };
        if !values.is_empty() {
            answers.insert(attribute.code.clone(), values);
        }
    }
    answers
}

fn number_answer(rng: &mut SmallRng, attribute: &Attribute) -> u32 {
    let most = match attribute.code.as_str() {
        "affected_poles" => 6,
        "estimated_loads" => 5,
        "affected_count" => 12,
        "dog_count" => 8,
        _ => 5,
    };
    rng.random_range(1..=most)
}

fn string_answer(rng: &mut SmallRng, attribute: &Attribute, arabic: bool, id: ReportId) -> String {
    let pick = |rng: &mut SmallRng, ar: &[&str], en: &[&str]| if arabic { ar.choose(rng) } else { en.choose(rng) }.copied().unwrap_or("-").to_owned();
    match attribute.code.as_str() {
        "establishment_name" => pick(
            rng,
            &["مطعم ليالي الشرقية", "بوفيه الخليج", "مخبز الديرة", "بقالة النخيل"],
            &["Gulf Grill Restaurant", "Corniche Cafeteria", "Al Deira Bakery", "Palm Grocery"],
        ),
        "product_name" => pick(rng, &["حليب طازج", "لبن", "دجاج مبرد", "عصير برتقال"], &["Fresh milk", "Laban", "Chilled chicken", "Orange juice"]),
        "vehicle_plate" | "plate_number" => {
            const LETTERS: &[u8] = b"ABDEGHJKLNRSTUVXZ";
            let letter = |rng: &mut SmallRng| char::from(LETTERS.choose(rng).copied().unwrap_or(b'A'));
            format!("{}{}{} {:04}", letter(rng), letter(rng), letter(rng), rng.random_range(1..10_000))
        }
        "pole_number" => format!("P-{:05}", rng.random_range(1..100_000)),
        "employee_name" => name(rng, if arabic { "ar" } else { "en" }),
        "previous_request_id" => ReportId((id.0 - rng.random_range(1..50_000)).max(1)).ticket().to_string(),
        _ => pick(rng, &["انظر الوصف"], &["See the description"]),
    }
}

/// The share of reports each service group gets; waste, roads and lighting lead.
fn group_weight(group: &str) -> f64 {
    match group {
        "cleanliness" => 26.0,
        "roads" => 20.0,
        "lighting" => 15.0,
        "drainage" => 7.0,
        "health" => 7.0,
        "parks" => 6.0,
        "buildings" => 5.0,
        "animals" => 5.0,
        "visual" => 4.0,
        "markets" => 3.0,
        "general" => 4.0,
        _ => 3.0,
    }
}

/// The group's code as one of the template keys here.
fn group_of(service: &Service) -> &'static str {
    GROUPS.iter().copied().find(|g| *g == service.group).unwrap_or("other")
}

const GROUPS: &[&str] = &["cleanliness", "roads", "lighting", "parks", "drainage", "health", "buildings", "animals", "visual", "markets", "general"];

/// Local hours 0 to 23: quiet at night, busiest in the morning.
const HOUR_WEIGHTS: [u32; 24] = [1, 1, 1, 1, 1, 2, 3, 6, 10, 12, 12, 11, 9, 9, 9, 8, 7, 6, 6, 7, 7, 6, 4, 2];

/// Channels with their weights for reports and for inquiries.
const CHANNELS: [(Channel, u32, u32); 12] = [
    (Channel::Phone, 26, 45),
    (Channel::Ivr, 4, 10),
    (Channel::App, 20, 5),
    (Channel::Web, 12, 8),
    (Channel::Whatsapp, 16, 20),
    (Channel::X, 3, 3),
    (Channel::Facebook, 1, 1),
    (Channel::Telegram, 1, 1),
    (Channel::Sms, 3, 1),
    (Channel::Email, 3, 3),
    (Channel::WalkIn, 4, 3),
    (Channel::Api, 7, 0),
];

/// The beneficiaries' languages: mostly Arabic, then English and the residents' languages.
const LANGUAGES: [(&str, u32); 7] = [("ar", 70), ("en", 12), ("ur", 6), ("hi", 5), ("bn", 3), ("fil", 2), ("id", 2)];

const ARABIC_FIRST_NAMES: &[&str] =
    &["محمد", "عبدالله", "فهد", "خالد", "سعود", "أحمد", "علي", "حسين", "عبدالرحمن", "سلمان", "فاطمة", "نورة", "سارة", "مريم", "ريم", "هند"];
const ARABIC_FAMILY_NAMES: &[&str] =
    &["الدوسري", "الغامدي", "القحطاني", "العتيبي", "الشمري", "الزهراني", "الهاجري", "المطيري", "الخالدي", "البوعلي", "النعيمي", "العمران", "الملا"];

/// What the beneficiary wrote: the service's own name with where it is and a detail, or for
/// inquiries, complaints and suggestions a sentence of their own. `place` is Arabic and English.
fn description(rng: &mut SmallRng, service: &Service, arabic: bool, place: (&str, &str)) -> String {
    let templates: (&[&str], &[&str]) = match (service.kind, service.code.as_str()) {
        (ContactKind::Inquiry, _) => (
            &[
                "استفسار عن مواعيد عمل البلدية الفرعية في {place}",
                "كيف أستخرج رخصة بناء؟",
                "متى يتم جمع النفايات في {place}؟",
                "استفسار عن حالة بلاغ سابق",
                "ما هي اشتراطات رخصة المحل التجاري؟",
            ],
            &[
                "What are the opening hours of the branch municipality in {place}?",
                "How do I apply for a building permit?",
                "When is waste collected in {place}?",
                "Asking about the status of an earlier report",
                "What do I need for a shop licence?",
            ],
        ),
        (_, "staff-complaint") => (
            &["سوء تعامل من موظف في مكتب الخدمة في {place}", "الموظف رفض استلام طلبي دون سبب واضح"],
            &["Rude treatment by an employee at the service office in {place}", "The employee refused to take my request without a clear reason"],
        ),
        (ContactKind::Complaint, _) => (
            &["تأخر الرد على بلاغي السابق لأكثر من أسبوعين", "تم إغلاق بلاغي دون معالجة المشكلة", "لم تتم معالجة البلاغ بالشكل المطلوب"],
            &[
                "My earlier report has had no answer for more than two weeks",
                "My report was closed but the problem was not fixed",
                "The report was not handled properly",
            ],
        ),
        (_, "compliment") => (
            &["شكراً لفريق البلدية على سرعة الاستجابة", "شكر وتقدير لفريق النظافة في {place}"],
            &["Thank you to the municipality team for the quick response", "Many thanks to the cleaning crew in {place}"],
        ),
        (ContactKind::Suggestion, _) => (
            &["أقترح زيادة عدد الحاويات في {place}", "أقترح إضافة ممرات مشاة ومسارات للدراجات في {place}", "أقترح إتاحة متابعة البلاغات عبر واتساب"],
            &["I suggest more waste containers in {place}", "Please add walkways and cycle lanes in {place}", "Please let us follow reports on WhatsApp"],
        ),
        (ContactKind::Report, _) => {
            let (ar, en) = DETAILS.choose(rng).copied().unwrap_or(("", ""));
            return if arabic { format!("{} في {} {ar}", service.name_ar, place.0) } else { format!("{} in {}, {en}", service.name_en, place.1) };
        }
    };
    let (list, place) = if arabic { (templates.0, place.0) } else { (templates.1, place.1) };
    list.choose(rng).copied().unwrap_or_default().replace("{place}", place)
}

/// What a beneficiary adds after naming the problem and the place, in Arabic and English.
const DETAILS: &[(&str, &str)] = &[
    ("منذ عدة أيام", "for several days now"),
    ("ويشكل خطراً على المارة", "and it is a danger to people walking by"),
    ("نرجو سرعة المعالجة", "please deal with it quickly"),
    ("بالقرب من المسجد", "near the mosque"),
    ("أمام المدرسة", "in front of the school"),
    ("وتكررت المشكلة أكثر من مرة", "and it keeps happening"),
    ("على الشارع الرئيسي", "on the main street"),
    ("خلف السوق", "behind the market"),
];

type Notes = &'static [(&'static str, &'static str)];

fn resolutions(group: &str) -> Notes {
    match group {
        "cleanliness" => {
            &[("تمت المعالجة وتنظيف الموقع", "Dealt with and the site cleaned"), ("تمت معالجة البلاغ من قبل فريق النظافة", "The cleaning team dealt with it")]
        }
        "roads" => &[
            ("تم إصلاح الموقع من قبل فريق الطرق", "The roads team repaired the site"),
            ("تمت الصيانة وإعادة الطريق إلى وضعه الطبيعي", "Repaired and the road restored"),
        ],
        "lighting" => &[
            ("تمت صيانة الإنارة في الموقع", "The lighting at the site was serviced"),
            ("تمت معالجة البلاغ من قبل فريق الإنارة", "The lighting team dealt with it"),
        ],
        "drainage" => &[
            ("تمت معالجة الموقع من قبل فريق التصريف", "The drainage team dealt with the site"),
            ("تم شفط المياه وتأمين الموقع", "The water was pumped out and the site made safe"),
        ],
        "health" | "markets" | "buildings" => &[
            ("تمت زيارة الموقع وتحرير مخالفة", "The site was inspected and a violation issued"),
            ("تم إنذار المخالف وإزالة المخالفة", "The offender was warned and the violation removed"),
        ],
        "general" => &[
            ("تمت دراسة الملاحظة والرد على صاحبها", "The matter was reviewed and answered"),
            ("شكراً لملاحظتك، تم تحويلها للجهة المختصة", "Thank you; it was passed to the team concerned"),
        ],
        _ => &[("تمت المعالجة من قبل الفريق الميداني", "Fixed by the field team"), ("تمت معالجة البلاغ", "The report was dealt with")],
    }
}

const INQUIRY_ANSWERS: Notes = &[
    ("تمت الإجابة على الاستفسار", "The question was answered"),
    ("تم تزويد المستفيد بالمعلومات المطلوبة", "The beneficiary was given the information asked for"),
    ("تم توجيه المستفيد إلى منصة بلدي", "The beneficiary was directed to the online services portal"),
];
const REJECTIONS: Notes = &[
    ("خارج نطاق اختصاص البلدية", "Outside the municipality's responsibility"),
    ("الموقع ملكية خاصة", "The site is private property"),
    ("المعلومات غير كافية لتحديد الموقع", "Not enough information to find the site"),
];
const HOLD_REASONS: Notes = &[
    ("بانتظار توفر المواد", "Waiting for materials"),
    ("بانتظار تصريح من جهة أخرى", "Waiting for a permit from another authority"),
    ("بانتظار المقاول", "Waiting for the contractor"),
];
const QUESTIONS: Notes = &[("نرجو تحديد الموقع بدقة", "Please give the exact location"), ("نرجو إرسال صورة للموقع", "Please send a photo of the site")];
const REOPEN_REASONS: Notes = &[("المشكلة ما زالت قائمة", "The problem is still there"), ("تمت المعالجة بشكل جزئي فقط", "It was only partly fixed")];

#[cfg(test)]
mod tests {
    use super::*;
    use balagh_domain::catalogue::AttributeAnswer;
    use std::collections::{BTreeSet, HashMap};

    const CATALOGUE: &str = include_str!("../../../catalogue/eastern-province.toml");

    fn sla() -> SlaSettings {
        SlaSettings::eastern_province(&catalogue()).unwrap()
    }

    fn catalogue() -> Catalogue {
        Catalogue::from_toml(CATALOGUE).unwrap()
    }

    fn now() -> Timestamp {
        "2026-03-15T09:30:00Z".parse().unwrap()
    }

    fn generate(seed: u64, n: i64) -> Vec<SeedReport> {
        let ids: Vec<i64> = (1_000_000..1_000_000 + n).collect();
        generate_chunk(&mut SmallRng::seed_from_u64(seed), &catalogue(), &sla(), &ids, now(), 0.0..1.0)
    }

    #[test]
    fn every_history_is_a_legal_walk_ending_in_the_reports_status() {
        let now = now();
        for seed in generate(7, 2_000) {
            let report = &seed.report;
            let events = &seed.events;
            assert!(matches!(events[0].kind, EventKind::Created { .. }), "{:?}", events[0]);
            assert_eq!(events[0].at, report.created_at);
            assert!(events.windows(2).all(|w| w[0].at <= w[1].at), "events out of order for {}", report.id.0);
            assert!(events.iter().all(|e| e.at <= now));
            let mut status = Status::New;
            for event in events {
                if let EventKind::StatusChanged { from, to } = event.kind {
                    assert_eq!(from, status, "report {}", report.id.0);
                    status = to;
                }
            }
            assert_eq!(status, report.status, "report {}", report.id.0);
            if report.status == Status::New {
                assert!(events.iter().all(|e| !matches!(e.kind, EventKind::StatusChanged { .. } | EventKind::Assigned { .. })));
            }
            assert_eq!(report.resolved_at.is_some(), matches!(report.status, Status::Resolved | Status::Closed), "report {}", report.id.0);
            assert_eq!(report.closed_at.is_some(), report.status.is_terminal());
            assert_eq!(report.duplicate_of.is_some(), report.status == Status::Duplicate);
            assert!(report.updated_at >= report.created_at && report.updated_at <= now);
            let follow_ups = events.iter().filter(|e| matches!(e.kind, EventKind::FollowedUp { .. })).count();
            assert_eq!(report.n_follow_ups as usize, follow_ups);
            let rating_events = events.iter().filter(|e| matches!(e.kind, EventKind::ClosureRated { .. } | EventKind::InteractionRated { .. })).count();
            assert_eq!(seed.ratings.len(), rating_events);
        }
    }

    #[test]
    fn every_status_appears_and_old_reports_are_mostly_settled() {
        let seeds = generate(7, 2_000);
        let statuses: BTreeSet<Status> = seeds.iter().map(|s| s.report.status).collect();
        assert_eq!(statuses.len(), Status::ALL.len(), "missing: {:?}", Status::ALL.iter().filter(|s| !statuses.contains(s)).collect::<Vec<_>>());
        let month_ago = now() - SignedDuration::from_hours(30 * 24);
        let (old, recent): (Vec<&SeedReport>, Vec<&SeedReport>) = seeds.iter().partition(|s| s.report.created_at < month_ago);
        let open_share = |group: &[&SeedReport]| group.iter().filter(|s| !s.report.status.is_terminal()).count() as f64 / group.len() as f64;
        assert!(open_share(&old) < 0.1, "old open share {}", open_share(&old));
        assert!(open_share(&recent) > open_share(&old));
    }

    #[test]
    fn about_a_quarter_of_contacts_are_inquiries_and_some_are_complaints_and_suggestions() {
        let seeds = generate(11, 2_000);
        let count = |kind: ContactKind| seeds.iter().filter(|s| s.report.kind == kind).count() as f64 / seeds.len() as f64;
        let inquiries = count(ContactKind::Inquiry);
        assert!((0.2..=0.3).contains(&inquiries), "inquiries {inquiries}");
        assert!(seeds.iter().filter(|s| s.report.kind == ContactKind::Inquiry).all(|s| s.report.service_code == INQUIRY_SERVICE));
        assert!(count(ContactKind::Complaint) > 0.0 && count(ContactKind::Suggestion) > 0.0);
        assert!(count(ContactKind::Report) > 0.6);
    }

    #[test]
    fn waste_roads_and_lighting_lead() {
        let seeds = generate(3, 2_000);
        let mut by_department: HashMap<&str, usize> = HashMap::new();
        for seed in seeds.iter().filter(|s| s.report.kind == ContactKind::Report) {
            *by_department.entry(seed.report.assignment.department.as_str()).or_default() += 1;
        }
        let leaders = ["cleanliness", "roads", "lighting"].map(|d| by_department.get(d).copied().unwrap_or(0));
        let others = by_department.iter().filter(|(d, _)| !["cleanliness", "roads", "lighting"].contains(d)).map(|(_, n)| *n).max().unwrap_or(0);
        assert!(leaders.iter().all(|n| *n > others), "{by_department:?}");
    }

    #[test]
    fn places_times_and_answers_are_valid() {
        let catalogue = catalogue();
        let now = now();
        let year_ago = now - SignedDuration::from_hours(366 * 24);
        let seeds = generate(5, 2_000);
        for seed in &seeds {
            let report = &seed.report;
            let service = catalogue.service(&report.service_code).unwrap();
            match report.location.coordinates {
                Some(point) => {
                    assert!(service.location_required);
                    assert!((24.5..=28.6).contains(&point.lat()) && (48.0..=50.9).contains(&point.lon()), "{point:?}");
                }
                None if service.location_required => assert!(report.location.address.is_some()),
                None => {}
            }
            assert!(report.created_at > year_ago && report.created_at < now, "{}", report.created_at);
            let raw: BTreeMap<String, Vec<String>> = report
                .attributes
                .iter()
                .map(|(code, answer)| {
                    let values = match answer {
                        AttributeAnswer::One(value) => vec![value.clone()],
                        AttributeAnswer::Many(values) => values.clone(),
                    };
                    (code.clone(), values)
                })
                .collect();
            assert_eq!(service.validate_answers(&raw).as_ref(), Ok(&report.attributes));
            if matches!(report.channel, Channel::Phone | Channel::Ivr | Channel::Sms | Channel::Whatsapp | Channel::WalkIn) {
                assert!(report.contact.phone.as_ref().is_some_and(|p| p.as_str().starts_with("+9665")));
            }
        }
        let channels: BTreeSet<Channel> = seeds.iter().map(|s| s.report.channel).collect();
        assert_eq!(channels.len(), Channel::ALL.len() - 1, "every channel but system");
        let languages: BTreeSet<&str> = seeds.iter().map(|s| s.report.contact.language.as_str()).collect();
        assert_eq!(languages.len(), LANGUAGES.len());
        let arabic = seeds.iter().filter(|s| s.report.contact.language.as_str() == "ar").count();
        assert!(arabic * 2 > seeds.len());
        let weekday = |s: &&SeedReport| {
            let local = s.report.created_at.as_second() + LOCAL_OFFSET;
            !matches!((local.div_euclid(DAY) + 4).rem_euclid(7), 5 | 6)
        };
        assert!(seeds.iter().filter(weekday).count() as f64 > 0.75 * seeds.len() as f64);
    }

    #[test]
    fn ratings_and_follow_ups_are_present_but_modest() {
        let seeds = generate(9, 2_000);
        let closure = seeds.iter().flat_map(|s| &s.ratings).filter(|r| matches!(r.rating, Rating::Closure(_))).count();
        let interaction = seeds.iter().flat_map(|s| &s.ratings).filter(|r| matches!(r.rating, Rating::Interaction(_))).count();
        let followed = seeds.iter().filter(|s| s.report.n_follow_ups > 0).count();
        assert!(closure > 100 && interaction > 50 && followed > 20, "closure {closure}, interaction {interaction}, followed {followed}");
        let events: usize = seeds.iter().map(|s| s.events.len()).sum();
        let mean = events as f64 / seeds.len() as f64;
        assert!((2.0..=6.5).contains(&mean), "mean events per report {mean}");
        // A closure rating that refuses the fix reopens the report at once.
        for seed in &seeds {
            for (i, event) in seed.events.iter().enumerate() {
                if let EventKind::ClosureRated { rating } = &event.kind
                    && rating.reopens()
                {
                    assert!(matches!(seed.events[i + 1].kind, EventKind::StatusChanged { to: Status::Reopened, .. }));
                }
            }
        }
    }

    #[test]
    fn creation_times_rise_with_the_ids_and_chunks_follow_each_other() {
        let catalogue = catalogue();
        let mut rng = SmallRng::seed_from_u64(2);
        let first = generate_chunk(&mut rng, &catalogue, &sla(), &(1..=500).collect::<Vec<_>>(), now(), 0.0..0.5);
        let second = generate_chunk(&mut rng, &catalogue, &sla(), &(501..=1000).collect::<Vec<_>>(), now(), 0.5..1.0);
        let times: Vec<Timestamp> = first.iter().chain(&second).map(|s| s.report.created_at).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(first[0].report.created_at < now() - SignedDuration::from_hours(358 * 24), "{}", first[0].report.created_at);
        assert!(second[499].report.created_at > now() - SignedDuration::from_hours(3 * 24), "{}", second[499].report.created_at);
    }

    #[test]
    fn the_same_seed_gives_the_same_data() {
        assert_eq!(format!("{:?}", generate(42, 300)), format!("{:?}", generate(42, 300)));
        assert_ne!(format!("{:?}", generate(42, 300)), format!("{:?}", generate(43, 300)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_stores_every_report_with_its_history() {
        let path = std::env::temp_dir().join(format!("balagh-demo-{}-{}.db", std::process::id(), now().as_nanosecond()));
        let url = format!("sqlite://{}", path.display());
        let store = Store::connect(&url, balagh_store::PoolOptions::default()).await.unwrap();
        store.migrate(now()).await.unwrap();
        let options = DemoOptions { reports: 12_345, seed: Some(1), show_progress: false };
        let started = Instant::now();
        let summary = run(&store, &catalogue(), &sla(), now(), &options).await.unwrap();
        eprintln!("stored {} reports in {:.2}s", summary.reports, started.elapsed().as_secs_f64());
        assert_eq!(summary.reports, 12_345);
        assert_eq!(summary.by_kind.values().sum::<u64>(), 12_345);
        assert_eq!(summary.by_kind.len(), ContactKind::ALL.len());

        // A fresh database hands out ids from its first one, so the first chunk is reproducible.
        let first = balagh_store::schema::FIRST_REPORT_ID;
        let ids: Vec<i64> = (first..first + CHUNK as i64).collect();
        let expected = generate_chunk(&mut SmallRng::seed_from_u64(1), &catalogue(), &sla(), &ids, now(), 0.0..CHUNK as f64 / 12_345.0);
        for seed in expected.iter().step_by(97) {
            let stored = store.db.report(seed.report.id).await.unwrap().unwrap();
            assert_eq!(stored, seed.report);
            let events = store.db.events(seed.report.id, true).await.unwrap();
            let kinds: Vec<&EventKind> = events.iter().map(|e| &e.event.kind).collect();
            assert_eq!(kinds, seed.events.iter().map(|e| &e.kind).collect::<Vec<_>>());
        }
        store.db.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
