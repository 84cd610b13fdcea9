//! A fake Twilio REST API (Messages and Calls) that checks requests as Twilio does (basic
//! authentication, the account in the path, E.164 numbers, required fields, the 1,600-character
//! limit) and answers with Twilio's resource and error shapes; it records what it accepted, sends
//! signed status callbacks on demand, and emulates a caller (`answer`, `press`) so that IVR flows
//! can be driven over real HTTP.

use crate::server::{FakeServer, Faults, Injected};
use anyhow::{Context as _, bail, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use balagh_notify::twilio::{SIGNATURE_HEADER, signature};
use base64::Engine as _;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Twilio's API version, in every path and callback.
const API_VERSION: &str = "2010-04-01";

/// A message the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMessage {
    /// `SM` + 32 hex digits.
    pub sid: String,
    pub to: String,
    /// The `From` number; empty when sent through a Messaging Service.
    pub from: String,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub status_callback: Option<String>,
    /// `queued` (or `accepted` through a Messaging Service), then whatever `send_status` reported.
    pub status: String,
    pub num_segments: u32,
    /// The whole form as posted, in order.
    pub form: Vec<(String, String)>,
}

/// A call the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCall {
    /// `CA` + 32 hex digits.
    pub sid: String,
    pub to: String,
    pub from: String,
    /// Inline TwiML (`Twiml`).
    pub twiml: Option<String>,
    /// Where the TwiML is fetched from (`Url`).
    pub url: Option<String>,
    /// How `url` is fetched: `POST` unless the request said `GET`.
    pub method: String,
    pub status_callback: Option<String>,
    pub status_callback_events: Vec<String>,
    /// Seconds to ring (`Timeout`), when given.
    pub ring_timeout: Option<u32>,
    /// `queued`, then `in-progress` once answered, then whatever `send_status` reported.
    pub status: String,
    /// The whole form as posted, in order.
    pub form: Vec<(String, String)>,
}

/// What a signed request the fake made was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Where an answered call is: the TwiML it is executing and the URL that TwiML came from.
#[derive(Debug, Clone)]
struct CallProgress {
    created: Instant,
    callbacks_sent: u32,
    twiml: Option<String>,
    document_url: Option<String>,
}

#[derive(Debug)]
struct TwilioState {
    account_sid: String,
    auth_token: String,
    messages: Mutex<Vec<FakeMessage>>,
    calls: Mutex<Vec<FakeCall>>,
    progress: Mutex<HashMap<String, CallProgress>>,
    client: reqwest::Client,
}

/// A running fake Twilio account; dropping it stops the server.
#[derive(Debug)]
pub struct FakeTwilio {
    server: FakeServer,
    state: Arc<TwilioState>,
}

impl FakeTwilio {
    /// Serves the account `account_sid` with `auth_token` on 127.0.0.1 on a free port: point
    /// `TwilioConfig::base_url` at `base_url()`.
    pub async fn start(account_sid: &str, auth_token: &str) -> FakeTwilio {
        let state = Arc::new(TwilioState {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            messages: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            progress: Mutex::new(HashMap::new()),
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a plain http client builds"),
        });
        let router = Router::new()
            .route("/2010-04-01/Accounts/{account}/Messages.json", post(create_message))
            .route("/2010-04-01/Accounts/{account}/Calls.json", post(create_call))
            .with_state(state.clone());
        let server = FakeServer::start(router, render_failure).await;
        FakeTwilio { server, state }
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

    pub fn account_sid(&self) -> &str {
        &self.state.account_sid
    }

    /// The accepted messages, oldest first.
    pub fn messages(&self) -> Vec<FakeMessage> {
        self.state.messages.lock().expect("messages lock").clone()
    }

    /// The accepted calls, oldest first.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.state.calls.lock().expect("calls lock").clone()
    }

    /// How many messages and calls were accepted.
    pub fn count(&self) -> usize {
        self.state.messages.lock().expect("messages lock").len() + self.state.calls.lock().expect("calls lock").len()
    }

