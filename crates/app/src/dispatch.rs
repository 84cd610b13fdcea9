//! The outbox dispatcher: claims pending notifications with a lease, hands each to the provider,
//! and records the outcome. Temporary failures are retried with exponential backoff and jitter
//! (never sooner than the provider's Retry-After), permanent ones and those that keep failing go
//! dead with their reason, for an administrator to see and retry. `run_once(now)` drains what is
//! available at `now`; tests drive it with a fixed clock.

use crate::delivery::{Prepared, Renderer};
use crate::{App, AppError, only_administrators};
use balagh_notify::{Notification, Provider, SendError};
use balagh_store::outbox::Outcome as Recorded;
use balagh_store::{OutboxFilter, Recorded as Record, StoredOutbox};
use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How many rows one claim takes.
pub const BATCH: u64 = 100;

/// How long a claim is held before another dispatcher may take it over.
pub const LEASE: SignedDuration = SignedDuration::from_mins(2);

/// How soon a dispatcher whose pass failed tries again.
pub const IDLE_POLL: Duration = Duration::from_secs(2);

/// When to try again after temporary failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles with each further one.
    pub first_delay: SignedDuration,
    pub max_delay: SignedDuration,
    /// Attempts in all before a row goes dead.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { first_delay: SignedDuration::from_secs(30), max_delay: SignedDuration::from_hours(6), max_attempts: 10 }
    }
}

impl RetryPolicy {
    /// The wait after `attempt` (1-based) failed: the doubled delay, scaled by `jitter` in
    /// `[0.5, 1.0]` so retries of many rows spread out, and never less than `retry_after`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> SignedDuration {
        let doubled = self.first_delay.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
        let capped = doubled.min(self.max_delay.as_secs_f64());
        let jittered = capped * jitter.clamp(0.5, 1.0);
        let wished = retry_after.map_or(0.0, |d| d.as_secs_f64().min(self.max_delay.as_secs_f64()));
        SignedDuration::from_secs_f64(jittered.max(wished))
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dispatched {
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
    /// Calls held for the end of quiet hours.
    pub held: usize,
}

/// How many messages one dispatcher has in flight at once.
pub const CONCURRENCY: usize = 32;

/// The longest an idle dispatcher sleeps before looking again (rows written by another process
/// do not wake it).
pub const MAX_IDLE_SLEEP: Duration = Duration::from_secs(5);

/// A dispatcher with its provider and lease owner name.
#[derive(Clone)]
pub struct Dispatcher {
    app: App,
    provider: Arc<dyn Provider>,
    owner: String,
    policy: RetryPolicy,
}

impl Dispatcher {
    pub fn new(app: App, provider: Arc<dyn Provider>, owner: impl Into<String>, policy: RetryPolicy) -> Dispatcher {
        Dispatcher { app, provider, owner: owner.into(), policy }
    }

