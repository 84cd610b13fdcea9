//! How a notification leaves Balagh: each provider (the `log` provider now; Twilio-compatible SMS
//! and voice, SMTP, WhatsApp and signed webhooks later) sends one `Notification` and says whether
//! it was delivered, failed for now (retry later, perhaps after a time the provider named), or
//! failed for good. Providers know their outside service; they never touch the store.

pub mod log;

pub use log::LogProvider;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// One message to send: an outbox row as the dispatcher hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The outbox row id, stable across retries: providers that accept an idempotency key get it.
    pub id: i64,
    pub topic: String,
    pub recipient: String,
    pub payload: serde_json::Value,
    /// 1 for the first try.
    pub attempt: u32,
}

impl Notification {
    /// The key a provider that deduplicates requests is given: the same for every retry.
    pub fn idempotency_key(&self) -> String {
        format!("balagh-outbox-{}", self.id)
    }
}

/// A delivered message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    /// The provider's id for the message, when it gives one.
    pub provider_ref: Option<String>,
}

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again: a timeout, a 5xx, a 429. `retry_after` is the provider's own wish.
    #[error("temporary failure: {reason}")]
    Temporary { reason: String, retry_after: Option<Duration> },
    /// Trying again cannot help: a 4xx, an invalid recipient.
    #[error("permanent failure: {reason}")]
    Permanent { reason: String },
}

/// What a provider's `send` returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Delivery, SendError>> + Send + 'a>>;

/// Sends notifications through one outside service.
pub trait Provider: Send + Sync {
    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a>;
}