    /// Reports `status` (`sent`, `delivered`, `failed`…; for calls `ringing`, `in-progress`,
    /// `completed`…) for a message or call to its `StatusCallback`, as Twilio does: a signed form
    /// POST. Returns what the callback answered.
    pub async fn send_status(&self, sid: &str, status: &str) -> anyhow::Result<Reply> {
        let (url, params) = if let Some(message) = self.update_message(sid, status) {
            let url = message.status_callback.clone().with_context(|| format!("message {sid} was sent without a StatusCallback"))?;
            let mut params = vec![
                ("MessageSid", message.sid.clone()),
                ("SmsSid", message.sid.clone()),
                ("SmsStatus", status.to_owned()),
                ("MessageStatus", status.to_owned()),
                ("AccountSid", self.state.account_sid.clone()),
                ("From", message.from.clone()),
                ("To", message.to.clone()),
                ("ApiVersion", API_VERSION.to_owned()),
            ];
            if let Some(service) = &message.messaging_service_sid {
                params.push(("MessagingServiceSid", service.clone()));
            }
            (url, params)
        } else if let Some(call) = self.update_call(sid, |call| call.status = status.to_owned()) {
            let url = call.status_callback.clone().with_context(|| format!("call {sid} was placed without a StatusCallback"))?;
            let (sequence, elapsed) = {
                let mut progress = self.state.progress.lock().expect("progress lock");
                let progress = progress.get_mut(sid).context("a recorded call has its progress")?;
                let sequence = progress.callbacks_sent;
                progress.callbacks_sent += 1;
                (sequence, progress.created.elapsed().as_secs())
            };
            let mut params = call_params(&self.state.account_sid, &call, status);
            params.extend([
                ("CallbackSource", "call-progress-events".to_owned()),
                ("SequenceNumber", sequence.to_string()),
                ("Timestamp", jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()),
            ]);
            if status == "completed" {
                params.extend([("CallDuration", elapsed.to_string()), ("Duration", elapsed.div_ceil(60).max(1).to_string())]);
            }
            (url, params)
        } else {
            bail!("no message or call {sid} was accepted by this fake");
        };
        self.signed_post(&url, &owned(&params)).await
    }

    /// Answers a call as its callee would: returns the TwiML the call starts on (the inline
    /// `Twiml`, or what its `Url` serves to a signed request with the call's parameters and
    /// `CallStatus=in-progress`).
    pub async fn answer(&self, call_sid: &str) -> anyhow::Result<String> {
        let call = self.update_call(call_sid, |call| call.status = "in-progress".to_owned()).with_context(|| format!("no call {call_sid} was placed"))?;
        let (twiml, document_url) = match (&call.twiml, &call.url) {
            (Some(twiml), _) => (twiml.clone(), None),
            (None, Some(url)) => {
                let params = call_params(&self.state.account_sid, &call, "in-progress");
                let reply = self.signed_request(&call.method, url, &owned(&params)).await?;
                ensure!(reply.is_success(), "the call's url {url} answered {}: {}", reply.status, reply.body);
                (reply.body, Some(url.clone()))
            }
            (None, None) => bail!("call {call_sid} has neither twiml nor a url"),
        };
        self.move_call_to(call_sid, &twiml, document_url);
        Ok(twiml)
    }

    /// Presses `digits` on an answered call: posts them, signed, with the call's parameters, to the
    /// `action` of the last `<Gather>` in the TwiML the call is on (relative actions are resolved
    /// against that TwiML's URL), and returns the TwiML that answered, which the call moves on to.
    pub async fn press(&self, call_sid: &str, digits: &str) -> anyhow::Result<String> {
        let call = self.calls().into_iter().find(|call| call.sid == call_sid).with_context(|| format!("no call {call_sid} was placed"))?;
        let (twiml, document_url) = {
            let progress = self.state.progress.lock().expect("progress lock");
            let progress = progress.get(call_sid).context("a recorded call has its progress")?;
            let twiml = progress.twiml.clone().with_context(|| format!("call {call_sid} was not answered yet"))?;
            (twiml, progress.document_url.clone())
        };
        let gather = last_gather(&twiml)?.with_context(|| format!("the twiml call {call_sid} is on has no <Gather>: {twiml}"))?;
        let action = match (gather.action, &document_url) {
            (Some(action), Some(base)) => {
                reqwest::Url::parse(base)?.join(&action).with_context(|| format!("cannot resolve <Gather action={action:?}>"))?.to_string()
            }
            (Some(action), None) => {
                reqwest::Url::parse(&action).with_context(|| format!("<Gather action={action:?}> in inline twiml must be an absolute url"))?.to_string()
            }
            (None, Some(base)) => base.clone(),
            (None, None) => bail!("<Gather> without an action in inline twiml has nowhere to send the digits"),
        };
        let mut params = owned(&call_params(&self.state.account_sid, &call, "in-progress"));
        params.push(("Digits".to_owned(), digits.to_owned()));
        let reply = self.signed_request(&gather.method, &action, &params).await?;
        ensure!(reply.is_success(), "the gather action {action} answered {}: {}", reply.status, reply.body);
        self.move_call_to(call_sid, &reply.body, Some(action));
        Ok(reply.body)
    }

