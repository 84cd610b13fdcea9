//! The Twilio SMS and voice providers against the fake Twilio, and the fake's caller emulation and
//! signed status callbacks against a small TwiML app.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use balagh_fakes::twilio::FakeTwilio;
use balagh_fakes::{Failure, Faults};
use balagh_notify::twilio::{SIGNATURE_HEADER, TwilioConfig, TwilioSms, TwilioVoice, verify_signature};
use balagh_notify::{CallContent, Content, Delivery, Medium, Notification, Provider, SendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "fake-auth-token";
const FROM: &str = "+15005550006";
const TO: &str = "+966500000001";

fn config(fake: &FakeTwilio) -> TwilioConfig {
    TwilioConfig { base_url: fake.base_url(), timeout: Duration::from_secs(5), ..TwilioConfig::new(SID, TOKEN, FROM) }
}

fn sms_provider(fake: &FakeTwilio) -> TwilioSms {
    TwilioSms::new(config(fake)).unwrap()
}

fn voice_provider(fake: &FakeTwilio) -> TwilioVoice {
    TwilioVoice::new(config(fake)).unwrap()
}

fn sms(id: i64, to: &str, text: &str, status_callback: Option<String>) -> Notification {
    Notification {
        id,
        topic: "status_update".into(),
        recipient: format!("sms:{to}"),
        medium: Medium::Sms,
        address: to.into(),
        payload: serde_json::json!({ "ticket": "10000004" }),
        content: Content { language: "ar".into(), rtl: true, text: text.into(), status_callback, ..Content::default() },
        attempt: 1,
    }
}

fn call(id: i64, call: Option<CallContent>, status_callback: Option<String>) -> Notification {
    Notification {
        id,
        topic: "status_update".into(),
        recipient: format!("call:{TO}"),
        medium: Medium::Call,
        address: TO.into(),
        payload: serde_json::Value::Null,
        content: Content { language: "ar".into(), call, status_callback, ..Content::default() },
        attempt: 1,
    }
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

fn expect_temporary(result: Result<Delivery, SendError>, needle: &str) -> Option<Duration> {
    match result {
        Err(SendError::Temporary { reason, retry_after }) => {
            assert!(reason.contains(needle), "{reason:?} does not mention {needle:?}");
            retry_after
        }
        other => panic!("expected a temporary failure mentioning {needle:?}, got {other:?}"),
    }
}

fn value<'a>(form: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    form.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
}

#[tokio::test]
async fn an_sms_is_accepted_and_its_sid_returned_with_the_form_twilio_expects() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let text = "بلاغك رقم 10000004 قيد المعالجة";
    let delivery = sms_provider(&fake).send(&sms(7, TO, text, Some("https://balagh.example/twilio/status/7".into()))).await.unwrap();
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(delivery.provider_ref.as_deref(), Some(message.sid.as_str()));
    assert!(message.sid.starts_with("SM") && message.sid.len() == 34, "{}", message.sid);
    assert_eq!((message.to.as_str(), message.from.as_str(), message.body.as_str(), message.status.as_str()), (TO, FROM, text, "queued"));
    assert_eq!(message.status_callback.as_deref(), Some("https://balagh.example/twilio/status/7"));
    let names: Vec<&str> = message.form.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["To", "From", "Body", "StatusCallback"]);
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn an_invalid_number_is_permanent_with_twilios_code_and_message() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let reason = expect_permanent(sms_provider(&fake).send(&sms(1, "+1", "hello", None)).await, "code 21211");
    assert_eq!(reason, "twilio answered 400 (code 21211): The 'To' number +1 is not a valid phone number.");
    expect_permanent(sms_provider(&fake).send(&sms(2, TO, &"a".repeat(1601), None)).await, "code 21617");
    expect_permanent(sms_provider(&fake).send(&sms(3, TO, "", None)).await, "code 21602");
    assert_eq!(fake.count(), 0);
}

#[tokio::test]
async fn a_wrong_auth_token_is_permanent_and_says_the_credentials_were_refused() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let provider = TwilioSms::new(TwilioConfig { auth_token: "stale-token".into(), ..config(&fake) }).unwrap();
    let reason = expect_permanent(provider.send(&sms(1, TO, "hello", None)).await, "refused the credentials");
    assert!(reason.contains("code 20003"), "{reason}");
    assert_eq!(fake.count(), 0);
}

#[tokio::test]
async fn an_outage_is_temporary_and_creates_nothing_until_it_ends() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let provider = sms_provider(&fake);
    fake.set_faults(Faults::outage());
    expect_temporary(provider.send(&sms(1, TO, "hello", None)).await, "twilio answered 503 (code 20503)");
    assert_eq!(fake.count(), 0);
    fake.set_faults(Faults::none());
    provider.send(&sms(1, TO, "hello", None)).await.unwrap();
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn rate_limiting_is_temporary_and_honours_retry_after() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    fake.set_faults(Faults::failing(1.0, Failure::RateLimited));
    let retry_after = expect_temporary(sms_provider(&fake).send(&sms(1, TO, "hello", None)).await, "answered 429");
    assert_eq!(retry_after, Some(Duration::from_secs(1)));
    assert_eq!(fake.count(), 0);
}