    /// Sends everything available at `now`, batch by batch: each batch is rendered, sent
    /// `CONCURRENCY` at a time, and its outcomes recorded in one transaction.
    pub async fn run_once(&self, now: Timestamp) -> Result<Dispatched, AppError> {
        let mut done = Dispatched::default();
        let templates = self.app.store.db.templates().await?;
        let renderer = Renderer::new(self.app.delivery(), self.app.catalogue(), templates);
        loop {
            // A long pass (a slow provider) claims each batch at the time it really is, so its
            // lease runs from then and no other dispatcher takes the batch over mid-send.
            let now = Ord::max(now, self.app.now());
            let claimed = self.app.store.db.claim_outbox(&self.owner, now, LEASE, BATCH).await?;
            if claimed.is_empty() {
                return Ok(done);
            }
            let already_sent = self.already_sent(&claimed).await?;
            let mut outcomes = Vec::with_capacity(claimed.len());
            let mut to_send = Vec::new();
            for row in &claimed {
                if let Some(provider_ref) = already_sent.get(&row.id) {
                    let outcome = Recorded::Sent { provider_ref: Some(provider_ref.clone()) };
                    let note =
                        Some("an earlier dispatcher sent this message before it could record it (the provider reported on it); not sent again".to_owned());
                    outcomes.push((row.topic.clone(), Record { id: row.id, outcome, provider: None, segments: None, note }));
                    continue;
                }
                match renderer.prepare(row, now) {
                    Prepared::Hold(until) => outcomes
                        .push((row.topic.clone(), Record { id: row.id, outcome: Recorded::Deferred { until }, provider: None, segments: None, note: None })),
                    Prepared::Send { notification, segments, note } => to_send.push((notification, segments, note)),
                }
            }
            let sent: Vec<_> = futures::stream::iter(to_send)
                .map(|(notification, segments, note)| async move {
                    let result = self.provider.send(&notification).await;
                    let outcome = self.outcome(&notification, result, now);
                    let provider = self.provider.provider_name(&notification).to_owned();
                    (notification.topic, Record { id: notification.id, outcome, provider: Some(provider), segments, note })
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            outcomes.extend(sent);
            let records: Vec<Record> = outcomes.iter().map(|(_, record)| record.clone()).collect();
            let held = self.app.store.db.record_outbox_batch(&self.owner, self.app.now(), &records).await?;
            for ((topic, record), still_held) in outcomes.into_iter().zip(held) {
                if !still_held {
                    tracing::warn!(id = record.id, "an outbox row's lease ended before its outcome was recorded; another dispatcher has it");
                    continue;
                }
                let (counter, result) = match record.outcome {
                    Recorded::Sent { .. } => (&mut done.sent, "sent"),
                    Recorded::Retry { .. } => (&mut done.retried, "retry"),
                    Recorded::Dead { .. } => (&mut done.dead, "dead"),
                    Recorded::Deferred { .. } => (&mut done.held, "held"),
                };
                *counter += 1;
                let provider = record.provider.unwrap_or_else(|| "none".to_owned());
                metrics::counter!("balagh_notifications_total", "provider" => provider, "topic" => topic, "outcome" => result).increment(1);
            }
        }
    }

    /// What a send's result means for the row.
    fn outcome(&self, notification: &Notification, result: Result<balagh_notify::Delivery, SendError>, now: Timestamp) -> Recorded {
        let attempt = notification.attempt;
        match result {
            Ok(delivery) => Recorded::Sent { provider_ref: delivery.provider_ref },
            Err(SendError::Temporary { reason, .. }) if attempt >= self.policy.max_attempts => {
                Recorded::Dead { error: format!("gave up after {attempt} attempts: {reason}") }
            }
            Err(SendError::Temporary { reason, retry_after }) => {
                let delay = self.policy.delay(attempt, retry_after, 0.5 + rand::random::<f64>() / 2.0);
                Recorded::Retry { error: reason, retry_at: now.checked_add(delay).unwrap_or(now) }
            }
            Err(SendError::Permanent { reason }) => Recorded::Dead { error: reason },
        }
    }

    /// Rows an earlier dispatcher claimed and never recorded, that the provider has since reported
    /// on (a status callback): they went out, and are not sent again.
    async fn already_sent(&self, claimed: &[StoredOutbox]) -> Result<HashMap<i64, String>, AppError> {
        let in_doubt: Vec<i64> = claimed.iter().filter(|row| row.in_doubt()).map(|row| row.id).collect();
        Ok(self.app.store.db.receipts_for(&in_doubt).await?.into_iter().collect())
    }

    /// Runs until `shutdown` resolves: after each pass it sleeps until the next row falls due, a
    /// change in this process writes one, or `MAX_IDLE_SLEEP` passes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let signal = self.app.outbox_signal();
        loop {
            let wake = signal.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            let pause = match self.run_once(self.app.now()).await {
                Ok(_) => self.idle_sleep().await,
                Err(error) => {
                    tracing::error!(%error, "outbox dispatch pass failed; retrying shortly");
                    IDLE_POLL
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = &mut wake => {}
                () = &mut shutdown => return,
            }
        }
    }

    /// How long to sleep before the next pending row falls due (or a held lease ends).
    async fn idle_sleep(&self) -> Duration {
        match self.app.store.db.next_outbox_due().await {
            Ok(Some(due)) => {
                let wait = due.duration_since(self.app.now());
                Duration::try_from(wait).unwrap_or(Duration::ZERO).min(MAX_IDLE_SLEEP)
            }
            Ok(None) => MAX_IDLE_SLEEP,
            Err(error) => {
                tracing::error!(%error, "cannot read when the next notification is due");
                IDLE_POLL
            }
        }
    }
}

impl App {
    /// Outbox rows, oldest first, for administrators (they watch delivery and retry the dead).
    pub async fn notifications(&self, viewer: &balagh_domain::Actor, filter: &OutboxFilter) -> Result<Vec<StoredOutbox>, AppError> {
        only_administrators(viewer, "list notifications")?;
        Ok(self.store.db.outbox_rows(filter).await?)
    }

    /// Puts a dead notification back in line (administrators only).
    pub async fn retry_notification(&self, id: i64, viewer: &balagh_domain::Actor) -> Result<(), AppError> {
        only_administrators(viewer, "retry notifications")?;
        if self.store.db.retry_outbox(id, self.now()).await? {
            Ok(())
        } else {
            Err(AppError::Conflict { code: "not_dead", message: format!("notification {id} is not dead (or does not exist)") })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_is_capped_jittered_and_honours_retry_after() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, None, 1.0), SignedDuration::from_secs(30));
        assert_eq!(policy.delay(2, None, 1.0), SignedDuration::from_secs(60));
        assert_eq!(policy.delay(4, None, 0.5), SignedDuration::from_secs(120));
        assert_eq!(policy.delay(40, None, 1.0), SignedDuration::from_hours(6));
        assert_eq!(policy.delay(1, Some(Duration::from_secs(300)), 1.0), SignedDuration::from_secs(300));
        assert_eq!(policy.delay(1, Some(Duration::from_secs(86_400 * 30)), 1.0), SignedDuration::from_hours(6));
        assert_eq!(policy.delay(1, None, 7.0), SignedDuration::from_secs(30), "jitter is clamped");
    }
}
