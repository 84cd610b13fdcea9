//! Twilio-compatible REST providers: SMS through the Messages resource and automated calls through
//! the Calls resource, against Twilio itself or a compatible service (SignalWire and others) at a
//! configurable base URL; and Twilio's request signature (`X-Twilio-Signature`), which Balagh
//! checks on inbound webhooks and the fakes use to sign theirs.
//!
//! # No idempotency key
//!
//! Twilio's REST API accepts no idempotency key: every `POST` to `Messages.json` or `Calls.json`
//! that Twilio accepts creates a new message or call. So delivery is at least once: if Twilio
//! accepted a request but Balagh never learnt it (a timeout after Twilio had accepted, a crash
//! after the 201 but before the outbox row was marked sent), the dispatcher retries and the
//! beneficiary gets the SMS or the call twice. Balagh narrows this window, not closes it: the
//! outbox row id travels in the `StatusCallback` URL, so a status callback for a message Balagh
//! did not record as sent identifies the row and the duplicate can be recognised.

use crate::http::{self, Answer, ClientError};
use crate::{CallContent, Delivery, Notification, Provider, SendError, SendFuture};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Twilio's own API address.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The header Twilio signs its webhook requests with.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The call progress events Balagh asks Twilio to report to the `StatusCallback`.
pub const CALL_STATUS_EVENTS: [&str; 4] = ["initiated", "ringing", "answered", "completed"];

/// How to reach a Twilio-compatible account.
#[derive(Clone, PartialEq, Eq)]
pub struct TwilioConfig {
    /// `https://api.twilio.com`, or a compatible service's address; no trailing path.
    pub base_url: String,
    /// `AC…`: the account, also the user name of HTTP basic authentication.
    pub account_sid: String,
    /// The account's auth token: the basic authentication password and the webhook signing key.
    pub auth_token: String,
    /// The sender: a number in E.164 (calls always use it).
    pub from: String,
    /// `MG…`: when set, SMS are sent through this Messaging Service instead of from `from`.
    pub messaging_service_sid: Option<String>,
    /// The longest a request to the API may take.
    pub timeout: Duration,
    /// How long an automated call rings before Twilio gives up (`Timeout`, whole seconds).
    pub ring_timeout: Duration,
}

impl TwilioConfig {
    /// An account on Twilio itself, sending from `from`, with a 10 s request timeout and calls
    /// ringing for 30 s.
    pub fn new(account_sid: impl Into<String>, auth_token: impl Into<String>, from: impl Into<String>) -> TwilioConfig {
        TwilioConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            from: from.into(),
            messaging_service_sid: None,
            timeout: Duration::from_secs(10),
            ring_timeout: Duration::from_secs(30),
        }
    }

    fn resource_url(&self, resource: &str) -> String {
        format!("{}/2010-04-01/Accounts/{}/{resource}.json", self.base_url.trim_end_matches('/'), self.account_sid)
    }
}

impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[redacted]")
            .field("from", &self.from)
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("timeout", &self.timeout)
            .field("ring_timeout", &self.ring_timeout)
            .finish()
    }
}

/// The account's REST API, shared by the SMS and voice providers.
#[derive(Debug, Clone)]
struct Account {
    config: TwilioConfig,
    client: reqwest::Client,
}

impl Account {
    fn new(config: TwilioConfig) -> Result<Account, ClientError> {
        let client = http::client(config.timeout)?;
        Ok(Account { config, client })
    }

    /// Creates a message or a call: `POST {resource}.json` with `form`, answered 201 with the new
    /// resource, whose `sid` becomes the provider reference.
    async fn create(&self, resource: &str, form: &[(&str, String)]) -> Result<Delivery, SendError> {
        let request = self.client.post(self.config.resource_url(resource)).basic_auth(&self.config.account_sid, Some(&self.config.auth_token)).form(form);
        let answer = http::send("twilio", request).await?;
        if !answer.is_success() {
            return Err(self.failure(&answer));
        }
        match serde_json::from_str::<Created>(&answer.body) {
            Ok(created) => Ok(Delivery { provider_ref: Some(created.sid) }),
            Err(error) => {
                // Twilio accepted it: reporting a failure would send it again.
                tracing::warn!(target: "balagh::notify", "twilio accepted a {resource} request but its answer has no sid: {error}");
                Ok(Delivery { provider_ref: None })
            }
        }
    }

