//! Every kind of bad input gets a 4xx that names the field and the problem, and changes nothing.

use balagh_domain::event::Role;
use balagh_test_support::{TestApp, report_body, spawn_app};
use serde_json::{Value, json};

/// Sends `body` as a create and checks the status, the error code and (when given) the field.
async fn check(app: &TestApp, body: reqwest::RequestBuilder, status: u16, code: &str, field: Option<&str>) {
    let response = body.send().await.unwrap();
    assert_eq!(response.status().as_u16(), status);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], code, "{error}");
    if let Some(field) = field {
        assert!(error["error"]["fields"].as_array().unwrap().iter().any(|f| f["field"] == field), "{error}");
    }
    assert!(!error["error"]["message"].as_str().unwrap().is_empty());
    let _ = app;
}

fn with(field: &str, value: Value) -> Value {
    let mut body = report_body();
    body[field] = value;
    body
}

async fn assert_nothing_stored(app: &TestApp) {
    let page: Value = app.get("/api/v1/reports").await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "nothing may be written");
}

#[tokio::test]
async fn bad_creates_are_refused_with_the_field_named_and_nothing_written() {
    let app = spawn_app().await;
    let post = || app.client.post(app.url("/api/v1/reports"));
    check(&app, post().header("content-type", "application/json").body("{\"service_code\": "), 400, "malformed_json", None).await;
    check(&app, post().header("content-type", "text/plain").body("hello"), 415, "unsupported_media_type", None).await;
    check(&app, post().json(&with("colour", json!("red"))), 400, "invalid_json_field", None).await;
    check(&app, post().json(&with("lat", json!("north"))), 400, "invalid_json_field", None).await;
    check(&app, post().json(&with("service_code", json!("moon-landing"))), 422, "unknown_service", Some("service_code")).await;
    check(&app, post().json(&with("service_code", json!("pothole"))), 422, "missing_required_attribute", Some("attribute[pothole_size]")).await;
    check(&app, post().json(&with("lat", json!(91.5))), 422, "latitude_out_of_range", Some("lat")).await;
    check(&app, post().json(&with("long", json!(-181))), 422, "longitude_out_of_range", Some("long")).await;
    check(&app, post().json(&with("phone", json!("12345"))), 422, "invalid_phone", Some("phone")).await;
    check(&app, post().json(&with("email", json!("not-an-email"))), 422, "invalid_email", Some("email")).await;
    check(&app, post().json(&with("description", json!("ب".repeat(4001)))), 422, "description_too_long", Some("description")).await;
    check(&app, post().json(&with("priority", json!("asap"))), 422, "unknown_priority", Some("priority")).await;
    check(&app, post().json(&with("kind", json!("praise"))), 422, "unknown_kind", Some("kind")).await;
    check(&app, post().json(&with("channel", json!("pigeon"))), 422, "unknown_channel", Some("channel")).await;
    check(&app, post().json(&with("language", json!("xx"))), 422, "unsupported_language", Some("language")).await;
    check(&app, post().json(&with("media_urls", json!(["file:///etc/passwd"]))), 422, "invalid_media_url", Some("media_url")).await;
    let no_place = json!({"service_code": "graffiti", "description": "on the wall"});
    check(&app, post().json(&no_place), 422, "missing_location", Some("location")).await;
    let oversized = json!({"service_code": "graffiti", "description": "x".repeat(70_000)});
    check(&app, post().json(&oversized), 413, "body_too_large", None).await;
    check(&app, post().header("Idempotency-Key", "k".repeat(300)).json(&report_body()), 422, "invalid_idempotency_key", Some("Idempotency-Key")).await;
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn several_wrong_fields_are_reported_together() {
    let app = spawn_app().await;
    let body = json!({"service_code": "pothole", "lat": 100, "long": 50, "phone": "abc", "description": "x"});
    let response = app.post_report(&body).await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    let fields: Vec<&str> = error["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["lat", "phone", "attribute[pothole_size]"]);
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn unknown_tickets_and_bad_check_digits_are_named() {
    let app = spawn_app().await;
    let response = app.post_report(&report_body()).await;
    let ticket = response.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned();
    let mut typo = ticket.clone().into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'9' { b'0' } else { typo[last] + 1 };
    let typo = String::from_utf8(typo).unwrap();
    let response = app.get(&format!("/api/v1/reports/{typo}")).await;
    assert_eq!(response.status(), 422);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "ticket_check_digit");
    let response = app.get("/api/v1/reports/12ab").await;
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "ticket_not_digits");
    let unknown = balagh_domain::TicketNumber::for_report(balagh_domain::ReportId(9_999_999)).to_string();
    let response = app.get(&format!("/api/v1/reports/{unknown}")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "not_found");
}

#[tokio::test]
async fn bad_lifecycle_and_list_requests_change_nothing() {
    let app = spawn_app().await;
    let ticket = app.post_report(&report_body()).await.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned();
    let key = app.api_key(Role::Supervisor, None).await;
    let path = format!("/api/v1/reports/{ticket}/transitions");
    let unknown = app.client.post(app.url(&path)).bearer_auth(&key).json(&json!({"action": "teleport"})).send().await.unwrap();
    assert_eq!(unknown.status(), 422);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"]["code"], "unknown_action");
    let department = app.client.post(app.url(&path)).bearer_auth(&key).json(&json!({"action": "assign", "department": "nowhere"})).send().await.unwrap();
    assert_eq!(department.json::<Value>().await.unwrap()["error"]["code"], "unknown_department");
    let still: Value = app.get(&format!("/api/v1/reports/{ticket}")).await.json().await.unwrap();
    assert_eq!(still["status"], "new");
    for (query, code) in [
        ("status=lost", "unknown_status"),
        ("limit=0", "invalid_limit"),
        ("limit=100000", "invalid_limit"),
        ("created_from=yesterday", "invalid_datetime"),
        ("bbox=1,2,3", "invalid_bbox"),
        ("cursor=zzz", "invalid_cursor"),
    ] {
        let response = app.get(&format!("/api/v1/reports?{query}")).await;
        assert_eq!(response.status(), 422, "{query}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], code, "{query}");
    }
    let response = app.get("/api/v1/reports?colour=red").await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "malformed_query");
}

#[tokio::test]
async fn hostile_text_is_stored_as_given_and_returned_escaped_in_json() {
    let app = spawn_app().await;
    let hostile = "<script>alert('x')</script> \"quoted\" \u{202e}rtl ; DROP TABLE reports; --";
    let response = app.post_report(&with("description", json!(hostile))).await;
    assert_eq!(response.status(), 201);
    let text = response.text().await.unwrap();
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["description"], hostile);
    let page: Value = app.get("/api/v1/reports").await.json().await.unwrap();
    assert_eq!(page["items"][0]["description"], hostile);
}
