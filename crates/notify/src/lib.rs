//! How a notification leaves Balagh: each provider (Twilio-compatible SMS and voice, SMTP email,
//! the WhatsApp Cloud API, signed webhooks, and the `log` provider of the embedded mode) sends one
//! rendered `Notification` and says whether it was delivered, failed for now (retry later, perhaps
//! after a time the provider named), or failed for good. The `Router` picks the provider of each
//! medium. Providers know their outside service; they never touch the store.

pub mod email;
pub mod http;
pub mod log;
pub mod router;
pub mod twilio;
pub mod webhook;
pub mod whatsapp;

pub use log::LogProvider;
pub use router::Router;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How a notification reaches its recipient: the scheme of an outbox recipient (`sms:+9665…`,
/// `call:+9665…`, `email:…`, `whatsapp:+9665…`, `webhook:<name>`). Anything else (a staff
/// position such as `team_lead@roads`, `user:…`) is `Staff`, resolved through the staff directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Medium {
    Sms,
    Call,
    Email,
    Whatsapp,
    Webhook,
    Staff,
}

impl Medium {
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Sms => "sms",
            Medium::Call => "call",
            Medium::Email => "email",
            Medium::Whatsapp => "whatsapp",
            Medium::Webhook => "webhook",
            Medium::Staff => "staff",
        }
    }

    /// Splits an outbox recipient into its medium and address (`"sms:+9665…"` -> `(Sms, "+9665…")`);
    /// a recipient with no known scheme is a staff address, kept whole.
    pub fn split(recipient: &str) -> (Medium, &str) {
        let known = [Medium::Sms, Medium::Call, Medium::Email, Medium::Whatsapp, Medium::Webhook];
        for medium in known {
            if let Some(address) = recipient.strip_prefix(medium.as_str()).and_then(|rest| rest.strip_prefix(':')) {
                return (medium, address);
            }
        }
        (Medium::Staff, recipient)
    }
}

/// A message rendered in the recipient's language, ready for any medium: each provider takes the
/// parts it sends.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Content {
    /// BCP 47 language tag of the text (`ar`, `en`).
    pub language: String,
    /// Right to left (Arabic, Urdu, Persian): email HTML gets `dir="rtl"`.
    pub rtl: bool,
    /// Email subject (and webhook title).
    pub subject: String,
    /// Plain text: the SMS body, the WhatsApp text, the email's text part, the log line. No
    /// Unicode isolation marks.
    pub text: String,
    /// The email's HTML body: a fragment, already escaped, that the email provider wraps in a
    /// document with the language and direction.
    pub html: Option<String>,
    /// An automated call: inline TwiML or the URL Balagh serves it from.
    pub call: Option<CallContent>,
    /// The approved WhatsApp template for messages outside the 24-hour customer-service window.
    pub whatsapp_template: Option<WhatsappTemplate>,
    /// The beneficiary wrote to us on WhatsApp in the last 24 hours: free text is allowed.
    pub whatsapp_session_open: bool,
    /// Where the provider reports delivery status (Twilio `StatusCallback`), when Balagh has a
    /// public address.
    pub status_callback: Option<String>,
}

/// What an outbound call plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallContent {
    /// TwiML given inline (Twilio's `Twiml` parameter).
    Twiml(String),
    /// A URL the provider fetches TwiML from (Twilio's `Url` parameter), signed on each request.
    Url(String),
}

/// A WhatsApp template message: its approved name, language code and body parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsappTemplate {
    pub name: String,
    pub language: String,
    pub parameters: Vec<String>,
}

/// One message to send: an outbox row as the dispatcher hands it over, rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The outbox row id, stable across retries: providers that accept an idempotency key get it.
    pub id: i64,
    pub topic: String,
    /// The outbox recipient as written (`sms:+9665…`, `team_lead@roads`).
    pub recipient: String,
    pub medium: Medium,
    /// The address on that medium: a phone number in E.164, an email address, a webhook name.
    pub address: String,
    pub payload: serde_json::Value,
    pub content: Content,
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

    /// The name of the provider that takes `notification` (a router answers for the one it picks).
    fn provider_name(&self, _notification: &Notification) -> &'static str {
        self.name()
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a>;
}
