//! A fake WhatsApp Business Cloud API (`POST /{version}/{phone_number_id}/messages`) that checks
//! the bearer token and the message as Meta does, refuses free text to a number whose 24-hour
//! customer-service window is closed (131047), answers with Meta's success and error shapes, and
//! records what it accepted.

use crate::server::{FakeServer, Faults, Injected};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// What a message said: free text, or a template with its body parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeWhatsappContent {
    Text { body: String },
    Template { name: String, language: String, parameters: Vec<String> },
}

/// A message the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeWhatsappMessage {
    /// `wamid.…`
    pub id: String,
    /// The recipient's digits, as sent.
    pub to: String,
    pub content: FakeWhatsappContent,
    pub biz_opaque_callback_data: Option<String>,
    /// The whole JSON as posted.
    pub json: Value,
}

#[derive(Debug)]
struct WhatsappState {
    phone_number_id: String,
    access_token: String,
    open_sessions: Mutex<HashSet<String>>,
    messages: Mutex<Vec<FakeWhatsappMessage>>,
}

/// A running fake WhatsApp business number; dropping it stops the server.
#[derive(Debug)]
pub struct FakeWhatsapp {
    server: FakeServer,
    state: Arc<WhatsappState>,
}

impl FakeWhatsapp {
    /// Serves the business number `phone_number_id` for `access_token` on 127.0.0.1 on a free
    /// port: point `WhatsappConfig::base_url` at `base_url()` (any API version is accepted).
    pub async fn start(phone_number_id: &str, access_token: &str) -> FakeWhatsapp {
        let state = Arc::new(WhatsappState {
            phone_number_id: phone_number_id.to_owned(),
            access_token: access_token.to_owned(),
            open_sessions: Mutex::new(HashSet::new()),
            messages: Mutex::new(Vec::new()),
        });
        let router = Router::new().route("/{version}/{phone_number_id}/messages", post(send_message)).with_state(state.clone());
        let server = FakeServer::start(router, render_failure).await;
        FakeWhatsapp { server, state }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.server.set_faults(faults);
    }

    pub fn faults(&self) -> Faults {
        self.server.faults()
    }

    /// Opens the customer-service window with `number` (`+9665…` or `9665…`), as if the
    /// beneficiary had just written: free text to it is accepted from now on.
    pub fn open_session(&self, number: &str) {
        self.state.open_sessions.lock().expect("sessions lock").insert(number.trim_start_matches('+').to_owned());
    }

    /// Closes the window with `number` again.
    pub fn close_session(&self, number: &str) {
        self.state.open_sessions.lock().expect("sessions lock").remove(number.trim_start_matches('+'));
    }

    /// The accepted messages, oldest first.
    pub fn messages(&self) -> Vec<FakeWhatsappMessage> {
        self.state.messages.lock().expect("messages lock").clone()
    }

    pub fn count(&self) -> usize {
        self.state.messages.lock().expect("messages lock").len()
    }
}

fn new_trace_id() -> String {
    format!("A{:x}", rand::random::<u64>())
}

/// A refusal, answered with Meta's Graph API error body.
#[derive(Debug)]
struct GraphError {
    status: StatusCode,
    code: u32,
    message: String,
    details: Option<String>,
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut error = json!({ "message": self.message, "type": "OAuthException", "code": self.code, "fbtrace_id": new_trace_id() });
        if let Some(details) = self.details {
            error["error_data"] = json!({ "messaging_product": "whatsapp", "details": details });
        }
        (self.status, axum::Json(json!({ "error": error }))).into_response()
    }
}

fn graph_error(status: StatusCode, code: u32, message: impl Into<String>, details: Option<String>) -> GraphError {
    GraphError { status, code, message: message.into(), details }
}

fn invalid_parameter(details: impl Into<String>) -> GraphError {
    graph_error(StatusCode::BAD_REQUEST, 100, "(#100) Invalid parameter", Some(details.into()))
}

fn render_failure(injected: Injected) -> Response {
    match injected {
        Injected::Outage => graph_error(StatusCode::SERVICE_UNAVAILABLE, 2, "(#2) Service temporarily unavailable", None),
        Injected::ServerError => graph_error(StatusCode::INTERNAL_SERVER_ERROR, 1, "(#1) An unknown error occurred", None),
        Injected::RateLimited => {
            graph_error(StatusCode::TOO_MANY_REQUESTS, 130429, "(#130429) Rate limit hit", Some("Cloud API message throughput has been reached.".into()))
        }
    }
    .into_response()
}

