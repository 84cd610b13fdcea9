//! `balagh demo --open-reports N --due D --due-at T`: a backlog of open reports for measuring the
//! escalation worker. Every report is new or assigned and none has had an escalation step come due
//! before `T`. `D` of them have their chain's next step come due in the minute before `T` (or, on a
//! working-hours clock when `T` is outside working hours, at the end of the last working period
//! before it) and their timer at exactly `T`, so a worker run at `T` fires exactly one step of
//! each, the one their own chain and clock say; the others come due after `T`, wherever their
//! chains put them over the following days and weeks.
//!
//! A report is opened the way `demo` opens one (a draft validated against the catalogue, a
//! channel, an agent), perhaps assigned a little later through the lifecycle. Its creation time is
//! then chosen so its next step falls where it must: with its story's shape fixed, the instant
//! the step comes due never decreases as the creation time increases, so a binary search finds the
//! creation times that put the step before, at or after `T`.

use super::{Opening, Plan, created_event, exponential, later, speed};
use anyhow::Context as _;
use balagh_app::SlaSettings;
use balagh_app::sla::status_history;
use balagh_domain::catalogue::{AttributeAnswer, Datatype};
use balagh_domain::escalation::Cause;
use balagh_domain::event::{Actor, Event, Role};
use balagh_domain::lifecycle::{self, Command};
use balagh_domain::report::{Report, ReportId};
use balagh_domain::sla::StatusChange;
use balagh_domain::vocabulary::{Channel, Status};
use balagh_domain::{Catalogue, Service};
use balagh_store::{SeedReport, Store};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::{SignedDuration, Timestamp};
use rand::distr::Distribution;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What `balagh demo --open-reports` was asked for.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub reports: u64,
    /// How many of them have their next escalation step due at `due_at`.
    pub due: u64,
    pub due_at: Timestamp,
    pub seed: Option<u64>,
    pub show_progress: bool,
}

/// What `balagh demo --open-reports` stored.
#[derive(Debug, Clone)]
pub struct OpenSummary {
    pub reports: u64,
    pub due: u64,
    pub assigned: u64,
    /// The latest escalation timer set, among those after `due_at`.
    pub latest_due: Option<Timestamp>,
    pub seconds: f64,
}

/// Reports generated and stored per transaction. Large, because a transaction writes every index
/// page it touched once: on SQLite a million load in 77 s with 25,000 per transaction and 112 s
/// with 10,000 (docs/BENCHMARKS.md).
const CHUNK: usize = 25_000;
/// The seed used when none is given (another than the year's history, so the two differ).
const DEFAULT_SEED: u64 = 0x4f50_454e_4241_434b;
/// Reports that are not due were opened during this time before `due_at`, after the last moment
/// that would have put their first step at or before `due_at`.
const OPEN_WINDOW: SignedDuration = SignedDuration::from_hours(14 * 24);
/// How far back a report due at `due_at` may have been opened (a low-priority report over a long
/// holiday takes weeks to reach its first step).
const DUE_SEARCH: SignedDuration = SignedDuration::from_hours(120 * 24);
/// Due reports' steps came due during this time before `due_at`, as if the worker were a little
/// behind.
const LATENESS_SECONDS: i64 = 60;
/// The share of open reports already assigned to a team.
const ASSIGNED_SHARE: f64 = 0.65;
/// Shapes tried for one report before giving up (each draws a new service and story).
const ATTEMPTS: usize = 64;

/// Stores `options.reports` open reports, generating each chunk on a blocking thread while the
/// previous one is written.
pub async fn run(store: &Store, catalogue: &Catalogue, sla: &SlaSettings, options: &OpenOptions) -> anyhow::Result<OpenSummary> {
    anyhow::ensure!(options.due <= options.reports, "--due ({}) cannot exceed --open-reports ({})", options.due, options.reports);
    let started = Instant::now();
    anyhow::ensure!(
        Plan::new(catalogue, sla, options.due_at).is_some_and(|p| p.service_weights.is_some()),
        "the catalogue has no services to open reports for"
    );
    let (catalogue, sla) = (Arc::new(catalogue.clone()), Arc::new(sla.clone()));
    let progress = if options.show_progress { ProgressBar::new(options.reports) } else { ProgressBar::hidden() };
    progress.enable_steady_tick(std::time::Duration::from_millis(250));
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} open reports, {per_sec}, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut summary = OpenSummary { reports: 0, due: 0, assigned: 0, latest_due: None, seconds: 0.0 };
    let mut planned = 0u64;
    let rng = SmallRng::seed_from_u64(options.seed.unwrap_or(DEFAULT_SEED));
    let mut generating = start_chunk(store, &catalogue, &sla, rng, &mut planned, options).await?;
    while let Some(handle) = generating {
        let (rng, seeds) = handle.await.context("generating open reports")?;
        let seeds = seeds?;
        generating = start_chunk(store, &catalogue, &sla, rng, &mut planned, options).await?;
        store.db.insert_seed_reports(&seeds).await.context("storing open reports")?;
        for seed in &seeds {
            match seed.next_due {
                Some(at) if at == options.due_at => summary.due += 1,
                Some(at) => summary.latest_due = summary.latest_due.max(Some(at)),
                None => {}
            }
            summary.assigned += u64::from(seed.report.status == Status::Assigned);
        }
        summary.reports += seeds.len() as u64;
        progress.inc(seeds.len() as u64);
    }
    progress.finish();
    store.db.analyze().await.context("refreshing planner statistics")?;
    summary.seconds = started.elapsed().as_secs_f64();
    tracing::info!(reports = summary.reports, due = summary.due, seconds = summary.seconds, "open reports stored");
    Ok(summary)
}

