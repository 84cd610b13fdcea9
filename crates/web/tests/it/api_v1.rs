//! The JSON API's stories: open, read, list, move through the lifecycle, follow up, rate.

use balagh_domain::event::Role;
use balagh_test_support::{TestApp, report_body, spawn_app};
use serde_json::{Value, json};

async fn open(app: &TestApp) -> String {
    let response = app.post_report(&report_body()).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned()
}

async fn act(app: &TestApp, key: &str, ticket: &str, body: Value) -> reqwest::Response {
    app.client.post(app.url(&format!("/api/v1/reports/{ticket}/transitions"))).bearer_auth(key).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn opening_a_report_returns_its_ticket_and_stores_it_durably() {
    let app = spawn_app().await;
    let response = app.post_report(&report_body()).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let ticket = body["ticket"].as_str().unwrap();
    assert!(ticket.chars().all(|c| c.is_ascii_digit()) && ticket.len() >= 8, "{ticket}");
    assert_eq!(location, format!("/api/v1/reports/{ticket}"));
    assert_eq!(body["status"], "new");
    assert_eq!(body["open311_status"], "open");
    assert_eq!(body["department"], "cleanliness");
    assert_eq!(body["channel"], "app");
    assert!(body.get("contact").is_none(), "the public never sees contact details");
    assert!(body.get("attributes").is_none(), "nor the answers to the service's questions");

    let read: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(read["ticket"], ticket);
    assert_eq!(read["description"], report_body()["description"]);
    assert_eq!(read["created_at"], body["created_at"]);
}

#[tokio::test]
async fn a_retried_create_with_the_same_idempotency_key_returns_the_same_report() {
    let app = spawn_app().await;
    let send = || app.client.post(app.url("/api/v1/reports")).header("Idempotency-Key", "retry-1").json(&report_body()).send();
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["ticket"], again["ticket"]);
    let page: Value = app.get("/api/v1/reports").await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    let mut other = report_body();
    other["description"] = json!("a different report");
    let reused = app.client.post(app.url("/api/v1/reports")).header("Idempotency-Key", "retry-1").json(&other).send().await.unwrap();
    assert_eq!(reused.status(), 409);
    assert_eq!(reused.json::<Value>().await.unwrap()["error"]["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn concurrent_creates_are_all_stored_with_distinct_tickets() {
    let app = spawn_app().await;
    let body = report_body();
    let creates = (0..40).map(|_| app.post_report(&body));
    let responses = futures::future::join_all(creates).await;
    let mut tickets = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        tickets.push(response.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned());
    }
    tickets.sort();
    tickets.dedup();
    assert_eq!(tickets.len(), 40);
    let page: Value = app.get("/api/v1/reports?limit=100").await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 40);
}

#[tokio::test]
async fn staff_move_a_report_through_its_whole_lifecycle_and_the_timeline_records_it() {
    let app = spawn_app().await;
    let ticket = open(&app).await;
    let staff = app.api_key(Role::Staff, Some("cleanliness")).await;
    for (action, extra, status) in [
        ("acknowledge", json!({}), "acknowledged"),
        ("assign", json!({"team": "east-dammam", "user": "u-17"}), "assigned"),
        ("start", json!({}), "in_progress"),
        ("hold", json!({"reason": "waiting for a new container"}), "on_hold"),
        ("resume", json!({}), "in_progress"),
        ("resolve", json!({"resolution": "container emptied and replaced"}), "resolved"),
    ] {
        let mut body = extra;
        body["action"] = json!(action);
        let response = act(&app, &staff, &ticket, body).await;
        assert_eq!(response.status(), 200, "{action}");
        let view: Value = response.json().await.unwrap();
        assert_eq!(view["status"], status, "{action}");
    }
    let report: Value = app.client.get(app.url(&format!("/api/v1/reports/{ticket}"))).bearer_auth(&staff).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["team"], "east-dammam");
    assert_eq!(report["assignee"], "u-17");
    assert_eq!(report["status_note"], "container emptied and replaced");
    assert_eq!(report["contact"]["phone"], "+966512345678", "staff see the contact");
    assert!(report["resolved_at"].is_string());

    let public: Value = app.get(&format!("/api/v1/reports/{ticket}/timeline")).await.json().await.unwrap();
    let kinds: Vec<&str> = public.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "status_changed", "status_changed", "status_changed", "status_changed", "status_changed", "status_changed"]);
    assert!(public.as_array().unwrap().iter().all(|e| e.get("actor_id").is_none()));
    let internal: Value =
        app.client.get(app.url(&format!("/api/v1/reports/{ticket}/timeline"))).bearer_auth(&staff).send().await.unwrap().json().await.unwrap();
    assert!(internal.as_array().unwrap().iter().any(|e| e["kind"] == "assigned"), "staff see internal events");
}

