//! Open311 GeoReport v2 stories against the real server: discovery, services, posting requests
//! with an API key, reading them back with every filter, tokens, FixMyStreet's update feed,
//! jurisdictions, formats, and that nothing personal is ever shown.

use balagh_app::ReportFilter;
use balagh_domain::TicketNumber;
use balagh_domain::catalogue::AttributeAnswer;
use balagh_domain::event::{Actor, Role};
use balagh_domain::lifecycle::Command;
use balagh_domain::vocabulary::Channel;
use balagh_test_support::{TestApp, spawn_app, spawn_app_with, start_instant};
use balagh_web::WebConfig;
use jiff::SignedDuration;
use serde_json::Value;

const BASE: &str = "/open311/v2";

fn path(rest: &str) -> String {
    format!("{BASE}/{rest}")
}

async fn get_json(app: &TestApp, rest: &str) -> (u16, Value) {
    let response = app.get(&path(rest)).await;
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8", "{rest}");
    (status, response.json().await.expect("a JSON body"))
}

async fn get_xml(app: &TestApp, rest: &str) -> (u16, String) {
    let response = app.get(&path(rest)).await;
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "text/xml; charset=utf-8", "{rest}");
    let body = response.text().await.unwrap();
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), "{body}");
    (status, body)
}

async fn post_json(app: &TestApp, pairs: &[(&str, &str)]) -> (u16, Value) {
    let response = app.post_form(&path("requests.json"), pairs).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// A valid pothole request, without its key.
fn pothole() -> Vec<(&'static str, &'static str)> {
    vec![
        ("service_code", "pothole"),
        ("lat", "26.4207"),
        ("long", "50.0888"),
        ("description", "حفرة عميقة أمام مدرسة الملك فهد"),
        ("attribute[pothole_size]", "large"),
    ]
}

fn with_key<'a>(key: &'a str, pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("api_key", key)];
    all.extend_from_slice(pairs);
    all
}

/// Posts `pairs` with a fresh integration key and returns the new ticket.
async fn open(app: &TestApp, pairs: &[(&str, &str)]) -> String {
    let key = app.api_key(Role::Integration, None).await;
    let (status, body) = post_json(app, &with_key(&key, pairs)).await;
    assert_eq!(status, 200, "{body}");
    body[0]["service_request_id"].as_str().expect("a service_request_id").to_owned()
}

async fn stored_count(app: &TestApp) -> usize {
    app.app.list_reports(ReportFilter { limit: 1000, ..ReportFilter::default() }, &Actor::system()).await.unwrap().len()
}

fn supervisor() -> Actor {
    Actor::new(Role::Supervisor, "s1")
}

async fn transition(app: &TestApp, ticket: &str, command: Command) {
    app.app.transition(TicketNumber::parse(ticket).unwrap(), command, &supervisor(), Channel::Web).await.expect("transition");
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array().expect("a list").iter().map(|r| r["service_request_id"].as_str().unwrap()).collect()
}

