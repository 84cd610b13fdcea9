//! `balagh escalations run-once|next` and `balagh bench idle-worker`: fire what is due at an
//! instant once, say when the next step is due, and measure what an idle escalation worker costs
//! (process CPU time and worker passes). `StatementStats` counts the SQL statements the process
//! runs, by kind, from sqlx's own statement log, so a run can say where its time went.

use anyhow::Context as _;
use balagh_app::{App, EscalationWorker, Outcome};
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

/// What `escalations run-once` did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOnce {
    /// Escalation steps fired (a report that climbs two steps counts twice).
    pub fired: usize,
    pub elapsed: Duration,
}

impl fmt::Display for RunOnce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fired {} escalations in {} ms", self.fired, self.elapsed.as_millis())
    }
}

/// Fires everything due at `at`, batch by batch, as the worker would on one pass.
pub async fn run_once(app: &App, at: Timestamp) -> anyhow::Result<RunOnce> {
    let worker = EscalationWorker::for_this_process(app.clone());
    let at = to_stored_precision(at);
    let started = Instant::now();
    let outcome = worker.run_once(at).await.with_context(|| format!("cannot fire the escalations due at {at}"))?;
    let elapsed = started.elapsed();
    let fired = match outcome {
        Outcome::Worked(n) => n,
        Outcome::Idle => 0,
    };
    Ok(RunOnce { fired, elapsed })
}

/// The next instant the worker would wake for (a due step, or a claim's lease running out).
pub async fn next(app: &App) -> anyhow::Result<Option<Timestamp>> {
    app.store.db.next_timer_wake().await.context("cannot read the escalation timers")
}

/// The store keeps microseconds; an instant given to the microsecond compares as given.
fn to_stored_precision(at: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at)
}

/// What `bench idle-worker` measured.
#[derive(Debug, Clone)]
pub struct IdleWorker {
    pub seconds: f64,
    /// User plus system CPU time of the whole process during the run.
    pub cpu: Duration,
    /// Worker passes: each ends by looking up the next wake once.
    pub passes: u64,
    /// Every SQL statement the process ran during the run, by kind.
    pub statements: BTreeMap<String, StatementTally>,
    /// The next wake when the run started, if any.
    pub next_wake: Option<Timestamp>,
}

impl fmt::Display for IdleWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cpu_ms = self.cpu.as_secs_f64() * 1e3;
        writeln!(
            f,
            "idle escalation worker: {:.1} s, {} passes, process CPU time {:.0} ms ({:.3} % of one core)",
            self.seconds,
            self.passes,
            cpu_ms,
            100.0 * self.cpu.as_secs_f64() / self.seconds.max(1e-9)
        )?;
        match self.next_wake {
            Some(at) => writeln!(f, "next escalation due at the start: {at}")?,
            None => writeln!(f, "next escalation due at the start: nothing due")?,
        }
        write!(f, "{}", StatementTable(&self.statements))
    }
}

/// Runs the escalation worker for `seconds` and measures the process's CPU time and the worker's
/// passes. Steps coming due during the run are fired as usual (and then the run is not idle).
pub async fn idle_worker(app: App, seconds: u64, stats: &StatementStats) -> anyhow::Result<IdleWorker> {
    let next_wake = next(&app).await?;
    let worker = EscalationWorker::for_this_process(app);
    let statements_before = stats.snapshot();
    let cpu_before = process_cpu_time()?;
    let started = Instant::now();
    worker.run(tokio::time::sleep(Duration::from_secs(seconds))).await;
    let elapsed = started.elapsed();
    let cpu = process_cpu_time()?.saturating_sub(cpu_before);
    let statements = StatementStats::difference(&stats.snapshot(), &statements_before);
    let passes = statements.iter().filter(|(summary, _)| is_wake_lookup(summary)).map(|(_, tally)| tally.count).sum();
    Ok(IdleWorker { seconds: elapsed.as_secs_f64(), cpu, passes, statements, next_wake })
}

/// The first of the two statements that look up the worker's next wake (`SELECT "due_at" AS
/// "at" FROM "timers" …`): the worker runs it once at the end of every pass, whatever it fired.
fn is_wake_lookup(summary: &str) -> bool {
    summary.starts_with("SELECT \"due_at\" AS \"at\"")
}

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux architecture
/// Balagh runs on).
const USER_HZ: u64 = 100;

/// User plus system CPU time this process has used so far, all threads together (including
/// threads that have exited), from `/proc/self/stat`, to the 10 ms tick.
pub fn process_cpu_time() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("cannot read /proc/self/stat (CPU time is measured on Linux only)")?;
    parse_cpu_ticks(&stat).map(|ticks| Duration::from_millis(ticks * 1000 / USER_HZ)).context("/proc/self/stat has no utime and stime")
}