#[tokio::test]
async fn an_illegal_transition_is_a_conflict_that_names_the_allowed_statuses() {
    let app = spawn_app().await;
    let ticket = open(&app).await;
    let staff = app.api_key(Role::Supervisor, None).await;
    let response = act(&app, &staff, &ticket, json!({"action": "close"})).await;
    assert_eq!(response.status(), 409);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "illegal_transition");
    assert_eq!(error["error"]["message"], "cannot close a report that is new; allowed from: resolved");
    let unchanged: Value = app.get(&format!("/api/v1/reports/{ticket}")).await.json().await.unwrap();
    assert_eq!(unchanged["status"], "new");
}

#[tokio::test]
async fn roles_and_departments_are_enforced() {
    let app = spawn_app().await;
    let ticket = open(&app).await;
    let anonymous = app.client.post(app.url(&format!("/api/v1/reports/{ticket}/transitions"))).json(&json!({"action": "acknowledge"})).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let forged = act(&app, "blg_not-a-real-key", &ticket, json!({"action": "acknowledge"})).await;
    assert_eq!(forged.status(), 401);
    let integration = app.api_key(Role::Integration, None).await;
    let response = act(&app, &integration, &ticket, json!({"action": "acknowledge"})).await;
    assert_eq!(response.status(), 403);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "forbidden_transition");
    let parks = app.api_key(Role::Staff, Some("parks")).await;
    let response = act(&app, &parks, &ticket, json!({"action": "acknowledge"})).await;
    assert_eq!(response.status(), 403);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "other_department");
    let listed: Value = app.client.get(app.url("/api/v1/reports")).bearer_auth(&parks).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "staff list only their department");
}

#[tokio::test]
async fn rejecting_needs_a_reason_and_duplicates_link_to_the_original() {
    let app = spawn_app().await;
    let original = open(&app).await;
    let copy = open(&app).await;
    let staff = app.api_key(Role::Agent, None).await;
    let response = act(&app, &staff, &copy, json!({"action": "reject"})).await;
    assert_eq!(response.status(), 422);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["fields"][0]["field"], "reason");
    let response = act(&app, &staff, &copy, json!({"action": "mark_duplicate", "original": original})).await;
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["status"], "duplicate");
    assert_eq!(view["duplicate_of"], original);
    assert_eq!(view["open311_status"], "closed");
}

#[tokio::test]
async fn a_follow_up_is_recorded_only_with_the_reports_phone_number() {
    let app = spawn_app().await;
    let ticket = open(&app).await;
    let path = format!("/api/v1/reports/{ticket}/follow-ups");
    let wrong = app.client.post(app.url(&path)).json(&json!({"phone": "0598765432"})).send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"]["code"], "phone_mismatch");
    let ok = app.client.post(app.url(&path)).json(&json!({"phone": "+966 51 234 5678", "text": "لم يأت أحد", "channel": "whatsapp"})).send().await.unwrap();
    assert_eq!(ok.status(), 201);
    let view: Value = ok.json().await.unwrap();
    assert_eq!(view["n_follow_ups"], 1);
    let timeline: Value = app.get(&format!("/api/v1/reports/{ticket}/timeline")).await.json().await.unwrap();
    let follow_up = timeline.as_array().unwrap().iter().find(|e| e["kind"] == "followed_up").unwrap();
    assert_eq!(follow_up["channel"], "whatsapp");
    assert_eq!(follow_up["note"], "لم يأت أحد");
}