fn descriptions(errors: &Value) -> Vec<String> {
    errors.as_array().expect("an error list").iter().map(|e| e["description"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn discovery_names_this_endpoint_in_xml_and_json() {
    let app = spawn_app().await;
    let (status, json) = get_json(&app, "discovery.json").await;
    assert_eq!(status, 200);
    let endpoint = &json["endpoints"][0];
    assert_eq!(endpoint["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(endpoint["url"], format!("{}/open311/v2", app.address));
    assert_eq!(endpoint["type"], "production");
    assert_eq!(endpoint["formats"], serde_json::json!(["text/xml", "application/json"]));
    assert_eq!(json["contact"], WebConfig::default().contact);
    assert_eq!(json["key_service"], WebConfig::default().key_service);
    assert!(json["changeset"].as_str().unwrap().ends_with("+03:00"));

    let (status, xml) = get_xml(&app, "discovery.xml").await;
    assert_eq!(status, 200);
    assert!(xml.contains("<discovery>"), "{xml}");
    assert!(xml.contains(&format!("<url>{}/open311/v2</url>", app.address)), "{xml}");
    assert!(xml.contains("<formats>\n        <format>text/xml</format>\n        <format>application/json</format>\n      </formats>"), "{xml}");
}

#[tokio::test]
async fn the_service_list_and_a_definition_follow_the_catalogue_in_the_asked_language() {
    let app = spawn_app().await;
    let (status, services) = get_json(&app, "services.json").await;
    assert_eq!(status, 200);
    let list = services.as_array().unwrap();
    assert_eq!(list.len(), app.app.catalogue().services.len());
    let pothole = list.iter().find(|s| s["service_code"] == "pothole").unwrap();
    assert_eq!(pothole["service_name"], "حفرة في الطريق", "Arabic by default");
    assert_eq!(pothole["metadata"], true);
    assert_eq!(pothole["type"], "realtime");
    assert_eq!(pothole["group"], "الطرق والأرصفة");
    assert!(pothole["keywords"].as_str().unwrap().contains("حفرة, "));

    let (_, english) = get_json(&app, "services.json?locale=en_US").await;
    let pothole = english.as_array().unwrap().iter().find(|s| s["service_code"] == "pothole").unwrap();
    assert_eq!(pothole["service_name"], "Pothole in the road");
    assert_eq!(pothole["group"], "Roads and Sidewalks");
    let accept = app.client.get(app.url(&path("services.json"))).header("accept-language", "fr;q=0.9, en;q=0.8").send().await.unwrap();
    let accepted: Value = accept.json().await.unwrap();
    assert_eq!(accepted.as_array().unwrap().iter().find(|s| s["service_code"] == "pothole").unwrap()["service_name"], "Pothole in the road");

    let (status, definition) = get_json(&app, "services/pothole.json?locale=en").await;
    assert_eq!(status, 200);
    assert_eq!(definition["service_code"], "pothole");
    let size = &definition["attributes"][0];
    assert_eq!(size["code"], "pothole_size");
    assert_eq!(size["datatype"], "singlevaluelist");
    assert_eq!(size["required"], true);
    assert_eq!(size["variable"], true);
    assert_eq!(size["order"], 1);
    assert_eq!(size["description"], "How large is the pothole?");
    assert_eq!(size["values"][0], serde_json::json!({"key": "small", "name": "Small (under 30 cm)"}));

    let (status, xml) = get_xml(&app, "services/pothole.xml").await;
    assert_eq!(status, 200);
    assert!(xml.contains("<service_definition>\n  <service_code>pothole</service_code>\n  <attributes>\n    <attribute>"), "{xml}");
    assert!(xml.contains("<value>\n          <key>small</key>"), "{xml}");

    let (status, errors) = get_json(&app, "services/moon.json").await;
    assert_eq!(status, 404);
    assert_eq!(errors[0]["code"], 404);
    assert!(errors[0]["description"].as_str().unwrap().contains("'moon'"));
}

#[tokio::test]
async fn posting_with_an_api_key_opens_a_report_and_answers_its_ticket() {
    let app = spawn_app().await;
    let key = app.api_key(Role::Integration, None).await;
    let mut pairs = with_key(&key, &pothole());
    pairs.extend([("account_id", "acct-4242"), ("jurisdiction_id", "anything.example"), ("media_url", "https://photos.example.sa/p.jpg")]);
    let (status, body) = post_json(&app, &pairs).await;
    assert_eq!(status, 200, "{body}");
    let ticket = body[0]["service_request_id"].as_str().unwrap();
    assert!(TicketNumber::parse(ticket).is_ok(), "{ticket}");
    let notice = body[0]["service_notice"].as_str().unwrap();
    assert!(notice.starts_with("تم استلام") && notice.contains("Your report was received") && notice.contains(ticket), "{notice}");
    assert_eq!(body[0]["account_id"], "acct-4242", "the spec lets the client's own account id be echoed");

    let report = app.app.report(TicketNumber::parse(ticket).unwrap()).await.unwrap();
    assert_eq!(report.channel, Channel::Api);
    assert_eq!(report.service_code, "pothole");
    assert_eq!(report.attributes["pothole_size"], AttributeAnswer::One("large".into()));
    assert_eq!(report.media, vec!["https://photos.example.sa/p.jpg"]);

    let (status, read) = get_json(&app, &format!("requests/{ticket}.json")).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&read), vec![ticket]);
    let request = &read[0];
    assert_eq!(request["status"], "open");
    assert_eq!(request["detailed_status"], "new");
    assert_eq!(request["service_name"], "حفرة في الطريق");
    assert_eq!(request["agency_responsible"], "الطرق والحفريات");
    assert_eq!(request["requested_datetime"], "2026-03-01T10:00:00+03:00");
    assert_eq!(request["lat"], 26.4207);
    assert_eq!(request["long"], 50.0888);
    assert_eq!(request["media_url"], "https://photos.example.sa/p.jpg");
    assert!(request["zipcode"].is_null());

    let xml = app.post_form(&path("requests.xml"), &with_key(&key, &pothole())).await;
    assert_eq!(xml.status(), 200);
    assert_eq!(xml.headers()["content-type"], "text/xml; charset=utf-8");
    let text = xml.text().await.unwrap();
    assert!(text.contains("<service_requests>\n  <request>\n    <service_request_id>"), "{text}");
    assert!(text.contains("<account_id/>"), "{text}");
}

#[tokio::test]
async fn posting_without_a_valid_api_key_is_forbidden_and_writes_nothing() {
    let app = spawn_app().await;
    let (status, body) = post_json(&app, &pothole()).await;
    assert_eq!(status, 403);
    assert!(descriptions(&body)[0].contains("api_key is required"), "{body}");
    for wrong in ["blg_0000000000000000000000000000000000000000000000", "not-even-a-key"] {
        let (status, body) = post_json(&app, &with_key(wrong, &pothole())).await;
        assert_eq!(status, 403, "{wrong}");
        assert!(descriptions(&body)[0].contains("unknown or revoked"), "{body}");
    }
    let (status, list) = get_json(&app, "requests.json").await;
    assert_eq!(status, 200);
    assert_eq!(list, serde_json::json!([]));
    assert_eq!(stored_count(&app).await, 0);
}

#[tokio::test]
async fn every_role_with_a_key_may_post() {
    let app = spawn_app().await;
    for role in [Role::Agent, Role::Staff, Role::Supervisor, Role::Admin] {
        let key = app.api_key(role, None).await;
        let (status, body) = post_json(&app, &with_key(&key, &pothole())).await;
        assert_eq!(status, 200, "{role:?}: {body}");
    }
    assert_eq!(stored_count(&app).await, 4);
}

#[tokio::test]
async fn a_multivaluelist_attribute_keeps_every_repeated_value() {
    let app = spawn_app().await;
    let ticket = open(
        &app,
        &[
            ("service_code", "waste-accumulation"),
            ("address_string", "حي الفيصلية، الدمام"),
            ("attribute[waste_volume]", "pile"),
            ("attribute[waste_types][]", "household"),
            ("attribute[waste_types][]", "tyres"),
        ],
    )
    .await;
    let report = app.app.report(TicketNumber::parse(&ticket).unwrap()).await.unwrap();
    assert_eq!(report.attributes["waste_types"], AttributeAnswer::Many(vec!["household".into(), "tyres".into()]));
    assert_eq!(report.attributes["waste_volume"], AttributeAnswer::One("pile".into()));
    let (_, read) = get_json(&app, &format!("requests/{ticket}.json")).await;
    assert_eq!(read[0]["address"], "حي الفيصلية، الدمام");
    assert!(read[0]["lat"].is_null());
}

/// Posts `pothole()` changed by `change` and checks the one error that names `field`.
async fn check_refused(app: &TestApp, key: &str, change: &[(&'static str, &str)], status: u16, starts_with: &str) {
    let mut pairs: Vec<(&str, &str)> = pothole().into_iter().filter(|(k, _)| !change.iter().any(|(c, _)| c == k)).collect();
    pairs.extend(change.iter().filter(|(_, v)| !v.is_empty()).copied());
    let (got, body) = post_json(app, &with_key(key, &pairs)).await;
    assert_eq!(got, status, "{change:?}: {body}");
    let found = descriptions(&body);
    assert_eq!(found.len(), 1, "{change:?}: {found:?}");
    assert!(found[0].starts_with(starts_with), "{change:?}: {found:?}");
}

#[tokio::test]
async fn each_wrong_field_is_refused_with_an_error_naming_it() {
    let app = spawn_app().await;
    let key = app.api_key(Role::Integration, None).await;
    let long_description = "ح".repeat(4001);
    check_refused(&app, &key, &[("attribute[pothole_size]", "")], 400, "attribute[pothole_size]: attribute 'pothole_size' is required").await;
    check_refused(&app, &key, &[("attribute[pothole_size]", "huge")], 400, "attribute[pothole_size]: ").await;
    check_refused(&app, &key, &[("service_code", "moon")], 404, "service_code: service_code 'moon' is not in the catalogue").await;
    check_refused(&app, &key, &[("service_code", "")], 400, "service_code: service_code is required").await;
    check_refused(&app, &key, &[("lat", "95")], 400, "lat: latitude 95 must be between -90 and 90").await;
    check_refused(&app, &key, &[("lat", "north")], 400, "lat: 'north' is not a latitude").await;
    check_refused(&app, &key, &[("long", "")], 400, "long: long is required when lat is given").await;
    check_refused(&app, &key, &[("lat", ""), ("long", "")], 400, "location: service 'pothole' needs a location").await;
    check_refused(&app, &key, &[("phone", "12")], 400, "phone: '12' is not a valid phone number").await;
    check_refused(&app, &key, &[("email", "not-an-email")], 400, "email: ").await;
    check_refused(&app, &key, &[("description", &long_description)], 400, "description: description has 4001 characters; at most 4000").await;
    check_refused(&app, &key, &[("media_url", "ftp://files.example/x.jpg")], 400, "media_url: ").await;
    check_refused(&app, &key, &[("attribute[colour]", "red")], 400, "attribute[colour]: service 'pothole' has no attribute 'colour'").await;
    assert_eq!(stored_count(&app).await, 0);
}

#[tokio::test]
async fn several_wrong_fields_are_all_listed_at_once_in_both_formats() {
    let app = spawn_app().await;
    let key = app.api_key(Role::Integration, None).await;
    let long_description = "x".repeat(4001);
    let pairs = with_key(&key, &[("service_code", "pothole"), ("lat", "95"), ("long", "50.1"), ("phone", "12"), ("description", &long_description)]);
    let (status, body) = post_json(&app, &pairs).await;
    assert_eq!(status, 400);
    let found = descriptions(&body);
    let fields: Vec<&str> = found.iter().map(|d| d.split(':').next().unwrap()).collect();
    assert_eq!(fields, vec!["description", "lat", "phone", "attribute[pothole_size]"], "{found:?}");

    let unreadable = with_key(&key, &[("service_code", "pothole"), ("lat", "north"), ("long", "east"), ("phone", "12")]);
    let response = app.post_form(&path("requests.xml"), &unreadable).await;
    assert_eq!(response.status(), 400);
    let xml = response.text().await.unwrap();
    assert_eq!(xml.matches("<error>").count(), 4, "{xml}");
    for field in ["lat: &apos;north&apos;", "long: &apos;east&apos;", "phone: ", "attribute[pothole_size]: "] {
        assert!(xml.contains(&format!("<description>{field}")), "{field} in {xml}");
    }
    assert!(!xml.contains("location:"), "unreadable coordinates are not also reported as a missing location: {xml}");
    assert_eq!(stored_count(&app).await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_refused_naming_the_expected_type() {
    let app = spawn_app().await;
    let key = app.api_key(Role::Integration, None).await;
    let response = app.client.post(app.url(&path("requests.json"))).json(&serde_json::json!({"api_key": key, "service_code": "pothole"})).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(descriptions(&body)[0].contains("application/x-www-form-urlencoded"), "{body}");
    assert_eq!(stored_count(&app).await, 0);
}

#[tokio::test]
async fn requests_are_filtered_by_id_service_status_and_date() {
    let app = spawn_app().await;
    let first = open(&app, &pothole()).await;
    app.clock.advance(SignedDuration::from_hours(24 * 10));
    let second = open(&app, &[("service_code", "overflowing-container"), ("lat", "26.43"), ("long", "50.1")]).await;
    app.clock.advance(SignedDuration::from_hours(1));
    let third = open(&app, &pothole()).await;
    transition(&app, &first, Command::Reject { reason: "already repaired by the contractor".into() }).await;

    let (_, all) = get_json(&app, "requests.json").await;
    assert_eq!(ids(&all), vec![third.as_str(), second.as_str(), first.as_str()], "newest first");

    let (_, by_ids) = get_json(&app, &format!("requests.json?service_request_id={first},{second}&service_code=nothing&status=open")).await;
    let mut found = ids(&by_ids);
    found.sort();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(found, expected, "service_request_id overrides every other parameter");

    let (_, potholes) = get_json(&app, "requests.json?service_code=pothole").await;
    assert_eq!(ids(&potholes), vec![third.as_str(), first.as_str()]);
    let (_, both) = get_json(&app, "requests.json?service_code=pothole,overflowing-container").await;
    assert_eq!(ids(&both).len(), 3);

    let (_, closed) = get_json(&app, "requests.json?status=closed").await;
    assert_eq!(ids(&closed), vec![first.as_str()]);
    assert_eq!(closed[0]["detailed_status"], "rejected");
    assert_eq!(closed[0]["status_notes"], "already repaired by the contractor");
    let (_, open_ones) = get_json(&app, "requests.json?status=open").await;
    assert_eq!(ids(&open_ones), vec![third.as_str(), second.as_str()]);

    let after_first = start_instant().checked_add(SignedDuration::from_hours(24 * 5)).unwrap();
    let (status, later) = get_json(&app, &format!("requests.json?start_date={}", after_first.to_string().replace('+', "%2B"))).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&later), vec![third.as_str(), second.as_str()]);
    let (_, window) = get_json(&app, "requests.json?start_date=2026-03-01T09:00:00%2B03:00&end_date=2026-03-01T11:00:00%2B03:00").await;
    assert_eq!(ids(&window), vec![first.as_str()]);

    app.clock.advance(SignedDuration::from_hours(24 * 100));
    let (_, default_window) = get_json(&app, "requests.json").await;
    assert_eq!(default_window, serde_json::json!([]), "the default window is the last 90 days");
}

#[tokio::test]
async fn a_search_window_longer_than_90_days_or_backwards_is_refused() {
    let app = spawn_app().await;
    let (status, errors) = get_json(&app, "requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-04-02T00:00:00Z").await;
    assert_eq!(status, 400);
    assert!(descriptions(&errors)[0].contains("at most 90 days"), "{errors}");
    let (status, errors) = get_json(&app, "requests.json?start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z").await;
    assert_eq!(status, 400);
    assert!(descriptions(&errors)[0].contains("before start_date"), "{errors}");
    let (status, errors) = get_json(&app, "requests.json?start_date=2026-02-01&status=pending").await;
    assert_eq!(status, 400);
    let found = descriptions(&errors);
    assert!(found[0].starts_with("start_date: '2026-02-01' is not a W3C datetime with a timezone"), "{found:?}");
    assert!(found[1].starts_with("status: 'pending'"), "{found:?}");
    let (status, _) = get_json(&app, "servicerequestupdates.json?start_date=2026-01-01T00:00:00Z&end_date=2026-04-02T00:00:00Z").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn requests_are_paged_newest_first() {
    let app = spawn_app().await;
    let mut tickets = Vec::new();
    for _ in 0..3 {
        tickets.push(open(&app, &pothole()).await);
        app.clock.advance(SignedDuration::from_mins(1));
    }
    let (_, first_page) = get_json(&app, "requests.json?page_size=2").await;
    assert_eq!(ids(&first_page), vec![tickets[2].as_str(), tickets[1].as_str()]);
    let (_, second_page) = get_json(&app, "requests.json?page_size=2&page=2").await;
    assert_eq!(ids(&second_page), vec![tickets[0].as_str()]);
    let (_, beyond) = get_json(&app, "requests.json?page_size=2&page=3").await;
    assert_eq!(beyond, serde_json::json!([]));
    let (status, errors) = get_json(&app, "requests.json?page_size=1001&page=0").await;
    assert_eq!(status, 400);
    assert_eq!(descriptions(&errors).len(), 2, "{errors}");
}

#[tokio::test]
async fn one_request_is_found_by_its_ticket_and_a_wrong_ticket_is_named() {
    let app = spawn_app().await;
    let ticket = open(&app, &pothole()).await;
    let (status, xml) = get_xml(&app, &format!("requests/{ticket}.xml")).await;
    assert_eq!(status, 200);
    assert!(
        xml.contains(&format!("<service_requests>\n  <request>\n    <service_request_id>{ticket}</service_request_id>\n    <status>open</status>")),
        "{xml}"
    );
    assert!(xml.contains("<detailed_status>new</detailed_status>"), "{xml}");
    assert!(xml.contains("<zipcode/>"), "{xml}");

    let unknown = TicketNumber::for_report(balagh_domain::ReportId(999_999)).to_string();
    let (status, errors) = get_json(&app, &format!("requests/{unknown}.json")).await;
    assert_eq!(status, 404);
    assert!(descriptions(&errors)[0].contains(&unknown), "{errors}");

    let mut typo = ticket.clone().into_bytes();
    typo[0] = if typo[0] == b'9' { b'8' } else { typo[0] + 1 };
    let typo = String::from_utf8(typo).unwrap();
    let (status, errors) = get_json(&app, &format!("requests/{typo}.json")).await;
    assert_eq!(status, 400);
    assert!(descriptions(&errors)[0].contains("check digit"), "{errors}");
}

#[tokio::test]
async fn a_token_is_the_service_request_id_itself() {
    let app = spawn_app().await;
    let ticket = open(&app, &pothole()).await;
    let (status, body) = get_json(&app, &format!("tokens/{ticket}.json")).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!([{"service_request_id": ticket, "token": ticket}]));
    let (status, xml) = get_xml(&app, &format!("tokens/{ticket}.xml")).await;
    assert_eq!(status, 200);
    assert!(xml.contains(&format!("<token>{ticket}</token>")), "{xml}");
    let (status, _) = get_json(&app, "tokens/abc.json").await;
    assert_eq!(status, 404);
    let unknown = TicketNumber::for_report(balagh_domain::ReportId(999_999)).to_string();
    let (status, _) = get_json(&app, &format!("tokens/{unknown}.json")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn status_changes_and_public_comments_appear_as_fixmystreet_updates() {
    let app = spawn_app().await;
    let ticket = open(&app, &pothole()).await;
    let (_, none_yet) = get_json(&app, "servicerequestupdates.json").await;
    assert_eq!(none_yet, serde_json::json!([]), "creation is not an update");

    app.clock.advance(SignedDuration::from_hours(1));
    transition(&app, &ticket, Command::Acknowledge).await;
    transition(&app, &ticket, Command::Assign { department: "roads".into(), team: Some("night crew".into()), user: None }).await;
    transition(&app, &ticket, Command::Start).await;
    let number = TicketNumber::parse(&ticket).unwrap();
    app.app.comment(number, "the crew is on site", true, &supervisor(), Channel::Web).await.unwrap();
    app.app.comment(number, "internal: crew short of asphalt", false, &supervisor(), Channel::Web).await.unwrap();
    transition(&app, &ticket, Command::Resolve { resolution: "filled and levelled".into() }).await;

    let (status, updates) = get_json(&app, "servicerequestupdates.json?locale=en").await;
    assert_eq!(status, 200);
    let statuses: Vec<&str> = updates.as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["INVESTIGATING", "ACTION_SCHEDULED", "IN_PROGRESS", "IN_PROGRESS", "FIXED"]);
    assert!(updates.as_array().unwrap().iter().all(|u| u["service_request_id"] == ticket.as_str()));
    assert_eq!(updates[0]["description"], "The report's status changed to: acknowledged");
    assert_eq!(updates[0]["updated_datetime"], "2026-03-01T11:00:00+03:00");
    assert_eq!(updates[3]["description"], "the crew is on site");
    assert_eq!(updates[4]["description"], "filled and levelled");
    let text = updates.to_string();
    assert!(!text.contains("internal") && !text.contains("night crew"), "{text}");

    let (status, xml) = get_xml(&app, "servicerequestupdates.xml?start_date=2026-03-01T10:30:00%2B03:00&end_date=2026-03-01T12:00:00%2B03:00").await;
    assert_eq!(status, 200);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<service_request_updates>\n  <request_update>\n    <update_id>"), "{xml}");
    assert_eq!(xml.matches("<request_update>").count(), 5, "{xml}");
    let (_, earlier) = get_json(&app, "servicerequestupdates.json?start_date=2026-03-01T09:00:00Z&end_date=2026-03-01T10:00:00Z").await;
    assert_eq!(earlier, serde_json::json!([]));
}

#[tokio::test]
async fn a_foreign_jurisdiction_is_unknown_everywhere_and_an_empty_one_is_absent() {
    let app = spawn_app_with(WebConfig { jurisdiction_id: Some("eamana.gov.sa".into()), ..WebConfig::default() }).await;
    for rest in ["discovery.json", "services.json", "services/pothole.json", "requests.json", "servicerequestupdates.json", "tokens/00000013.json"] {
        let separator = if rest.contains('?') { '&' } else { '?' };
        let (status, errors) = get_json(&app, &format!("{rest}{separator}jurisdiction_id=riyadh.gov.sa")).await;
        assert_eq!(status, 404, "{rest}");
        assert_eq!(descriptions(&errors)[0], "unknown jurisdiction_id 'riyadh.gov.sa': this server answers for 'eamana.gov.sa'", "{rest}");
    }
    let (status, _) = get_json(&app, "services.json?jurisdiction_id=eamana.gov.sa").await;
    assert_eq!(status, 200);
    let (status, _) = get_json(&app, "services.json?jurisdiction_id=").await;
    assert_eq!(status, 200);

    let key = app.api_key(Role::Integration, None).await;
    let mut foreign = with_key(&key, &pothole());
    foreign.push(("jurisdiction_id", "riyadh.gov.sa"));
    let (status, _) = post_json(&app, &foreign).await;
    assert_eq!(status, 404);
    assert_eq!(stored_count(&app).await, 0);
    let mut ours = with_key(&key, &pothole());
    ours.push(("jurisdiction_id", "eamana.gov.sa"));
    let (status, _) = post_json(&app, &ours).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_unsupported_or_missing_format_is_a_404_listing_the_formats() {
    let app = spawn_app().await;
    for rest in ["services.html", "services", "requests.XML", "discovery.yaml", "services/pothole.csv", "requests/00000013"] {
        let response = app.get(&path(rest)).await;
        assert_eq!(response.status(), 404, "{rest}");
        assert_eq!(response.headers()["content-type"], "text/xml; charset=utf-8", "{rest}");
        let body = response.text().await.unwrap();
        assert!(body.contains("<code>404</code>") && body.contains(".xml and .json"), "{rest}: {body}");
    }
    let (status, errors) = get_json(&app, "nothing.json").await;
    assert_eq!(status, 404);
    assert!(descriptions(&errors)[0].contains("discovery.xml"));
    let (status, _) = get_json(&app, "deeper/nothing/here.json").await;
    assert_eq!(status, 404);
    let response = app.client.delete(app.url(&path("requests.json"))).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let response = app.post_form(&path("services.json"), &[("service_code", "pothole")]).await;
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn nothing_personal_appears_in_any_get() {
    let app = spawn_app().await;
    let key = app.api_key(Role::Integration, None).await;
    let mut pairs = with_key(&key, &pothole());
    pairs.extend([
        ("first_name", "Mohammed"),
        ("last_name", "Alotaibi"),
        ("phone", "0512345678"),
        ("email", "m.alotaibi@example.sa"),
        ("device_id", "device-xyz-77"),
        ("account_id", "acct-4242"),
    ]);
    let (status, body) = post_json(&app, &pairs).await;
    assert_eq!(status, 200, "{body}");
    let ticket = body[0]["service_request_id"].as_str().unwrap().to_owned();
    let stored = app.app.report(TicketNumber::parse(&ticket).unwrap()).await.unwrap();
    assert_eq!(stored.contact.name.as_deref(), Some("Mohammed Alotaibi"), "the contact is kept for staff");
    assert_eq!(stored.contact.phone.as_ref().map(|p| p.as_str()), Some("+966512345678"));
    transition(&app, &ticket, Command::Acknowledge).await;

    let secrets = ["Mohammed", "Alotaibi", "512345678", "m.alotaibi", "example.sa", "device-xyz-77", "acct-4242"];
    for format in ["json", "xml"] {
        for rest in [
            format!("requests.{format}"),
            format!("requests.{format}?service_request_id={ticket}"),
            format!("requests/{ticket}.{format}"),
            format!("tokens/{ticket}.{format}"),
            format!("servicerequestupdates.{format}"),
            format!("services.{format}"),
            format!("discovery.{format}"),
        ] {
            let response = app.get(&path(&rest)).await;
            assert_eq!(response.status(), 200, "{rest}");
            let text = response.text().await.unwrap();
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} appears in {rest}: {text}");
            }
        }
    }
}
