//! Signed outbound webhooks to outside systems (GIS tools, other municipal systems): a JSON POST
//! per notification to a named endpoint, signed with the endpoint's secret; and `verify`, the
//! receiving side's check, for receivers written in Rust and for the fakes.
//!
//! # Signing scheme
//!
//! Each request carries `Balagh-Delivery: <id>` (the notification's idempotency key, the same on
//! every retry), `Balagh-Timestamp: <unix seconds>` and `Balagh-Signature: v1=<hex>`, where `<hex>`
//! is the HMAC-SHA256, keyed with the endpoint's secret, of `<timestamp>.<body>`. A receiver checks
//! the signature, refuses timestamps too far from its clock (a replay), and deduplicates on
//! `Balagh-Delivery`. The header may carry several comma-separated `v1=` signatures (for secret
//! rotation); one match is enough.
//!
//! # Idempotency
//!
//! Delivery is at least once and the delivery id makes it effectively once: a retry (after a
//! timeout, a 5xx, a crash before the outbox row was marked sent) repeats the same
//! `Balagh-Delivery` and the same body, so a receiver that deduplicates on it acts once.

use crate::http::{self, ClientError};
use crate::{Delivery, Notification, Provider, SendError, SendFuture};
use hmac::{Hmac, Mac};
use std::collections::BTreeMap;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The delivery id header: the same on every retry of one notification.
pub const DELIVERY_HEADER: &str = "Balagh-Delivery";
/// The signing time header, in unix seconds.
pub const TIMESTAMP_HEADER: &str = "Balagh-Timestamp";
/// The signature header: `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "Balagh-Signature";

/// How far a receiver should let a timestamp be from its own clock by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// One outside system that receives webhooks.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub url: String,
    /// The signing key, shared with the receiver.
    pub secret: String,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint").field("url", &self.url).field("secret", &"[redacted]").finish()
    }
}

/// The webhook endpoints by name (the address of a `webhook:<name>` recipient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub endpoints: BTreeMap<String, WebhookEndpoint>,
    /// The longest a request to an endpoint may take.
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    /// No endpoints, a 10 s request timeout.
    fn default() -> WebhookConfig {
        WebhookConfig { endpoints: BTreeMap::new(), timeout: Duration::from_secs(10) }
    }
}

impl WebhookConfig {
    /// Adds (or replaces) the endpoint called `name`.
    pub fn with_endpoint(mut self, name: impl Into<String>, url: impl Into<String>, secret: impl Into<String>) -> WebhookConfig {
        self.endpoints.insert(name.into(), WebhookEndpoint { url: url.into(), secret: secret.into() });
        self
    }
}

/// Posts signed webhooks; the provider reference is the delivery id.
#[derive(Debug, Clone)]
pub struct WebhookProvider {
    config: WebhookConfig,
    client: reqwest::Client,
}

impl WebhookProvider {
    pub fn new(config: WebhookConfig) -> Result<WebhookProvider, ClientError> {
        let client = http::client(config.timeout)?;
        Ok(WebhookProvider { config, client })
    }

    /// The JSON body for a notification; it does not change between retries.
    pub fn body(notification: &Notification) -> serde_json::Value {
        let content = &notification.content;
        serde_json::json!({
            "id": notification.idempotency_key(),
            "topic": notification.topic,
            "recipient": notification.recipient,
            "language": content.language,
            "subject": content.subject,
            "text": content.text,
            "payload": notification.payload,
        })
    }
}

impl Provider for WebhookProvider {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        Box::pin(async move {
            let name = &notification.address;
            let Some(endpoint) = self.config.endpoints.get(name) else {
                let known: Vec<&str> = self.config.endpoints.keys().map(String::as_str).collect();
                return Err(SendError::Permanent { reason: format!("unknown webhook endpoint {name:?} (configured: {})", known.join(", ")) });
            };
            let delivery = notification.idempotency_key();
            let body = serde_json::to_vec(&WebhookProvider::body(notification))
                .map_err(|error| SendError::Permanent { reason: format!("cannot encode the webhook body: {error}") })?;
            let timestamp = jiff::Timestamp::now().as_second();
            let request = self
                .client
                .post(&endpoint.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(DELIVERY_HEADER, &delivery)
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(SIGNATURE_HEADER, sign(&endpoint.secret, timestamp, &body))
                .body(body);
            let service = format!("webhook endpoint {name}");
            let answer = http::send(&service, request).await?;
            if answer.is_success() { Ok(Delivery { provider_ref: Some(delivery) }) } else { Err(answer.failure(format!("{service} {}", answer.describe()))) }
        })
    }
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<sha2::Sha256> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Balagh-Signature` value for `body` sent at `timestamp` (unix seconds): `v1=<hex>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1={}", hex::encode(mac(secret, &timestamp.to_string(), body).finalize().into_bytes()))
}

/// Why a received webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSignatureError {
    #[error("missing Balagh-Timestamp header")]
    MissingTimestamp,
    #[error("malformed Balagh-Timestamp header {0:?}: expected unix seconds")]
    MalformedTimestamp(String),
    #[error("missing Balagh-Signature header")]
    MissingSignature,
    #[error("malformed Balagh-Signature header {0:?}: expected v1=<64 hex digits>")]
    MalformedSignature(String),
    #[error("bad signature: no v1 signature in Balagh-Signature matches the body signed with the endpoint's secret")]
    BadSignature,
    /// The signature is right but the request is old (or from the future): a replay, or a clock
    /// far off.
    #[error("stale Balagh-Timestamp {timestamp}: {distance_seconds} s from now, more than the {tolerance_seconds} s allowed (a replayed request?)")]
    Stale { timestamp: i64, distance_seconds: u64, tolerance_seconds: u64 },
}