type Generating = tokio::task::JoinHandle<(SmallRng, anyhow::Result<Vec<SeedReport>>)>;

/// Reserves ids for the next chunk and starts generating it; `None` when nothing remains.
async fn start_chunk(
    store: &Store,
    catalogue: &Arc<Catalogue>,
    sla: &Arc<SlaSettings>,
    mut rng: SmallRng,
    planned: &mut u64,
    options: &OpenOptions,
) -> anyhow::Result<Option<Generating>> {
    if *planned >= options.reports {
        return Ok(None);
    }
    let size = (options.reports - *planned).min(CHUNK as u64);
    let first = *planned;
    *planned += size;
    let ids = store.db.reserve_report_ids(size as usize).await.context("reserving open report ids")?;
    let (catalogue, sla, options) = (catalogue.clone(), sla.clone(), options.clone());
    Ok(Some(tokio::task::spawn_blocking(move || {
        let seeds = generate_open_chunk(&mut rng, &catalogue, &sla, &ids, first, &options);
        (rng, seeds)
    })))
}

/// Whether the report at `index` of `total` is one of the `due` due ones: spread evenly.
fn is_due(index: u64, total: u64, due: u64) -> bool {
    let share = |i: u64| u128::from(i) * u128::from(due) / u128::from(total.max(1));
    share(index + 1) > share(index)
}

/// Builds one open report per id in `ids`, the first being report `first` of the run. Pure: the
/// same generator state gives the same chunk.
pub fn generate_open_chunk(
    rng: &mut SmallRng,
    catalogue: &Catalogue,
    sla: &SlaSettings,
    ids: &[i64],
    first: u64,
    options: &OpenOptions,
) -> anyhow::Result<Vec<SeedReport>> {
    let plan = Plan::new(catalogue, sla, options.due_at).context("the catalogue has no services to open reports for")?;
    let mut seeds = Vec::with_capacity(ids.len());
    for (index, &id) in (first..).zip(ids) {
        let due = is_due(index, options.reports, options.due);
        let seed = plan.open_report(rng, ReportId(id), due, options.due_at).with_context(|| {
            format!(
                "no open report could be made whose next escalation step comes due {} {}, in {ATTEMPTS} tries; do the escalation chains in force allow one?",
                if due { "at" } else { "after" },
                options.due_at
            )
        })?;
        seeds.push(seed);
    }
    // Stored in order of creation, as the application would have numbered them: each multi-row
    // insert then touches a few neighbouring pages of every `created_at` index instead of
    // hundreds of scattered ones.
    seeds.sort_by_key(|seed| seed.report.created_at);
    for (seed, &id) in seeds.iter_mut().zip(ids) {
        seed.report.id = ReportId(id);
    }
    Ok(seeds)
}

impl Plan<'_> {
    /// An open report whose next escalation step comes due at `due_at` (`due`) or after it.
    fn open_report(&self, rng: &mut SmallRng, id: ReportId, due: bool, due_at: Timestamp) -> Option<SeedReport> {
        let weights = self.service_weights.as_ref()?;
        // The draft is made as of a few days before `due_at`; its date answers move with the
        // creation time chosen below.
        let nominal = due_at - SignedDuration::from_hours(72);
        for _ in 0..ATTEMPTS {
            let service = self.services[weights.sample(rng)];
            let Some(opening) = self.opening(rng, service, id, nominal) else { continue };
            let assignment = rng.random_bool(ASSIGNED_SHARE).then(|| Assignment::draw(rng, &opening));
            let mut shape = Shape::new(self.sla, service, id, opening, nominal, assignment);
            let mut found = if due { shape.due_at(rng, due_at) } else { shape.due_after(rng, due_at) };
            // An emergency's first step comes due the moment it is opened, before anyone could
            // assign it: such a report is still new.
            if found.is_none() && shape.assignment.take().is_some() {
                found = if due { shape.due_at(rng, due_at) } else { shape.due_after(rng, due_at) };
            }
            if found.is_some() {
                return found;
            }
        }
        None
    }
}

