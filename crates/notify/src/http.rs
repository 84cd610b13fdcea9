//! The HTTP plumbing every outbound HTTP provider shares: how its client is built, and how what
//! came back (a status, a `Retry-After`, a timeout, a refused connection) becomes a `SendError`.
//!
//! The rule, written once: 2xx is accepted; 408, 429 and 5xx are worth retrying (after the
//! service's `Retry-After`, in seconds or as an HTTP date, when it gave one); any other status,
//! redirects included, is permanent. A request that never got an answer (no connection, a
//! timeout, a broken response) is temporary. A provider may treat a status-level permanent
//! answer as temporary when the service's own error code says so (WhatsApp's throttling codes).

use crate::SendError;
use std::time::Duration;

/// The HTTP client could not be built (the TLS backend failed to initialise).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the http client: {0}")]
pub struct ClientError(reqwest::Error);

/// A client for one outside service: `timeout` bounds each whole request (connect, send, answer),
/// redirects are not followed (a signed or authenticated POST must not wander), and connections
/// are pooled and reused.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("balagh/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(ClientError)
}

/// What an outside service answered to a request that reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: reqwest::StatusCode,
    /// The service's `Retry-After`, as a wait from when it answered.
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// Whether the status alone says a later try may succeed: 408, 429 and 5xx.
    pub fn is_temporary(&self) -> bool {
        let status = self.status;
        status == reqwest::StatusCode::REQUEST_TIMEOUT || status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
    }

    /// The failure this answer means by its status alone, with `reason` as its message.
    pub fn failure(&self, reason: String) -> SendError {
        if self.is_temporary() { self.temporary(reason) } else { SendError::Permanent { reason } }
    }

    /// A failure worth retrying whatever the status, after the service's `Retry-After`.
    pub fn temporary(&self, reason: String) -> SendError {
        SendError::Temporary { reason, retry_after: self.retry_after }
    }

    /// `answered 503: <the start of the body>`, for errors whose body is not the service's
    /// structured error.
    pub fn describe(&self) -> String {
        let excerpt = excerpt(&self.body);
        if excerpt.is_empty() {
            format!("answered {} with an empty body", self.status.as_u16())
        } else {
            format!("answered {}: {excerpt}", self.status.as_u16())
        }
    }
}

/// Sends `request` to `service` (a name for messages: `twilio`, `webhook endpoint gis`) and reads
/// the whole answer. Only a request that got no answer is an error here, always temporary; the
/// caller judges the answer. A 2xx whose body could not be read is still returned (with an empty
/// body): the service accepted the message, and retrying would send it twice.
pub(crate) async fn send(service: &str, request: reqwest::RequestBuilder) -> Result<Answer, SendError> {
    let response = request.send().await.map_err(|error| unanswered(service, &error))?;
    let status = response.status();
    let retry_after =
        response.headers().get(reqwest::header::RETRY_AFTER).and_then(|value| value.to_str().ok()).and_then(|value| retry_after(value, jiff::Timestamp::now()));
    let body = match response.text().await {
        Ok(body) => body,
        Err(error) if status.is_success() => {
            tracing::warn!(target: "balagh::notify", "{service} accepted the request but its answer could not be read: {}", error_chain(&error));
            String::new()
        }
        Err(error) => return Err(unanswered(service, &error)),
    };
    Ok(Answer { status, retry_after, body })
}

/// The temporary failure of a request that got no (whole) answer.
fn unanswered(service: &str, error: &reqwest::Error) -> SendError {
    let cause = error_chain(error);
    let reason = if error.is_timeout() {
        format!("{service} did not answer in time: {cause}")
    } else if error.is_connect() {
        format!("cannot connect to {service}: {cause}")
    } else {
        format!("request to {service} failed: {cause}")
    };
    SendError::Temporary { reason, retry_after: None }
}

/// An error and its causes, `: `-separated (reqwest's own message rarely says why); a cause its
/// error already quotes, or a part repeated in a row (lettre's "Connection error: Connection
/// error: …"), is said once.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split(": ") {
        if parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    parts.join(": ")
}

/// A `Retry-After` value (delay seconds, or an HTTP date) as a wait from `now`; a date in the past
/// is no wait at all.
pub(crate) fn retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(value).ok()?;
    Some(Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO))
}

/// The start of a body, on one line, for an error message.
pub(crate) fn excerpt(body: &str) -> String {
    const LIMIT: usize = 300;
    let one_line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Answer {
        Answer { status: reqwest::StatusCode::from_u16(status).unwrap(), retry_after: Some(Duration::from_secs(3)), body: String::new() }
    }

    #[test]
    fn timeouts_rate_limits_and_server_errors_are_temporary_other_statuses_permanent() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(answer(status).failure("x".into()), SendError::Temporary { retry_after: Some(_), .. }), "{status}");
        }
        for status in [301, 400, 401, 403, 404, 409, 413, 422] {
            assert!(matches!(answer(status).failure("x".into()), SendError::Permanent { .. }), "{status}");
        }
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now: jiff::Timestamp = "2026-03-01T08:00:00Z".parse().unwrap();
        assert_eq!(retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Sun, 01 Mar 2026 08:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Sun, 01 Mar 2026 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

    #[test]
    fn an_answer_is_described_by_its_status_and_the_start_of_its_body() {
        assert_eq!(answer(502).describe(), "answered 502 with an empty body");
        let long = Answer { body: format!("bad\n gateway {}", "x".repeat(400)), ..answer(502) };
        let described = long.describe();
        assert!(described.starts_with("answered 502: bad gateway xxx"), "{described}");
        assert!(described.ends_with('…'));
    }
}