#[tokio::test]
async fn an_answer_later_than_the_client_timeout_is_temporary() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    fake.set_faults(Faults::delayed(Duration::from_secs(3)));
    let provider = TwilioSms::new(TwilioConfig { timeout: Duration::from_millis(200), ..config(&fake) }).unwrap();
    let started = Instant::now();
    expect_temporary(provider.send(&sms(1, TO, "hello", None)).await, "did not answer in time");
    assert!(started.elapsed() < Duration::from_secs(2), "gave up after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_closed_port_is_temporary() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let config = config(&fake);
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;
    expect_temporary(TwilioSms::new(config).unwrap().send(&sms(1, TO, "hello", None)).await, "twilio");
}

#[tokio::test]
async fn a_call_with_inline_twiml_asks_for_every_progress_event() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let twiml = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say language="ar-SA">تم حل بلاغك</Say></Response>"#;
    let notification = call(3, Some(CallContent::Twiml(twiml.into())), Some("https://balagh.example/twilio/call-status/3".into()));
    let delivery = voice_provider(&fake).send(&notification).await.unwrap();
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    let placed = &calls[0];
    assert_eq!(delivery.provider_ref.as_deref(), Some(placed.sid.as_str()));
    assert!(placed.sid.starts_with("CA") && placed.sid.len() == 34, "{}", placed.sid);
    assert_eq!((placed.to.as_str(), placed.from.as_str()), (TO, FROM));
    assert_eq!(placed.twiml.as_deref(), Some(twiml));
    assert_eq!(placed.url, None);
    assert_eq!(placed.status_callback_events, ["initiated", "ringing", "answered", "completed"]);
    assert_eq!(value(&placed.form, "StatusCallbackMethod"), ["POST"]);
    assert_eq!(placed.ring_timeout, Some(30));
}

#[tokio::test]
async fn a_call_with_a_twiml_url_is_placed_to_fetch_it_by_post() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let notification = call(4, Some(CallContent::Url("https://balagh.example/ivr/update/4".into())), None);
    voice_provider(&fake).send(&notification).await.unwrap();
    let placed = &fake.calls()[0];
    assert_eq!(placed.url.as_deref(), Some("https://balagh.example/ivr/update/4"));
    assert_eq!(placed.method, "POST");
    assert_eq!(placed.status_callback, None);
    assert!(value(&placed.form, "StatusCallbackEvent").is_empty());
}

#[tokio::test]
async fn a_call_without_call_content_is_permanent_and_nothing_is_sent() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    expect_permanent(voice_provider(&fake).send(&call(5, None, None)).await, "no call content");
    assert_eq!(fake.count(), 0);
}

#[tokio::test]
async fn the_fake_takes_a_thousand_concurrent_messages_and_records_each_once() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let provider = Arc::new(sms_provider(&fake));
    let started = Instant::now();
    let tasks: Vec<_> = (0..1000)
        .map(|id| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.send(&sms(id, TO, "hello", None)).await })
        })
        .collect();
    let mut sids = std::collections::HashSet::new();
    for task in tasks {
        sids.insert(task.await.unwrap().unwrap().provider_ref.unwrap());
    }
    eprintln!("1000 messages in {:?}", started.elapsed());
    assert_eq!(sids.len(), 1000);
    assert_eq!(fake.count(), 1000);
}

/// A request the TwiML app received, with the URL it was addressed to.
#[derive(Debug, Clone)]
struct Received {
    url: String,
    params: Vec<(String, String)>,
    signature: String,
}

#[derive(Debug, Default)]
struct AppState {
    base_url: String,
    received: Mutex<Vec<Received>>,
}

