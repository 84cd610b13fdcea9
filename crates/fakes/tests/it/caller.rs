//! The caller against a small voice app that refuses badly signed requests and answers scripted
//! documents: a whole call from dial to hang-up, no input, tickets, errors, and VoiceXML.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use balagh_fakes::Caller;
use balagh_fakes::caller::{CallerError, CallerOptions, Waiting};
use balagh_notify::twilio::{SIGNATURE_HEADER, verify_signature};
use balagh_voice::dialog::{Dialog, Verb};
use balagh_voice::markup::Markup;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "caller-test-token";

/// A request the app accepted.
#[derive(Debug, Clone)]
struct Received {
    /// Path and query, as requested.
    target: String,
    params: Vec<(String, String)>,
}

impl Received {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// What one path answers.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    ticket: Option<&'static str>,
    body: String,
}

#[derive(Debug, Default)]
struct AppState {
    base_url: String,
    answers: Mutex<HashMap<&'static str, Answer>>,
    received: Mutex<Vec<Received>>,
}

/// A voice app standing in for Balagh's IVR: 403 for a bad signature, the scripted answer of the
/// path otherwise (404 for a path without one).
struct VoiceApp {
    state: Arc<AppState>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl VoiceApp {
    async fn start() -> VoiceApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let state = Arc::new(AppState { base_url: format!("http://{}", listener.local_addr().unwrap()), ..AppState::default() });
        let router = Router::new().fallback(voice_app).with_state(state.clone());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let app = VoiceApp { state, _shutdown: shutdown };
        app.answer("/ivr/status", 204, "");
        app
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.state.base_url)
    }

    fn answer(&self, path: &'static str, status: u16, body: &str) {
        self.state.answers.lock().unwrap().insert(path, Answer { status, ticket: None, body: body.to_owned() });
    }

    fn answer_twiml(&self, path: &'static str, verbs: Vec<Verb>) {
        self.answer(path, 200, &balagh_voice::twiml::render(&Dialog::new("ar-SA", verbs)));
    }

    fn answer_with_ticket(&self, path: &'static str, ticket: &'static str, verbs: Vec<Verb>) {
        let body = balagh_voice::twiml::render(&Dialog::new("ar-SA", verbs));
        self.state.answers.lock().unwrap().insert(path, Answer { status: 200, ticket: Some(ticket), body });
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    fn targets(&self) -> Vec<String> {
        self.received().into_iter().map(|received| received.target).collect()
    }

    fn options(&self) -> CallerOptions {
        CallerOptions { from: "+966500000001".into(), to: "940".into(), ..CallerOptions::new(self.url("/ivr/incoming"), TOKEN) }
    }
}