/// A required string field of a JSON object.
fn text<'a>(value: &'a Value, path: &str) -> Result<&'a str, GraphError> {
    value
        .pointer(path)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| invalid_parameter(format!("{} is required", path.trim_start_matches('/').replace('/', "."))))
}

fn parse_template(message: &Value) -> Result<FakeWhatsappContent, GraphError> {
    let name = text(message, "/template/name")?.to_owned();
    let language = text(message, "/template/language/code")?.to_owned();
    let mut parameters = Vec::new();
    let components = message
        .pointer("/template/components")
        .map(|components| components.as_array().ok_or_else(|| invalid_parameter("template.components must be an array")));
    for component in components.transpose()?.into_iter().flatten() {
        let kind = text(component, "/type")?;
        if !matches!(kind, "header" | "body" | "button") {
            return Err(invalid_parameter(format!("template.components.type must be header, body or button, not {kind}")));
        }
        let Some(list) = component.get("parameters") else { continue };
        let list = list.as_array().ok_or_else(|| invalid_parameter("template.components.parameters must be an array"))?;
        for parameter in list {
            match text(parameter, "/type")? {
                "text" => parameters.push(text(parameter, "/text")?.to_owned()),
                other => parameters.push(format!("[{other}]")),
            }
        }
    }
    Ok(FakeWhatsappContent::Template { name, language, parameters })
}

async fn send_message(
    State(state): State<Arc<WhatsappState>>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorized = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(|value| value.strip_prefix("Bearer "))
        == Some(state.access_token.as_str());
    if !authorized {
        return graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token.", None).into_response();
    }
    if phone_number_id != state.phone_number_id {
        let message = format!(
            "Unsupported post request. Object with ID '{phone_number_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        );
        return graph_error(StatusCode::BAD_REQUEST, 100, message, None).into_response();
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else { return invalid_parameter("the request body is not json").into_response() };
    match check_message(&state, &message) {
        Ok(accepted) => {
            let answer = json!({
                "messaging_product": "whatsapp",
                "contacts": [{ "input": accepted.to, "wa_id": accepted.to }],
                "messages": [{ "id": accepted.id }],
            });
            state.messages.lock().expect("messages lock").push(accepted);
            (StatusCode::OK, axum::Json(answer)).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// Checks a message as the Cloud API does and makes the record of it.
fn check_message(state: &WhatsappState, message: &Value) -> Result<FakeWhatsappMessage, GraphError> {
    if message.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(graph_error(StatusCode::BAD_REQUEST, 100, "(#100) The parameter messaging_product is required.", None));
    }
    if let Some(kind) = message.get("recipient_type").and_then(Value::as_str).filter(|kind| *kind != "individual") {
        return Err(invalid_parameter(format!("recipient_type must be individual, not {kind}")));
    }
    let to = text(message, "/to")?.trim_start_matches('+');
    if to.len() < 7 || to.len() > 15 || !to.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_parameter(format!("to must be a phone number in international format, not {to:?}")));
    }
    let content = match text(message, "/type")? {
        "text" => {
            let body = text(message, "/text/body")?;
            if body.chars().count() > 4096 {
                return Err(invalid_parameter("text.body must be at most 4096 characters"));
            }
            if !state.open_sessions.lock().expect("sessions lock").contains(to) {
                return Err(graph_error(
                    StatusCode::BAD_REQUEST,
                    131047,
                    "(#131047) Re-engagement message",
                    Some("Message failed to send because more than 24 hours have passed since the customer last replied to this number.".into()),
                ));
            }
            FakeWhatsappContent::Text { body: body.to_owned() }
        }
        "template" => parse_template(message)?,
        other => return Err(invalid_parameter(format!("type must be text or template in this fake, not {other}"))),
    };
    Ok(FakeWhatsappMessage {
        id: format!("wamid.HBgM{:032X}", rand::random::<u128>()),
        to: to.to_owned(),
        content,
        biz_opaque_callback_data: message.get("biz_opaque_callback_data").and_then(Value::as_str).map(str::to_owned),
        json: message.clone(),
    })
}
