//! The escalation worker: claims due timers in batches with a lease and fires them (the next
//! step of a report's escalation chain, or the end of a report's wait for its place). `run_once(now)`
//! drains everything due at `now` (tests drive it with a fixed clock and never sleep); `run` loops
//! forever, sleeping until the next due instant or until a change sets an earlier one, so an idle
//! worker does no scanning at all.

use crate::{App, AppError};
use balagh_domain::report::ReportId;
use balagh_store::TimerKind;
use jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// How many timers one claim takes.
pub const BATCH: u64 = 500;

/// How long a claim is held before another worker may take it over (a crashed worker's claims).
pub const LEASE: SignedDuration = SignedDuration::from_secs(60);

/// The longest an idle worker sleeps before looking again, so timers set by other processes
/// sharing a PostgreSQL database are seen within this time even without a notification.
pub const MAX_IDLE_SLEEP: Duration = Duration::from_secs(30);

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This many reports were escalated (or had a stale timer removed).
    Worked(usize),
    Idle,
}

/// A worker with its own lease owner name.
#[derive(Clone)]
pub struct EscalationWorker {
    app: App,
    owner: String,
}

impl EscalationWorker {
    pub fn new(app: App, owner: impl Into<String>) -> EscalationWorker {
        EscalationWorker { app, owner: owner.into() }
    }

    /// A worker named after this process, unique among processes.
    pub fn for_this_process(app: App) -> EscalationWorker {
        EscalationWorker::new(app, process_owner())
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Claims up to one batch of escalation timers due at `now`.
    pub async fn claim(&self, now: Timestamp) -> Result<Vec<ReportId>, AppError> {
        self.claim_kind(TimerKind::Escalation, now).await
    }

    async fn claim_kind(&self, kind: TimerKind, now: Timestamp) -> Result<Vec<ReportId>, AppError> {
        Ok(self.app.store.db.claim_due_timers(kind, &self.owner, now, LEASE, BATCH).await?)
    }

    /// Fires everything due at `now`, batch by batch, including steps that come due as a result
    /// (a report far past several levels climbs them all).
    pub async fn run_once(&self, now: Timestamp) -> Result<Outcome, AppError> {
        let mut total = 0;
        loop {
            let claimed = self.claim(now).await?;
            if !claimed.is_empty() {
                tracing::debug!(claimed = claimed.len(), owner = %self.owner, kind = "escalation", "claimed due timers");
                total += self.app.fire_claimed(&self.owner, &claimed, now).await?;
            }
            // A wait that ends sets the report's escalation timer, which the next round fires if due.
            let waits = self.claim_kind(TimerKind::Location, now).await?;
            if !waits.is_empty() {
                tracing::debug!(claimed = waits.len(), owner = %self.owner, kind = "location", "claimed due timers");
                total += self.app.end_location_waits(&self.owner, &waits, now).await?;
            }
            if claimed.is_empty() && waits.is_empty() {
                break;
            }
        }
        Ok(if total == 0 { Outcome::Idle } else { Outcome::Worked(total) })
    }

    /// Runs until `shutdown` resolves: fire what is due, then sleep until the next due instant, a
    /// notification of an earlier one, or `MAX_IDLE_SLEEP`.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let signal = self.app.timer_signal();
        loop {
            let now = self.app.now();
            if let Err(error) = self.run_once(now).await {
                tracing::error!(%error, "escalation worker pass failed; retrying shortly");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    () = &mut shutdown => return,
                }
            }
            let wake = match self.app.store.db.next_timer_wake().await {
                Ok(wake) => wake,
                Err(error) => {
                    tracing::error!(%error, "escalation worker cannot read the next timer");
                    Some(now.checked_add(SignedDuration::from_secs(1)).unwrap_or(now))
                }
            };
            signal.sleeping_until(wake);
            let sleep = match wake {
                Some(at) => at.duration_since(self.app.now()).try_into().unwrap_or(Duration::ZERO).min(MAX_IDLE_SLEEP),
                None => MAX_IDLE_SLEEP,
            };
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = signal.notified() => {}
                () = &mut shutdown => return,
            }
        }
    }
}

/// A lease owner name for this process: host, process id and a random suffix.
pub fn process_owner() -> String {
    format!("{}-{}-{:08x}", hostname(), std::process::id(), rand::random::<u32>())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "balagh".into())
}
