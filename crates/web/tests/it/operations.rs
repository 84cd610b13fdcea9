//! Health, readiness, metrics and the OpenAPI document.

use balagh_test_support::{report_body, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(app.get("/nowhere").await.status(), 404);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_reports_by_channel_and_kind() {
    let app = spawn_app().await;
    assert_eq!(app.post_report(&report_body()).await.status(), 201);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("balagh_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/v1/reports\""), "{text}");
    assert!(text.contains("balagh_http_request_duration_seconds"), "{text}");
    assert!(text.contains("balagh_reports_created_total{channel=\"app\",kind=\"report\"}"), "{text}");
}

#[tokio::test]
async fn the_openapi_document_describes_the_api_and_its_docs_page_is_served_locally() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/reports", "/api/v1/reports/{ticket}", "/api/v1/reports/{ticket}/transitions", "/api/v1/reports/{ticket}/ratings/closure"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    for (path, method) in [
        ("/api/v1/escalations", "get"),
        ("/api/v1/escalations/{id}/acknowledge", "post"),
        ("/api/v1/measurements/follow-ups", "get"),
        ("/api/v1/notifications", "get"),
        ("/api/v1/notifications/{id}/retry", "post"),
    ] {
        assert!(doc["paths"][path].get(method).is_some(), "{method} {path} missing");
    }
    let parameters: Vec<&str> =
        doc["paths"]["/api/v1/escalations"]["get"]["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(parameters, ["mine", "unacknowledged", "ticket", "before", "limit"]);
    assert!(doc["paths"]["/api/v1/escalations"]["get"]["parameters"].as_array().unwrap().iter().all(|p| p["in"] == "query"));
    assert_eq!(doc["paths"]["/api/v1/escalations"]["get"]["parameters"][0]["schema"]["type"], "boolean");
    for schema in ["EscalationPage", "EscalationView", "FollowUpMeasurementsView", "EscalationProgressView", "ReportView"] {
        assert!(doc["components"]["schemas"].get(schema).is_some(), "schema {schema} missing");
    }
    assert!(doc["components"]["schemas"]["ReportView"]["properties"].get("escalation").is_some());
    let page = app.get("/api/docs").await.text().await.unwrap();
    assert!(page.contains("/api/docs/swagger-ui-bundle.js") && !page.contains("https://"), "assets are served by Balagh");
    let bundle = app.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200);
    let etag = bundle.headers()["etag"].to_str().unwrap().to_owned();
    let again = app.client.get(app.url("/api/docs/swagger-ui-bundle.js")).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
}
