//! The outbox dispatcher: claims pending notifications with a lease, hands each to the provider,
//! and records the outcome. Temporary failures are retried with exponential backoff and jitter
//! (never sooner than the provider's Retry-After), permanent ones and those that keep failing go
//! dead with their reason, for an administrator to see and retry. `run_once(now)` drains what is
//! available at `now`; tests drive it with a fixed clock.

use crate::{App, AppError};
use balagh_notify::{Notification, Provider, SendError};
use balagh_store::outbox::Outcome as Recorded;
use balagh_store::{OutboxFilter, StoredOutbox};
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use std::time::Duration;

/// How many rows one claim takes.
pub const BATCH: u64 = 100;

/// How long a claim is held before another dispatcher may take it over.
pub const LEASE: SignedDuration = SignedDuration::from_mins(2);

/// How often an idle dispatcher looks for new rows.
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
}

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

    /// Sends everything available at `now`, batch by batch.
    pub async fn run_once(&self, now: Timestamp) -> Result<Dispatched, AppError> {
        let mut done = Dispatched::default();
        loop {
            let claimed = self.app.store.db.claim_outbox(&self.owner, now, LEASE, BATCH).await?;
            if claimed.is_empty() {
                return Ok(done);
            }
            for row in claimed {
                let attempt = u32::try_from(row.attempts).unwrap_or(u32::MAX).saturating_add(1);
                let payload = serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::String(row.payload.clone()));
                let (medium, address) = balagh_notify::Medium::split(&row.recipient);
                let (medium, address) = (medium, address.to_owned());
                let notification = Notification { id: row.id, topic: row.topic, recipient: row.recipient, medium, address, payload, content: Default::default(), attempt };
                let outcome = match self.provider.send(&notification).await {
                    Ok(delivery) => Recorded::Sent { provider_ref: delivery.provider_ref },
                    Err(SendError::Temporary { reason, .. }) if attempt >= self.policy.max_attempts => {
                        Recorded::Dead { error: format!("gave up after {attempt} attempts: {reason}") }
                    }
                    Err(SendError::Temporary { reason, retry_after }) => {
                        let delay = self.policy.delay(attempt, retry_after, 0.5 + rand::random::<f64>() / 2.0);
                        Recorded::Retry { error: reason, retry_at: now.checked_add(delay).unwrap_or(now) }
                    }
                    Err(SendError::Permanent { reason }) => Recorded::Dead { error: reason },
                };
                if !self.app.store.db.record_outbox(notification.id, &self.owner, self.app.now(), &outcome).await? {
                    tracing::warn!(id = notification.id, "an outbox row's lease ended before its outcome was recorded; another dispatcher has it");
                    continue;
                }
                let (counter, result) = match outcome {
                    Recorded::Sent { .. } => (&mut done.sent, "sent"),
                    Recorded::Retry { .. } => (&mut done.retried, "retry"),
                    Recorded::Dead { .. } => (&mut done.dead, "dead"),
                };
                *counter += 1;
                metrics::counter!("balagh_notifications_total", "provider" => self.provider.name(), "topic" => notification.topic, "outcome" => result)
                    .increment(1);
            }
        }
    }

    /// Runs until `shutdown` resolves, looking for rows every `IDLE_POLL` when there is nothing to
    /// send (an index seek on state and availability).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.run_once(self.app.now()).await {
                tracing::error!(%error, "outbox dispatch pass failed; retrying shortly");
            }
            tokio::select! {
                () = tokio::time::sleep(IDLE_POLL) => {}
                () = &mut shutdown => return,
            }
        }
    }
}

impl App {
    /// Outbox rows, oldest first, for administrators (they watch delivery and retry the dead).
    pub async fn notifications(&self, viewer: &balagh_domain::Actor, filter: &OutboxFilter) -> Result<Vec<StoredOutbox>, AppError> {
        only_administrators(viewer, "list")?;
        Ok(self.store.db.outbox_rows(filter).await?)
    }

    /// Puts a dead notification back in line (administrators only).
    pub async fn retry_notification(&self, id: i64, viewer: &balagh_domain::Actor) -> Result<(), AppError> {
        only_administrators(viewer, "retry")?;
        if self.store.db.retry_outbox(id, self.now()).await? {
            Ok(())
        } else {
            Err(AppError::Conflict { code: "not_dead", message: format!("notification {id} is not dead (or does not exist)") })
        }
    }
}

fn only_administrators(viewer: &balagh_domain::Actor, what: &str) -> Result<(), AppError> {
    if viewer.role == balagh_domain::Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden { code: "forbidden", message: format!("only administrators may {what} notifications") })
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