async fn voice_app(State(state): State<Arc<AppState>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let url = format!("{}{uri}", state.base_url);
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap();
    let signature = headers.get(SIGNATURE_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if !verify_signature(TOKEN, &url, &params, signature) {
        return (StatusCode::FORBIDDEN, "bad twilio signature").into_response();
    }
    state.received.lock().unwrap().push(Received { target: uri.to_string(), params });
    let answer = state.answers.lock().unwrap().get(uri.path()).cloned();
    match answer {
        Some(Answer { status, ticket, body }) => {
            let mut response = (StatusCode::from_u16(status).unwrap(), [(axum::http::header::CONTENT_TYPE, "text/xml")], body).into_response();
            if let Some(ticket) = ticket {
                response.headers_mut().insert("Balagh-Ticket", ticket.parse().unwrap());
            }
            response
        }
        None => (StatusCode::NOT_FOUND, "no such page").into_response(),
    }
}

fn say(text: &str) -> Verb {
    Verb::Say { language: "ar-SA".into(), voice: None, text: text.into() }
}

fn gather(action: &str, num_digits: Option<u32>, prompt: &str) -> Verb {
    Verb::Gather { action: action.into(), num_digits, finish_on_key: None, timeout_seconds: 5, prompts: vec![say(prompt)] }
}

fn record(action: &str, transcribe_callback: Option<&str>) -> Verb {
    Verb::Record {
        action: action.into(),
        max_length_seconds: 120,
        timeout_seconds: 5,
        finish_on_key: '#',
        transcribe_callback: transcribe_callback.map(Into::into),
    }
}

fn is_sid(value: &str, prefix: &str) -> bool {
    value.len() == prefix.len() + 32 && value.starts_with(prefix) && value[prefix.len()..].chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

#[tokio::test]
async fn a_whole_call_walks_the_menu_records_a_message_waits_for_an_agent_and_reports_its_end() {
    let app = VoiceApp::start().await;
    app.answer_twiml("/ivr/incoming", vec![say("welcome to 940"), gather("/ivr/menu?step=1", Some(1), "press 1 to report a problem"), Verb::Hangup]);
    app.answer_twiml("/ivr/menu", vec![Verb::Redirect("/ivr/describe".into())]);
    app.answer_twiml("/ivr/describe", vec![say("describe the problem after the beep"), record("/ivr/recorded", Some("/ivr/transcription"))]);
    app.answer_with_ticket(
        "/ivr/recorded",
        "10000004",
        vec![
            say("your ticket is 10000004"),
            Verb::Enqueue { queue: "940-agents".into(), wait_url: Some("/ivr/wait".into()), action: Some("/ivr/after-agent".into()) },
        ],
    );
    app.answer_twiml("/ivr/wait", vec![say("an agent will answer shortly"), Verb::Pause(10), Verb::Redirect("/ivr/wait".into())]);
    app.answer("/ivr/transcription", 204, "");
    app.answer_twiml("/ivr/after-agent", vec![say("goodbye"), Verb::Hangup]);

    let mut caller = Caller::dial(app.options()).await.unwrap();
    assert!(is_sid(caller.call_sid(), "CA"), "{}", caller.call_sid());
    assert_eq!(caller.waiting(), Waiting::Keys);
    assert_eq!(caller.heard(), ["welcome to 940", "press 1 to report a problem"]);
    assert_eq!(caller.ticket(), None);

    caller.press("1").await.unwrap();
    assert_eq!(caller.waiting(), Waiting::Recording);
    assert_eq!(caller.heard(), ["describe the problem after the beep"]);

    caller.record(12, Some("a pothole on king fahd road")).await.unwrap();
    assert_eq!(caller.waiting(), Waiting::Agent);
    assert_eq!(caller.heard(), ["your ticket is 10000004", "an agent will answer shortly"]);
    assert_eq!(caller.ticket(), Some("10000004"));

    caller.agent_hangs_up().await.unwrap();
    assert!(caller.ended());
    assert_eq!(caller.heard(), ["goodbye"]);
    caller.hang_up().await.unwrap();
    caller.hang_up().await.unwrap();

    assert_eq!(
        caller.transcript(),
        [
            "welcome to 940",
            "press 1 to report a problem",
            "describe the problem after the beep",
            "your ticket is 10000004",
            "an agent will answer shortly",
            "goodbye"
        ]
    );
    assert_eq!(
        app.targets(),
        ["/ivr/incoming", "/ivr/menu?step=1", "/ivr/describe", "/ivr/recorded", "/ivr/wait", "/ivr/transcription", "/ivr/after-agent", "/ivr/status"]
    );
    let received = app.received();
    for request in &received {
        assert_eq!(request.param("CallSid"), Some(caller.call_sid()), "{request:?}");
        assert_eq!(request.param("AccountSid"), Some(caller.account_sid()), "{request:?}");
        assert_eq!(request.param("From"), Some("+966500000001"));
        assert_eq!(request.param("To"), Some("940"));
        assert_eq!(request.param("Direction"), Some("inbound"));
        assert_eq!(request.param("ApiVersion"), Some("2010-04-01"));
    }
    assert!(is_sid(caller.account_sid(), "AC"));
    let statuses: Vec<_> = received.iter().map(|request| request.param("CallStatus").unwrap()).collect();
    assert_eq!(statuses, ["ringing", "in-progress", "in-progress", "in-progress", "in-progress", "in-progress", "in-progress", "completed"]);
    assert_eq!(received[1].param("Digits"), Some("1"));

    let recorded = &received[3];
    let recording_sid = recorded.param("RecordingSid").unwrap();
    assert!(is_sid(recording_sid, "RE"));
    assert_eq!(
        recorded.param("RecordingUrl").unwrap(),
        format!("https://api.twilio.com/2010-04-01/Accounts/{}/Recordings/{recording_sid}", caller.account_sid())
    );
    assert_eq!(recorded.param("RecordingDuration"), Some("12"));
    assert_eq!(recorded.param("Digits"), Some("#"));

    let transcription = &received[5];
    assert_eq!(transcription.param("TranscriptionText"), Some("a pothole on king fahd road"));
    assert_eq!(transcription.param("TranscriptionStatus"), Some("completed"));
    assert!(is_sid(transcription.param("TranscriptionSid").unwrap(), "TR"));
    assert_eq!(transcription.param("RecordingSid"), Some(recording_sid));
    assert_eq!(transcription.param("RecordingUrl"), recorded.param("RecordingUrl"));

    assert_eq!(received[6].param("QueueResult"), Some("bridged"));
    assert_eq!(received[6].param("QueueTime"), Some("30"));
    assert!(received[7].param("CallDuration").unwrap().parse::<u64>().is_ok());
}

#[tokio::test]
async fn no_input_goes_on_with_the_verbs_after_the_gather_without_a_request() {
    let app = VoiceApp::start().await;
    app.answer_twiml("/ivr/incoming", vec![gather("/ivr/menu", Some(1), "press 1"), say("we did not hear you"), Verb::Redirect("/ivr/incoming".into())]);
    app.answer_twiml("/ivr/menu", vec![say("thank you"), Verb::Hangup]);

    let mut caller = Caller::dial(app.options()).await.unwrap();
    caller.press("").await.unwrap();
    assert_eq!(caller.heard(), ["we did not hear you", "press 1"]);
    assert_eq!(caller.waiting(), Waiting::Keys);
    // The finishing key before any digit is no input too.
    caller.press("#").await.unwrap();
    assert_eq!(caller.heard(), ["we did not hear you", "press 1"]);
    assert_eq!(app.targets(), ["/ivr/incoming", "/ivr/incoming", "/ivr/incoming"]);

    // Keys beyond the gather's number of digits are not sent.
    caller.press("12").await.unwrap();
    assert_eq!(app.received().last().unwrap().param("Digits"), Some("1"));
    assert_eq!(caller.heard(), ["thank you"]);
    assert!(caller.ended());
}

#[tokio::test]
async fn silence_at_a_record_goes_on_with_the_verbs_after_it() {
    let app = VoiceApp::start().await;
    app.answer_twiml("/ivr/incoming", vec![record("/ivr/recorded", None), say("we did not hear a message"), Verb::Hangup]);

    let mut caller = Caller::dial(app.options()).await.unwrap();
    caller.record(0, Some("ignored")).await.unwrap();
    assert_eq!(caller.heard(), ["we did not hear a message"]);
    assert!(caller.ended());
    assert_eq!(app.targets(), ["/ivr/incoming"]);
}

#[tokio::test]
async fn a_dial_without_an_action_ends_the_call_when_the_agent_hangs_up() {
    let app = VoiceApp::start().await;
    app.answer_twiml("/ivr/incoming", vec![say("connecting you"), Verb::Dial { number: "sip:agent@pbx.example".into(), action: None }]);

    let mut caller = Caller::dial(app.options()).await.unwrap();
    assert_eq!(caller.waiting(), Waiting::Agent);
    caller.agent_hangs_up().await.unwrap();
    assert!(caller.ended());
    assert_eq!(app.targets(), ["/ivr/incoming"]);
}

#[tokio::test]
async fn a_dial_with_an_action_reports_the_completed_call_there() {
    let app = VoiceApp::start().await;
    app.answer_twiml("/ivr/incoming", vec![Verb::Dial { number: "+966138000000".into(), action: Some("/ivr/dialled".into()) }]);
    app.answer_twiml("/ivr/dialled", vec![say("thank you for calling")]);

    let mut caller = Caller::dial(app.options()).await.unwrap();
    caller.agent_hangs_up().await.unwrap();
    let dialled = app.received().pop().unwrap();
    assert_eq!(dialled.target, "/ivr/dialled");
    assert_eq!(dialled.param("DialCallStatus"), Some("completed"));
    assert_eq!(dialled.param("DialCallDuration"), Some("60"));
    assert_eq!(caller.heard(), ["thank you for calling"]);
    assert!(caller.ended());
}

#[tokio::test]
async fn the_latest_ticket_header_is_kept() {
    let app = VoiceApp::start().await;
    app.answer_with_ticket("/ivr/incoming", "10000001", vec![gather("/ivr/menu", None, "press a key")]);
    app.answer_with_ticket("/ivr/menu", "10000002", vec![say("done")]);

    let mut caller = Caller::dial(app.options()).await.unwrap();
    assert_eq!(caller.ticket(), Some("10000001"));
    caller.press("5").await.unwrap();
    assert_eq!(caller.ticket(), Some("10000002"));
}

#[tokio::test]
async fn an_answer_outside_2xx_is_an_http_error_and_ends_the_call() {
    let app = VoiceApp::start().await;
    app.answer("/ivr/incoming", 500, "database is down");
    match Caller::dial(app.options()).await {
        Err(CallerError::Http { url, status, body }) => {
            assert_eq!(url, app.url("/ivr/incoming"));
            assert_eq!(status, 500);
            assert_eq!(body, "database is down");
        }
        other => panic!("expected an http error, got {other:?}"),
    }

    app.answer_twiml("/ivr/incoming", vec![gather("/ivr/missing", None, "press a key")]);
    let mut caller = Caller::dial(app.options()).await.unwrap();
    let error = caller.press("1").await.unwrap_err();
    assert!(matches!(error, CallerError::Http { status: 404, .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("{} answered 404: no such page", app.url("/ivr/missing")));
    assert!(caller.ended());
}

#[tokio::test]
async fn a_badly_signed_request_is_refused_by_the_app() {
    let app = VoiceApp::start().await;
    app.answer_twiml("/ivr/incoming", vec![say("hello")]);
    let options = CallerOptions::new(app.url("/ivr/incoming"), "another-token");
    let error = Caller::dial(options).await.unwrap_err();
    assert!(matches!(error, CallerError::Http { status: 403, .. }), "{error:?}");
}

#[tokio::test]
async fn a_document_that_is_not_markup_is_a_markup_error() {
    let app = VoiceApp::start().await;
    app.answer("/ivr/incoming", 200, "<html>not a voice document</html>");
    let error = Caller::dial(app.options()).await.unwrap_err();
    assert!(matches!(error, CallerError::Markup { .. }), "{error:?}");
}

#[tokio::test]
async fn input_the_call_is_not_waiting_for_is_refused_and_changes_nothing() {
    let app = VoiceApp::start().await;
    app.answer_twiml("/ivr/incoming", vec![record("/ivr/recorded", None)]);
    let mut caller = Caller::dial(app.options()).await.unwrap();
    match caller.press("1").await {
        Err(CallerError::NotWaiting { expected: Waiting::Keys, waiting: Waiting::Recording }) => {}
        other => panic!("expected not waiting, got {other:?}"),
    }
    assert!(matches!(caller.agent_hangs_up().await, Err(CallerError::NotWaiting { expected: Waiting::Agent, waiting: Waiting::Recording })));
    assert_eq!(caller.waiting(), Waiting::Recording);
    assert_eq!(app.targets(), ["/ivr/incoming"]);
}

#[tokio::test]
async fn a_raw_post_is_signed_and_answered_without_being_played() {
    let app = VoiceApp::start().await;
    app.answer_twiml("/ivr/incoming", vec![gather("/ivr/menu", None, "press a key")]);
    app.answer_twiml("/ivr/menu", vec![say("you pressed a key"), Verb::Hangup]);
    let mut caller = Caller::dial(app.options()).await.unwrap();
    caller.press("7").await.unwrap();

    let (status, body) = caller.post("/ivr/menu", &[("Digits", "7"), ("CallStatus", "in-progress")]).await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("you pressed a key"), "{body}");
    let replay = app.received().pop().unwrap();
    assert_eq!(replay.param("Digits"), Some("7"));
    assert_eq!(replay.param("CallSid"), Some(caller.call_sid()));
    assert_eq!(replay.param("CallStatus"), Some("in-progress"));
    assert_eq!(caller.heard(), ["you pressed a key"]);
}

#[tokio::test]
async fn a_voicexml_call_submits_the_documents_session_values() {
    let app = VoiceApp::start().await;
    let vxml = |session: Vec<(String, String)>, verbs: Vec<Verb>| balagh_voice::voicexml::render(&Dialog { language: "ar-SA".into(), session, verbs });
    let session = vec![("report".to_owned(), "10000004".to_owned()), ("lang".to_owned(), "ar".to_owned())];
    app.answer("/ivr/incoming", 200, &vxml(session, vec![say("welcome"), gather("/ivr/menu", Some(1), "press 1")]));
    app.answer("/ivr/menu", 200, &vxml(Vec::new(), vec![say("goodbye"), Verb::Hangup]));

    let mut caller = Caller::dial(CallerOptions { markup: Markup::VoiceXml, ..app.options() }).await.unwrap();
    assert_eq!(caller.heard(), ["welcome", "press 1"]);
    caller.press("1").await.unwrap();
    assert_eq!(caller.heard(), ["goodbye"]);
    assert!(caller.ended());
    caller.hang_up().await.unwrap();

    let received = app.received();
    assert_eq!(received[0].param("report"), None);
    assert_eq!(received[1].target, "/ivr/menu");
    assert_eq!(received[1].param("Digits"), Some("1"));
    assert_eq!(received[1].param("report"), Some("10000004"));
    assert_eq!(received[1].param("lang"), Some("ar"));
    assert_eq!(received[1].param("CallSid"), Some(caller.call_sid()));
    // The last document declared no session values, so the status callback carries none.
    assert_eq!(received[2].param("report"), None);
}