    /// POSTs `params` as a form to `url`, signed with `X-Twilio-Signature` as Twilio would
    /// (with this fake's auth token), and returns the answer. Tests use it to forge or replay
    /// Twilio's webhooks.
    pub async fn signed_post(&self, url: &str, params: &[(String, String)]) -> anyhow::Result<Reply> {
        self.signed_request("POST", url, params).await
    }

    /// A signed request as Twilio makes them: a POST signs the URL and the form parameters, a GET
    /// carries the parameters in the query and signs the whole URL.
    async fn signed_request(&self, method: &str, url: &str, params: &[(String, String)]) -> anyhow::Result<Reply> {
        let mut url = reqwest::Url::parse(url).with_context(|| format!("{url:?} is not a url"))?;
        let request = if method.eq_ignore_ascii_case("GET") {
            url.query_pairs_mut().extend_pairs(params);
            self.state.client.get(url.clone()).header(SIGNATURE_HEADER, signature(&self.state.auth_token, url.as_str(), &[]))
        } else {
            self.state.client.post(url.clone()).header(SIGNATURE_HEADER, signature(&self.state.auth_token, url.as_str(), params)).form(params)
        };
        let idempotency_token = format!("{:032x}", rand::random::<u128>());
        let response = request
            .header("I-Twilio-Idempotency-Token", idempotency_token)
            .header(header::USER_AGENT, "TwilioProxy/1.1")
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status().as_u16();
        let body = response.text().await.with_context(|| format!("cannot read the answer of {url}"))?;
        Ok(Reply { status, body })
    }

    fn update_message(&self, sid: &str, status: &str) -> Option<FakeMessage> {
        let mut messages = self.state.messages.lock().expect("messages lock");
        let message = messages.iter_mut().find(|message| message.sid == sid)?;
        message.status = status.to_owned();
        Some(message.clone())
    }

    fn update_call(&self, sid: &str, change: impl FnOnce(&mut FakeCall)) -> Option<FakeCall> {
        let mut calls = self.state.calls.lock().expect("calls lock");
        let call = calls.iter_mut().find(|call| call.sid == sid)?;
        change(call);
        Some(call.clone())
    }

    fn move_call_to(&self, call_sid: &str, twiml: &str, document_url: Option<String>) {
        if let Some(progress) = self.state.progress.lock().expect("progress lock").get_mut(call_sid) {
            progress.twiml = Some(twiml.to_owned());
            progress.document_url = document_url;
        }
    }
}

/// The parameters Twilio sends with every request about a call.
fn call_params(account_sid: &str, call: &FakeCall, status: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CallSid", call.sid.clone()),
        ("AccountSid", account_sid.to_owned()),
        ("From", call.from.clone()),
        ("To", call.to.clone()),
        ("CallStatus", status.to_owned()),
        ("Direction", "outbound-api".to_owned()),
        ("ApiVersion", API_VERSION.to_owned()),
    ]
}

fn owned(params: &[(&str, String)]) -> Vec<(String, String)> {
    params.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect()
}

/// The `<Gather>` a key press answers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Gather {
    action: Option<String>,
    method: String,
}