/// How an open report was assigned: by whom, to whom, how long after it was opened.
#[derive(Debug, Clone)]
struct Assignment {
    delay: SignedDuration,
    dispatcher: Actor,
    channel: Channel,
    command: Command,
}

impl Assignment {
    fn draw(rng: &mut SmallRng, opening: &Opening) -> Assignment {
        let department = opening.new_report.department.clone();
        let seconds = exponential(rng, 2.0 * speed(opening.new_report.priority));
        let delay = later(Timestamp::UNIX_EPOCH, seconds).duration_since(Timestamp::UNIX_EPOCH);
        let (dispatcher, channel) = if rng.random_bool(0.6) {
            (opening.agent.clone(), Channel::Web)
        } else {
            (Actor::new(Role::Supervisor, format!("supervisor-{department}")), Channel::Web)
        };
        let user = format!("{department}-{:02}", rng.random_range(1..=40));
        let command = Command::Assign { team: Some(format!("{department}-{}", opening.city_slug)), user: Some(user), department };
        Assignment { delay, dispatcher, channel, command }
    }
}

/// One open report's story with its creation time left free: opened, perhaps assigned `delay`
/// later. `scratch` is the report as the chain sees it, moved in time cheaply while searching.
struct Shape<'s> {
    sla: &'s SlaSettings,
    id: ReportId,
    opening: Opening,
    /// When the draft was made (its date answers are relative to it).
    nominal: Timestamp,
    /// The codes of the service's date-and-time questions.
    date_questions: Vec<String>,
    assignment: Option<Assignment>,
    scratch: Report,
    history: Vec<StatusChange>,
}