/// A small app standing in for Balagh's IVR and status-callback endpoints: it refuses requests
/// whose Twilio signature is wrong (403), records the others, and serves a two-step IVR.
struct TwimlApp {
    state: Arc<AppState>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TwimlApp {
    async fn start() -> TwimlApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let state = Arc::new(AppState { base_url: format!("http://{}", listener.local_addr().unwrap()), received: Mutex::default() });
        let router = Router::new().fallback(twiml_app).with_state(state.clone());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        TwimlApp { state, _shutdown: shutdown }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.state.base_url)
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

async fn twiml_app(State(state): State<Arc<AppState>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let url = format!("{}{uri}", state.base_url);
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap();
    let signature = headers.get(SIGNATURE_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    if !verify_signature(TOKEN, &url, &params, &signature) {
        return (StatusCode::FORBIDDEN, "bad twilio signature").into_response();
    }
    state.received.lock().unwrap().push(Received { url, params: params.clone(), signature });
    let xml = |twiml: String| ([(axum::http::header::CONTENT_TYPE, "text/xml")], format!(r#"<?xml version="1.0" encoding="UTF-8"?>{twiml}"#)).into_response();
    match uri.path() {
        "/ivr/update" => xml(r#"<Response><Gather action="/ivr/answer?report=10000004&amp;step=1" numDigits="1"><Say>Press 1 if fixed</Say></Gather><Redirect>/ivr/update</Redirect></Response>"#.into()),
        "/ivr/answer" => {
            let digits = value(&params, "Digits").concat();
            let report = uri.query().unwrap_or_default().to_owned();
            xml(format!("<Response><Say>You pressed {digits} ({report})</Say><Hangup/></Response>"))
        }
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

#[tokio::test]
async fn answering_and_pressing_a_key_walks_the_ivr_with_signed_requests() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let app = TwimlApp::start().await;
    let notification = call(6, Some(CallContent::Url(app.url("/ivr/update"))), None);
    let sid = voice_provider(&fake).send(&notification).await.unwrap().provider_ref.unwrap();

    let first = fake.answer(&sid).await.unwrap();
    assert!(first.contains(r#"<Gather action="/ivr/answer?report=10000004&amp;step=1""#), "{first}");
    let next = fake.press(&sid, "1").await.unwrap();
    assert!(next.contains("You pressed 1 (report=10000004&step=1)"), "{next}");

    let received = app.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].url, app.url("/ivr/update"));
    assert_eq!(value(&received[0].params, "CallStatus"), ["in-progress"]);
    assert_eq!(value(&received[0].params, "CallSid"), [sid.as_str()]);
    assert_eq!(received[1].url, app.url("/ivr/answer?report=10000004&step=1"));
    assert_eq!(value(&received[1].params, "Digits"), ["1"]);
    assert_eq!(fake.calls()[0].status, "in-progress");
}

#[tokio::test]
async fn inline_twiml_is_answered_without_a_request() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let app = TwimlApp::start().await;
    let twiml = format!(r#"<Response><Gather action="{}" numDigits="1"><Say>Press 1</Say></Gather></Response>"#, app.url("/ivr/answer?report=7"));
    let sid = voice_provider(&fake).send(&call(7, Some(CallContent::Twiml(twiml.clone())), None)).await.unwrap().provider_ref.unwrap();
    assert_eq!(fake.answer(&sid).await.unwrap(), twiml);
    assert!(app.received().is_empty());
    let next = fake.press(&sid, "2").await.unwrap();
    assert!(next.contains("You pressed 2 (report=7)"), "{next}");
}

#[tokio::test]
async fn status_callbacks_are_signed_so_that_verify_accepts_them_and_refuses_tampering() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let app = TwimlApp::start().await;
    let callback = app.url("/twilio/status/7?attempt=1");
    let sid = sms_provider(&fake).send(&sms(7, TO, "hello", Some(callback.clone()))).await.unwrap().provider_ref.unwrap();

    let reply = fake.send_status(&sid, "delivered").await.unwrap();
    assert_eq!(reply.status, 204, "{reply:?}");
    assert_eq!(fake.messages()[0].status, "delivered");
    let received = app.received();
    assert_eq!(received.len(), 1);
    let Received { url, params, signature } = received[0].clone();
    assert_eq!(url, callback);
    assert_eq!(value(&params, "MessageSid"), [sid.as_str()]);
    assert_eq!(value(&params, "MessageStatus"), ["delivered"]);
    assert_eq!(value(&params, "AccountSid"), [SID]);
    assert!(verify_signature(TOKEN, &url, &params, &signature));

    let tampered: Vec<(String, String)> =
        params.iter().map(|(name, value)| if name == "MessageStatus" { (name.clone(), "failed".to_owned()) } else { (name.clone(), value.clone()) }).collect();
    assert!(!verify_signature(TOKEN, &url, &tampered, &signature));
    let forged = reqwest::Client::new().post(&url).header(SIGNATURE_HEADER, &signature).form(&tampered).send().await.unwrap();
    assert_eq!(forged.status(), 403);
    let unsigned = reqwest::Client::new().post(&url).form(&params).send().await.unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(app.received().len(), 1, "forged requests were refused");

    let replayed = fake.signed_post(&url, &params).await.unwrap();
    assert_eq!(replayed.status, 204, "a request signed with the right token passes: replays are the receiver's to deduplicate");
}

#[tokio::test]
async fn call_status_callbacks_carry_the_call_and_its_duration_when_completed() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let app = TwimlApp::start().await;
    let notification = call(8, Some(CallContent::Twiml("<Response><Say>hi</Say></Response>".into())), Some(app.url("/twilio/call-status/8")));
    let sid = voice_provider(&fake).send(&notification).await.unwrap().provider_ref.unwrap();
    fake.send_status(&sid, "ringing").await.unwrap();
    fake.send_status(&sid, "completed").await.unwrap();
    let received = app.received();
    assert_eq!(received.len(), 2);
    assert_eq!(value(&received[0].params, "CallStatus"), ["ringing"]);
    assert_eq!(value(&received[0].params, "SequenceNumber"), ["0"]);
    assert!(value(&received[0].params, "CallDuration").is_empty());
    assert_eq!(value(&received[1].params, "CallStatus"), ["completed"]);
    assert_eq!(value(&received[1].params, "Direction"), ["outbound-api"]);
    assert_eq!(value(&received[1].params, "CallDuration").len(), 1);
    assert!(fake.send_status("CA00000000000000000000000000000000", "completed").await.is_err());
}