#[tokio::test]
async fn a_good_closure_rating_closes_and_a_poor_one_reopens() {
    let app = spawn_app().await;
    let staff = app.api_key(Role::Supervisor, None).await;
    let resolve = |ticket: String| {
        let (app, staff) = (&app, staff.clone());
        async move {
            for action in [json!({"action": "assign"}), json!({"action": "start"}), json!({"action": "resolve", "resolution": "done"})] {
                assert_eq!(act(app, &staff, &ticket, action).await.status(), 200);
            }
        }
    };
    let happy = open(&app).await;
    let path = format!("/api/v1/reports/{happy}/ratings/closure");
    let early = app.client.post(app.url(&path)).json(&json!({"phone": "0512345678", "quality": 5, "speed": 4})).send().await.unwrap();
    assert_eq!(early.status(), 409);
    assert_eq!(early.json::<Value>().await.unwrap()["error"]["code"], "not_resolved");
    resolve(happy.clone()).await;
    let rated = app.client.post(app.url(&path)).json(&json!({"phone": "0512345678", "quality": 5, "speed": 4, "comment": "شكراً"})).send().await.unwrap();
    assert_eq!(rated.status(), 201);
    assert_eq!(rated.json::<Value>().await.unwrap()["status"], "closed");
    let twice = app.client.post(app.url(&path)).json(&json!({"phone": "0512345678", "quality": 5, "speed": 4})).send().await.unwrap();
    assert_eq!(twice.status(), 409);
    assert_eq!(twice.json::<Value>().await.unwrap()["error"]["code"], "already_rated");

    let unhappy = open(&app).await;
    resolve(unhappy.clone()).await;
    let path = format!("/api/v1/reports/{unhappy}/ratings/closure");
    let rated = app.client.post(app.url(&path)).json(&json!({"phone": "0512345678", "quality": 2, "speed": 5})).send().await.unwrap();
    assert_eq!(rated.status(), 201);
    let view: Value = rated.json().await.unwrap();
    assert_eq!(view["status"], "reopened");
    assert!(view["resolved_at"].is_null());

    let not_fixed = open(&app).await;
    resolve(not_fixed.clone()).await;
    let path = format!("/api/v1/reports/{not_fixed}/ratings/closure");
    let rated = app.client.post(app.url(&path)).json(&json!({"phone": "0512345678", "quality": 4, "speed": 4, "not_fixed": true})).send().await.unwrap();
    assert_eq!(rated.json::<Value>().await.unwrap()["status"], "reopened");
}

