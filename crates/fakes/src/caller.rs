//! A caller on the phone: plays one inbound call against Balagh's voice webhooks exactly as a
//! Twilio-compatible provider does (signed form POSTs, the call's parameters on every request, the
//! documents' verbs walked in order), for tests, the benchmark and `balagh ivr call`.

use balagh_notify::twilio::{SIGNATURE_HEADER, signature};
use balagh_voice::dialog::{Dialog, Verb};
use balagh_voice::markup::{Markup, MarkupError};
use reqwest::Url;
use reqwest::header;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Twilio's API version, in every request and recording URL.
const API_VERSION: &str = "2010-04-01";

/// The response header in which Balagh names the ticket a call just opened.
pub const TICKET_HEADER: &str = "Balagh-Ticket";

/// How long Twilio waits for a webhook to answer before it gives up on the call.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);

/// Redirects followed in a row without the caller doing anything; more means the documents loop.
const MAX_REDIRECTS_WITHOUT_INPUT: usize = 20;

/// Where recordings live unless told otherwise: Twilio's API.
pub const DEFAULT_RECORDINGS_BASE: &str = "https://api.twilio.com";

/// How to place a call: where it goes and who it is from.
#[derive(Clone)]
pub struct CallerOptions {
    /// The incoming-call webhook, exactly as the server signs it: its public base URL plus path.
    pub url: String,
    /// The account's auth token, which signs every request.
    pub auth_token: String,
    /// The markup the server answers in.
    pub markup: Markup,
    /// The caller's number (`From`).
    pub from: String,
    /// The number called (`To`).
    pub to: String,
    /// The account (`AccountSid`); a random `AC…` when not given.
    pub account_sid: Option<String>,
    /// Where recording URLs point: `{recordings_base}/2010-04-01/Accounts/{AccountSid}/Recordings/RE…`.
    pub recordings_base: String,
    /// Where the call's final status goes; by default the dial URL's origin + `/ivr/status`.
    pub status_callback: Option<String>,
    /// The HTTP client to send with, shared by many calls as a provider's webhook sender shares
    /// its pool of kept-alive connections; by default the call builds its own.
    pub client: Option<reqwest::Client>,
}

impl CallerOptions {
    /// A TwiML call to `url` signed with `auth_token`, from a Saudi mobile number to 940.
    pub fn new(url: impl Into<String>, auth_token: impl Into<String>) -> CallerOptions {
        CallerOptions {
            url: url.into(),
            auth_token: auth_token.into(),
            markup: Markup::Twiml,
            from: "+966501234567".to_owned(),
            to: "940".to_owned(),
            account_sid: None,
            recordings_base: DEFAULT_RECORDINGS_BASE.to_owned(),
            status_callback: None,
            client: None,
        }
    }

    /// The client callers build for themselves: no redirects, the provider's webhook timeout.
    pub fn client() -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(WEBHOOK_TIMEOUT).build()
    }
}

impl fmt::Debug for CallerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallerOptions")
            .field("url", &self.url)
            .field("auth_token", &"<redacted>")
            .field("markup", &self.markup)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("account_sid", &self.account_sid)
            .field("recordings_base", &self.recordings_base)
            .field("status_callback", &self.status_callback)
            .field("shared_client", &self.client.is_some())
            .finish()
    }
}

/// What the call is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Keys for a `Gather`: `press`.
    Keys,
    /// The caller's message for a `Record`: `record`.
    Recording,
    /// The agent a queue or a dial connected, to hang up: `agent_hangs_up`.
    Agent,
    /// Nothing: the call has ended.
    Ended,
}

impl fmt::Display for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Waiting::Keys => "keys",
            Waiting::Recording => "a recording",
            Waiting::Agent => "the agent",
            Waiting::Ended => "nothing (the call has ended)",
        })
    }
}

/// One request a call made, timed as the provider sees it: from sending it to having read the whole
/// answer (a request that got no answer is not timed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTiming {
    pub url: String,
    pub status: u16,
    /// When it was sent.
    pub started: Instant,
    pub elapsed: Duration,
}

