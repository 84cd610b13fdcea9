//! The signed webhook provider against the fake receiver, and `verify` against forged, stale and
//! replayed requests.

use balagh_fakes::webhook::FakeWebhookReceiver;
use balagh_fakes::{Failure, Faults};
use balagh_notify::webhook::{
    DEFAULT_TOLERANCE, DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookConfig, WebhookProvider, WebhookSignatureError, sign, verify,
};
use balagh_notify::{Content, Medium, Notification, Provider, SendError};
use std::time::Duration;

const SECRET: &str = "whsec-roads-gis";

fn provider(receiver: &FakeWebhookReceiver) -> WebhookProvider {
    let config = WebhookConfig { timeout: Duration::from_secs(5), ..WebhookConfig::default() }.with_endpoint("roads-gis", receiver.url(), SECRET);
    WebhookProvider::new(config).unwrap()
}

fn notification(id: i64, endpoint: &str) -> Notification {
    Notification {
        id,
        topic: "report_resolved".into(),
        recipient: format!("webhook:{endpoint}"),
        medium: Medium::Webhook,
        address: endpoint.into(),
        payload: serde_json::json!({ "ticket": "10000004", "status": "resolved" }),
        content: Content { language: "en".into(), subject: "Report 10000004 resolved".into(), text: "The pothole was filled.".into(), ..Content::default() },
        attempt: 1,
    }
}

#[tokio::test]
async fn a_webhook_is_signed_and_the_receiver_verifies_and_records_it() {
    let receiver = FakeWebhookReceiver::start(SECRET).await;
    let delivery = provider(&receiver).send(&notification(21, "roads-gis")).await.unwrap();
    assert_eq!(delivery.provider_ref.as_deref(), Some("balagh-outbox-21"));
    assert_eq!((receiver.requests(), receiver.deliveries(), receiver.refused()), (1, 1, 0));
    assert_eq!(receiver.delivery_ids(), ["balagh-outbox-21"]);
    assert_eq!(
        receiver.bodies()[0],
        serde_json::json!({
            "id": "balagh-outbox-21",
            "topic": "report_resolved",
            "recipient": "webhook:roads-gis",
            "language": "en",
            "subject": "Report 10000004 resolved",
            "text": "The pothole was filled.",
            "payload": { "ticket": "10000004", "status": "resolved" },
        })
    );
}

#[tokio::test]
async fn a_retried_delivery_is_answered_but_counted_once() {
    let receiver = FakeWebhookReceiver::start(SECRET).await;
    let provider = provider(&receiver);
    provider.send(&notification(22, "roads-gis")).await.unwrap();
    provider.send(&Notification { attempt: 2, ..notification(22, "roads-gis") }).await.unwrap();
    assert_eq!((receiver.requests(), receiver.deliveries()), (2, 1));
}

#[tokio::test]
async fn forged_and_stale_requests_are_refused_with_the_reason() {
    let receiver = FakeWebhookReceiver::start(SECRET).await;
    let client = reqwest::Client::new();
    let body = br#"{"id":"balagh-outbox-23"}"#.to_vec();
    let post = |timestamp: i64, signature: String| {
        client
            .post(receiver.url())
            .header(DELIVERY_HEADER, "balagh-outbox-23")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body.clone())
            .send()
    };
    let now = jiff::Timestamp::now();

    let forged = post(now.as_second(), sign("guessed-secret", now.as_second(), &body)).await.unwrap();
    assert_eq!(forged.status(), 401);
    assert!(forged.text().await.unwrap().starts_with("bad signature"));

    let old = now.as_second() - 3600;
    let stale = post(old, sign(SECRET, old, &body)).await.unwrap();
    assert_eq!(stale.status(), 401);
    assert!(stale.text().await.unwrap().starts_with("stale Balagh-Timestamp"));

    let unsigned = client.post(receiver.url()).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.text().await.unwrap(), "missing Balagh-Timestamp header");

    assert_eq!((receiver.requests(), receiver.refused(), receiver.deliveries()), (3, 3, 0));
}

#[tokio::test]
async fn verify_refuses_a_captured_request_replayed_after_the_tolerance() {
    let body = br#"{"id":"balagh-outbox-24"}"#;
    let sent_at = jiff::Timestamp::now();
    let signature = sign(SECRET, sent_at.as_second(), body);
    let timestamp = sent_at.as_second().to_string();
    assert_eq!(verify(SECRET, Some(&timestamp), Some(&signature), body, sent_at, DEFAULT_TOLERANCE), Ok(()));
    let later = sent_at + jiff::SignedDuration::from_mins(10);
    let replayed = verify(SECRET, Some(&timestamp), Some(&signature), body, later, DEFAULT_TOLERANCE);
    assert_eq!(replayed, Err(WebhookSignatureError::Stale { timestamp: sent_at.as_second(), distance_seconds: 600, tolerance_seconds: 300 }));
}

#[tokio::test]
async fn a_server_error_is_temporary_and_a_rate_limit_honours_retry_after() {
    let receiver = FakeWebhookReceiver::start(SECRET).await;
    let provider = provider(&receiver);
    receiver.set_faults(Faults::failing(1.0, Failure::ServerError));
    assert!(matches!(
        provider.send(&notification(25, "roads-gis")).await,
        Err(SendError::Temporary { reason, retry_after: None }) if reason == "webhook endpoint roads-gis answered 500: receiver failed"
    ));
    receiver.set_faults(Faults::failing(1.0, Failure::RateLimited));
    assert!(
        matches!(provider.send(&notification(25, "roads-gis")).await, Err(SendError::Temporary { retry_after: Some(wait), .. }) if wait == Duration::from_secs(1))
    );
    assert_eq!(receiver.requests(), 0, "injected failures are decided before the receiver sees the request");
}

#[tokio::test]
async fn an_unknown_endpoint_is_permanent_and_names_it() {
    let receiver = FakeWebhookReceiver::start(SECRET).await;
    match provider(&receiver).send(&notification(26, "parks-gis")).await {
        Err(SendError::Permanent { reason }) => assert_eq!(reason, r#"unknown webhook endpoint "parks-gis" (configured: roads-gis)"#),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_secret_at_the_receiver_is_a_permanent_401() {
    let receiver = FakeWebhookReceiver::start("rotated-secret").await;
    match provider(&receiver).send(&notification(27, "roads-gis")).await {
        Err(SendError::Permanent { reason }) => assert!(reason.starts_with("webhook endpoint roads-gis answered 401: bad signature"), "{reason}"),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}