/// utime plus stime (fields 14 and 15) from a `/proc/<pid>/stat` line. The command name (field 2)
/// is in parentheses and may itself hold spaces and parentheses, so fields are counted after the
/// last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name come field 3 (state) onwards: utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Statements of one kind: how many ran and how long they took in total.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StatementTally {
    pub count: u64,
    pub seconds: f64,
}

/// Counts SQL statements by kind (sqlx's summary: the first four words) with their total
/// execution time, from the `sqlx::query` events sqlx emits after each statement. Install it as a
/// layer filtered to `sqlx::query` at debug level.
#[derive(Debug, Clone, Default)]
pub struct StatementStats {
    tallies: Arc<Mutex<BTreeMap<String, StatementTally>>>,
}

impl StatementStats {
    pub fn snapshot(&self) -> BTreeMap<String, StatementTally> {
        self.tallies.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// What ran between two snapshots.
    pub fn difference(after: &BTreeMap<String, StatementTally>, before: &BTreeMap<String, StatementTally>) -> BTreeMap<String, StatementTally> {
        after
            .iter()
            .map(|(summary, tally)| {
                let earlier = before.get(summary).copied().unwrap_or_default();
                (summary.clone(), StatementTally { count: tally.count - earlier.count, seconds: tally.seconds - earlier.seconds })
            })
            .filter(|(_, tally)| tally.count > 0)
            .collect()
    }
}

impl<S: tracing::Subscriber> Layer<S> for StatementStats {
    fn on_event(&self, event: &tracing::Event<'_>, _context: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut visitor = StatementVisitor::default();
        event.record(&mut visitor);
        let Some(summary) = visitor.summary else { return };
        let mut tallies = self.tallies.lock().unwrap_or_else(PoisonError::into_inner);
        let tally = tallies.entry(summary).or_default();
        tally.count += 1;
        tally.seconds += visitor.seconds;
    }
}

#[derive(Default)]
struct StatementVisitor {
    summary: Option<String>,
    seconds: f64,
}

impl Visit for StatementVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.summary = Some(value.trim_end_matches(" …").to_owned());
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.seconds = value;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "summary" && self.summary.is_none() {
            self.summary = Some(format!("{value:?}").trim_matches('"').trim_end_matches(" …").to_owned());
        }
    }
}

/// Statement tallies as a table, slowest kind first.
pub struct StatementTable<'a>(pub &'a BTreeMap<String, StatementTally>);

impl fmt::Display for StatementTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows: Vec<(&String, &StatementTally)> = self.0.iter().collect();
        rows.sort_by(|a, b| b.1.seconds.total_cmp(&a.1.seconds));
        let total: f64 = rows.iter().map(|(_, t)| t.seconds).sum();
        writeln!(f, "SQL statements: {} in {:.1} ms", rows.iter().map(|(_, t)| t.count).sum::<u64>(), total * 1e3)?;
        for (summary, tally) in rows {
            writeln!(f, "  {:>7} × {:>9.1} ms  {summary}", tally.count, tally.seconds * 1e3)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn cpu_ticks_are_read_after_the_command_name_even_when_it_has_spaces_and_parentheses() {
        let stat = "4242 (tokio (rt) worker) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 37 0 0 20 0 9 0 12345 1000000 500";
        assert_eq!(parse_cpu_ticks(stat), Some(287));
        assert_eq!(parse_cpu_ticks("4242 (balagh) S 1"), None);
        assert!(process_cpu_time().is_ok());
    }

    #[test]
    fn statements_are_tallied_by_summary_and_only_from_sqlx() {
        let stats = StatementStats::default();
        let subscriber = tracing_subscriber::registry().with(stats.clone());
        tracing::subscriber::with_default(subscriber, || {
            for seconds in [0.001, 0.003] {
                tracing::debug!(target: "sqlx::query", summary = "UPDATE \"timers\" SET \"lease_owner\" …", elapsed_secs = seconds);
            }
            tracing::debug!(target: "sqlx::query", summary = "SELECT 1", elapsed_secs = 0.5);
            tracing::debug!(target: "balagh", summary = "UPDATE \"timers\" SET \"lease_owner\"", elapsed_secs = 9.0);
        });
        let before = BTreeMap::from([("SELECT 1".to_owned(), StatementTally { count: 1, seconds: 0.5 })]);
        let ran = StatementStats::difference(&stats.snapshot(), &before);
        assert_eq!(ran.len(), 1, "{ran:?}");
        let claims = &ran["UPDATE \"timers\" SET \"lease_owner\""];
        assert_eq!(claims.count, 2);
        assert!((claims.seconds - 0.004).abs() < 1e-9);
        assert!(is_wake_lookup("SELECT \"due_at\" AS \"at\""));
        assert!(!is_wake_lookup("SELECT MIN(\"lease_until\") AS \"at\""));
    }

    #[test]
    fn run_once_prints_what_it_fired_and_how_long_it_took() {
        assert_eq!(RunOnce { fired: 10_000, elapsed: Duration::from_millis(1_234) }.to_string(), "fired 10000 escalations in 1234 ms");
    }
}