/// Why a call could not go on.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// A URL in the options or in a document that is not a URL (relative ones are resolved
    /// against the document's own URL first).
    #[error("{url:?} is not a url")]
    Url { url: String },
    #[error("cannot reach {url}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered a request with a status outside 2xx.
    #[error("{url} answered {status}: {}", excerpt(body))]
    Http { url: String, status: u16, body: String },
    /// The server's answer is not a document in the call's markup.
    #[error("the answer of {url} is not a {markup} document")]
    Markup {
        url: String,
        markup: Markup,
        #[source]
        source: MarkupError,
    },
    /// `press`, `record` or `agent_hangs_up` while the call waits for something else.
    #[error("the call waits for {waiting}, not for {expected}")]
    NotWaiting { expected: Waiting, waiting: Waiting },
    /// The documents kept redirecting without asking the caller anything.
    #[error("more than {MAX_REDIRECTS_WITHOUT_INPUT} redirects in a row without input, the last to {url}")]
    RedirectLoop { url: String },
}

/// The start of a long answer body, for error messages.
fn excerpt(body: &str) -> String {
    const LIMIT: usize = 500;
    match body.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}…", &body[..end]),
        None => body.to_owned(),
    }
}

/// What a call waits on, with what it needs to go on.
#[derive(Debug, Clone)]
enum Position {
    Keys { action: Url, num_digits: Option<u32>, finish_on_key: char, rest: Rest },
    Recording { action: Url, max_length_seconds: u32, finish_on_key: char, transcribe_callback: Option<Url>, rest: Rest },
    Agent { connection: Connection, action: Option<Url>, rest: Rest },
    Ended,
}

impl Position {
    fn waiting(&self) -> Waiting {
        match self {
            Position::Keys { .. } => Waiting::Keys,
            Position::Recording { .. } => Waiting::Recording,
            Position::Agent { .. } => Waiting::Agent,
            Position::Ended => Waiting::Ended,
        }
    }
}

/// How the caller reached an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    Queue,
    Dial,
}

/// The verbs of a document still to run, with the URL relative URLs in them are resolved against.
#[derive(Debug, Clone)]
struct Rest {
    verbs: Vec<Verb>,
    document_url: Url,
}

/// One inbound call in progress, as the provider sees it.
pub struct Caller {
    client: reqwest::Client,
    auth_token: String,
    markup: Markup,
    call_sid: String,
    account_sid: String,
    from: String,
    to: String,
    recordings_base: String,
    status_callback: Url,
    started: Instant,
    /// Whether the first request (`CallStatus=ringing`) has been made.
    answered: bool,
    /// The URL of the last document fetched.
    document_url: Url,
    /// The last document's session values, which a VoiceXML browser submits with every request.
    session: Vec<(String, String)>,
    heard: Vec<String>,
    transcript: Vec<String>,
    position: Position,
    ticket: Option<String>,
    /// Whether the call is over for good (the position is also `Ended` while a request is out).
    finished: bool,
    status_sent: bool,
    /// Every answered request, in order (`send` takes `&self`, hence the lock).
    timings: Mutex<Vec<RequestTiming>>,
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("call_sid", &self.call_sid)
            .field("markup", &self.markup)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("document_url", &self.document_url.as_str())
            .field("waiting", &self.position.waiting())
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// Places the call: posts to the incoming-call URL (`CallStatus=ringing`) and plays the answer
    /// until the call waits for the caller or ends.
    pub async fn dial(options: CallerOptions) -> Result<Caller, CallerError> {
        let url = parse_url(&options.url)?;
        let status_callback = match &options.status_callback {
            Some(callback) => parse_url(callback)?,
            None => url.join("/ivr/status").map_err(|_| CallerError::Url { url: options.url.clone() })?,
        };
        let client = match options.client {
            Some(client) => client,
            None => CallerOptions::client().map_err(|source| CallerError::Transport { url: options.url.clone(), source })?,
        };
        let mut caller = Caller {
            client,
            auth_token: options.auth_token,
            markup: options.markup,
            call_sid: random_sid("CA"),
            account_sid: options.account_sid.unwrap_or_else(|| random_sid("AC")),
            from: options.from,
            to: options.to,
            recordings_base: options.recordings_base.trim_end_matches('/').to_owned(),
            status_callback,
            started: Instant::now(),
            answered: false,
            document_url: url.clone(),
            session: Vec::new(),
            heard: Vec::new(),
            transcript: Vec::new(),
            position: Position::Ended,
            ticket: None,
            finished: false,
            status_sent: false,
            timings: Mutex::new(Vec::new()),
        };
        caller.fetch_and_play(url, Vec::new()).await?;
        Ok(caller)
    }

