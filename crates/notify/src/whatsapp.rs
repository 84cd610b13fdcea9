//! The WhatsApp Business Cloud API provider: free text inside the 24-hour customer-service window
//! (the beneficiary wrote to us in the last 24 hours), an approved template message outside it.
//!
//! # No idempotency key
//!
//! The Cloud API accepts no idempotency key: every accepted `POST …/messages` sends a new message.
//! Delivery is at least once: if Meta accepted a request but Balagh never learnt it (a timeout
//! after acceptance, a crash before the outbox row was marked sent), the retry sends the message
//! again. Each message carries `biz_opaque_callback_data` = the notification's idempotency key,
//! which Meta echoes in its status webhooks, so a duplicate can be recognised afterwards.

use crate::http::{self, Answer, ClientError};
use crate::{Delivery, Notification, Provider, SendError, SendFuture};
use serde_json::json;
use std::time::Duration;

/// Meta's Graph API address.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";

/// The Graph API version Balagh speaks.
pub const DEFAULT_API_VERSION: &str = "v21.0";

/// Error codes that mean "slow down" or "try later" whatever the HTTP status: 1 (unknown, possibly
/// a server error), 2 (service temporarily unavailable), 4 (application rate limit), 80007 (WABA
/// rate limit), 130429 (throughput reached), 131000 (something went wrong), 131016 (service
/// unavailable), 131056 (too many messages to one recipient).
const TEMPORARY_CODES: [i64; 8] = [1, 2, 4, 80007, 130429, 131000, 131016, 131056];

/// Error codes that mean the access token was refused (190 expired or invalid, 0 authentication).
const TOKEN_CODES: [i64; 2] = [0, 190];

/// How to reach a WhatsApp Business phone number on the Cloud API.
#[derive(Clone, PartialEq, Eq)]
pub struct WhatsappConfig {
    /// `https://graph.facebook.com`, or a compatible address; no trailing path.
    pub base_url: String,
    /// `v21.0`.
    pub api_version: String,
    /// The business phone number's id (not the number itself).
    pub phone_number_id: String,
    /// A system user's access token, sent as `Authorization: Bearer`.
    pub access_token: String,
    /// The longest a request to the API may take.
    pub timeout: Duration,
}

impl WhatsappConfig {
    /// The phone number on Meta's Cloud API at the default version, with a 10 s request timeout.
    pub fn new(phone_number_id: impl Into<String>, access_token: impl Into<String>) -> WhatsappConfig {
        WhatsappConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            phone_number_id: phone_number_id.into(),
            access_token: access_token.into(),
            timeout: Duration::from_secs(10),
        }
    }

    fn messages_url(&self) -> String {
        format!("{}/{}/{}/messages", self.base_url.trim_end_matches('/'), self.api_version, self.phone_number_id)
    }
}

impl std::fmt::Debug for WhatsappConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsappConfig")
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("phone_number_id", &self.phone_number_id)
            .field("access_token", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends WhatsApp messages through the Cloud API; the provider reference is the message id
/// (`wamid.…`). At least once: see the module documentation.
#[derive(Debug, Clone)]
pub struct WhatsappProvider {
    config: WhatsappConfig,
    client: reqwest::Client,
}

impl WhatsappProvider {
    pub fn new(config: WhatsappConfig) -> Result<WhatsappProvider, ClientError> {
        let client = http::client(config.timeout)?;
        Ok(WhatsappProvider { config, client })
    }

    /// The JSON posted for a notification: free text when the customer-service window is open,
    /// else its template; a message outside the window without a template cannot be sent.
    pub fn message(notification: &Notification) -> Result<serde_json::Value, SendError> {
        let to = recipient_digits(&notification.address)?;
        let content = &notification.content;
        let mut message = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "biz_opaque_callback_data": notification.idempotency_key(),
        });
        if content.whatsapp_session_open {
            message["type"] = json!("text");
            message["text"] = json!({ "preview_url": false, "body": content.text });
            return Ok(message);
        }
        let Some(template) = &content.whatsapp_template else {
            return Err(SendError::Permanent {
                reason: format!(
                    "notification {} ({}) has no whatsapp template, and free text is refused outside the 24-hour customer-service window",
                    notification.id, notification.topic
                ),
            });
        };
        let mut body = json!({ "name": template.name, "language": { "code": template.language } });
        if !template.parameters.is_empty() {
            let parameters: Vec<_> = template.parameters.iter().map(|text| json!({ "type": "text", "text": text })).collect();
            body["components"] = json!([{ "type": "body", "parameters": parameters }]);
        }
        message["type"] = json!("template");
        message["template"] = body;
        Ok(message)
    }

    fn failure(answer: &Answer) -> SendError {
        let status = answer.status.as_u16();
        let Ok(GraphErrorBody { error }) = serde_json::from_str::<GraphErrorBody>(&answer.body) else {
            return answer.failure(format!("whatsapp {}", answer.describe()));
        };
        let mut detail = format!("answered {status} (code {}", error.code);
        if let Some(subcode) = error.error_subcode {
            detail.push_str(&format!(", subcode {subcode}"));
        }
        detail.push_str(&format!("): {}", error.message));
        if let Some(details) = error.error_data.and_then(|data| data.details).filter(|details| !details.is_empty()) {
            detail.push_str(&format!(": {details}"));
        }
        if let Some(trace) = error.fbtrace_id {
            detail.push_str(&format!(" (fbtrace_id {trace})"));
        }
        if TEMPORARY_CODES.contains(&error.code) {
            answer.temporary(format!("whatsapp {detail}"))
        } else if TOKEN_CODES.contains(&error.code) || answer.status == reqwest::StatusCode::UNAUTHORIZED {
            SendError::Permanent { reason: format!("whatsapp refused the access token: {detail}") }
        } else {
            answer.failure(format!("whatsapp {detail}"))
        }
    }
}