    fn failure(&self, answer: &Answer) -> SendError {
        let status = answer.status.as_u16();
        let detail = match serde_json::from_str::<TwilioError>(&answer.body) {
            Ok(TwilioError { code: Some(code), message, .. }) => format!("answered {status} (code {code}): {}", message.unwrap_or_default()),
            _ => answer.describe(),
        };
        if answer.status == reqwest::StatusCode::UNAUTHORIZED {
            return SendError::Permanent { reason: format!("twilio refused the credentials of account {}: {detail}", self.config.account_sid) };
        }
        answer.failure(format!("twilio {detail}"))
    }

    /// `StatusCallback` and friends, when the notification names a callback address.
    fn status_callback(notification: &Notification, form: &mut Vec<(&str, String)>) {
        if let Some(callback) = &notification.content.status_callback {
            form.push(("StatusCallback", callback.clone()));
        }
    }
}

/// The part of Twilio's created resource Balagh keeps.
#[derive(Debug, serde::Deserialize)]
struct Created {
    sid: String,
}

/// Twilio's error body: `{"code":21211,"message":"…","more_info":"…","status":400}`.
#[derive(Debug, serde::Deserialize)]
struct TwilioError {
    code: Option<u32>,
    message: Option<String>,
}

/// Sends SMS through Twilio's Messages resource; the provider reference is the message sid
/// (`SM…`). At least once: see the module documentation.
#[derive(Debug, Clone)]
pub struct TwilioSms {
    account: Account,
}

impl TwilioSms {
    pub fn new(config: TwilioConfig) -> Result<TwilioSms, ClientError> {
        Ok(TwilioSms { account: Account::new(config)? })
    }

    /// The form posted for a notification: `To`, `From` or `MessagingServiceSid`, `Body`, and
    /// `StatusCallback` when the notification has one.
    pub fn form(&self, notification: &Notification) -> Vec<(&'static str, String)> {
        let config = &self.account.config;
        let mut form = vec![("To", notification.address.clone())];
        match &config.messaging_service_sid {
            Some(service) => form.push(("MessagingServiceSid", service.clone())),
            None => form.push(("From", config.from.clone())),
        }
        form.push(("Body", notification.content.text.clone()));
        Account::status_callback(notification, &mut form);
        form
    }
}

impl Provider for TwilioSms {
    fn name(&self) -> &'static str {
        "twilio-sms"
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        Box::pin(async move { self.account.create("Messages", &self.form(notification)).await })
    }
}

/// Places automated calls through Twilio's Calls resource, playing the notification's TwiML (or
/// the TwiML its URL serves); the provider reference is the call sid (`CA…`). At least once: see
/// the module documentation.
#[derive(Debug, Clone)]
pub struct TwilioVoice {
    account: Account,
}

impl TwilioVoice {
    pub fn new(config: TwilioConfig) -> Result<TwilioVoice, ClientError> {
        Ok(TwilioVoice { account: Account::new(config)? })
    }

    /// The form posted for a notification: `To`, `From`, `Twiml` or `Url` + `Method`, `Timeout`,
    /// and the status callback with every progress event when the notification has one. A
    /// notification without call content cannot be a call.
    pub fn form(&self, notification: &Notification) -> Result<Vec<(&'static str, String)>, SendError> {
        let config = &self.account.config;
        let mut form = vec![("To", notification.address.clone()), ("From", config.from.clone())];
        match &notification.content.call {
            Some(CallContent::Twiml(twiml)) => form.push(("Twiml", twiml.clone())),
            Some(CallContent::Url(url)) => form.extend([("Url", url.clone()), ("Method", "POST".to_owned())]),
            None => {
                return Err(SendError::Permanent {
                    reason: format!("notification {} ({}) has no call content: neither twiml nor a twiml url to play", notification.id, notification.topic),
                });
            }
        }
        form.push(("Timeout", config.ring_timeout.as_secs().max(1).to_string()));
        if notification.content.status_callback.is_some() {
            Account::status_callback(notification, &mut form);
            form.extend(CALL_STATUS_EVENTS.iter().map(|event| ("StatusCallbackEvent", (*event).to_owned())));
            form.push(("StatusCallbackMethod", "POST".to_owned()));
        }
        Ok(form)
    }
}

impl Provider for TwilioVoice {
    fn name(&self) -> &'static str {
        "twilio-voice"
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        Box::pin(async move {
            let form = self.form(notification)?;
            self.account.create("Calls", &form).await
        })
    }
}