    /// Presses `keys` at the waiting `Gather` and plays what its action answers. As on a phone,
    /// keys after the gather's finishing key (`#` unless it says otherwise) or beyond its number
    /// of digits are not sent; `""` (or the finishing key first) is no input: the call goes on
    /// with the verbs after the gather, without a request.
    pub async fn press(&mut self, keys: &str) -> Result<(), CallerError> {
        let (action, num_digits, finish_on_key, rest) = match self.take_position() {
            Position::Keys { action, num_digits, finish_on_key, rest } => (action, num_digits, finish_on_key, rest),
            other => return Err(self.not_waiting(Waiting::Keys, other)),
        };
        self.heard.clear();
        let mut digits: String = keys.chars().take_while(|key| *key != finish_on_key).collect();
        if let Some(limit) = num_digits {
            digits = digits.chars().take(limit as usize).collect();
        }
        if digits.is_empty() {
            return self.play_guarded(rest).await;
        }
        self.fetch_and_play(action, vec![("Digits".to_owned(), digits)]).await
    }

    /// Says a message of `duration_seconds` at the waiting `Record` (cut at its maximum length),
    /// ends it with the finishing key and plays what its action answers; then, when the record
    /// asked for one and `transcription` is given, delivers the transcription to its callback,
    /// later and separately, as Twilio does. A duration of 0 is silence: like Twilio with an
    /// empty recording, the call goes on with the verbs after the record, without a request.
    pub async fn record(&mut self, duration_seconds: u32, transcription: Option<&str>) -> Result<(), CallerError> {
        let (action, max_length_seconds, finish_on_key, transcribe_callback, rest) = match self.take_position() {
            Position::Recording { action, max_length_seconds, finish_on_key, transcribe_callback, rest } => {
                (action, max_length_seconds, finish_on_key, transcribe_callback, rest)
            }
            other => return Err(self.not_waiting(Waiting::Recording, other)),
        };
        self.heard.clear();
        if duration_seconds == 0 {
            return self.play_guarded(rest).await;
        }
        let recording_sid = random_sid("RE");
        let recording_url = format!("{}/{API_VERSION}/Accounts/{}/Recordings/{recording_sid}", self.recordings_base, self.account_sid);
        let duration = duration_seconds.min(max_length_seconds.max(1));
        let params = pairs(&[
            ("RecordingUrl", recording_url.as_str()),
            ("RecordingSid", recording_sid.as_str()),
            ("RecordingDuration", &duration.to_string()),
            ("Digits", &finish_on_key.to_string()),
        ]);
        self.fetch_and_play(action, params).await?;
        if let (Some(callback), Some(text)) = (transcribe_callback, transcription) {
            let params = pairs(&[
                ("TranscriptionText", text),
                ("TranscriptionStatus", "completed"),
                ("TranscriptionSid", &random_sid("TR")),
                ("RecordingSid", recording_sid.as_str()),
                ("RecordingUrl", recording_url.as_str()),
            ]);
            let (status, body) = self.send(&callback, self.params(params)).await?;
            if !(200..300).contains(&status) {
                return Err(CallerError::Http { url: callback.to_string(), status, body });
            }
        }
        Ok(())
    }