/// The last `<Gather>` of a TwiML document, its attributes unescaped.
fn last_gather(twiml: &str) -> anyhow::Result<Option<Gather>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(twiml);
    let mut last = None;
    loop {
        match reader.read_event().with_context(|| format!("the twiml is not well-formed xml: {twiml}"))? {
            Event::Start(element) | Event::Empty(element) if element.local_name().as_ref() == b"Gather" => {
                let mut gather = Gather { action: None, method: "POST".to_owned() };
                for attribute in element.attributes() {
                    let attribute = attribute?;
                    let value = attribute.unescape_value()?.into_owned();
                    match attribute.key.local_name().as_ref() {
                        b"action" => gather.action = Some(value),
                        b"method" => gather.method = value.to_ascii_uppercase(),
                        _ => {}
                    }
                }
                last = Some(gather);
            }
            Event::Eof => return Ok(last),
            _ => {}
        }
    }
}

/// A refusal, answered with Twilio's error body.
#[derive(Debug)]
struct TwilioError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        (self.status, axum::Json(body)).into_response()
    }
}

fn twilio_error(status: StatusCode, code: u32, message: impl Into<String>) -> TwilioError {
    TwilioError { status, code, message: message.into() }
}

fn render_failure(injected: Injected) -> Response {
    match injected {
        Injected::Outage => twilio_error(StatusCode::SERVICE_UNAVAILABLE, 20503, "Service Unavailable"),
        Injected::ServerError => twilio_error(StatusCode::INTERNAL_SERVER_ERROR, 20500, "Internal Server Error"),
        Injected::RateLimited => twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests"),
    }
    .into_response()
}

impl TwilioState {
    /// Checks the credentials and the account in the path, and parses the form.
    fn authorize(&self, account: &str, resource: &str, headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, TwilioError> {
        let authenticated = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
            .is_some_and(|decoded| decoded == format!("{}:{}", self.account_sid, self.auth_token).as_bytes());
        if !authenticated {
            return Err(twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"));
        }
        if account != self.account_sid {
            return Err(twilio_error(
                StatusCode::NOT_FOUND,
                20404,
                format!("The requested resource /{API_VERSION}/Accounts/{account}/{resource}.json was not found"),
            ));
        }
        serde_urlencoded::from_bytes(body).map_err(|error| twilio_error(StatusCode::BAD_REQUEST, 20001, format!("Invalid form body: {error}")))
    }
}

/// The first non-empty value of a form field.
fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(key, value)| key == name && !value.is_empty()).map(|(_, value)| value.as_str())
}

/// `+` and 2 to 15 digits, the first not 0.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'))
}

/// A number in E.164, a short code (3 to 8 digits) or an alphanumeric sender id (up to 11
/// letters, digits and spaces, with a letter).
fn is_sender(from: &str) -> bool {
    let short_code = (3..=8).contains(&from.len()) && from.bytes().all(|b| b.is_ascii_digit());
    let alphanumeric =
        (1..=11).contains(&from.len()) && from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') && from.bytes().any(|b| b.is_ascii_alphabetic());
    is_e164(from) || short_code || alphanumeric
}