/// Twilio's request signature: base64 of the HMAC-SHA1, keyed with the auth token, of the full
/// URL (query included, exactly as requested) followed by each POST parameter's name and value,
/// sorted by name (then value). For a GET, pass no parameters: they are in the URL.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("hmac takes a key of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `header_value` (the `X-Twilio-Signature`) is Twilio's signature of this request,
/// compared in constant time.
pub fn verify_signature(auth_token: &str, url: &str, params: &[(String, String)], header_value: &str) -> bool {
    let expected = signature(auth_token, url, params);
    bool::from(expected.as_bytes().ct_eq(header_value.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Content, Medium};

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    /// Twilio's documented example (also computed independently with Python's `hmac`).
    fn documented_example() -> (&'static str, Vec<(String, String)>) {
        let params =
            params(&[("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"), ("From", "+12349013030"), ("To", "+18005551212")]);
        ("https://mycompany.com/myapp.php?foo=1&bar=2", params)
    }

    #[test]
    fn signature_matches_twilios_documented_example() {
        let (url, params) = documented_example();
        assert_eq!(signature("12345", url, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    }

    #[test]
    fn signature_does_not_depend_on_the_order_parameters_came_in() {
        let (url, mut params) = documented_example();
        params.reverse();
        assert_eq!(signature("12345", url, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    }

    #[test]
    fn verify_accepts_the_signature_and_refuses_any_change() {
        let (url, params) = documented_example();
        assert!(verify_signature("12345", url, &params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!verify_signature("12346", url, &params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!verify_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=3", &params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        let mut tampered = params.clone();
        tampered[2].1 = "9".into();
        assert!(!verify_signature("12345", url, &tampered, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!verify_signature("12345", url, &params, ""));
    }

    #[test]
    fn debug_output_hides_the_auth_token() {
        let config = TwilioConfig::new("AC123", "secret-token", "+15005550006");
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret-token"), "{debug}");
        assert!(debug.contains("AC123"));
    }

    fn call(content: Content) -> Notification {
        Notification {
            id: 42,
            topic: "status_update".into(),
            recipient: "call:+966500000001".into(),
            medium: Medium::Call,
            address: "+966500000001".into(),
            payload: serde_json::Value::Null,
            content,
            attempt: 1,
        }
    }

    #[test]
    fn a_call_form_asks_for_every_progress_event_at_the_status_callback() {
        let voice = TwilioVoice::new(TwilioConfig::new("AC123", "token", "+15005550006")).unwrap();
        let content = Content {
            call: Some(CallContent::Url("https://balagh.example/ivr/update".into())),
            status_callback: Some("https://balagh.example/cb/42".into()),
            ..Content::default()
        };
        let form = voice.form(&call(content)).unwrap();
        let rendered: Vec<String> = form.iter().map(|(name, value)| format!("{name}={value}")).collect();
        assert_eq!(
            rendered,
            [
                "To=+966500000001",
                "From=+15005550006",
                "Url=https://balagh.example/ivr/update",
                "Method=POST",
                "Timeout=30",
                "StatusCallback=https://balagh.example/cb/42",
                "StatusCallbackEvent=initiated",
                "StatusCallbackEvent=ringing",
                "StatusCallbackEvent=answered",
                "StatusCallbackEvent=completed",
                "StatusCallbackMethod=POST",
            ]
        );
    }

    #[test]
    fn a_call_without_call_content_is_a_permanent_failure_naming_it() {
        let voice = TwilioVoice::new(TwilioConfig::new("AC123", "token", "+15005550006")).unwrap();
        let Err(SendError::Permanent { reason }) = voice.form(&call(Content::default())) else { panic!("expected a permanent failure") };
        assert!(reason.contains("no call content"), "{reason}");
    }

    #[test]
    fn sms_go_through_the_messaging_service_when_one_is_configured() {
        let mut config = TwilioConfig::new("AC123", "token", "+15005550006");
        config.messaging_service_sid = Some("MG0123".into());
        let sms = TwilioSms::new(config).unwrap();
        let notification = Notification { content: Content { text: "hello".into(), ..Content::default() }, ..call(Content::default()) };
        let form = sms.form(&notification);
        assert!(form.contains(&("MessagingServiceSid", "MG0123".into())));
        assert!(!form.iter().any(|(name, _)| *name == "From" || *name == "StatusCallback"));
    }
}
