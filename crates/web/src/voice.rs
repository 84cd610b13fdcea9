//! The provider-facing voice and delivery webhooks: the TwiML of Balagh's automated update calls
//! and their keypad answers, and the delivery status callbacks of texts and calls. Every request
//! must carry a valid `X-Twilio-Signature` (HMAC-SHA1 of the public URL and the sorted form
//! parameters with the auth token); unsigned or forged requests get 403 and change nothing.

use crate::AppState;
use crate::error::HttpError;
use axum::Router;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use balagh_app::calls::{Answered, CallAnswer, DeliveryStatus};
use balagh_app::delivery::say_language;
use balagh_domain::rating::Score;
use balagh_i18n::text;
use balagh_ivr::IvrSettings;
use balagh_voice::dialog::{Dialog, Verb};
use balagh_voice::markup::Markup;
use std::sync::Arc;

/// Keys wait this long for a press.
const GATHER_TIMEOUT_SECONDS: u32 = 8;

/// How the voice webhooks sign their requests, and the IVR's settings (agents, voices, markup).
#[derive(Clone, Default)]
pub struct VoiceConfig {
    /// The provider's auth token that signs its requests; without it the webhooks answer 404.
    pub auth_token: Option<String>,
    pub ivr: Arc<IvrSettings>,
}

impl std::fmt::Debug for VoiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceConfig").field("auth_token", &self.auth_token.as_ref().map(|_| "<redacted>")).field("ivr", &self.ivr).finish()
    }
}

/// A voice document as the platform reads it, with the ticket number a step opened.
pub struct VoiceReply {
    pub dialog: Dialog,
    pub markup: Markup,
    pub ticket: Option<String>,
}

impl VoiceReply {
    /// An update call's document: always TwiML, since Balagh places those calls through a
    /// Twilio-compatible provider.
    fn twiml(language: &str, verbs: Vec<Verb>) -> Self {
        Self { dialog: Dialog::new(say_language(language), verbs), markup: Markup::Twiml, ticket: None }
    }
}

impl axum::response::IntoResponse for VoiceReply {
    fn into_response(self) -> axum::response::Response {
        let mut response = ([(axum::http::header::CONTENT_TYPE, self.markup.content_type())], self.markup.render(&self.dialog)).into_response();
        if let Some(value) = self.ticket.and_then(|t| axum::http::HeaderValue::from_str(&t).ok()) {
            response.headers_mut().insert("balagh-ticket", value);
        }
        response
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/voice/updates/{id}", post(update_call))
        .route("/voice/updates/{id}/menu", post(update_call_menu))
        .route("/voice/updates/{id}/rate", post(update_call_rate))
        .route("/notify/twilio/status/{id}", post(delivery_status))
}

/// A provider's form request whose signature was checked against the public URL it was sent to.
pub struct SignedForm(pub Vec<(String, String)>);

impl SignedForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()).filter(|value| !value.is_empty())
    }
}

impl FromRequest<AppState> for SignedForm {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (Some(token), Some(base)) = (state.config.voice.auth_token.as_deref(), state.app.delivery().public_base_url.as_deref()) else {
            return Err(HttpError::NotFound("voice webhooks are not configured (set the Twilio auth token and the public base URL)".into()));
        };
        let path_and_query = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
        let url = format!("{}{path_and_query}", base.trim_end_matches('/'));
        let signature = request.headers().get("x-twilio-signature").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = request.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| HttpError::BadRequest { code: "unreadable_body", message: format!("the request body cannot be read: {e}") })?;
        let Some(signature) = signature else {
            return Err(HttpError::Forbidden { code: "unsigned", message: "the request has no X-Twilio-Signature header".into() });
        };
        if !content_type.starts_with("application/x-www-form-urlencoded") && !body.is_empty() {
            return Err(HttpError::UnsupportedMediaType(format!("send the parameters as application/x-www-form-urlencoded, not '{content_type}'")));
        }
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| HttpError::BadRequest { code: "malformed_form", message: format!("the form body cannot be read: {e}") })?;
        if !balagh_notify::twilio::verify_signature(token, &url, &params, &signature) {
            return Err(HttpError::Forbidden { code: "bad_signature", message: format!("the X-Twilio-Signature does not match a request to {url}") });
        }
        Ok(SignedForm(params))
    }
}

/// What an update call says in `language`.
struct Speaker<'a> {
    state: &'a AppState,
    language: String,
}

impl Speaker<'_> {
    fn say(&self, key: &str, args: &[(&str, balagh_i18n::Arg)]) -> Verb {
        self.say_text(text(&self.language, key, args))
    }

    fn say_text(&self, text: String) -> Verb {
        Verb::Say { language: say_language(&self.language).to_owned(), voice: self.state.config.voice.ivr.voices.get(&self.language).cloned(), text }
    }

    fn url(&self, path: String) -> String {
        self.state.app.delivery().url(&path).unwrap_or(path)
    }

    /// The menu: all keys on a resolved report, else repeat and agent.
    fn menu(&self, id: i64, resolved: bool, before: Vec<Verb>) -> VoiceReply {
        let mut prompts = before;
        prompts.push(self.say(if resolved { "call-menu-resolved" } else { "call-menu" }, &[]));
        self.gather(self.url(format!("/voice/updates/{id}/menu")), prompts)
    }

    fn rate(&self, id: i64, quality: Option<u8>, before: Vec<Verb>) -> VoiceReply {
        let mut prompts = before;
        let (key, action) = match quality {
            None => ("call-rate-quality", format!("/voice/updates/{id}/rate")),
            Some(quality) => ("call-rate-speed", format!("/voice/updates/{id}/rate?quality={quality}")),
        };
        prompts.push(self.say(key, &[]));
        self.gather(self.url(action), prompts)
    }

    fn finish(&self, answered: Answered, done_key: &str) -> VoiceReply {
        let key = match answered {
            Answered::Recorded => done_key,
            Answered::AlreadyDone { .. } => "call-already",
        };
        VoiceReply::twiml(&self.language, vec![self.say(key, &[]), self.say("call-goodbye", &[]), Verb::Hangup])
    }

    /// One key asked for at `action`, then goodbye when none comes.
    fn gather(&self, action: String, prompts: Vec<Verb>) -> VoiceReply {
        let gather = Verb::Gather { action, num_digits: Some(1), finish_on_key: None, timeout_seconds: GATHER_TIMEOUT_SECONDS, prompts };
        VoiceReply::twiml(&self.language, vec![gather, self.say("call-goodbye", &[]), Verb::Hangup])
    }
}

