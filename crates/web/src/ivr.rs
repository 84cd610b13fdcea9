//! The IVR's webhooks, as a Twilio-compatible voice platform (or a VoiceXML browser) calls them:
//! `POST /ivr/voice` when a call comes in (the one address pasted into the provider's console),
//! then each step's `action`, the agents' queue wait music, the recording's transcription and the
//! call's status callback, all named in the documents Balagh answers with. Every request must
//! carry a valid `X-Twilio-Signature` against the public base URL; the flow itself lives in
//! `balagh_ivr`.

use crate::AppState;
use crate::error::HttpError;
use crate::voice::{SignedForm, VoiceReply};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use balagh_domain::error::FieldError;
use balagh_ivr::{Input, Ivr, IvrError, Request, Step, Transcribed};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ivr/voice", post(incoming))
        .route("/ivr/step/{step}", post(step))
        .route("/ivr/wait", post(wait))
        .route("/ivr/transcription", post(transcription))
        .route("/ivr/status", post(status))
}

fn ivr(state: &AppState) -> Ivr {
    Ivr::new(state.app.clone(), state.config.voice.ivr.clone())
}

impl From<IvrError> for HttpError {
    fn from(error: IvrError) -> Self {
        match error {
            IvrError::UnknownCall(_) => HttpError::NotFound(error.to_string()),
            IvrError::Ended(_) => HttpError::Conflict { code: "call_ended", message: error.to_string() },
            IvrError::Rejected(message) => HttpError::Unprocessable(vec![FieldError::new("RecordingUrl", "foreign_recording", message)]),
            IvrError::Corrupt(..) => HttpError::Internal(error.to_string()),
            IvrError::App(error) => error.into(),
        }
    }
}

/// The form field a provider always sends.
fn call_sid(form: &SignedForm) -> Result<String, HttpError> {
    let sid = form.get("CallSid").ok_or_else(|| HttpError::BadRequest { code: "missing_call_sid", message: "the request has no CallSid".into() })?;
    if sid.len() > 64 || !sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(HttpError::BadRequest { code: "invalid_call_sid", message: "CallSid must be 1 to 64 letters, digits, '-' or '_'".into() });
    }
    Ok(sid.to_owned())
}

fn reply(state: &AppState, reply: balagh_ivr::Reply) -> VoiceReply {
    VoiceReply { dialog: reply.dialog, markup: state.config.voice.ivr.markup, ticket: reply.ticket }
}

/// A call came in: the language menu.
pub async fn incoming(State(state): State<AppState>, form: SignedForm) -> Result<VoiceReply, HttpError> {
    let request = Request { call_sid: call_sid(&form)?, from: form.get("From").map(str::to_owned), step: Step::Incoming };
    Ok(reply(&state, ivr(&state).answer(request).await?))
}

/// The caller's answer to the prompt of step `step`.
pub async fn step(State(state): State<AppState>, Path(step): Path<String>, form: SignedForm) -> Result<VoiceReply, HttpError> {
    let call_sid = call_sid(&form)?;
    let step: i64 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| HttpError::NotFound(format!("step '{step}' of call '{call_sid}' not found")))?;
    let digits = form.get("Digits").map(str::to_owned);
    if let Some(digits) = &digits
        && (digits.len() > 32 || !digits.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#' || c == 'w'))
        && digits != "hangup"
    {
        return Err(HttpError::BadRequest { code: "invalid_digits", message: "Digits must be at most 32 keypad keys (0-9, * and #)".into() });
    }
    let recording_seconds = match form.get("RecordingDuration") {
        Some(text) => Some(text.parse::<u32>().map_err(|_| HttpError::BadRequest {
            code: "invalid_recording_duration",
            message: format!("RecordingDuration must be a whole number of seconds, got '{text}'"),
        })?),
        None => None,
    };
    let input = Input {
        step,
        digits: digits.filter(|d| d != "hangup"),
        recording_url: form.get("RecordingUrl").map(str::to_owned),
        recording_seconds,
        agent_result: form.get("QueueResult").or_else(|| form.get("DialCallStatus")).map(str::to_owned),
    };
    let request = Request { call_sid, from: form.get("From").map(str::to_owned), step: Step::Input(input) };
    Ok(reply(&state, ivr(&state).answer(request).await?))
}

/// What a caller hears while he waits in the agents' queue.
pub async fn wait(State(state): State<AppState>, Query(query): Query<HashMap<String, String>>, _form: SignedForm) -> VoiceReply {
    let language = query.get("language").map(String::as_str).unwrap_or(balagh_i18n::DEFAULT_LANGUAGE);
    VoiceReply { dialog: ivr(&state).waiting(language), markup: state.config.voice.ivr.markup, ticket: None }
}

/// The provider's transcription of the recorded description.
pub async fn transcription(State(state): State<AppState>, form: SignedForm) -> Result<StatusCode, HttpError> {
    let call_sid = call_sid(&form)?;
    let done = ivr(&state).transcription(&call_sid, form.get("RecordingUrl"), form.get("TranscriptionStatus"), form.get("TranscriptionText")).await?;
    tracing::info!(call = %call_sid, ?done, "ivr transcription");
    Ok(match done {
        Transcribed::Described | Transcribed::Held => StatusCode::NO_CONTENT,
        Transcribed::Kept | Transcribed::Ignored => StatusCode::OK,
    })
}

/// The provider's status callback for an IVR call: a final status ends it.
pub async fn status(State(state): State<AppState>, form: SignedForm) -> Result<StatusCode, HttpError> {
    let call_sid = call_sid(&form)?;
    let status =
        form.get("CallStatus").ok_or_else(|| HttpError::BadRequest { code: "missing_status", message: "a status callback needs CallStatus".into() })?;
    let duration = match form.get("CallDuration") {
        Some(text) => Some(text.parse::<i64>().ok().filter(|d| *d >= 0).ok_or_else(|| HttpError::BadRequest {
            code: "invalid_call_duration",
            message: format!("CallDuration must be a whole number of seconds, got '{text}'"),
        })?),
        None => None,
    };
    ivr(&state).call_status(&call_sid, status, duration).await?;
    Ok(StatusCode::NO_CONTENT)
}
