//! Escalations over HTTP: who sees what was escalated to them, acknowledging it exactly once, the
//! follow-up measurements, and what the public does not see. Escalations are made the way they are
//! in production: by opening reports and running the escalation worker at the test clock's time.

use balagh_app::EscalationWorker;
use balagh_domain::escalation::Position;
use balagh_domain::event::Role;
use balagh_test_support::{TestApp, report_body, spawn_app, start_instant};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

async fn open(app: &TestApp, body: &Value) -> Value {
    let response = app.post_report(body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// Opens an emergency (cleanliness) report: the shipped emergency chain tells the emergency
/// committee at once.
async fn open_emergency(app: &TestApp) -> String {
    let mut body = report_body();
    body["priority"] = json!("emergency");
    open(app, &body).await["ticket"].as_str().unwrap().to_owned()
}

/// Opens a normal roads report: the roads chain tells the team lead after a working day without
/// activity and the department manager on the breach.
async fn open_roads(app: &TestApp) -> Value {
    let body = json!({
        "service_code": "damaged-speed-bump",
        "description": "مطب بدون دهان ولا لوحة تحذيرية",
        "lat": 26.4207,
        "long": 50.0888,
        "phone": "0512345678",
        "channel": "app"
    });
    open(app, &body).await
}

/// Fires every escalation step due at the test clock's time.
async fn run_worker(app: &TestApp) {
    EscalationWorker::new(app.app.clone(), "test-worker").run_once(app.app.now()).await.unwrap();
}

/// Moves the clock a minute past the report's expected resolution.
fn pass_due_time(app: &TestApp, view: &Value) {
    let due: Timestamp = view["expected_at"].as_str().unwrap().parse().unwrap();
    app.clock.set(due.checked_add(SignedDuration::from_mins(1)).unwrap());
}

/// A key with a known name (the name is what `acknowledged_by` and `user:<name>` targets say).
async fn named_key(app: &TestApp, name: &str, role: Role, department: Option<&str>, position: Option<Position>) -> String {
    app.app.create_api_key(name, role, department, position).await.unwrap()
}

async fn get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).bearer_auth(key).send().await.unwrap()
}