fn notification_id(id: &str) -> Result<i64, HttpError> {
    id.parse().map_err(|_| HttpError::NotFound(format!("update call '{id}' not found")))
}

/// The TwiML an update call opens with: the update, then the menu.
pub async fn update_call(State(state): State<AppState>, Path(id): Path<String>, _form: SignedForm) -> Result<VoiceReply, HttpError> {
    let id = notification_id(&id)?;
    let call = state.app.update_call(id).await?;
    let speaker = Speaker { state: &state, language: call.language.clone() };
    Ok(speaker.menu(id, call.resolved, vec![speaker.say_text(call.speech)]))
}

/// A key pressed at the menu.
pub async fn update_call_menu(State(state): State<AppState>, Path(id): Path<String>, form: SignedForm) -> Result<VoiceReply, HttpError> {
    let id = notification_id(&id)?;
    let call = state.app.update_call(id).await?;
    let speaker = Speaker { state: &state, language: call.language.clone() };
    let call_sid = form.get("CallSid");
    let answer = |answer| state.app.answer_update_call(id, call_sid, answer);
    Ok(match (form.get("Digits"), call.resolved) {
        (Some("1"), _) => {
            answer(CallAnswer::Repeat).await?;
            speaker.menu(id, call.resolved, vec![speaker.say_text(call.speech)])
        }
        (Some("2"), true) => speaker.finish(answer(CallAnswer::Confirm).await?, "call-thanks-confirmed"),
        (Some("3"), true) => speaker.finish(answer(CallAnswer::NotFixed).await?, "call-thanks-not-fixed"),
        (Some("4"), true) => speaker.rate(id, None, vec![]),
        (Some("0"), _) => {
            answer(CallAnswer::Agent).await?;
            let ivr = &state.config.voice.ivr;
            let connect = match &ivr.agent_number {
                Some(number) => Verb::Dial { number: number.clone(), action: None },
                None => Verb::Enqueue { queue: ivr.agent_queue.clone(), wait_url: None, action: None },
            };
            VoiceReply::twiml(&speaker.language, vec![speaker.say("call-agent", &[]), connect])
        }
        _ => speaker.menu(id, call.resolved, vec![speaker.say("call-invalid", &[])]),
    })
}

/// A closure score pressed: quality first (its value carried in the next step's signed URL), then
/// speed, which records the rating.
pub async fn update_call_rate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    form: SignedForm,
) -> Result<VoiceReply, HttpError> {
    let id = notification_id(&id)?;
    let call = state.app.update_call(id).await?;
    let speaker = Speaker { state: &state, language: call.language.clone() };
    let score = |text: Option<&str>| text.and_then(|t| t.parse::<i64>().ok()).and_then(|v| Score::new("score", v).ok());
    let quality = score(query.get("quality").map(String::as_str));
    let pressed = score(form.get("Digits"));
    Ok(match (quality, pressed) {
        (None, Some(quality)) => speaker.rate(id, Some(quality.value()), vec![]),
        (Some(quality), Some(speed)) => {
            let answered = state.app.answer_update_call(id, form.get("CallSid"), CallAnswer::Rate { quality, speed }).await?;
            speaker.finish(answered, "call-thanks-rated")
        }
        (quality, None) => speaker.rate(id, quality.map(Score::value), vec![speaker.say("call-invalid", &[])]),
    })
}

/// A provider's delivery status callback for a text or a call.
pub async fn delivery_status(State(state): State<AppState>, Path(id): Path<String>, form: SignedForm) -> Result<StatusCode, HttpError> {
    let outbox_id = id.parse().map_err(|_| HttpError::NotFound(format!("notification '{id}' not found")))?;
    let provider_ref = form.get("MessageSid").or_else(|| form.get("SmsSid")).or_else(|| form.get("CallSid"));
    let status = form.get("MessageStatus").or_else(|| form.get("SmsStatus")).or_else(|| form.get("CallStatus"));
    let (Some(provider_ref), Some(status)) = (provider_ref, status) else {
        return Err(HttpError::BadRequest {
            code: "missing_status",
            message: "a status callback needs MessageSid and MessageStatus (or CallSid and CallStatus)".into(),
        });
    };
    let status =
        DeliveryStatus { outbox_id, provider_ref: provider_ref.to_owned(), status: status.to_owned(), error_code: form.get("ErrorCode").map(str::to_owned) };
    state.app.delivery_status(status).await?;
    Ok(StatusCode::NO_CONTENT)
}