    /// The agent the caller was connected to hangs up. With an action, the queue
    /// (`QueueResult=bridged`, `QueueTime=30`) or the dial (`DialCallStatus=completed`,
    /// `DialCallDuration=60`) reports there and the answer is played; without one, the call goes
    /// on with the verbs after the `Enqueue` or `Dial`, as Twilio does (usually none: it ends).
    pub async fn agent_hangs_up(&mut self) -> Result<(), CallerError> {
        let (connection, action, rest) = match self.take_position() {
            Position::Agent { connection, action, rest } => (connection, action, rest),
            other => return Err(self.not_waiting(Waiting::Agent, other)),
        };
        self.heard.clear();
        let Some(action) = action else {
            return self.play_guarded(rest).await;
        };
        let params = match connection {
            Connection::Queue => pairs(&[("QueueResult", "bridged"), ("QueueTime", "30"), ("QueueSid", &random_sid("QU"))]),
            Connection::Dial => pairs(&[("DialCallStatus", "completed"), ("DialCallDuration", "60"), ("DialCallSid", &random_sid("CA"))]),
        };
        self.fetch_and_play(action, params).await
    }

    /// Ends the call (the caller hangs up, if it had not ended) and reports it to the status
    /// callback (`CallStatus=completed`, `CallDuration`), once: later calls do nothing.
    pub async fn hang_up(&mut self) -> Result<(), CallerError> {
        self.end();
        if self.status_sent {
            return Ok(());
        }
        self.status_sent = true;
        let seconds = self.started.elapsed().as_secs();
        let params = pairs(&[
            ("CallDuration", &seconds.to_string()),
            ("Duration", &seconds.div_ceil(60).max(1).to_string()),
            ("CallbackSource", "call-progress-events"),
            ("SequenceNumber", "0"),
            ("Timestamp", &jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()),
        ]);
        let url = self.status_callback.clone();
        let (status, body) = self.send(&url, self.params(params)).await?;
        if !(200..300).contains(&status) {
            return Err(CallerError::Http { url: url.to_string(), status, body });
        }
        Ok(())
    }

    /// Signs and sends one request as this call would (its parameters, then `extra_params`, which
    /// replace parameters of the same name) and returns the status and body, without playing
    /// them: for replays and bad input. A relative `url` is resolved against the last document's.
    pub async fn post(&self, url: &str, extra_params: &[(&str, &str)]) -> Result<(u16, String), CallerError> {
        let url = self.document_url.join(url).map_err(|_| CallerError::Url { url: url.to_owned() })?;
        self.send(&url, self.params(pairs(extra_params))).await
    }

    /// Whether the call has ended (hung up by either side, or the document ran out).
    pub fn ended(&self) -> bool {
        matches!(self.position, Position::Ended)
    }

    /// What the call waits for.
    pub fn waiting(&self) -> Waiting {
        self.position.waiting()
    }

    /// What the caller heard since his last input (or since dialling), in order.
    pub fn heard(&self) -> &[String] {
        &self.heard
    }

    /// Everything the caller heard during the call, in order.
    pub fn transcript(&self) -> &[String] {
        &self.transcript
    }

    /// The ticket the call opened, from the latest `Balagh-Ticket` header the server sent.
    pub fn ticket(&self) -> Option<&str> {
        self.ticket.as_deref()
    }

    /// Every request of the call that got an answer, in order, with its status and how long it
    /// took: for measuring a server's webhooks.
    pub fn request_timings(&self) -> Vec<RequestTiming> {
        self.timings.lock().expect("timings lock").clone()
    }

    /// `CA` + 32 lowercase hex digits.
    pub fn call_sid(&self) -> &str {
        &self.call_sid
    }

    /// The `AccountSid` the call carries.
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    fn end(&mut self) {
        self.position = Position::Ended;
        self.finished = true;
    }

    /// Takes the position to act on it; `not_waiting` puts back one that was not for the input.
    fn take_position(&mut self) -> Position {
        std::mem::replace(&mut self.position, Position::Ended)
    }

    /// Puts back a position that does not wait for the `expected` input, and says so.
    fn not_waiting(&mut self, expected: Waiting, position: Position) -> CallerError {
        let waiting = position.waiting();
        self.position = position;
        CallerError::NotWaiting { expected, waiting }
    }

    /// Fetches a document and plays it; on any failure the call ends, as Twilio ends a call whose
    /// application fails.
    async fn fetch_and_play(&mut self, url: Url, extra: Vec<(String, String)>) -> Result<(), CallerError> {
        let result = async {
            let dialog = self.fetch(url.clone(), extra).await?;
            self.play(Rest { verbs: dialog.verbs, document_url: url }).await
        }
        .await;
        if result.is_err() {
            self.end();
        }
        result
    }