#[tokio::test]
async fn an_interaction_rating_is_kept_private() {
    let app = spawn_app().await;
    let ticket = open(&app).await;
    let path = format!("/api/v1/reports/{ticket}/ratings/interaction");
    let bad = app.client.post(app.url(&path)).json(&json!({"phone": "0512345678", "agent_service": 0, "answer_quality": 6})).send().await.unwrap();
    assert_eq!(bad.status(), 422);
    let fields: Vec<String> =
        bad.json::<Value>().await.unwrap()["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_owned()).collect();
    assert_eq!(fields, ["agent_service", "answer_quality"]);
    let ok = app
        .client
        .post(app.url(&path))
        .json(&json!({"phone": "0512345678", "agent_service": 5, "answer_quality": 4, "agent": "agent-3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    let public: Value = app.get(&format!("/api/v1/reports/{ticket}/timeline")).await.json().await.unwrap();
    assert!(public.as_array().unwrap().iter().all(|e| e["kind"] != "interaction_rated"));
}

#[tokio::test]
async fn lists_filter_and_page_with_a_cursor() {
    let app = spawn_app().await;
    for i in 0..5 {
        let mut body = report_body();
        if i % 2 == 0 {
            body["service_code"] = json!("graffiti");
            body["kind"] = json!("complaint");
        }
        assert_eq!(app.post_report(&body).await.status(), 201);
        app.clock.advance(jiff::SignedDuration::from_mins(1));
    }
    let graffiti: Value = app.get("/api/v1/reports?service_code=graffiti&kind=complaint").await.json().await.unwrap();
    assert_eq!(graffiti["items"].as_array().unwrap().len(), 3);
    let boxed: Value = app.get("/api/v1/reports?bbox=26.0,49.9,26.5,50.2").await.json().await.unwrap();
    assert_eq!(boxed["items"].as_array().unwrap().len(), 5);
    let outside: Value = app.get("/api/v1/reports?bbox=24.0,46.0,25.0,47.0").await.json().await.unwrap();
    assert_eq!(outside["items"].as_array().unwrap().len(), 0);

    let mut seen = Vec::new();
    let mut path = "/api/v1/reports?limit=2".to_owned();
    loop {
        let page: Value = app.get(&path).await.json().await.unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(|r| r["ticket"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/reports?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "no report twice across pages");
    let from = app.get("/api/v1/reports?created_from=2026-03-01T07:02:30Z").await.json::<Value>().await.unwrap();
    assert_eq!(from["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_inquiry_is_answered_at_first_contact_by_an_agent() {
    let app = spawn_app().await;
    let response =
        app.post_report(&json!({"service_code": "general-inquiry", "description": "متى يفتح منتزه الشاطئ؟", "phone": "0551234567", "channel": "phone"})).await;
    assert_eq!(response.status(), 201);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["kind"], "inquiry");
    assert!(view["description"].is_null(), "an inquiry's text is not public");
    let agent = app.api_key(Role::Agent, None).await;
    let answered =
        act(&app, &agent, view["ticket"].as_str().unwrap(), json!({"action": "resolve", "resolution": "يفتح من الرابعة عصراً", "channel": "phone"})).await;
    assert_eq!(answered.status(), 200);
    assert_eq!(answered.json::<Value>().await.unwrap()["status"], "resolved");
}

#[tokio::test]
async fn an_emergency_is_due_on_the_wall_clock_and_the_sla_is_shown_on_the_report() {
    let app = spawn_app().await;
    let mut body = report_body();
    body["priority"] = json!("emergency");
    let created: Value = app.post_report(&body).await.json().await.unwrap();
    let created_at: jiff::Timestamp = created["created_at"].as_str().unwrap().parse().unwrap();
    let expected: jiff::Timestamp = created["expected_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expected.duration_since(created_at), jiff::SignedDuration::from_hours(4), "emergencies: 4 hours, every hour counts");

    app.clock.advance(jiff::SignedDuration::from_hours(1));
    let read: Value = app.get(&format!("/api/v1/reports/{}", created["ticket"].as_str().unwrap())).await.json().await.unwrap();
    assert_eq!(read["sla"]["resolution"]["state"], "running");
    assert_eq!(read["sla"]["resolution"]["remaining_minutes"], 180);
    assert_eq!(read["sla"]["resolution"]["percent_used"], 25);
    assert_eq!(read["sla"]["resolution"]["due_at"], created["expected_at"]);
    assert_eq!(read["sla"]["first_response"]["state"], "breached", "15 minutes to respond have passed");
}

#[tokio::test]
async fn waiting_on_the_beneficiary_pauses_the_clock_and_moves_the_expected_date() {
    let app = spawn_app().await;
    let mut body = report_body();
    body["priority"] = json!("emergency");
    let ticket = app.post_report(&body).await.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned();
    let staff = app.api_key(Role::Supervisor, None).await;
    for action in [json!({"action": "assign"}), json!({"action": "start"})] {
        assert_eq!(act(&app, &staff, &ticket, action).await.status(), 200);
    }
    let before: Value = app.get(&format!("/api/v1/reports/{ticket}")).await.json().await.unwrap();
    assert_eq!(before["sla"]["first_response"]["state"], "met");
    assert_eq!(act(&app, &staff, &ticket, json!({"action": "await_citizen", "question": "أي جهة من الشارع؟"})).await.status(), 200);
    app.clock.advance(jiff::SignedDuration::from_hours(2));
    let paused: Value = app.get(&format!("/api/v1/reports/{ticket}")).await.json().await.unwrap();
    assert_eq!(paused["sla"]["resolution"]["state"], "paused");
    assert_eq!(paused["sla"]["resolution"]["remaining_minutes"], 240);
    let resumed: Value = act(&app, &staff, &ticket, json!({"action": "resume"})).await.json().await.unwrap();
    let before_due: jiff::Timestamp = before["expected_at"].as_str().unwrap().parse().unwrap();
    let after_due: jiff::Timestamp = resumed["expected_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(after_due.duration_since(before_due), jiff::SignedDuration::from_hours(2), "two paused hours push the due time by two hours");
}

#[tokio::test]
async fn a_normal_report_is_due_in_business_time_after_its_creation() {
    let app = spawn_app().await;
    let created: Value = app.post_report(&report_body()).await.json().await.unwrap();
    let created_at: jiff::Timestamp = created["created_at"].as_str().unwrap().parse().unwrap();
    let expected: jiff::Timestamp = created["expected_at"].as_str().unwrap().parse().unwrap();
    let calendar = &app.app.sla().calendars["default"];
    assert!(expected > created_at.checked_add(jiff::SignedDuration::from_hours(35)).unwrap(), "five working days are more than 35 wall-clock hours");
    assert_eq!(balagh_domain::sla::WorkingTime::minutes_between(calendar, created_at, expected), 2100);
}

#[tokio::test]
async fn a_second_follow_up_within_twelve_hours_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let ticket = open(&app).await;
    let path = format!("/api/v1/reports/{ticket}/follow-ups");
    let follow_up = || app.client.post(app.url(&path)).json(&json!({"phone": "0512345678"})).send();
    assert_eq!(follow_up().await.unwrap().status(), 201);
    app.clock.advance(jiff::SignedDuration::from_hours(11));
    let too_soon = follow_up().await.unwrap();
    assert_eq!(too_soon.status(), 409);
    let error: Value = too_soon.json().await.unwrap();
    assert_eq!(error["error"]["code"], "follow_up_too_soon");
    assert!(error["error"]["message"].as_str().unwrap().contains("next one is accepted from"));
    let unchanged: Value = app.get(&format!("/api/v1/reports/{ticket}")).await.json().await.unwrap();
    assert_eq!(unchanged["n_follow_ups"], 1);
    app.clock.advance(jiff::SignedDuration::from_hours(1));
    let later = follow_up().await.unwrap();
    assert_eq!(later.status(), 201);
    assert_eq!(later.json::<Value>().await.unwrap()["n_follow_ups"], 2);
}