/// The recipient as the Cloud API wants it: the E.164 number's digits, without `+`.
fn recipient_digits(address: &str) -> Result<String, SendError> {
    let digits = address.trim().trim_start_matches('+');
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(SendError::Permanent { reason: format!("whatsapp recipient {address:?} is not a phone number in e.164") });
    }
    Ok(digits.to_owned())
}

impl Provider for WhatsappProvider {
    fn name(&self) -> &'static str {
        "whatsapp"
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        Box::pin(async move {
            let message = WhatsappProvider::message(notification)?;
            let request = self.client.post(self.config.messages_url()).bearer_auth(&self.config.access_token).json(&message);
            let answer = http::send("whatsapp", request).await?;
            if !answer.is_success() {
                return Err(WhatsappProvider::failure(&answer));
            }
            match serde_json::from_str::<Sent>(&answer.body) {
                Ok(Sent { messages }) if !messages.is_empty() => Ok(Delivery { provider_ref: messages.into_iter().next().map(|message| message.id) }),
                outcome => {
                    // Meta accepted it: reporting a failure would send it again.
                    tracing::warn!(target: "balagh::notify", "whatsapp accepted a message but its answer has no message id: {outcome:?}");
                    Ok(Delivery { provider_ref: None })
                }
            }
        })
    }
}

/// The success answer: `{"messaging_product":"whatsapp","contacts":[…],"messages":[{"id":"wamid.…"}]}`.
#[derive(Debug, serde::Deserialize)]
struct Sent {
    #[serde(default)]
    messages: Vec<SentMessage>,
}

#[derive(Debug, serde::Deserialize)]
struct SentMessage {
    id: String,
}

/// The Graph API error: `{"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}`.
#[derive(Debug, serde::Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

#[derive(Debug, serde::Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    code: i64,
    error_subcode: Option<i64>,
    error_data: Option<GraphErrorData>,
    fbtrace_id: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct GraphErrorData {
    details: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Content, Medium, WhatsappTemplate};

    fn notification(content: Content) -> Notification {
        Notification {
            id: 9,
            topic: "status_update".into(),
            recipient: "whatsapp:+966500000001".into(),
            medium: Medium::Whatsapp,
            address: "+966500000001".into(),
            payload: serde_json::Value::Null,
            content,
            attempt: 1,
        }
    }

    #[test]
    fn inside_the_window_the_text_is_sent_as_free_text() {
        let content = Content { text: "بلاغك 10000004 قيد المعالجة".into(), whatsapp_session_open: true, ..Content::default() };
        let message = WhatsappProvider::message(&notification(content)).unwrap();
        assert_eq!(
            message,
            json!({
                "messaging_product": "whatsapp", "recipient_type": "individual", "to": "966500000001",
                "biz_opaque_callback_data": "balagh-outbox-9", "type": "text",
                "text": { "preview_url": false, "body": "بلاغك 10000004 قيد المعالجة" },
            })
        );
    }

    #[test]
    fn outside_the_window_the_template_is_sent_with_its_body_parameters() {
        let template = WhatsappTemplate { name: "report_update".into(), language: "ar".into(), parameters: vec!["10000004".into(), "resolved".into()] };
        let content = Content { text: "ignored".into(), whatsapp_template: Some(template), ..Content::default() };
        let message = WhatsappProvider::message(&notification(content)).unwrap();
        assert_eq!(message["type"], "template");
        assert_eq!(
            message["template"],
            json!({ "name": "report_update", "language": { "code": "ar" }, "components": [
                { "type": "body", "parameters": [{ "type": "text", "text": "10000004" }, { "type": "text", "text": "resolved" }] }
            ]})
        );
    }

    #[test]
    fn outside_the_window_without_a_template_is_a_permanent_failure_naming_it() {
        let Err(SendError::Permanent { reason }) = WhatsappProvider::message(&notification(Content::default())) else { panic!("expected a permanent failure") };
        assert!(reason.contains("no whatsapp template"), "{reason}");
    }

    #[test]
    fn a_recipient_that_is_not_a_number_is_refused() {
        let content = Content { whatsapp_session_open: true, ..Content::default() };
        let result = WhatsappProvider::message(&Notification { address: "someone@example.com".into(), ..notification(content) });
        assert!(matches!(result, Err(SendError::Permanent { .. })));
    }

    fn answer(status: u16, body: serde_json::Value) -> Answer {
        Answer { status: reqwest::StatusCode::from_u16(status).unwrap(), retry_after: None, body: body.to_string() }
    }

    #[test]
    fn throttling_codes_are_temporary_even_when_answered_400() {
        let error = json!({ "error": { "message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429, "fbtrace_id": "Az8" } });
        let failure = WhatsappProvider::failure(&answer(400, error));
        assert!(matches!(&failure, SendError::Temporary { reason, .. } if reason.contains("code 130429") && reason.contains("Rate limit hit")), "{failure:?}");
    }

    #[test]
    fn re_engagement_required_is_permanent_with_metas_message() {
        let error = json!({ "error": { "message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
            "error_data": { "messaging_product": "whatsapp", "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number." },
            "fbtrace_id": "Az8" } });
        let SendError::Permanent { reason } = WhatsappProvider::failure(&answer(400, error)) else { panic!("expected a permanent failure") };
        assert_eq!(
            reason,
            "whatsapp answered 400 (code 131047): (#131047) Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number. (fbtrace_id Az8)"
        );
    }

    #[test]
    fn debug_output_hides_the_access_token() {
        let debug = format!("{:?}", WhatsappConfig::new("1234567890", "EAAG-secret"));
        assert!(!debug.contains("EAAG-secret"), "{debug}");
    }
}