impl<'s> Shape<'s> {
    fn new(sla: &'s SlaSettings, service: &Service, id: ReportId, opening: Opening, nominal: Timestamp, assignment: Option<Assignment>) -> Shape<'s> {
        let scratch = opening.new_report.clone().into_report(id, nominal, None);
        let date_questions = service.attributes.iter().filter(|a| a.datatype == Datatype::Datetime).map(|a| a.code.clone()).collect();
        Shape { sla, id, opening, nominal, date_questions, assignment, scratch, history: Vec::with_capacity(1) }
    }

    /// When the report's next escalation step comes due if it was opened at `created_at`, as the
    /// application sets the timer after the report's latest change.
    fn natural_due(&mut self, created_at: Timestamp) -> Option<Timestamp> {
        let report = &mut self.scratch;
        report.created_at = created_at;
        self.history.clear();
        match &self.assignment {
            Some(assignment) => {
                report.status = Status::Assigned;
                report.updated_at = created_at + assignment.delay;
                self.history.push(StatusChange { at: report.updated_at, to: Status::Assigned });
            }
            None => {
                report.status = Status::New;
                report.updated_at = created_at;
            }
        }
        self.sla.next_escalation_due(report, &self.history, report.updated_at)
    }

    /// The latest moment the report's last change may happen.
    fn latest_change(&self, until: Timestamp) -> Timestamp {
        self.assignment.as_ref().map_or(until, |a| until - a.delay)
    }

    /// Opened so that its next step came due as late as possible within the minute before
    /// `due_at`, with its timer at `due_at`; `None` when this shape cannot be (its step would come before its assignment, or
    /// firing it would leave another step due at once).
    fn due_at(&mut self, rng: &mut SmallRng, due_at: Timestamp) -> Option<SeedReport> {
        let target = due_at - SignedDuration::from_secs(rng.random_range(0..LATENESS_SECONDS));
        let (mut low, mut high) = (due_at - DUE_SEARCH, target);
        if high < low || self.natural_due(low)? > target {
            return None;
        }
        // natural_due(low) <= target; find the latest creation second that keeps it so.
        if self.natural_due(high).is_some_and(|at| at <= target) {
            low = high;
        }
        while high.duration_since(low) > SignedDuration::from_secs(1) {
            let middle = midpoint(low, high);
            if self.natural_due(middle).is_some_and(|at| at <= target) {
                low = middle;
            } else {
                high = middle;
            }
        }
        let step_due = self.natural_due(low)?;
        // The worker fires steps when they come due, so nothing happened to the report after its
        // step came due; an assignment after that moment is not this shape's story.
        if step_due > target || self.latest_change(step_due) < low {
            return None;
        }
        let seed = self.seed(low, Some(due_at))?;
        // Exactly one step fires at `due_at`: the one after it must come later.
        let chain = self.sla.chain(&seed.report);
        let fired = chain.fire(&seed.report, Cause::Due, due_at);
        let history = status_history(&seed.events);
        let after = self.sla.next_escalation_due(&fired.report, &history, due_at);
        after.is_none_or(|at| at > due_at).then_some(seed)
    }

    /// Opened within `OPEN_WINDOW` before `due_at`, after the last moment that would have put its
    /// next step at or before `due_at`; its timer is where its chain puts that step.
    fn due_after(&mut self, rng: &mut SmallRng, due_at: Timestamp) -> Option<SeedReport> {
        let high = self.latest_change(due_at);
        let mut low = due_at - OPEN_WINDOW;
        if high < low || self.natural_due(high)? <= due_at {
            return None;
        }
        if self.natural_due(low).is_some_and(|at| at <= due_at) {
            // Find, to the minute, where the step moves past `due_at`.
            let mut later_bound = high;
            while later_bound.duration_since(low) > SignedDuration::from_mins(1) {
                let middle = midpoint(low, later_bound);
                if self.natural_due(middle).is_some_and(|at| at <= due_at) {
                    low = middle;
                } else {
                    later_bound = middle;
                }
            }
        }
        let span = high.duration_since(low).as_secs().max(1);
        for _ in 0..8 {
            let created_at = low + SignedDuration::from_secs(rng.random_range(1..=span));
            let created_at = Ord::min(created_at, high);
            if let Some(step_due) = self.natural_due(created_at).filter(|at| *at > due_at) {
                return self.seed(created_at, Some(step_due));
            }
        }
        None
    }

    /// The report opened at `created_at` with its history and its escalation timer at `next_due`.
    fn seed(&mut self, created_at: Timestamp, next_due: Option<Timestamp>) -> Option<SeedReport> {
        let mut new_report = self.opening.new_report.clone();
        shift_date_answers(&mut new_report.attributes, &self.date_questions, created_at.duration_since(self.nominal));
        let expected_at = self.sla.expected_resolution(&new_report.department, &new_report.service_code, new_report.priority, created_at);
        let mut report = new_report.into_report(self.id, created_at, Some(expected_at));
        let mut events: Vec<Event> = vec![created_event(&report, self.opening.created_by.clone(), self.opening.channel)];
        if let Some(assignment) = &self.assignment {
            let at = created_at + assignment.delay;
            let transition = match lifecycle::apply(&report, assignment.command.clone(), &assignment.dispatcher, assignment.channel, at) {
                Ok(transition) => transition,
                Err(error) => {
                    debug_assert!(false, "open report assignment refused: {error}");
                    tracing::warn!(%error, "open report assignment refused");
                    return None;
                }
            };
            report.status = transition.to;
            if let Some(assigned) = transition.assignment {
                report.assignment = assigned;
            }
            report.updated_at = transition.at;
            events.extend(transition.events);
        }
        debug_assert_eq!(
            self.sla.next_escalation_due(&report, &status_history(&events), report.updated_at),
            self.natural_due(created_at),
            "the search and the stored report disagree"
        );
        Some(SeedReport { report, events, ratings: Vec::new(), next_due })
    }
}

/// Moves every date answer among `codes` by `by`, so answers stay before the creation time.
fn shift_date_answers(attributes: &mut BTreeMap<String, AttributeAnswer>, codes: &[String], by: SignedDuration) {
    for code in codes {
        if let Some(AttributeAnswer::One(text)) = attributes.get_mut(code)
            && let Ok(at) = text.parse::<Timestamp>()
            && let Ok(moved) = at.checked_add(by)
        {
            *text = moved.to_string();
        }
    }
}

fn midpoint(low: Timestamp, high: Timestamp) -> Timestamp {
    low + SignedDuration::from_secs(high.duration_since(low).as_secs() / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const CATALOGUE: &str = include_str!("../../../../catalogue/eastern-province.toml");

    fn catalogue() -> Catalogue {
        Catalogue::from_toml(CATALOGUE).unwrap()
    }

    fn due_at() -> Timestamp {
        // A Sunday morning in Riyadh, a working day.
        "2026-03-15T06:30:00Z".parse().unwrap()
    }

    fn generate(seed: u64, reports: u64, due: u64) -> Vec<SeedReport> {
        let catalogue = catalogue();
        let sla = SlaSettings::eastern_province(&catalogue).unwrap();
        let options = OpenOptions { reports, due, due_at: due_at(), seed: None, show_progress: false };
        let ids: Vec<i64> = (1_000_000..1_000_000 + reports as i64).collect();
        generate_open_chunk(&mut SmallRng::seed_from_u64(seed), &catalogue, &sla, &ids, 0, &options).unwrap()
    }

    #[test]
    fn due_reports_are_spread_evenly_and_counted_exactly() {
        let check = |total: u64, due: u64| {
            let picked: Vec<u64> = (0..total).filter(|i| is_due(*i, total, due)).collect();
            assert_eq!(picked.len() as u64, due, "{due} of {total}");
            if due > 1 {
                let gaps: BTreeSet<u64> = picked.windows(2).map(|w| w[1] - w[0]).collect();
                assert!(gaps.iter().max().unwrap() - gaps.iter().min().unwrap() <= 1, "{due} of {total}: gaps {gaps:?}");
            }
        };
        check(1_000, 10);
        check(1_000, 0);
        check(1_000, 1_000);
        check(997, 13);
        check(5, 3);
    }

    #[test]
    fn due_reports_fire_exactly_one_step_of_their_own_chain_at_the_instant() {
        let catalogue = catalogue();
        let sla = SlaSettings::eastern_province(&catalogue).unwrap();
        let seeds = generate(3, 1_500, 300);
        let due: Vec<&SeedReport> = seeds.iter().filter(|s| s.next_due == Some(due_at())).collect();
        assert_eq!(due.len(), 300);
        let mut chains = BTreeSet::new();
        for seed in &due {
            let report = &seed.report;
            let history = status_history(&seed.events);
            // The chain's own next step came due in the minute before, after the last change.
            let step_due = sla.next_escalation_due(report, &history, report.updated_at).unwrap();
            assert!(step_due <= due_at(), "report {} step due {step_due}", report.id.0);
            assert!(step_due >= report.updated_at, "report {} changed after its step came due", report.id.0);
            assert!(seed.events.iter().all(|e| e.at <= step_due));
            // Firing it leaves nothing more due at that instant.
            let fired = sla.chain(report).fire(report, Cause::Due, due_at());
            assert_eq!((fired.step, fired.level), (0, 1));
            assert!(sla.next_escalation_due(&fired.report, &history, due_at()).is_none_or(|at| at > due_at()));
            chains.insert(sla.chain(report).name.clone());
        }
        assert!(chains.len() >= 3, "due reports climb several chains: {chains:?}");
    }

    #[test]
    fn other_reports_come_due_after_the_instant_where_their_chains_put_them() {
        let catalogue = catalogue();
        let sla = SlaSettings::eastern_province(&catalogue).unwrap();
        let seeds = generate(5, 2_000, 20);
        let mut latest = due_at();
        for seed in seeds.iter().filter(|s| s.next_due != Some(due_at())) {
            let report = &seed.report;
            let next_due = seed.next_due.expect("every open report has a timer");
            assert!(next_due > due_at());
            assert_eq!(Some(next_due), sla.next_escalation_due(report, &status_history(&seed.events), report.updated_at), "report {}", report.id.0);
            assert!(report.created_at >= due_at() - OPEN_WINDOW && report.updated_at <= due_at());
            latest = latest.max(next_due);
        }
        assert!(latest > due_at() + SignedDuration::from_hours(5 * 24), "timers spread over the following days: latest {latest}");
    }

    #[test]
    fn open_reports_are_new_or_assigned_across_the_catalogue_and_reproducible() {
        let seeds = generate(7, 2_000, 50);
        let statuses: BTreeSet<Status> = seeds.iter().map(|s| s.report.status).collect();
        assert_eq!(statuses, BTreeSet::from([Status::New, Status::Assigned]));
        let departments: BTreeSet<&str> = seeds.iter().map(|s| s.report.assignment.department.as_str()).collect();
        assert!(departments.len() >= 8, "{departments:?}");
        for seed in seeds.iter().filter(|s| s.report.status == Status::Assigned) {
            assert!(seed.report.assignment.team.is_some() && seed.report.assignment.user.is_some());
            assert!(seed.report.expected_at.is_some_and(|at| at > seed.report.created_at));
        }
        assert_eq!(format!("{:?}", generate(7, 200, 5)), format!("{:?}", generate(7, 200, 5)));
    }
}
