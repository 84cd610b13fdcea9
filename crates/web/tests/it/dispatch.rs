//! The outbox dispatcher with a scripted provider and the log provider: each notification is sent
//! once, temporary failures come back after their backoff (or the provider's Retry-After),
//! permanent ones and those that keep failing go dead with their reason, and an administrator can
//! put a dead one back in line.

use balagh_app::{App, Dispatcher, OutboxFilter, OutboxState, RetryPolicy, StoredOutbox};
use balagh_domain::event::{Actor, Role};
use balagh_notify::{Delivery, LogProvider, Notification, Provider, SendError, SendFuture};
use balagh_test_support::{TestApp, report_body, spawn_app};
use jiff::SignedDuration;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Answers from a script, then delivers; records what it was asked to send.
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Result<Delivery, SendError>>>,
    sent: Mutex<Vec<Notification>>,
}

impl Scripted {
    fn with(answers: Vec<Result<Delivery, SendError>>) -> Arc<Scripted> {
        Arc::new(Scripted { answers: Mutex::new(answers.into()), sent: Mutex::default() })
    }

    fn attempts(&self) -> Vec<(i64, u32)> {
        self.sent.lock().unwrap().iter().map(|n| (n.id, n.attempt)).collect()
    }
}

impl Provider for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        self.sent.lock().unwrap().push(notification.clone());
        let answer = self.answers.lock().unwrap().pop_front().unwrap_or(Ok(Delivery { provider_ref: Some(format!("ref-{}", notification.id)) }));
        Box::pin(async move { answer })
    }
}

fn temporary(retry_after: Option<Duration>) -> Result<Delivery, SendError> {
    Err(SendError::Temporary { reason: "503 Service Unavailable".into(), retry_after })
}

/// One emergency report escalated at once: one outbox row for the emergency committee.
async fn one_notification(app: &TestApp) -> i64 {
    let mut body = report_body();
    body["priority"] = "emergency".into();
    assert_eq!(app.post_report(&body).await.status(), 201);
    balagh_app::EscalationWorker::new(app.app.clone(), "w").run_once(app.app.now()).await.unwrap();
    let rows = rows(&app.app).await;
    assert_eq!(rows.len(), 1);
    rows[0].id
}

async fn rows(app: &App) -> Vec<StoredOutbox> {
    app.store.db.outbox_rows(&OutboxFilter { limit: 100, ..OutboxFilter::default() }).await.unwrap()
}

fn dispatcher(app: &TestApp, provider: Arc<dyn Provider>) -> Dispatcher {
    Dispatcher::new(app.app.clone(), provider, "dispatcher", RetryPolicy::default())
}

#[tokio::test]
async fn each_notification_is_sent_once_and_the_log_provider_files_it() {
    let app = spawn_app().await;
    let id = one_notification(&app).await;
    let directory = tempfile::tempdir().unwrap();
    let log = Arc::new(LogProvider::new(Some(directory.path().join("outbox"))));
    let done = dispatcher(&app, log.clone()).run_once(app.app.now()).await.unwrap();
    assert_eq!((done.sent, done.retried, done.dead), (1, 0, 0));
    assert_eq!(dispatcher(&app, log).run_once(app.app.now()).await.unwrap().sent, 0, "sent once");
    let row = &rows(&app.app).await[0];
    assert_eq!((row.id, row.state.as_str(), row.attempts), (id, "sent", 1));
    assert_eq!(row.provider_ref.as_deref(), Some(format!("balagh-outbox-{id}").as_str()));
    let filed: String = std::fs::read_dir(directory.path().join("outbox")).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    assert!(filed.contains("escalation -> emergency_committee"), "{filed}");
}