    async fn play_guarded(&mut self, rest: Rest) -> Result<(), CallerError> {
        let result = self.play(rest).await;
        if result.is_err() {
            self.end();
        }
        result
    }

    /// Runs verbs until one waits for the caller or the document ends, following redirects.
    async fn play(&mut self, rest: Rest) -> Result<(), CallerError> {
        let mut verbs: VecDeque<Verb> = rest.verbs.into();
        let mut document_url = rest.document_url;
        let mut redirects = 0;
        while let Some(verb) = verbs.pop_front() {
            let rest = |verbs: VecDeque<Verb>, document_url: &Url| Rest { verbs: verbs.into(), document_url: document_url.clone() };
            match verb {
                Verb::Say { text, .. } => self.hear(text),
                Verb::Pause(_) => {}
                Verb::Gather { action, num_digits, finish_on_key, prompts, .. } => {
                    for prompt in prompts {
                        if let Verb::Say { text, .. } = prompt {
                            self.hear(text);
                        }
                    }
                    let action = resolve(&document_url, &action)?;
                    self.position = Position::Keys { action, num_digits, finish_on_key: finish_on_key.unwrap_or('#'), rest: rest(verbs, &document_url) };
                    return Ok(());
                }
                Verb::Record { action, max_length_seconds, finish_on_key, transcribe_callback, .. } => {
                    let action = resolve(&document_url, &action)?;
                    let transcribe_callback = transcribe_callback.map(|callback| resolve(&document_url, &callback)).transpose()?;
                    self.position = Position::Recording { action, max_length_seconds, finish_on_key, transcribe_callback, rest: rest(verbs, &document_url) };
                    return Ok(());
                }
                Verb::Redirect(url) => {
                    redirects += 1;
                    let url = resolve(&document_url, &url)?;
                    if redirects > MAX_REDIRECTS_WITHOUT_INPUT {
                        return Err(CallerError::RedirectLoop { url: url.to_string() });
                    }
                    verbs = self.fetch(url.clone(), Vec::new()).await?.verbs.into();
                    document_url = url;
                }
                Verb::Enqueue { wait_url, action, .. } => {
                    let action = action.map(|action| resolve(&document_url, &action)).transpose()?;
                    if let Some(wait_url) = wait_url {
                        self.hold(resolve(&document_url, &wait_url)?).await?;
                    }
                    self.position = Position::Agent { connection: Connection::Queue, action, rest: rest(verbs, &document_url) };
                    return Ok(());
                }
                Verb::Dial { action, .. } => {
                    let action = action.map(|action| resolve(&document_url, &action)).transpose()?;
                    self.position = Position::Agent { connection: Connection::Dial, action, rest: rest(verbs, &document_url) };
                    return Ok(());
                }
                Verb::Hangup => break,
            }
        }
        self.end();
        Ok(())
    }

    /// Plays the queue's wait document once, as the caller enters the queue: what it says is
    /// heard; its other verbs (the redirect that loops the hold music) are not run.
    async fn hold(&mut self, wait_url: Url) -> Result<(), CallerError> {
        let params = pairs(&[("QueueSid", &random_sid("QU")), ("QueuePosition", "1"), ("QueueTime", "0"), ("AvgQueueTime", "0"), ("CurrentQueueSize", "1")]);
        let dialog = self.fetch(wait_url, params).await?;
        for text in dialog.spoken() {
            self.hear(text.to_owned());
        }
        Ok(())
    }

    fn hear(&mut self, text: String) {
        self.transcript.push(text.clone());
        self.heard.push(text);
    }

