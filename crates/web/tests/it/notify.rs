//! Notifications end to end with fake providers over real HTTP on 127.0.0.1: texts and update
//! calls through a fake Twilio (signed status callbacks, keypad answers that close, reopen and
//! rate), unanswered calls tried again and then texted, quiet hours, a crash between send and
//! record, a provider outage and recovery, staff notices to a signed webhook, email over STARTTLS,
//! WhatsApp templates, and administrators' template overrides.

use balagh_app::delivery::Renderer;
use balagh_app::{App, DeliverySettings, Dispatcher, OutboxFilter, RetryPolicy, StoredOutbox};
use balagh_domain::TicketNumber;
use balagh_domain::event::{Actor, EventKind, Role};
use balagh_domain::lifecycle::Command;
use balagh_domain::vocabulary::{Channel, Status};
use balagh_fakes::server::Faults;
use balagh_fakes::{FakeTwilio, FakeWebhookReceiver};
use balagh_notify::twilio::{TwilioConfig, TwilioSms, TwilioVoice};
use balagh_notify::webhook::{WebhookConfig, WebhookProvider};
use balagh_notify::{LogProvider, Medium, Provider, Router};
use balagh_test_support::{TWILIO_AUTH_TOKEN, TestApp, report_body, spawn_app, spawn_app_for_calls};
use jiff::SignedDuration;
use std::sync::Arc;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const PHONE: &str = "+966512345678";

fn supervisor() -> Actor {
    Actor { role: Role::Supervisor, id: Some("s1".into()), department: None, position: None }
}

/// A fake Twilio account and a router that sends texts and calls through it.
async fn twilio() -> (FakeTwilio, Arc<Router>) {
    let fake = FakeTwilio::start(ACCOUNT, TWILIO_AUTH_TOKEN).await;
    let mut config = TwilioConfig::new(ACCOUNT, TWILIO_AUTH_TOKEN, "+966138000940");
    config.base_url = fake.base_url();
    let router = Router::new(Arc::new(LogProvider::new(None)))
        .with(Medium::Sms, Arc::new(TwilioSms::new(config.clone()).unwrap()))
        .with(Medium::Call, Arc::new(TwilioVoice::new(config).unwrap()));
    (fake, Arc::new(router))
}

fn dispatcher(app: &App, provider: Arc<dyn Provider>, owner: &str) -> Dispatcher {
    Dispatcher::new(app.clone(), provider, owner, RetryPolicy::default())
}

/// Opens a report on `channel` and returns its ticket.
async fn open(app: &TestApp, channel: &str) -> TicketNumber {
    let mut body = report_body();
    body["channel"] = channel.into();
    let response = app.post_report(&body).await;
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    TicketNumber::parse(created["ticket"].as_str().unwrap()).unwrap()
}

async fn step(app: &App, ticket: TicketNumber, command: Command) {
    app.transition(ticket, command, &supervisor(), Channel::Web).await.expect("transition");
}

/// Acknowledges, assigns, starts and resolves a report.
async fn resolve(app: &App, ticket: TicketNumber) {
    step(app, ticket, Command::Acknowledge).await;
    let department = app.report(ticket).await.unwrap().assignment.department;
    step(app, ticket, Command::Assign { department, team: None, user: None }).await;
    step(app, ticket, Command::Start).await;
    step(app, ticket, Command::Resolve { resolution: "أُفرغت الحاوية".into() }).await;
}

async fn rows(app: &App) -> Vec<StoredOutbox> {
    app.store.db.outbox_rows(&OutboxFilter { limit: 500, ..OutboxFilter::default() }).await.unwrap()
}

fn calls_only() -> DeliverySettings {
    DeliverySettings::default()
}