async fn get_ok(app: &TestApp, key: &str, path: &str) -> Value {
    let response = get(app, key, path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn acknowledge(app: &TestApp, key: &str, id: &str) -> reqwest::Response {
    app.client.post(app.url(&format!("/api/v1/escalations/{id}/acknowledge"))).bearer_auth(key).send().await.unwrap()
}

/// The escalations of a page as (ticket, target) pairs, newest first.
fn addressed(page: &Value) -> Vec<(String, String)> {
    page["escalations"].as_array().unwrap().iter().map(|e| (e["ticket"].as_str().unwrap().to_owned(), e["target"].as_str().unwrap().to_owned())).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(ticket, target)| ((*ticket).to_owned(), (*target).to_owned())).collect()
}

async fn error_code(response: reqwest::Response) -> String {
    response.json::<Value>().await.unwrap()["error"]["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_emergency_is_escalated_to_the_committee_at_once_and_its_members_see_it_as_theirs() {
    let app = spawn_app().await;
    let ticket = open_emergency(&app).await;
    run_worker(&app).await;
    let committee = app.api_key_for_position(Role::Supervisor, None, Some(Position::EmergencyCommittee)).await;
    let page = get_ok(&app, &committee, "/api/v1/escalations?mine=true").await;
    let escalation = &page["escalations"][0];
    assert_eq!(addressed(&page), pairs(&[(&ticket, "emergency_committee")]));
    assert_eq!((escalation["round"].clone(), escalation["level"].clone(), escalation["step"].clone()), (json!(0), json!(1), json!(0)));
    assert_eq!(escalation["reminder"], false);
    assert_eq!(escalation["department"], "cleanliness");
    assert_eq!(escalation["reason"], "immediately");
    assert_eq!(escalation["fired_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), app.app.now());
    assert!(escalation["acknowledged_at"].is_null() && escalation["acknowledged_by"].is_null());
    assert!(escalation["id"].as_i64().unwrap() > 0);
    assert!(page["next_before"].is_null(), "one escalation is the last page");

    let mayor = app.api_key_for_position(Role::Supervisor, None, Some(Position::MayorsOffice)).await;
    assert_eq!(addressed(&get_ok(&app, &mayor, "/api/v1/escalations?mine=true").await), pairs(&[]), "not addressed to the mayor's office");
    assert_eq!(addressed(&get_ok(&app, &mayor, "/api/v1/escalations").await), pairs(&[(&ticket, "emergency_committee")]), "but a supervisor sees it");
}

#[tokio::test]
async fn agents_integrations_and_the_public_may_not_list_escalations() {
    let app = spawn_app().await;
    open_emergency(&app).await;
    run_worker(&app).await;
    for role in [Role::Agent, Role::Integration] {
        let key = app.api_key(role, None).await;
        let response = get(&app, &key, "/api/v1/escalations").await;
        assert_eq!(response.status(), 403, "{role:?}");
        assert_eq!(error_code(response).await, "forbidden");
    }
    let anonymous = app.get("/api/v1/escalations").await;
    assert_eq!(anonymous.status(), 401);
    let anonymous = app.client.post(app.url("/api/v1/escalations/1/acknowledge")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_department_manager_sees_and_acknowledges_only_his_departments_escalations() {
    let app = spawn_app().await;
    let roads = open_roads(&app).await;
    let ticket = roads["ticket"].as_str().unwrap().to_owned();
    pass_due_time(&app, &roads);
    run_worker(&app).await;

    let roads_manager = app.api_key_for_position(Role::Supervisor, Some("roads"), Some(Position::DepartmentManager)).await;
    let mine = get_ok(&app, &roads_manager, "/api/v1/escalations?mine=true").await;
    assert_eq!(addressed(&mine), pairs(&[(&ticket, "department_manager")]));
    assert_eq!(mine["escalations"][0]["department"], "roads");
    let roads_lead = app.api_key_for_position(Role::Supervisor, Some("roads"), Some(Position::TeamLead)).await;
    assert_eq!(addressed(&get_ok(&app, &roads_lead, "/api/v1/escalations?mine=true").await), pairs(&[(&ticket, "team_lead")]));
    let roads_staff = app.api_key(Role::Staff, Some("roads")).await;
    let department = get_ok(&app, &roads_staff, "/api/v1/escalations").await;
    assert_eq!(addressed(&department), pairs(&[(&ticket, "department_manager"), (&ticket, "team_lead")]), "staff see their department's, newest first");
    assert_eq!(addressed(&get_ok(&app, &roads_staff, "/api/v1/escalations?mine=true").await), pairs(&[]), "none is addressed to a plain staff key");

    let other_manager = app.api_key_for_position(Role::Supervisor, Some("cleanliness"), Some(Position::DepartmentManager)).await;
    assert_eq!(addressed(&get_ok(&app, &other_manager, "/api/v1/escalations?mine=true").await), pairs(&[]));
    assert_eq!(addressed(&get_ok(&app, &other_manager, "/api/v1/escalations").await), pairs(&[]), "another department's are out of sight");

    let manager_escalation = mine["escalations"][0]["id"].as_i64().unwrap().to_string();
    for key in [&other_manager, &roads_lead] {
        let refused = acknowledge(&app, key, &manager_escalation).await;
        assert_eq!(refused.status(), 403);
        assert_eq!(error_code(refused).await, "not_addressed");
    }
    let acknowledged = acknowledge(&app, &roads_manager, &manager_escalation).await;
    assert_eq!(acknowledged.status(), 200);
    assert!(acknowledged.json::<Value>().await.unwrap()["acknowledged_by"].as_str().unwrap().starts_with("supervisor-"));
}

#[tokio::test]
async fn an_escalation_is_acknowledged_once_and_the_timeline_records_it_internally() {
    let app = spawn_app().await;
    let ticket = open_emergency(&app).await;
    run_worker(&app).await;
    let chair = named_key(&app, "committee-chair", Role::Supervisor, None, Some(Position::EmergencyCommittee)).await;
    let page = get_ok(&app, &chair, "/api/v1/escalations?mine=true&unacknowledged=true").await;
    let id = page["escalations"][0]["id"].as_i64().unwrap().to_string();

    app.clock.advance(SignedDuration::from_mins(5));
    let response = acknowledge(&app, &chair, &id).await;
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["id"].as_i64().unwrap().to_string(), id);
    assert_eq!(view["ticket"], ticket);
    assert_eq!(view["acknowledged_by"], "committee-chair");
    assert_eq!(view["acknowledged_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), app.app.now());

    let twice = acknowledge(&app, &chair, &id).await;
    assert_eq!(twice.status(), 409);
    assert_eq!(error_code(twice).await, "already_acknowledged");
    let other_member = named_key(&app, "committee-deputy", Role::Supervisor, None, Some(Position::EmergencyCommittee)).await;
    assert_eq!(acknowledge(&app, &other_member, &id).await.status(), 409, "one acknowledgement per escalation row");

    assert_eq!(addressed(&get_ok(&app, &chair, "/api/v1/escalations?mine=true&unacknowledged=true").await), pairs(&[]));
    let all = get_ok(&app, &chair, "/api/v1/escalations?mine=true").await;
    assert_eq!(all["escalations"][0]["acknowledged_by"], "committee-chair");
    assert_eq!(all["escalations"][0]["acknowledged_at"], view["acknowledged_at"]);

    let internal = get_ok(&app, &chair, &format!("/api/v1/reports/{ticket}/timeline")).await;
    let event = internal.as_array().unwrap().iter().find(|e| e["kind"] == "escalation_acknowledged").expect("an acknowledgement event");
    assert_eq!(event["public"], false);
    assert_eq!(event["actor_id"], "committee-chair");
    assert_eq!(event["data"]["target"], "emergency_committee");
    assert_eq!(event["at"], view["acknowledged_at"]);
    let public: Value = app.get(&format!("/api/v1/reports/{ticket}/timeline")).await.json().await.unwrap();
    assert!(public.as_array().unwrap().iter().all(|e| e["kind"] != "escalation_acknowledged"), "{public}");
}

#[tokio::test]
async fn acknowledging_an_unknown_or_malformed_escalation_id_is_refused_clearly() {
    let app = spawn_app().await;
    let committee = app.api_key_for_position(Role::Supervisor, None, Some(Position::EmergencyCommittee)).await;
    let unknown = acknowledge(&app, &committee, "987654").await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(error_code(unknown).await, "not_found");
    for id in ["abc", "0", "-3", "1.5"] {
        let response = acknowledge(&app, &committee, id).await;
        assert_eq!(response.status(), 422, "{id}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_escalation_id", "{id}");
        assert_eq!(error["error"]["fields"][0]["field"], "id", "{id}");
    }
}

#[tokio::test]
async fn bad_escalation_filters_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let ticket = open_emergency(&app).await;
    let mut typo = ticket.clone().into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'9' { b'0' } else { typo[last] + 1 };
    let typo = String::from_utf8(typo).unwrap();
    let supervisor = app.api_key(Role::Supervisor, None).await;
    for (query, code, field) in [
        ("mine=maybe".to_owned(), "invalid_boolean", "mine"),
        ("unacknowledged=1".to_owned(), "invalid_boolean", "unacknowledged"),
        ("ticket=12ab".to_owned(), "ticket_not_digits", "ticket"),
        (format!("ticket={typo}"), "ticket_check_digit", "ticket"),
        ("before=abc".to_owned(), "invalid_before", "before"),
        ("before=0".to_owned(), "invalid_before", "before"),
        ("limit=0".to_owned(), "invalid_limit", "limit"),
        ("limit=201".to_owned(), "invalid_limit", "limit"),
    ] {
        let response = get(&app, &supervisor, &format!("/api/v1/escalations?{query}")).await;
        assert_eq!(response.status(), 422, "{query}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{query}");
        assert_eq!(error["error"]["fields"][0]["field"], field, "{query}");
    }
    let unknown = get(&app, &supervisor, "/api/v1/escalations?colour=red").await;
    assert_eq!(unknown.status(), 400);
    let error: Value = unknown.json().await.unwrap();
    assert_eq!(error["error"]["code"], "malformed_query");
    assert!(error["error"]["message"].as_str().unwrap().contains("colour"), "{error}");
}

#[tokio::test]
async fn escalations_page_newest_first_with_before_and_filter_by_ticket() {
    let app = spawn_app().await;
    let mut tickets = Vec::new();
    for _ in 0..5 {
        tickets.push(open_emergency(&app).await);
    }
    run_worker(&app).await;
    let committee = app.api_key_for_position(Role::Supervisor, None, Some(Position::EmergencyCommittee)).await;
    let mut ids = Vec::new();
    let mut seen = Vec::new();
    let mut path = "/api/v1/escalations?mine=true&limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = get_ok(&app, &committee, &path).await;
        pages += 1;
        for escalation in page["escalations"].as_array().unwrap() {
            ids.push(escalation["id"].as_i64().unwrap());
            seen.push(escalation["ticket"].as_str().unwrap().to_owned());
        }
        match page["next_before"].as_i64() {
            Some(before) => {
                assert_eq!(Some(&before), ids.last(), "next_before is the last id of the page");
                path = format!("/api/v1/escalations?mine=true&limit=2&before={before}");
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, nothing twice: {ids:?}");
    seen.reverse();
    assert_eq!(seen, tickets, "every escalation once, oldest report last");

    let one = get_ok(&app, &committee, &format!("/api/v1/escalations?ticket={}", tickets[2])).await;
    assert_eq!(addressed(&one), pairs(&[(&tickets[2], "emergency_committee")]));
}

/// Files a follow-up with the report's phone number and returns the answer.
async fn follow_up(app: &TestApp, ticket: &str) -> Value {
    let response = app.client.post(app.url(&format!("/api/v1/reports/{ticket}/follow-ups"))).json(&json!({"phone": "0512345678"})).send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn measured(view: &Value) -> (i64, i64, i64, i64, f64, f64, f64) {
    let n = |field: &str| view[field].as_i64().unwrap_or_else(|| panic!("{field} in {view}"));
    let share = |field: &str| view[field].as_f64().unwrap_or_else(|| panic!("{field} in {view}"));
    (n("reports"), n("followed_up"), n("follow_ups"), n("escalated"), share("followed_up_share"), share("follow_ups_per_report"), share("escalated_share"))
}

#[tokio::test]
async fn follow_up_measurements_count_follow_ups_and_escalations_of_the_reports_received() {
    let app = spawn_app().await;
    let first = open(&app, &report_body()).await;
    let ticket = first["ticket"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        open(&app, &report_body()).await;
    }
    let fresh = follow_up(&app, &ticket).await;
    assert_eq!(fresh["outcome"], "assignee_notified");
    assert!(fresh.get("escalation").is_none(), "the follow-up answers the public view");

    pass_due_time(&app, &first);
    let later = open(&app, &report_body()).await;
    assert_eq!(follow_up(&app, later["ticket"].as_str().unwrap()).await["outcome"], "assignee_notified");
    assert_eq!(follow_up(&app, &ticket).await["outcome"], "escalated", "past due: the follow-up escalates at once");

    let supervisor = app.api_key(Role::Supervisor, Some("cleanliness")).await;
    let last_30_days = get_ok(&app, &supervisor, "/api/v1/measurements/follow-ups").await;
    assert_eq!(measured(&last_30_days), (4, 2, 3, 1, 0.5, 0.75, 0.25));
    let now = app.app.now();
    assert_eq!(last_30_days["to"].as_str().unwrap().parse::<Timestamp>().unwrap(), now);
    assert_eq!(last_30_days["from"].as_str().unwrap().parse::<Timestamp>().unwrap(), now.checked_sub(SignedDuration::from_hours(30 * 24)).unwrap());

    let start = start_instant();
    let first_hour = format!("/api/v1/measurements/follow-ups?from={start}&to={}", start.checked_add(SignedDuration::from_hours(1)).unwrap());
    let admin = app.api_key(Role::Admin, None).await;
    let first_hour = get_ok(&app, &admin, &first_hour).await;
    assert_eq!(measured(&first_hour), (3, 1, 2, 1, 1.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0));
    assert_eq!(first_hour["from"].as_str().unwrap().parse::<Timestamp>().unwrap(), start);
    let nothing = get_ok(&app, &admin, "/api/v1/measurements/follow-ups?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z").await;
    assert_eq!(measured(&nothing), (0, 0, 0, 0, 0.0, 0.0, 0.0));
}

#[tokio::test]
async fn follow_up_measurements_are_for_supervisors_and_check_their_window() {
    let app = spawn_app().await;
    for role in [Role::Staff, Role::Agent, Role::Integration] {
        let key = app.api_key(role, None).await;
        let response = get(&app, &key, "/api/v1/measurements/follow-ups").await;
        assert_eq!(response.status(), 403, "{role:?}");
        assert_eq!(error_code(response).await, "forbidden");
    }
    assert_eq!(app.get("/api/v1/measurements/follow-ups").await.status(), 401);
    let supervisor = app.api_key(Role::Supervisor, None).await;
    for (query, code, field) in [
        ("from=yesterday", "invalid_datetime", "from"),
        ("to=2026-02-30T00:00:00Z", "invalid_datetime", "to"),
        ("from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z", "reversed_window", "to"),
        ("from=2026-04-01T00:00:00Z", "reversed_window", "from"),
        ("from=2025-01-01T00:00:00Z&to=2026-02-01T00:00:00Z", "window_too_long", "from"),
        ("from=2024-01-01T00:00:00Z", "window_too_long", "from"),
    ] {
        let response = get(&app, &supervisor, &format!("/api/v1/measurements/follow-ups?{query}")).await;
        assert_eq!(response.status(), 422, "{query}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{query}");
        assert_eq!(error["error"]["fields"][0]["field"], field, "{query}");
    }
    let unknown = get(&app, &supervisor, "/api/v1/measurements/follow-ups?since=2026-01-01T00:00:00Z").await;
    assert_eq!(unknown.status(), 400);
    assert!(unknown.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("since"));
    let year = get(&app, &supervisor, "/api/v1/measurements/follow-ups?from=2025-02-01T00:00:00Z&to=2026-02-02T00:00:00Z").await;
    assert_eq!(year.status(), 200, "366 days is the longest window");
}

#[tokio::test]
async fn the_public_sees_that_a_report_was_escalated_but_not_to_whom_nor_the_escalation_block() {
    let app = spawn_app().await;
    let ticket = open_emergency(&app).await;
    run_worker(&app).await;
    let fired_at = app.app.now();
    let report_path = format!("/api/v1/reports/{ticket}");

    let public = app.get(&report_path).await.text().await.unwrap();
    let public_view: Value = serde_json::from_str(&public).unwrap();
    assert!(public_view.get("escalation").is_none(), "{public}");
    assert!(public_view.get("contact").is_none());
    let listed: Value = app.get("/api/v1/reports").await.json().await.unwrap();
    assert!(listed["items"][0].get("escalation").is_none());

    let staff = app.api_key(Role::Staff, Some("cleanliness")).await;
    let staff_view = get_ok(&app, &staff, &report_path).await;
    let block = &staff_view["escalation"];
    assert_eq!((block["round"].clone(), block["level_reached"].clone(), block["flagged"].clone()), (json!(0), json!(1), json!(true)));
    assert_eq!(block["last_escalated_at"].as_str().unwrap().parse::<Timestamp>().unwrap(), fired_at);
    let staff_list = get_ok(&app, &staff, "/api/v1/reports").await;
    assert_eq!(staff_list["items"][0]["escalation"]["level_reached"], 1);

    let timeline_path = format!("/api/v1/reports/{ticket}/timeline");
    let public_timeline = app.get(&timeline_path).await.text().await.unwrap();
    let events: Value = serde_json::from_str(&public_timeline).unwrap();
    let escalated = events.as_array().unwrap().iter().find(|e| e["kind"] == "escalated").expect("the public sees the escalation");
    assert_eq!(escalated["data"], json!({"type": "escalated", "level": 1}));
    assert!(escalated["note"].is_null());
    for hidden in ["emergency_committee", "targets", "actions", "notify", "immediately"] {
        assert!(!public_timeline.contains(hidden), "{hidden} in {public_timeline}");
    }

    let internal = get_ok(&app, &staff, &timeline_path).await;
    let escalated = internal.as_array().unwrap().iter().find(|e| e["kind"] == "escalated").unwrap();
    assert_eq!(escalated["data"]["targets"], json!(["emergency_committee"]));
    assert_eq!(escalated["data"]["actions"], json!(["notify", "flag"]));
    assert_eq!(escalated["note"], "immediately");
}