    /// Posts to `url` and reads the answer as a document, keeping the ticket header and, for
    /// VoiceXML, the session values.
    async fn fetch(&mut self, url: Url, extra: Vec<(String, String)>) -> Result<Dialog, CallerError> {
        let params = self.params(extra);
        let started = Instant::now();
        let response = self.request(&url, &params).await?;
        self.answered = true;
        let status = response.status().as_u16();
        if let Some(ticket) = response.headers().get(TICKET_HEADER).and_then(|value| value.to_str().ok()) {
            self.ticket = Some(ticket.trim().to_owned());
        }
        let body = response.text().await.map_err(|source| CallerError::Transport { url: url.to_string(), source })?;
        self.timed(&url, status, started);
        if !(200..300).contains(&status) {
            return Err(CallerError::Http { url: url.to_string(), status, body });
        }
        let dialog = self.markup.parse(&body).map_err(|source| CallerError::Markup { url: url.to_string(), markup: self.markup, source })?;
        if matches!(self.markup, Markup::VoiceXml) {
            self.session = dialog.session.clone();
        }
        self.document_url = url;
        Ok(dialog)
    }

    /// Sends one signed request and reads its answer, playing nothing.
    async fn send(&self, url: &Url, params: Vec<(String, String)>) -> Result<(u16, String), CallerError> {
        let started = Instant::now();
        let response = self.request(url, &params).await?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|source| CallerError::Transport { url: url.to_string(), source })?;
        self.timed(url, status, started);
        Ok((status, body))
    }

    fn timed(&self, url: &Url, status: u16, started: Instant) {
        let timing = RequestTiming { url: url.to_string(), status, started, elapsed: started.elapsed() };
        self.timings.lock().expect("timings lock").push(timing);
    }

    async fn request(&self, url: &Url, params: &[(String, String)]) -> Result<reqwest::Response, CallerError> {
        self.client
            .post(url.clone())
            .header(SIGNATURE_HEADER, signature(&self.auth_token, url.as_str(), params))
            .header("I-Twilio-Idempotency-Token", random_sid(""))
            .header(header::USER_AGENT, "TwilioProxy/1.1")
            .form(params)
            .send()
            .await
            .map_err(|source| CallerError::Transport { url: url.to_string(), source })
    }

    /// The call's parameters, the session values (VoiceXML), then `extra`; a later value replaces
    /// an earlier one of the same name.
    fn params(&self, extra: Vec<(String, String)>) -> Vec<(String, String)> {
        let status = if !self.answered {
            "ringing"
        } else if self.finished {
            "completed"
        } else {
            "in-progress"
        };
        let mut params = pairs(&[
            ("CallSid", self.call_sid.as_str()),
            ("AccountSid", self.account_sid.as_str()),
            ("From", self.from.as_str()),
            ("To", self.to.as_str()),
            ("CallStatus", status),
            ("Direction", "inbound"),
            ("ApiVersion", API_VERSION),
        ]);
        for (name, value) in self.session.iter().cloned().chain(extra) {
            match params.iter_mut().find(|(existing, _)| *existing == name) {
                Some(existing) => existing.1 = value,
                None => params.push((name, value)),
            }
        }
        params
    }
}

fn parse_url(url: &str) -> Result<Url, CallerError> {
    Url::parse(url).map_err(|_| CallerError::Url { url: url.to_owned() })
}

/// `url` as a document at `base` names it: absolute, or relative to the document's URL.
fn resolve(base: &Url, url: &str) -> Result<Url, CallerError> {
    base.join(url).map_err(|_| CallerError::Url { url: url.to_owned() })
}

fn pairs(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

/// `prefix` + 32 random lowercase hex digits, as Twilio's SIDs are written.
fn random_sid(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_a_prefix_and_32_lowercase_hex_digits() {
        let sid = random_sid("CA");
        assert_eq!(sid.len(), 34);
        assert!(sid.starts_with("CA"));
        assert!(sid[2..].chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "{sid}");
    }

    #[test]
    fn relative_actions_are_resolved_against_the_document_url() {
        let base = Url::parse("https://940.example/ivr/menu?step=1").unwrap();
        assert_eq!(resolve(&base, "/ivr/answer?x=1").unwrap().as_str(), "https://940.example/ivr/answer?x=1");
        assert_eq!(resolve(&base, "next").unwrap().as_str(), "https://940.example/ivr/next");
        assert_eq!(resolve(&base, "http://other.example/a").unwrap().as_str(), "http://other.example/a");
    }

    #[test]
    fn long_bodies_are_cut_in_error_messages() {
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"ب".repeat(600)).chars().count(), 501);
    }
}