#[tokio::test]
async fn a_temporary_failure_comes_back_after_its_backoff_or_the_providers_retry_after() {
    let app = spawn_app().await;
    let id = one_notification(&app).await;
    let provider = Scripted::with(vec![temporary(None), temporary(Some(Duration::from_secs(600)))]);
    let now = app.app.now();
    let done = dispatcher(&app, provider.clone()).run_once(now).await.unwrap();
    assert_eq!(done.retried, 1);
    let row = &rows(&app.app).await[0];
    let wait = row.available_at().unwrap().duration_since(now);
    assert!((SignedDuration::from_secs(15)..=SignedDuration::from_secs(30)).contains(&wait), "first backoff with jitter: {wait:?}");
    assert_eq!((row.state.as_str(), row.attempts, row.last_error.as_deref()), ("pending", 1, Some("503 Service Unavailable")));
    // Nothing happens before it is due.
    assert_eq!(dispatcher(&app, provider.clone()).run_once(now + wait - SignedDuration::from_secs(1)).await.unwrap().retried, 0);
    // The second failure asks for ten minutes: more than the backoff.
    let second = row.available_at().unwrap();
    dispatcher(&app, provider.clone()).run_once(second).await.unwrap();
    let row = &rows(&app.app).await[0];
    assert_eq!(row.available_at().unwrap(), second + SignedDuration::from_secs(600));
    dispatcher(&app, provider.clone()).run_once(row.available_at().unwrap()).await.unwrap();
    assert_eq!(rows(&app.app).await[0].state, "sent");
    assert_eq!(provider.attempts(), [(id, 1), (id, 2), (id, 3)]);
}

#[tokio::test]
async fn permanent_failures_and_endless_temporary_ones_go_dead_and_an_administrator_can_retry() {
    let app = spawn_app().await;
    let id = one_notification(&app).await;
    let provider = Scripted::with(vec![Err(SendError::Permanent { reason: "400 invalid recipient".into() })]);
    assert_eq!(dispatcher(&app, provider.clone()).run_once(app.app.now()).await.unwrap().dead, 1);
    let row = &rows(&app.app).await[0];
    assert_eq!((row.state.as_str(), row.last_error.as_deref()), ("dead", Some("400 invalid recipient")));
    let dead = app.app.store.db.outbox_rows(&OutboxFilter { state: Some(OutboxState::Dead), limit: 10, ..OutboxFilter::default() }).await.unwrap();
    assert_eq!(dead.len(), 1, "administrators can list the dead");

    let staff = Actor::new(Role::Supervisor, "s1");
    assert_eq!(app.app.retry_notification(id, &staff).await.unwrap_err().code(), "forbidden");
    let admin = Actor::new(Role::Admin, "a1");
    app.app.retry_notification(id, &admin).await.unwrap();
    assert_eq!(app.app.retry_notification(id, &admin).await.unwrap_err().code(), "not_dead");
    assert_eq!(dispatcher(&app, provider.clone()).run_once(app.app.now()).await.unwrap().sent, 1);

    // A row that fails for now every time is given up after the policy's attempts.
    let app = spawn_app().await;
    one_notification(&app).await;
    let always = Scripted::with((0..5).map(|_| temporary(None)).collect());
    let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
    let dispatcher = Dispatcher::new(app.app.clone(), always.clone(), "d", policy);
    let mut now = app.app.now();
    for _ in 0..3 {
        dispatcher.run_once(now).await.unwrap();
        now += SignedDuration::from_hours(7);
    }
    let row = &rows(&app.app).await[0];
    assert_eq!((row.state.as_str(), row.attempts), ("dead", 3));
    assert!(row.last_error.as_deref().unwrap().starts_with("gave up after 3 attempts"));
    assert_eq!(dispatcher.run_once(now).await.unwrap(), Default::default(), "dead rows are not sent");
}