#[tokio::test]
async fn a_text_reaches_the_beneficiary_and_its_signed_status_callbacks_are_recorded_once() {
    let app = spawn_app_for_calls(calls_only()).await;
    let (fake, router) = twilio().await;
    let ticket = open(&app, "app").await;
    step(&app.app, ticket, Command::Acknowledge).await;
    let done = dispatcher(&app.app, router, "d1").run_once(app.app.now()).await.unwrap();
    assert_eq!(done.sent, 1);
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.to, PHONE);
    assert!(message.body.contains(&ticket.to_string()), "{}", message.body);
    assert!(!message.body.contains('\u{2068}'), "no isolation marks in a text");
    let row = rows(&app.app).await.remove(0);
    assert_eq!(row.provider.as_deref(), Some("twilio-sms"));
    assert_eq!(row.provider_ref.as_deref(), Some(message.sid.as_str()));
    assert!(row.segments.is_some_and(|n| n >= 1));
    assert_eq!(message.status_callback.as_deref(), Some(app.url(&format!("/notify/twilio/status/{}", row.id)).as_str()));

    assert_eq!(fake.send_status(&message.sid, "delivered").await.unwrap().status, 204);
    assert_eq!(fake.send_status(&message.sid, "delivered").await.unwrap().status, 204, "a replayed callback is accepted");
    assert_eq!(app.app.store.db.receipts(row.id).await.unwrap(), [(message.sid.clone(), "delivered".to_owned(), None)]);
    assert_eq!(rows(&app.app).await[0].delivery_status.as_deref(), Some("delivered"));

    // Forged, unsigned, unknown and malformed callbacks change nothing.
    let url = app.url(&format!("/notify/twilio/status/{}", row.id));
    let params = |status: &str| vec![("MessageSid".to_owned(), message.sid.clone()), ("MessageStatus".to_owned(), status.to_owned())];
    let forged = app.client.post(&url).header("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl").form(&params("undelivered")).send().await.unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(app.client.post(&url).form(&params("undelivered")).send().await.unwrap().status(), 403);
    let unknown = fake.signed_post(&app.url("/notify/twilio/status/99999999"), &params("undelivered")).await.unwrap();
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let other_message =
        fake.signed_post(&url, &[("MessageSid".into(), "SMffffffffffffffffffffffffffffffff".into()), ("MessageStatus".into(), "failed".into())]).await.unwrap();
    assert_eq!(other_message.status, 404, "{}", other_message.body);
    let missing = fake.signed_post(&url, &[("MessageSid".into(), message.sid.clone())]).await.unwrap();
    assert_eq!(missing.status, 400, "{}", missing.body);
    let nonsense = fake.signed_post(&url, &params("exploded")).await.unwrap();
    assert_eq!(nonsense.status, 422, "{}", nonsense.body);
    assert_eq!(app.app.store.db.receipts(row.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn voice_webhooks_are_refused_when_no_signing_token_is_configured() {
    let app = spawn_app().await;
    let response = app.post_form("/voice/updates/1", &[("CallSid", "CA1")]).await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("not configured"), "{body}");
}

/// Opens a report by phone, resolves it, dispatches, and returns the update call placed for
/// the resolution, answered.
async fn resolved_call(app: &TestApp, fake: &FakeTwilio, router: Arc<Router>) -> (TicketNumber, String, String) {
    let ticket = open(app, "phone").await;
    resolve(&app.app, ticket).await;
    dispatcher(&app.app, router, "d1").run_once(app.app.now()).await.unwrap();
    // Acknowledged goes by text; assigned, in progress and resolved are worth a call.
    assert_eq!(fake.messages().len(), 1);
    let calls = fake.calls();
    assert_eq!(calls.len(), 3);
    let call = calls.last().unwrap().clone();
    assert!(call.url.as_deref().is_some_and(|url| url.starts_with(&app.url("/voice/updates/"))), "{call:?}");
    let twiml = fake.answer(&call.sid).await.unwrap();
    (ticket, call.sid, twiml)
}

#[tokio::test]
async fn an_update_call_answered_not_fixed_reopens_and_escalates_the_report() {
    let app = spawn_app_for_calls(calls_only()).await;
    let (fake, router) = twilio().await;
    let (ticket, call, twiml) = resolved_call(&app, &fake, router).await;
    let digits = ticket.to_string().chars().map(String::from).collect::<Vec<_>>();
    assert!(twiml.contains("<Gather") && twiml.contains("language=\"ar-SA\""), "{twiml}");
    assert!(digits.iter().all(|d| twiml.contains(d.as_str())), "the ticket is read digit by digit: {twiml}");

    let answer = fake.press(&call, "3").await.unwrap();
    assert!(answer.contains("<Hangup/>"), "{answer}");
    let report = app.app.report(ticket).await.unwrap();
    assert_eq!(report.status, Status::Reopened);
    assert_eq!(report.escalation.fired, 1, "the reopened report climbed its chain at once");
    let kinds: Vec<&str> = app.app.timeline(ticket, &supervisor()).await.unwrap().into_iter().map(|e| e.event.kind.name()).collect();
    let tail = &kinds[kinds.len() - 3..];
    assert_eq!(tail, ["update_call_answered", "status_changed", "escalated"]);

    // The provider retries the same keypress: nothing more happens.
    let survey = rows(&app.app).await.into_iter().find(|r| r.topic == "closure_survey").unwrap().id;
    let menu = app.url(&format!("/voice/updates/{survey}/menu"));
    let replay = fake.signed_post(&menu, &[("CallSid".into(), call.clone()), ("Digits".into(), "3".into())]).await.unwrap();
    assert_eq!(replay.status, 200);
    assert_eq!(app.app.report(ticket).await.unwrap().escalation.fired, 1);
}

#[tokio::test]
async fn an_update_call_confirms_the_fix_or_rates_the_closure_by_keypad() {
    let app = spawn_app_for_calls(calls_only()).await;
    let (fake, router) = twilio().await;
    let (ticket, call, _) = resolved_call(&app, &fake, router.clone()).await;
    let again = fake.press(&call, "1").await.unwrap();
    assert!(again.contains("<Gather"), "1 repeats the update and the menu: {again}");
    let invalid = fake.press(&call, "7").await.unwrap();
    assert!(invalid.contains("<Gather"), "a key not offered is refused and the menu offered again: {invalid}");
    let quality = fake.press(&call, "4").await.unwrap();
    assert!(quality.contains("/rate"), "{quality}");
    let speed = fake.press(&call, "5").await.unwrap();
    assert!(speed.contains("quality=5"), "{speed}");
    fake.press(&call, "4").await.unwrap();
    let report = app.app.report(ticket).await.unwrap();
    assert_eq!(report.status, Status::Closed, "a good rating accepts the fix");
    let timeline = app.app.timeline(ticket, &supervisor()).await.unwrap();
    let rated = timeline.iter().find_map(|e| match &e.event.kind {
        EventKind::ClosureRated { rating } => Some(rating.clone()),
        _ => None,
    });
    let rated = rated.expect("the rating is on the timeline");
    assert_eq!((rated.quality.value(), rated.speed.value(), rated.not_fixed), (5, 4, false));
    let answers = timeline.iter().filter(|e| e.event.kind.name() == "update_call_answered").count();
    assert_eq!(answers, 1, "only the repeat is an answer of its own; an invalid key changes nothing");

    // A second resolved report confirmed with 2, and 0 reaches an agent.
    let (ticket, call, _) = resolved_call_again(&app, &fake, router).await;
    let agent = fake.press(&call, "0").await.unwrap();
    assert!(agent.contains("<Enqueue>940-agents</Enqueue>"), "{agent}");
    assert_eq!(app.app.report(ticket).await.unwrap().status, Status::Resolved);
}

/// Like `resolved_call`, for a second report on the same server.
async fn resolved_call_again(app: &TestApp, fake: &FakeTwilio, router: Arc<Router>) -> (TicketNumber, String, String) {
    let before = fake.calls().len();
    let ticket = open(app, "phone").await;
    resolve(&app.app, ticket).await;
    dispatcher(&app.app, router, "d1").run_once(app.app.now()).await.unwrap();
    let call = fake.calls()[before + 2].clone();
    let twiml = fake.answer(&call.sid).await.unwrap();
    (ticket, call.sid, twiml)
}

#[tokio::test]
async fn pressing_two_on_a_resolved_update_call_closes_the_report() {
    let app = spawn_app_for_calls(calls_only()).await;
    let (fake, router) = twilio().await;
    let (ticket, call, _) = resolved_call(&app, &fake, router).await;
    let thanks = fake.press(&call, "2").await.unwrap();
    assert!(thanks.contains("<Hangup/>"), "{thanks}");
    assert_eq!(app.app.report(ticket).await.unwrap().status, Status::Closed);
}

#[tokio::test]
async fn an_unanswered_call_is_tried_twice_more_then_replaced_by_a_text() {
    let app = spawn_app_for_calls(calls_only()).await;
    let (fake, router) = twilio().await;
    let ticket = open(&app, "ivr").await;
    step(&app.app, ticket, Command::Acknowledge).await;
    let department = app.app.report(ticket).await.unwrap().assignment.department;
    step(&app.app, ticket, Command::Assign { department, team: None, user: None }).await;
    let dispatcher = dispatcher(&app.app, router, "d1");
    dispatcher.run_once(app.app.now()).await.unwrap();
    assert_eq!((fake.messages().len(), fake.calls().len()), (1, 1));

    for (wait, status) in [(10, "no-answer"), (30, "busy")] {
        let call = fake.calls().last().unwrap().sid.clone();
        assert_eq!(fake.send_status(&call, status).await.unwrap().status, 204);
        assert_eq!(fake.send_status(&call, status).await.unwrap().status, 204, "a replay adds no second retry");
        assert_eq!(dispatcher.run_once(app.app.now()).await.unwrap().sent, 0, "not before the interval");
        app.clock.advance(SignedDuration::from_mins(wait));
        assert_eq!(dispatcher.run_once(app.app.now()).await.unwrap().sent, 1);
    }
    assert_eq!(fake.calls().len(), 3);
    let last = fake.calls().last().unwrap().sid.clone();
    fake.send_status(&last, "no-answer").await.unwrap();
    dispatcher.run_once(app.app.now()).await.unwrap();
    assert_eq!(fake.calls().len(), 3, "no fourth call");
    let texts = fake.messages();
    assert_eq!(texts.len(), 2, "the update went by text instead");
    assert!(texts[1].body.contains(&ticket.to_string()), "{}", texts[1].body);
    let fallback = rows(&app.app).await.into_iter().find(|r| r.topic == "call_fallback").unwrap();
    assert_eq!(fallback.recipient, format!("sms:{PHONE}"));
}

#[tokio::test]
async fn calls_wait_for_the_end_of_quiet_hours_while_texts_go_at_once() {
    let app = spawn_app_for_calls(calls_only()).await;
    let (fake, router) = twilio().await;
    // 23:30 in Riyadh.
    app.clock.set("2026-03-01T20:30:00Z".parse().unwrap());
    let ticket = open(&app, "phone").await;
    step(&app.app, ticket, Command::Acknowledge).await;
    let department = app.app.report(ticket).await.unwrap().assignment.department;
    step(&app.app, ticket, Command::Assign { department, team: None, user: None }).await;
    let dispatcher = dispatcher(&app.app, router, "d1");
    let done = dispatcher.run_once(app.app.now()).await.unwrap();
    assert_eq!((done.sent, done.held), (1, 1));
    assert_eq!((fake.messages().len(), fake.calls().len()), (1, 0));
    let held = rows(&app.app).await.into_iter().find(|r| r.recipient.starts_with("call:")).unwrap();
    assert_eq!(held.available_at().unwrap(), "2026-03-02T05:00:00Z".parse().unwrap(), "08:00 in Riyadh");
    assert_eq!(held.attempts, 0, "holding is not an attempt");
    app.clock.set("2026-03-02T05:00:00Z".parse().unwrap());
    assert_eq!(dispatcher.run_once(app.app.now()).await.unwrap().sent, 1);
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn emergency_calls_to_staff_ignore_quiet_hours() {
    let mut delivery = calls_only();
    delivery.staff_directory.insert("emergency_committee".into(), "call:+966500000940".into());
    let app = spawn_app_for_calls(delivery).await;
    let (fake, router) = twilio().await;
    app.clock.set("2026-03-01T22:00:00Z".parse().unwrap());
    let mut body = report_body();
    body["priority"] = "emergency".into();
    assert_eq!(app.post_report(&body).await.status(), 201);
    balagh_app::EscalationWorker::new(app.app.clone(), "w").run_once(app.app.now()).await.unwrap();
    dispatcher(&app.app, router, "d1").run_once(app.app.now()).await.unwrap();
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "the committee is called at 01:00");
    assert_eq!(calls[0].to, "+966500000940");
}

#[tokio::test]
async fn a_crash_between_send_and_record_sends_nothing_twice() {
    let app = spawn_app_for_calls(calls_only()).await;
    let (fake, router) = twilio().await;
    let ticket = open(&app, "app").await;
    step(&app.app, ticket, Command::Acknowledge).await;
    // A dispatcher claims the row, sends it, and dies before recording: Twilio took the message
    // and reports on it.
    let now = app.app.now();
    let claimed = app.app.store.db.claim_outbox("crashed", now, balagh_app::dispatch::LEASE, 10).await.unwrap();
    let templates = app.app.store.db.templates().await.unwrap();
    let renderer = Renderer::new(app.app.delivery(), app.app.catalogue(), templates);
    let balagh_app::delivery::Prepared::Send { notification, .. } = renderer.prepare(&claimed[0], now) else { panic!("a text is never held") };
    let delivered = router.send(&notification).await.unwrap();
    let sid = delivered.provider_ref.unwrap();
    fake.send_status(&sid, "sent").await.unwrap();

    // Another dispatcher takes the row over when the lease ends: it sees the provider's report
    // and records the message as sent without sending it again.
    app.clock.advance(SignedDuration::from_mins(3));
    let done = dispatcher(&app.app, router, "d2").run_once(app.app.now()).await.unwrap();
    assert_eq!(done.sent, 1);
    assert_eq!(fake.messages().len(), 1, "one message at the provider");
    let row = rows(&app.app).await.remove(0);
    assert_eq!((row.state.as_str(), row.provider_ref.as_deref()), ("sent", Some(sid.as_str())));
    assert!(row.last_error.unwrap().contains("not sent again"));
}

#[tokio::test]
async fn a_crash_before_recording_a_webhook_is_delivered_once_to_a_deduplicating_receiver() {
    let mut delivery = calls_only();
    delivery.staff_directory.insert("*".into(), "webhook:city".into());
    let app = spawn_app_for_calls(delivery).await;
    let receiver = FakeWebhookReceiver::start("s3cret").await;
    let webhooks = WebhookProvider::new(WebhookConfig::default().with_endpoint("city", receiver.url(), "s3cret")).unwrap();
    let router: Arc<dyn Provider> = Arc::new(Router::new(Arc::new(LogProvider::new(None))).with(Medium::Webhook, Arc::new(webhooks)));
    let mut body = report_body();
    body["priority"] = "emergency".into();
    assert_eq!(app.post_report(&body).await.status(), 201);
    balagh_app::EscalationWorker::new(app.app.clone(), "w").run_once(app.app.now()).await.unwrap();
    let now = app.app.now();
    let claimed = app.app.store.db.claim_outbox("crashed", now, balagh_app::dispatch::LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let renderer = Renderer::new(app.app.delivery(), app.app.catalogue(), vec![]);
    let balagh_app::delivery::Prepared::Send { notification, .. } = renderer.prepare(&claimed[0], now) else { panic!("a webhook is never held") };
    router.send(&notification).await.unwrap();
    app.clock.advance(SignedDuration::from_mins(3));
    assert_eq!(dispatcher(&app.app, router, "d2").run_once(app.app.now()).await.unwrap().sent, 1);
    assert_eq!((receiver.requests(), receiver.deliveries()), (2, 1), "sent twice with one delivery id, delivered once");
    let delivered = &receiver.bodies()[0];
    assert_eq!(delivered["topic"], "escalation");
}

#[tokio::test]
async fn a_provider_outage_is_retried_with_backoff_until_it_recovers() {
    let app = spawn_app_for_calls(calls_only()).await;
    let (fake, router) = twilio().await;
    for _ in 0..3 {
        let ticket = open(&app, "app").await;
        step(&app.app, ticket, Command::Acknowledge).await;
    }
    fake.set_faults(Faults::outage());
    let dispatcher = dispatcher(&app.app, router, "d1");
    let done = dispatcher.run_once(app.app.now()).await.unwrap();
    assert_eq!((done.sent, done.retried), (0, 3));
    assert!(rows(&app.app).await.iter().all(|r| r.state == "pending" && r.last_error.as_deref().is_some_and(|e| e.contains("503"))));
    fake.set_faults(Faults::none());
    assert_eq!(dispatcher.run_once(app.app.now()).await.unwrap().sent, 0, "not before the backoff");
    app.clock.advance(SignedDuration::from_secs(31));
    assert_eq!(dispatcher.run_once(app.app.now()).await.unwrap().sent, 3);
    assert_eq!(fake.messages().len(), 3, "each once");
}

#[tokio::test]
async fn administrators_override_a_text_and_a_broken_template_is_refused() {
    let app = spawn_app_for_calls(calls_only()).await;
    let (fake, router) = twilio().await;
    let admin = app.api_key(Role::Admin, None).await;
    let staff = app.api_key(Role::Staff, None).await;
    let url = app.url("/api/v1/notification-templates/status_changed/sms/ar");
    let put = |key: &str, source: &str| app.client.put(&url).bearer_auth(key).json(&serde_json::json!({ "source": source })).send();
    assert_eq!(put(&staff, "x").await.unwrap().status(), 403);
    let broken = put(&admin, "{% if %}").await.unwrap();
    assert_eq!(broken.status(), 422);
    let body: serde_json::Value = broken.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "source", "{body}");
    let unknown =
        app.client.put(app.url("/api/v1/notification-templates/nonsense/sms/ar")).bearer_auth(&admin).json(&serde_json::json!({"source": "x"})).send();
    assert_eq!(unknown.await.unwrap().status(), 422);
    assert_eq!(put(&admin, "بلاغكم {{ ticket }}: {{ status }}").await.unwrap().status(), 200);
    let listed: serde_json::Value = app.client.get(app.url("/api/v1/notification-templates")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let ticket = open(&app, "app").await;
    step(&app.app, ticket, Command::Acknowledge).await;
    dispatcher(&app.app, router, "d1").run_once(app.app.now()).await.unwrap();
    assert!(fake.messages()[0].body.starts_with(&format!("بلاغكم {ticket}: ")), "{}", fake.messages()[0].body);

    let deleted = app.client.delete(&url).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.client.delete(&url).bearer_auth(&admin).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn a_beneficiary_who_prefers_email_gets_a_right_to_left_arabic_email_over_starttls() {
    let app = spawn_app_for_calls(calls_only()).await;
    let relay = balagh_fakes::smtp::FakeSmtp::start(balagh_fakes::smtp::FakeSmtpOptions::default().with_credentials("balagh", "pw").requiring_tls()).await;
    let mut config = balagh_notify::email::EmailConfig::new(relay.host(), "Balagh 940 <noreply@940.example.sa>");
    config.port = relay.port();
    config.username = Some("balagh".into());
    config.password = Some("pw".into());
    config.extra_root_certificate_pem = Some(relay.certificate_pem().to_owned());
    let email = balagh_notify::email::EmailProvider::new(config).unwrap();
    let router: Arc<dyn Provider> = Arc::new(Router::new(Arc::new(LogProvider::new(None))).with(Medium::Email, Arc::new(email)));
    let mut body = report_body();
    body["email"] = "m.alotaibi@example.sa".into();
    body["preferred_channel"] = "email".into();
    let response = app.post_report(&body).await;
    assert_eq!(response.status(), 201);
    let ticket = TicketNumber::parse(response.json::<serde_json::Value>().await.unwrap()["ticket"].as_str().unwrap()).unwrap();
    step(&app.app, ticket, Command::Acknowledge).await;
    assert_eq!(dispatcher(&app.app, router, "d1").run_once(app.app.now()).await.unwrap().sent, 1);
    let mail = relay.received().remove(0);
    assert_eq!(mail.to, ["m.alotaibi@example.sa"]);
    assert!(mail.over_tls);
    let html = mail.html().unwrap();
    assert!(html.contains("dir=\"rtl\"") && html.contains(&ticket.to_string()), "{html}");
    assert!(mail.text().unwrap().contains(&ticket.to_string()));
    let row = rows(&app.app).await.remove(0);
    assert_eq!(mail.message_id().as_deref().map(|id| id.contains(&format!("balagh-outbox-{}", row.id))), Some(true));
}

#[tokio::test]
async fn a_beneficiary_who_prefers_whatsapp_gets_an_approved_template_outside_the_window() {
    let app = spawn_app_for_calls(calls_only()).await;
    let fake = balagh_fakes::FakeWhatsapp::start("1098765", "wa-token").await;
    let mut config = balagh_notify::whatsapp::WhatsappConfig::new("1098765", "wa-token");
    config.base_url = fake.base_url();
    let whatsapp = balagh_notify::whatsapp::WhatsappProvider::new(config).unwrap();
    let router: Arc<dyn Provider> = Arc::new(Router::new(Arc::new(LogProvider::new(None))).with(Medium::Whatsapp, Arc::new(whatsapp)));
    let mut body = report_body();
    body["preferred_channel"] = "whatsapp".into();
    let response = app.post_report(&body).await;
    let ticket = TicketNumber::parse(response.json::<serde_json::Value>().await.unwrap()["ticket"].as_str().unwrap()).unwrap();
    step(&app.app, ticket, Command::Acknowledge).await;
    assert_eq!(dispatcher(&app.app, router, "d1").run_once(app.app.now()).await.unwrap().sent, 1);
    let message = fake.messages().remove(0);
    assert_eq!(message.to, "966512345678");
    let balagh_fakes::whatsapp::FakeWhatsappContent::Template { name, language, parameters } = message.content else { panic!("a template: {message:?}") };
    assert_eq!((name.as_str(), language.as_str()), ("balagh_report_update", "ar"));
    assert_eq!(parameters[0], ticket.to_string());
    assert_eq!(rows(&app.app).await[0].provider_ref.as_deref(), Some(message.id.as_str()));
}

#[tokio::test]
async fn malformed_or_misdirected_voice_requests_are_refused_and_change_nothing() {
    let app = spawn_app_for_calls(calls_only()).await;
    let (fake, router) = twilio().await;
    let ticket = open(&app, "app").await;
    step(&app.app, ticket, Command::Acknowledge).await;
    dispatcher(&app.app, router, "d1").run_once(app.app.now()).await.unwrap();
    let text_row = rows(&app.app).await.remove(0).id;
    // A text is not a call: there is no update call to speak.
    let not_a_call = fake.signed_post(&app.url(&format!("/voice/updates/{text_row}")), &[("CallSid".into(), "CA1".into())]).await.unwrap();
    assert_eq!(not_a_call.status, 404, "{}", not_a_call.body);
    let unknown = fake.signed_post(&app.url("/voice/updates/424242/menu"), &[("Digits".into(), "3".into())]).await.unwrap();
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let not_a_number = fake.signed_post(&app.url("/voice/updates/abc"), &[]).await.unwrap();
    assert_eq!(not_a_number.status, 404, "{}", not_a_number.body);
    // A body that is not a form, signed or not.
    let json = app
        .client
        .post(app.url(&format!("/notify/twilio/status/{text_row}")))
        .header("X-Twilio-Signature", "x")
        .header("content-type", "application/json")
        .body("{\"MessageStatus\":\"failed\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 415);
    let garbage = app
        .client
        .post(app.url(&format!("/notify/twilio/status/{text_row}")))
        .header("X-Twilio-Signature", "x")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', 0x80])
        .send()
        .await
        .unwrap();
    assert!(matches!(garbage.status().as_u16(), 400 | 403), "{}", garbage.status());
    assert!(app.app.store.db.receipts(text_row).await.unwrap().is_empty());
    assert_eq!(app.app.report(ticket).await.unwrap().status, Status::Acknowledged);
}