/// Checks a received webhook: the headers are present and well formed, one `v1=` signature
/// matches `body` (compared in constant time), and the timestamp is within `tolerance` of `now`
/// either way. Deduplicating on `Balagh-Delivery` is the receiver's part.
pub fn verify(
    secret: &str,
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now: jiff::Timestamp,
    tolerance: Duration,
) -> Result<(), WebhookSignatureError> {
    let timestamp_text = timestamp_header.map(str::trim).filter(|text| !text.is_empty()).ok_or(WebhookSignatureError::MissingTimestamp)?;
    let timestamp: i64 = timestamp_text.parse().map_err(|_| WebhookSignatureError::MalformedTimestamp(timestamp_text.to_owned()))?;
    let signature_text = signature_header.map(str::trim).filter(|text| !text.is_empty()).ok_or(WebhookSignatureError::MissingSignature)?;
    let mut candidates = Vec::new();
    for part in signature_text.split(',').map(str::trim) {
        // Other schemes (`v2=` one day) are skipped, so that a receiver can be upgraded first.
        if let Some(hex_digits) = part.strip_prefix("v1=") {
            match hex::decode(hex_digits) {
                Ok(bytes) if bytes.len() == 32 => candidates.push(bytes),
                _ => return Err(WebhookSignatureError::MalformedSignature(signature_text.to_owned())),
            }
        }
    }
    if candidates.is_empty() {
        return Err(WebhookSignatureError::MalformedSignature(signature_text.to_owned()));
    }
    let expected = mac(secret, timestamp_text, body).finalize().into_bytes();
    let matched = candidates.iter().fold(subtle::Choice::from(0), |matched, candidate| matched | expected.as_slice().ct_eq(candidate));
    if !bool::from(matched) {
        return Err(WebhookSignatureError::BadSignature);
    }
    let distance_seconds = now.as_second().abs_diff(timestamp);
    if distance_seconds > tolerance.as_secs() {
        return Err(WebhookSignatureError::Stale { timestamp, distance_seconds, tolerance_seconds: tolerance.as_secs() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(seconds).unwrap()
    }

    fn check(timestamp: Option<&str>, signature: Option<&str>, body: &[u8], now: i64) -> Result<(), WebhookSignatureError> {
        verify("whsec", timestamp, signature, body, at(now), DEFAULT_TOLERANCE)
    }

    #[test]
    fn signature_matches_an_independent_computation() {
        // python3: hmac.new(b"whsec", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
        assert_eq!(sign("whsec", NOW, br#"{"a":1}"#), "v1=8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032");
    }

    #[test]
    fn verify_accepts_what_sign_produced_and_names_every_refusal() {
        let body = br#"{"a":1}"#;
        let good = sign("whsec", NOW, body);
        let other = sign("other", NOW, body);
        assert_eq!(check(Some("1700000000"), Some(&good), body, NOW + 10), Ok(()));
        assert_eq!(check(Some("1700000000"), Some(&format!("{other}, {good}")), body, NOW), Ok(()), "any one v1 signature may match");
        assert_eq!(check(None, Some(&good), body, NOW), Err(WebhookSignatureError::MissingTimestamp));
        assert_eq!(check(Some("yesterday"), Some(&good), body, NOW), Err(WebhookSignatureError::MalformedTimestamp("yesterday".into())));
        assert_eq!(check(Some("1700000000"), None, body, NOW), Err(WebhookSignatureError::MissingSignature));
        assert_eq!(check(Some("1700000000"), Some("sha256=abc"), body, NOW), Err(WebhookSignatureError::MalformedSignature("sha256=abc".into())));
        assert_eq!(check(Some("1700000000"), Some("v1=zz"), body, NOW), Err(WebhookSignatureError::MalformedSignature("v1=zz".into())));
        assert_eq!(check(Some("1700000000"), Some(&other), body, NOW), Err(WebhookSignatureError::BadSignature));
        assert_eq!(check(Some("1700000000"), Some(&good), br#"{"a":2}"#, NOW), Err(WebhookSignatureError::BadSignature));
        assert_eq!(check(Some("1700000001"), Some(&good), body, NOW), Err(WebhookSignatureError::BadSignature), "the timestamp is signed too");
    }

    #[test]
    fn a_timestamp_outside_the_tolerance_is_stale_either_way() {
        let body = b"{}";
        let good = sign("whsec", NOW, body);
        assert_eq!(check(Some("1700000000"), Some(&good), body, NOW + 300), Ok(()));
        assert_eq!(
            check(Some("1700000000"), Some(&good), body, NOW + 301),
            Err(WebhookSignatureError::Stale { timestamp: NOW, distance_seconds: 301, tolerance_seconds: 300 })
        );
        assert!(matches!(check(Some("1700000000"), Some(&good), body, NOW - 301), Err(WebhookSignatureError::Stale { .. })));
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let config = WebhookConfig::default().with_endpoint("gis", "https://gis.example/hooks", "very-secret");
        let debug = format!("{config:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        assert!(debug.contains("gis.example"));
    }
}
