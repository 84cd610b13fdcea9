//! The WhatsApp Cloud API provider against the fake Cloud API.

use balagh_fakes::whatsapp::{FakeWhatsapp, FakeWhatsappContent};
use balagh_fakes::{Failure, Faults};
use balagh_notify::whatsapp::{WhatsappConfig, WhatsappProvider};
use balagh_notify::{Content, Delivery, Medium, Notification, Provider, SendError, WhatsappTemplate};
use std::time::Duration;

const PHONE_NUMBER_ID: &str = "106540352242922";
const TOKEN: &str = "EAAG-fake-access-token";
const TO: &str = "+966500000001";

fn provider(fake: &FakeWhatsapp) -> WhatsappProvider {
    WhatsappProvider::new(WhatsappConfig { base_url: fake.base_url(), timeout: Duration::from_secs(5), ..WhatsappConfig::new(PHONE_NUMBER_ID, TOKEN) }).unwrap()
}

fn notification(id: i64, content: Content) -> Notification {
    Notification {
        id,
        topic: "status_update".into(),
        recipient: format!("whatsapp:{TO}"),
        medium: Medium::Whatsapp,
        address: TO.into(),
        payload: serde_json::Value::Null,
        content,
        attempt: 1,
    }
}

fn text(id: i64, body: &str) -> Notification {
    notification(id, Content { language: "ar".into(), text: body.into(), whatsapp_session_open: true, ..Content::default() })
}

fn template(id: i64) -> Notification {
    let template = WhatsappTemplate { name: "report_status".into(), language: "ar".into(), parameters: vec!["10000004".into(), "تم الحل".into()] };
    notification(id, Content { language: "ar".into(), text: "unused outside the window".into(), whatsapp_template: Some(template), ..Content::default() })
}

fn expect_permanent(result: Result<Delivery, SendError>, needle: &str) -> String {
    match result {
        Err(SendError::Permanent { reason }) => {
            assert!(reason.contains(needle), "{reason:?} does not mention {needle:?}");
            reason
        }
        other => panic!("expected a permanent failure mentioning {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn free_text_inside_the_window_is_accepted_with_its_wamid() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
    fake.open_session(TO);
    let delivery = provider(&fake).send(&text(11, "بلاغك قيد المعالجة")).await.unwrap();
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert!(message.id.starts_with("wamid."), "{}", message.id);
    assert_eq!(delivery.provider_ref.as_deref(), Some(message.id.as_str()));
    assert_eq!(message.to, "966500000001");
    assert_eq!(message.content, FakeWhatsappContent::Text { body: "بلاغك قيد المعالجة".into() });
    assert_eq!(message.biz_opaque_callback_data.as_deref(), Some("balagh-outbox-11"));
    assert_eq!(message.json["recipient_type"], "individual");
    assert_eq!(message.json["text"]["preview_url"], false);
}

#[tokio::test]
async fn a_template_outside_the_window_is_accepted_with_its_parameters() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
    let delivery = provider(&fake).send(&template(12)).await.unwrap();
    assert!(delivery.provider_ref.unwrap().starts_with("wamid."));
    let content = fake.messages()[0].content.clone();
    assert_eq!(
        content,
        FakeWhatsappContent::Template { name: "report_status".into(), language: "ar".into(), parameters: vec!["10000004".into(), "تم الحل".into()] }
    );
}

#[tokio::test]
async fn free_text_outside_the_window_is_permanent_with_re_engagement_required() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
    let reason = expect_permanent(provider(&fake).send(&text(13, "hello")).await, "code 131047");
    assert!(reason.contains("Re-engagement message") && reason.contains("24 hours"), "{reason}");
    assert_eq!(fake.count(), 0);
}

#[tokio::test]
async fn a_bad_access_token_is_permanent_and_names_the_token() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, "another-token").await;
    let reason = expect_permanent(provider(&fake).send(&template(14)).await, "refused the access token");
    assert!(reason.contains("code 190") && reason.contains("Invalid OAuth access token."), "{reason}");
}

#[tokio::test]
async fn an_unknown_phone_number_id_is_permanent() {
    let fake = FakeWhatsapp::start("999", TOKEN).await;
    expect_permanent(provider(&fake).send(&template(15)).await, "Object with ID '106540352242922' does not exist");
}

#[tokio::test]
async fn throttling_and_outages_are_temporary_and_create_nothing() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
    fake.set_faults(Faults::failing(1.0, Failure::RateLimited));
    match provider(&fake).send(&template(16)).await {
        Err(SendError::Temporary { reason, retry_after }) => {
            assert!(reason.contains("code 130429"), "{reason}");
            assert_eq!(retry_after, Some(Duration::from_secs(1)));
        }
        other => panic!("expected a temporary failure, got {other:?}"),
    }
    fake.set_faults(Faults::outage());
    assert!(matches!(provider(&fake).send(&template(16)).await, Err(SendError::Temporary { reason, .. }) if reason.contains("answered 503")));
    assert_eq!(fake.count(), 0);
}