#[tokio::test]
async fn a_dispatcher_whose_lease_ended_cannot_overwrite_what_another_recorded() {
    let app = spawn_app().await;
    let id = one_notification(&app).await;
    let now = app.app.now();
    let claimed = app.app.store.db.claim_outbox("stalled", now, balagh_app::dispatch::LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(dispatcher(&app, Scripted::with(vec![])).run_once(now).await.unwrap().sent, 0, "leased");
    let later = now + balagh_app::dispatch::LEASE + SignedDuration::from_secs(1);
    assert_eq!(dispatcher(&app, Scripted::with(vec![])).run_once(later).await.unwrap().sent, 1);
    let late = balagh_app::OutboxOutcome::Dead { error: "timeout".into() };
    assert!(!app.app.store.db.record_outbox(id, "stalled", later, &late).await.unwrap());
    assert_eq!(rows(&app.app).await[0].state, "sent");
}

#[tokio::test]
async fn administrators_list_the_outbox_and_put_a_dead_notification_back_over_http() {
    let app = spawn_app().await;
    let id = one_notification(&app).await;
    let provider = Scripted::with(vec![Err(SendError::Permanent { reason: "400 invalid recipient".into() })]);
    dispatcher(&app, provider.clone()).run_once(app.app.now()).await.unwrap();
    let admin = app.api_key(Role::Admin, None).await;
    let get = |path: &str, key: &str| app.client.get(app.url(path)).bearer_auth(key).send();

    let dead: serde_json::Value = get("/api/v1/notifications?state=dead", &admin).await.unwrap().json().await.unwrap();
    assert_eq!(dead.as_array().map(Vec::len), Some(1), "{dead}");
    assert_eq!(
        (dead[0]["id"].as_i64(), dead[0]["topic"].as_str(), dead[0]["last_error"].as_str()),
        (Some(id), Some("escalation"), Some("400 invalid recipient"))
    );
    assert_eq!(dead[0]["payload"]["level"], 1);
    let none: serde_json::Value = get("/api/v1/notifications?state=pending", &admin).await.unwrap().json().await.unwrap();
    assert_eq!(none, serde_json::json!([]));

    let supervisor = app.api_key(Role::Supervisor, None).await;
    assert_eq!(get("/api/v1/notifications", &supervisor).await.unwrap().status(), 403);
    let bad = get("/api/v1/notifications?state=lost&limit=0", &admin).await.unwrap();
    assert_eq!(bad.status(), 422);
    let fields: Vec<String> =
        bad.json::<serde_json::Value>().await.unwrap()["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_owned()).collect();
    assert_eq!(fields, ["state", "limit"]);

    let retry = |path: String, key: String| app.client.post(app.url(&path)).bearer_auth(key).send();
    assert_eq!(retry(format!("/api/v1/notifications/{id}/retry"), supervisor.clone()).await.unwrap().status(), 403);
    assert_eq!(retry("/api/v1/notifications/abc/retry".into(), admin.clone()).await.unwrap().status(), 422);
    assert_eq!(retry(format!("/api/v1/notifications/{id}/retry"), admin.clone()).await.unwrap().status(), 202);
    assert_eq!(retry(format!("/api/v1/notifications/{id}/retry"), admin.clone()).await.unwrap().status(), 409, "no longer dead");
    assert_eq!(dispatcher(&app, provider).run_once(app.app.now()).await.unwrap().sent, 1);
}

#[tokio::test]
async fn the_beneficiary_hears_of_status_changes_and_public_comments_by_his_channel_and_not_of_internal_notes() {
    let app = spawn_app().await;
    let mut body = report_body();
    body["channel"] = "ivr".into();
    let view: serde_json::Value = app.post_report(&body).await.json().await.unwrap();
    let ticket = balagh_domain::TicketNumber::parse(view["ticket"].as_str().unwrap()).unwrap();
    let staff = Actor::new(Role::Supervisor, "s1");
    let assign = balagh_domain::lifecycle::Command::Assign { department: "cleanliness".into(), team: None, user: None };
    app.app.transition(ticket, assign, &staff, balagh_domain::Channel::Web).await.unwrap();
    app.app.comment(ticket, "the contractor comes tomorrow", true, &staff, balagh_domain::Channel::Web).await.unwrap();
    app.app.comment(ticket, "contractor is late again", false, &staff, balagh_domain::Channel::Web).await.unwrap();
    let rows = app.app.store.db.outbox(Some(ticket.report_id()), 10).await.unwrap();
    let sent: Vec<(&str, &str)> = rows.iter().map(|m| (m.topic.as_str(), m.recipient.as_str())).collect();
    assert_eq!(
        sent,
        [("status_changed", "call:+966512345678"), ("public_comment", "sms:+966512345678")],
        "a report opened by IVR is called for its assignment and texted the comment"
    );
    let payload: serde_json::Value = serde_json::from_str(&rows[0].payload).unwrap();
    assert_eq!((payload["status"].as_str(), payload["language"].as_str()), (Some("assigned"), Some("ar")));
    let scripted = Scripted::with(vec![]);
    assert_eq!(dispatcher(&app, scripted.clone()).run_once(app.app.now()).await.unwrap().sent, 2);
}