fn is_http_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.strip_prefix(prefix).is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The characters of the GSM 03.38 basic set (and its extension table, counted as two).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// How many SMS segments a body takes: GSM-7 (160, or 153 when concatenated) when every character
/// is in the GSM set, else UCS-2 (70, or 67), counting UTF-16 units.
fn num_segments(body: &str) -> u32 {
    let gsm_septets: Option<usize> = body.chars().try_fold(0, |septets, c| {
        if GSM_BASIC.contains(c) {
            Some(septets + 1)
        } else if GSM_EXTENSION.contains(c) {
            Some(septets + 2)
        } else {
            None
        }
    });
    let (units, single, concatenated) = match gsm_septets {
        Some(septets) => (septets, 160, 153),
        None => (body.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single { 1 } else { units.div_ceil(concatenated) };
    u32::try_from(segments).unwrap_or(u32::MAX)
}

fn new_sid(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}

fn twilio_date(at: jiff::Timestamp) -> String {
    at.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

async fn create_message(State(state): State<Arc<TwilioState>>, Path(account): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match state.authorize(&account, "Messages", &headers, &body) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let bad_request = |code, message: String| twilio_error(StatusCode::BAD_REQUEST, code, message).into_response();
    let Some(to) = field(&form, "To") else { return bad_request(21604, "A 'To' phone number is required.".into()) };
    if !is_e164(to) {
        return bad_request(21211, format!("The 'To' number {to} is not a valid phone number."));
    }
    let messaging_service_sid = field(&form, "MessagingServiceSid");
    let from = field(&form, "From");
    match (from, messaging_service_sid) {
        (None, None) => return bad_request(21603, "A 'From' phone number is required.".into()),
        (Some(from), _) if !is_sender(from) => {
            return bad_request(21212, format!("The 'From' number {from} is not a valid phone number, shortcode, or alphanumeric sender ID."));
        }
        (None, Some(service)) if !is_sid(service, "MG") => return bad_request(21701, format!("The Messaging Service Sid {service} is invalid.")),
        _ => {}
    }
    let Some(body) = field(&form, "Body") else { return bad_request(21602, "Message body is required.".into()) };
    if body.chars().count() > 1600 {
        return bad_request(21617, "The concatenated message body exceeds the 1600 character limit.".into());
    }
    let status_callback = field(&form, "StatusCallback");
    if let Some(callback) = status_callback.filter(|callback| !is_http_url(callback)) {
        return bad_request(21609, format!("The StatusCallback URL {callback} is not a valid URL."));
    }
    let through_service = from.is_none();
    let message = FakeMessage {
        sid: new_sid("SM"),
        to: to.to_owned(),
        from: from.unwrap_or_default().to_owned(),
        messaging_service_sid: messaging_service_sid.map(str::to_owned),
        body: body.to_owned(),
        status_callback: status_callback.map(str::to_owned),
        status: if through_service { "accepted" } else { "queued" }.to_owned(),
        num_segments: num_segments(body),
        form: form.clone(),
    };
    let now = twilio_date(jiff::Timestamp::now());
    let uri = format!("/{API_VERSION}/Accounts/{}/Messages/{}", state.account_sid, message.sid);
    let resource = json!({
        "account_sid": state.account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": if through_service { None } else { Some(&message.from) },
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": "0",
        "num_segments": message.num_segments.to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": { "media": format!("{uri}/Media.json") },
        "to": message.to,
        "uri": format!("{uri}.json"),
    });
    state.messages.lock().expect("messages lock").push(message);
    (StatusCode::CREATED, axum::Json(resource)).into_response()
}

async fn create_call(State(state): State<Arc<TwilioState>>, Path(account): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match state.authorize(&account, "Calls", &headers, &body) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let bad_request = |code, message: String| twilio_error(StatusCode::BAD_REQUEST, code, message).into_response();
    let Some(to) = field(&form, "To") else { return bad_request(21201, "No 'To' number is specified".into()) };
    if !is_e164(to) {
        return bad_request(21211, format!("The 'To' number {to} is not a valid phone number."));
    }
    let Some(from) = field(&form, "From") else { return bad_request(21213, "No 'From' number is specified".into()) };
    if !is_e164(from) {
        return bad_request(21212, format!("The 'From' number {from} is not a valid phone number."));
    }
    let twiml = field(&form, "Twiml");
    let url = field(&form, "Url");
    match (twiml, url) {
        (None, None) => return bad_request(21205, "Url parameter is required: give Url, Twiml or ApplicationSid.".into()),
        (Some(twiml), _) => {
            if let Err(error) = last_gather(twiml) {
                return bad_request(12100, format!("Document parse failure: {error:#}"));
            }
        }
        (None, Some(url)) if !is_http_url(url) => return bad_request(21205, format!("Url is not a valid URL: {url}")),
        _ => {}
    }
    let method = field(&form, "Method").unwrap_or("POST").to_ascii_uppercase();
    if method != "POST" && method != "GET" {
        return bad_request(21200, format!("Method must be GET or POST, not {method}"));
    }
    let status_callback = field(&form, "StatusCallback");
    if let Some(callback) = status_callback.filter(|callback| !is_http_url(callback)) {
        return bad_request(21609, format!("The StatusCallback URL {callback} is not a valid URL."));
    }
    let ring_timeout = match field(&form, "Timeout").map(str::parse::<u32>) {
        None => None,
        Some(Ok(seconds)) if (1..=600).contains(&seconds) => Some(seconds),
        Some(_) => return bad_request(21200, "Timeout must be a whole number of seconds from 1 to 600".into()),
    };
    let call = FakeCall {
        sid: new_sid("CA"),
        to: to.to_owned(),
        from: from.to_owned(),
        twiml: twiml.map(str::to_owned),
        url: url.map(str::to_owned),
        method,
        status_callback: status_callback.map(str::to_owned),
        status_callback_events: form
            .iter()
            .filter(|(name, _)| name == "StatusCallbackEvent")
            .flat_map(|(_, events)| events.split_whitespace().map(str::to_owned))
            .collect(),
        ring_timeout,
        status: "queued".to_owned(),
        form: form.clone(),
    };
    let now = twilio_date(jiff::Timestamp::now());
    let uri = format!("/{API_VERSION}/Accounts/{}/Calls/{}", state.account_sid, call.sid);
    let resource = json!({
        "account_sid": state.account_sid,
        "annotation": null,
        "answered_by": null,
        "api_version": API_VERSION,
        "caller_name": null,
        "date_created": now,
        "date_updated": now,
        "direction": "outbound-api",
        "duration": null,
        "end_time": null,
        "forwarded_from": null,
        "from": call.from,
        "from_formatted": call.from,
        "group_sid": null,
        "parent_call_sid": null,
        "phone_number_sid": null,
        "price": null,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": null,
        "status": call.status,
        "subresource_uris": {
            "notifications": format!("{uri}/Notifications.json"),
            "recordings": format!("{uri}/Recordings.json"),
            "events": format!("{uri}/Events.json"),
        },
        "to": call.to,
        "to_formatted": call.to,
        "trunk_sid": null,
        "uri": format!("{uri}.json"),
    });
    state
        .progress
        .lock()
        .expect("progress lock")
        .insert(call.sid.clone(), CallProgress { created: Instant::now(), callbacks_sent: 0, twiml: None, document_url: None });
    state.calls.lock().expect("calls lock").push(call);
    (StatusCode::CREATED, axum::Json(resource)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_counted_as_gsm_7_or_ucs_2() {
        assert_eq!(num_segments("hello"), 1);
        assert_eq!(num_segments(&"a".repeat(160)), 1);
        assert_eq!(num_segments(&"a".repeat(161)), 2);
        assert_eq!(num_segments(&"{".repeat(80)), 1, "extension characters take two septets");
        assert_eq!(num_segments(&"ب".repeat(70)), 1);
        assert_eq!(num_segments(&"ب".repeat(71)), 2);
        assert_eq!(num_segments(&"ب".repeat(135)), 3);
    }

    #[test]
    fn the_last_gather_is_found_with_its_action_unescaped() {
        let twiml = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/ivr/a?x=1&amp;y=2" numDigits="1"><Say>one</Say></Gather><Gather action="/ivr/b?x=1&amp;y=2" method="get"/></Response>"#;
        assert_eq!(last_gather(twiml).unwrap(), Some(Gather { action: Some("/ivr/b?x=1&y=2".into()), method: "GET".into() }));
        assert_eq!(last_gather("<Response><Say>bye</Say><Hangup/></Response>").unwrap(), None);
        assert!(last_gather("<Response><Say>unclosed</Response>").is_err());
    }

    #[test]
    fn numbers_senders_and_sids_are_checked_like_twilio() {
        assert!(is_e164("+966500000001"));
        assert!(!is_e164("0500000001") && !is_e164("+1") && !is_e164("+0123456") && !is_e164("+96650000000a"));
        assert!(is_sender("+15005550006") && is_sender("940") && is_sender("Balagh 940"));
        assert!(!is_sender("Balagh Municipality") && !is_sender("12345678901234"));
        assert!(is_sid(&new_sid("MG"), "MG") && !is_sid("MG123", "MG"));
    }
}
