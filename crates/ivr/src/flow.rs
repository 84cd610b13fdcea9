//! The IVR call flow. A call is a state machine kept in the store by the provider's CallSid: each
//! webhook request loads it, applies the caller's input, saves it from the step it read (so two
//! processes cannot both move a call on), and answers with the next `Dialog`. A request for a step
//! already answered, with the same input, gets the same answer again (providers retry); any other
//! stale or early request hears the current prompt and changes nothing. Every decision about a
//! report (open, follow up, rate) is an application command; nothing half-done becomes a report,
//! because a report is opened only when the caller confirms it.

use crate::menu::{self, Choice};
use crate::settings::IvrSettings;
use balagh_app::ivr::CallRated;
use balagh_app::{App, AppError, IvrCall};
use balagh_domain::catalogue::{Attribute, Service};
use balagh_domain::event::Actor;
use balagh_domain::rating::{InteractionRating, Score};
use balagh_domain::report::ReportDraft;
use balagh_domain::vocabulary::{Channel, ContactKind};
use balagh_domain::{PhoneNumber, TicketNumber};
use balagh_i18n::{Arg, LANGUAGES, digits_spoken, gregorian_date, status_name, text};
use balagh_voice::dialog::{Dialog, Verb};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Why a request was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum IvrError {
    #[error("call '{0}' is not known: it never started with a request to /ivr/voice")]
    UnknownCall(String),
    #[error("call '{0}' has ended")]
    Ended(String),
    #[error("{0}")]
    Rejected(String),
    #[error("the stored state of call '{0}' cannot be read: {1}")]
    Corrupt(String, String),
    #[error(transparent)]
    App(#[from] AppError),
}

/// One webhook request of a call.
#[derive(Debug, Clone)]
pub struct Request {
    pub call_sid: String,
    /// The caller id, as the provider gives it.
    pub from: Option<String>,
    pub step: Step,
}

/// What the request is.
#[derive(Debug, Clone, Default)]
pub enum Step {
    /// The call came in.
    #[default]
    Incoming,
    /// The answer to a prompt.
    Input(Input),
}

/// The answer to the prompt of step `step`: keys, a recording, or how the agent call ended.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub step: i64,
    pub digits: Option<String>,
    pub recording_url: Option<String>,
    pub recording_seconds: Option<u32>,
    /// `<Enqueue>`'s `QueueResult` or `<Dial>`'s `DialCallStatus`.
    pub agent_result: Option<String>,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub dialog: Dialog,
    /// The ticket number of the report this step opened.
    pub ticket: Option<String>,
}

/// What a transcription did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transcribed {
    /// It became the description of the report the call opened.
    Described,
    /// The report has a description already; it was kept.
    Kept,
    /// The call is still going: it is held for the report the caller may confirm.
    Held,
    /// The provider reports a failed transcription, or an empty one.
    Ignored,
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
enum Stage {
    #[default]
    Language,
    Main,
    Group {
        page: usize,
    },
    Service {
        page: usize,
    },
    /// The `index`th required attribute of the service (a list by menu, a number by keys).
    Attribute {
        index: usize,
        page: usize,
    },
    /// How the caller gives the place: by city and district menus, or on a map from a text
    /// message's link.
    Place,
    City {
        page: usize,
    },
    District {
        page: usize,
    },
    Record,
    Callback,
    CallbackEntry,
    Confirm,
    TicketEntry {
        follow_up: bool,
    },
    Status,
    /// After a report was opened or followed up: back to the main menu, or goodbye.
    Done,
    Inquiry,
    Agent,
    SurveyAgent,
    SurveyAnswer,
    Ended,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Language => "language",
            Stage::Main => "main",
            Stage::Group { .. } => "group",
            Stage::Service { .. } => "service",
            Stage::Attribute { .. } => "details",
            Stage::Place => "place",
            Stage::City { .. } => "city",
            Stage::District { .. } => "district",
            Stage::Record => "record",
            Stage::Callback | Stage::CallbackEntry => "callback",
            Stage::Confirm => "confirm",
            Stage::TicketEntry { follow_up: false } | Stage::Status => "status",
            Stage::TicketEntry { follow_up: true } => "follow_up",
            Stage::Done => "done",
            Stage::Inquiry => "inquiry",
            Stage::Agent => "agent",
            Stage::SurveyAgent | Stage::SurveyAnswer => "survey",
            Stage::Ended => "ended",
        }
    }
}

/// The report being put together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Draft {
    group: Option<String>,
    service: Option<String>,
    #[serde(default)]
    attributes: std::collections::BTreeMap<String, Vec<String>>,
    city: Option<usize>,
    district: Option<usize>,
    recording: Option<String>,
    callback: Option<String>,
    /// The caller marks the place on a map from a link sent by text message.
    #[serde(default)]
    pin: bool,
}

/// A call's state between requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    stage: Stage,
    attempts: u8,
    #[serde(default)]
    draft: Draft,
    /// The report the caller asked about.
    #[serde(default)]
    ticket: Option<String>,
    /// The report this call opened.
    #[serde(default)]
    opened: Option<String>,
    /// A transcription that came before the report was confirmed.
    #[serde(default)]
    transcription: Option<String>,
}

/// The common questions the inquiry menu answers, by key.
const FAQS: [&str; 3] = ["ivr-faq-hours", "ivr-faq-track", "ivr-faq-scope"];

/// Call statuses after which a call is over.
const FINAL_STATUSES: [&str; 5] = ["completed", "busy", "failed", "no-answer", "canceled"];

/// The IVR: the application and the deployment's settings.
#[derive(Clone)]
pub struct Ivr {
    app: App,
    settings: Arc<IvrSettings>,
}

impl Ivr {
    pub fn new(app: App, settings: Arc<IvrSettings>) -> Self {
        Self { app, settings }
    }

    pub fn settings(&self) -> &IvrSettings {
        &self.settings
    }

    /// Answers one webhook request of a call.
    pub async fn answer(&self, request: Request) -> Result<Reply, IvrError> {
        match request.step {
            Step::Incoming => self.incoming(&request).await,
            Step::Input(input) => self.input(&request.call_sid, input).await,
        }
    }

    async fn incoming(&self, request: &Request) -> Result<Reply, IvrError> {
        let now = self.app.now();
        if let Some(call) = self.app.ivr_call(&request.call_sid).await? {
            return self.again(call, "incoming");
        }
        let call = IvrCall {
            call_sid: request.call_sid.clone(),
            caller: request.from.as_deref().and_then(|from| PhoneNumber::parse("From", from).ok()).map(|p| p.as_str().to_owned()),
            language: balagh_i18n::DEFAULT_LANGUAGE.to_owned(),
            step: 1,
            state: String::new(),
            last_input: Some("incoming".into()),
            last_reply: None,
            report_id: None,
            path: Stage::Language.name().to_owned(),
            started_at: now,
            updated_at: now,
            ended_at: None,
            duration_seconds: None,
            agent_service: None,
            answer_quality: None,
        };
        let turn = Turn { ivr: self, call, state: State::default(), said: Vec::new(), opened: None };
        let reply = turn.reply();
        let call = turn.stored(&reply)?;
        if !self.app.start_ivr_call(&call).await? {
            let call = self.app.ivr_call(&request.call_sid).await?.ok_or_else(|| IvrError::UnknownCall(request.call_sid.clone()))?;
            return self.again(call, "incoming");
        }
        Ok(reply)
    }

    async fn input(&self, call_sid: &str, input: Input) -> Result<Reply, IvrError> {
        let Input { step, digits, recording_url, recording_seconds, agent_result } = input;
        let fingerprint =
            format!("{step}|{}|{}|{}", digits.as_deref().unwrap_or(""), recording_url.as_deref().unwrap_or(""), agent_result.as_deref().unwrap_or(""));
        let call = self.app.ivr_call(call_sid).await?.ok_or_else(|| IvrError::UnknownCall(call_sid.to_owned()))?;
        if step != call.step {
            return self.again(call, &fingerprint);
        }
        if call.ended_at.is_some() {
            return Err(IvrError::Ended(call.call_sid));
        }
        if let Some(url) = &recording_url
            && !self.settings.recording_prefixes.iter().any(|prefix| url.starts_with(prefix.as_str()))
        {
            return Err(IvrError::Rejected(format!("RecordingUrl '{url}' is not a recording of the voice provider's")));
        }
        let state = read_state(&call)?;
        let mut turn = Turn { ivr: self, call, state, said: Vec::new(), opened: None };
        turn.apply(digits.as_deref().map(str::trim).unwrap_or(""), recording_url.as_deref(), recording_seconds, agent_result.as_deref()).await?;
        turn.call.step = step + 1;
        let reply = turn.reply();
        let mut call = turn.stored(&reply)?;
        call.last_input = Some(fingerprint.clone());
        call.updated_at = self.app.now();
        if !self.app.save_ivr_call(&call, step).await? {
            let call = self.app.ivr_call(call_sid).await?.ok_or_else(|| IvrError::UnknownCall(call_sid.to_owned()))?;
            return self.again(call, &fingerprint);
        }
        if turn.state.stage == Stage::Ended {
            self.app.end_ivr_call(&call.call_sid, None).await?;
        }
        Ok(reply)
    }

    /// A request that does not move the call on: the stored answer when it repeats the request
    /// that got it, else the current prompt again.
    fn again(&self, call: IvrCall, fingerprint: &str) -> Result<Reply, IvrError> {
        if call.last_input.as_deref() == Some(fingerprint)
            && let Some(stored) = &call.last_reply
        {
            return serde_json::from_str(stored).map_err(|e| IvrError::Corrupt(call.call_sid.clone(), e.to_string()));
        }
        tracing::info!(call = %call.call_sid, step = call.step, "ivr request for another step; the current prompt is repeated");
        let state = read_state(&call)?;
        if state.stage == Stage::Ended || call.ended_at.is_some() {
            return Err(IvrError::Ended(call.call_sid));
        }
        let turn = Turn { ivr: self, call, state, said: Vec::new(), opened: None };
        Ok(turn.reply())
    }

    /// The provider's transcription of a call's recording.
    pub async fn transcription(&self, call_sid: &str, recording_url: Option<&str>, status: Option<&str>, text: Option<&str>) -> Result<Transcribed, IvrError> {
        for _ in 0..5 {
            let call = self.app.ivr_call(call_sid).await?.ok_or_else(|| IvrError::UnknownCall(call_sid.to_owned()))?;
            let mut state = read_state(&call)?;
            if recording_url.is_none() || state.draft.recording.as_deref() != recording_url {
                return Err(IvrError::Rejected(format!("RecordingUrl '{}' is not the recording of call '{call_sid}'", recording_url.unwrap_or_default())));
            }
            let text = text.map(str::trim).unwrap_or_default();
            if status != Some("completed") || text.is_empty() {
                return Ok(Transcribed::Ignored);
            }
            if let Some(ticket) = &state.opened {
                let ticket = TicketNumber::parse(ticket).map_err(|e| IvrError::Corrupt(call_sid.to_owned(), e.to_string()))?;
                let described = self.app.transcribed(ticket.report_id(), call_sid, text).await?;
                return Ok(if described { Transcribed::Described } else { Transcribed::Kept });
            }
            if call.ended_at.is_some() {
                return Err(IvrError::Ended(call_sid.to_owned()));
            }
            balagh_domain::report::Description::parse("TranscriptionText", text).map_err(AppError::from)?;
            state.transcription = Some(text.to_owned());
            let mut next = call.clone();
            next.state = serde_json::to_string(&state).map_err(|e| IvrError::Corrupt(call_sid.to_owned(), e.to_string()))?;
            if self.app.save_ivr_call(&next, call.step).await? {
                return Ok(Transcribed::Held);
            }
        }
        Err(AppError::Store(balagh_app::StoreError::Contention).into())
    }

    /// The provider's status callback for a call: a final status ends it. True when it ended it.
    pub async fn call_status(&self, call_sid: &str, status: &str, duration_seconds: Option<i64>) -> Result<bool, IvrError> {
        if self.app.ivr_call(call_sid).await?.is_none() {
            return Err(IvrError::UnknownCall(call_sid.to_owned()));
        }
        if !FINAL_STATUSES.contains(&status) {
            return Ok(false);
        }
        Ok(self.app.end_ivr_call(call_sid, duration_seconds).await?)
    }

    /// What a caller waiting for an agent hears, in his language, until one answers.
    pub fn waiting(&self, language: &str) -> Dialog {
        let speaker = Speaker { settings: &self.settings, language: balagh_i18n::negotiate(language).to_owned() };
        Dialog::new(say_code(&speaker.language), vec![speaker.say("ivr-agent-waiting", &[]), Verb::Pause(20)])
    }
}

fn read_state(call: &IvrCall) -> Result<State, IvrError> {
    serde_json::from_str(&call.state).map_err(|e| IvrError::Corrupt(call.call_sid.clone(), e.to_string()))
}

/// The platform code of a language's voice.
fn say_code(language: &str) -> String {
    balagh_app::delivery::say_language(language).to_owned()
}

/// Says texts in one language.
struct Speaker<'a> {
    settings: &'a IvrSettings,
    language: String,
}

impl Speaker<'_> {
    fn say(&self, key: &str, args: &[(&str, Arg)]) -> Verb {
        self.say_in(&self.language, key, args)
    }

    fn say_text(&self, text: String) -> Verb {
        Verb::Say { language: say_code(&self.language), voice: self.settings.voices.get(&self.language).cloned(), text }
    }

    fn say_in(&self, language: &str, key: &str, args: &[(&str, Arg)]) -> Verb {
        Verb::Say { language: say_code(language), voice: self.settings.voices.get(language).cloned(), text: text(language, key, args) }
    }

    /// Arabic or English, by the caller's language (the catalogue and places have both).
    fn name<'n>(&self, arabic: &'n str, english: &'n str) -> &'n str {
        if self.language == "ar" { arabic } else { english }
    }
}

/// One request's work on a call.
struct Turn<'a> {
    ivr: &'a Ivr,
    call: IvrCall,
    state: State,
    /// What the caller hears before the next prompt.
    said: Vec<Verb>,
    /// The ticket this turn opened.
    opened: Option<String>,
}

impl Turn<'_> {
    fn speaker(&self) -> Speaker<'_> {
        Speaker { settings: &self.ivr.settings, language: self.call.language.clone() }
    }

    fn say(&mut self, key: &str, args: &[(&str, Arg)]) {
        let verb = self.speaker().say(key, args);
        self.said.push(verb);
    }

    fn go(&mut self, stage: Stage) {
        if stage.name() != self.state.stage.name() {
            self.call.path = format!("{}>{}", self.call.path, stage.name());
        }
        self.state.stage = stage;
        self.state.attempts = 0;
    }

    /// The input was not understood: ask again, or after too many tries put the caller through to
    /// an agent (a survey just ends).
    fn retry(&mut self, key: &str, args: &[(&str, Arg)]) {
        self.state.attempts += 1;
        if self.state.attempts >= self.ivr.settings.max_attempts.max(1) {
            self.say("ivr-too-many", &[]);
            let next = if matches!(self.state.stage, Stage::SurveyAgent | Stage::SurveyAnswer) { Stage::Ended } else { Stage::Agent };
            self.go(next);
        } else {
            self.say(key, args);
        }
    }

    fn invalid(&mut self, digits: &str) {
        if digits.is_empty() { self.retry("ivr-no-input", &[]) } else { self.retry("call-invalid", &[]) }
    }

    fn catalogue(&self) -> &balagh_domain::catalogue::Catalogue {
        self.ivr.app.catalogue()
    }

    /// The groups that have services a caller can report.
    fn groups(&self) -> Vec<(String, String, String)> {
        let catalogue = self.catalogue();
        catalogue
            .groups
            .iter()
            .filter(|g| catalogue.services.iter().any(|s| s.group == g.code && by_phone(s)))
            .map(|g| (g.code.clone(), g.name_ar.clone(), g.name_en.clone()))
            .collect()
    }

    fn services(&self) -> Vec<&Service> {
        let group = self.state.draft.group.clone().unwrap_or_default();
        self.catalogue().services.iter().filter(|s| s.group == group && by_phone(s)).collect()
    }

    /// The attributes of the chosen service the caller is asked for.
    fn attributes(&self) -> Vec<&Attribute> {
        let service = self.state.draft.service.as_deref().and_then(|code| self.catalogue().service(code));
        service.map(asked_attributes).unwrap_or_default()
    }

    /// After the service and each of its details: the next detail, or the place.
    fn after_service(&mut self, answered: usize) {
        let next = if answered < self.attributes().len() { Stage::Attribute { index: answered, page: 0 } } else { self.place_stage() };
        self.go(next);
    }

    /// Whether the caller may ask for a link to mark the place on a map.
    fn pin_offered(&self) -> bool {
        self.ivr.app.can_send_place_links()
    }

    /// Where the place is asked: the choice of menus or a map link, the city menu, or nowhere.
    fn place_stage(&self) -> Stage {
        if self.pin_offered() {
            Stage::Place
        } else if self.ivr.settings.cities.is_empty() {
            Stage::Record
        } else {
            Stage::City { page: 0 }
        }
    }

    /// Back from the place: to the last detail of the service, or to the services.
    fn before_place(&self) -> Stage {
        match self.attributes().len() {
            0 => Stage::Service { page: 0 },
            n => Stage::Attribute { index: n - 1, page: 0 },
        }
    }

    fn districts(&self) -> &[(String, String)] {
        self.state.draft.city.and_then(|c| self.ivr.settings.cities.get(c)).map(|c| c.districts.as_slice()).unwrap_or_default()
    }

    async fn apply(&mut self, digits: &str, recording_url: Option<&str>, recording_seconds: Option<u32>, agent_result: Option<&str>) -> Result<(), IvrError> {
        match self.state.stage {
            Stage::Language => match digits.chars().next().and_then(|c| c.to_digit(10)).filter(|_| digits.len() == 1) {
                _ if digits.is_empty() => self.go(Stage::Main),
                Some(n) if (1..=LANGUAGES.len() as u32).contains(&n) => {
                    self.call.language = LANGUAGES[n as usize - 1].to_owned();
                    self.go(Stage::Main);
                }
                _ => self.retry("call-invalid", &[]),
            },
            Stage::Main => match digits {
                "1" => {
                    self.state.draft = Draft::default();
                    self.go(Stage::Group { page: 0 })
                }
                "2" => self.go(Stage::TicketEntry { follow_up: false }),
                "3" => self.go(Stage::TicketEntry { follow_up: true }),
                "4" => self.go(Stage::Inquiry),
                "0" => self.go(Stage::Agent),
                _ => self.invalid(digits),
            },
            Stage::Group { page } => {
                let groups = self.groups();
                match menu::choose(groups.len(), page, digits) {
                    Choice::Item(i) => {
                        self.state.draft.group = Some(groups[i].0.clone());
                        self.go(Stage::Service { page: 0 });
                    }
                    choice => self.paged(choice, digits, |page| Stage::Group { page }, Stage::Main),
                }
            }
            Stage::Service { page } => {
                let codes: Vec<String> = self.services().iter().map(|s| s.code.clone()).collect();
                match menu::choose(codes.len(), page, digits) {
                    Choice::Item(i) => {
                        self.state.draft.service = Some(codes[i].clone());
                        self.state.draft.attributes.clear();
                        self.after_service(0);
                    }
                    choice => self.paged(choice, digits, |page| Stage::Service { page }, Stage::Group { page: 0 }),
                }
            }
            Stage::Attribute { index, page } => {
                let Some(attribute) = self.attributes().get(index).map(|a| (*a).clone()) else {
                    self.after_service(index);
                    return Ok(());
                };
                let back = if index == 0 { Stage::Service { page: 0 } } else { Stage::Attribute { index: index - 1, page: 0 } };
                if attribute.datatype.is_list() {
                    match menu::choose(attribute.values.len(), page, digits) {
                        Choice::Item(i) => {
                            self.state.draft.attributes.insert(attribute.code.clone(), vec![attribute.values[i].key.clone()]);
                            self.after_service(index + 1);
                        }
                        choice => self.paged(choice, digits, |page| Stage::Attribute { index, page }, back),
                    }
                } else {
                    match digits.parse::<u32>() {
                        Ok(number) if digits.len() <= 6 => {
                            self.state.draft.attributes.insert(attribute.code.clone(), vec![number.to_string()]);
                            self.after_service(index + 1);
                        }
                        _ => self.invalid(digits),
                    }
                }
            }
            Stage::Place => match digits {
                "1" if !self.ivr.settings.cities.is_empty() => {
                    self.state.draft.pin = false;
                    self.go(Stage::City { page: 0 });
                }
                "2" => {
                    self.state.draft.pin = true;
                    self.state.draft.city = None;
                    self.state.draft.district = None;
                    self.go(Stage::Record);
                }
                "9" => {
                    let back = self.before_place();
                    self.go(back);
                }
                "0" => self.go(Stage::Agent),
                _ => self.invalid(digits),
            },
            Stage::City { page } => match menu::choose(self.ivr.settings.cities.len(), page, digits) {
                Choice::Item(i) => {
                    self.state.draft.city = Some(i);
                    self.state.draft.district = None;
                    self.go(if self.districts().is_empty() { Stage::Record } else { Stage::District { page: 0 } });
                }
                choice => {
                    let back = if self.pin_offered() { Stage::Place } else { self.before_place() };
                    self.paged(choice, digits, |page| Stage::City { page }, back)
                }
            },
            Stage::District { page } => match menu::choose(self.districts().len(), page, digits) {
                Choice::Item(i) => {
                    self.state.draft.district = Some(i);
                    self.go(Stage::Record);
                }
                choice => self.paged(choice, digits, |page| Stage::District { page }, Stage::City { page: 0 }),
            },
            Stage::Record => match (recording_url, recording_seconds) {
                (Some(url), Some(seconds)) if seconds > 0 => {
                    self.state.draft.recording = Some(url.to_owned());
                    self.go(if self.call.caller.is_some() { Stage::Callback } else { Stage::CallbackEntry });
                }
                _ => self.retry("ivr-record-again", &[]),
            },
            Stage::Callback => match digits {
                "1" => {
                    self.state.draft.callback = self.call.caller.clone();
                    self.go(Stage::Confirm);
                }
                "2" => self.go(Stage::CallbackEntry),
                "0" => self.go(Stage::Agent),
                _ => self.invalid(digits),
            },
            Stage::CallbackEntry => match PhoneNumber::parse("phone", digits) {
                Ok(phone) if !digits.is_empty() => {
                    self.state.draft.callback = Some(phone.as_str().to_owned());
                    self.go(Stage::Confirm);
                }
                _ if digits.is_empty() => self.retry("ivr-no-input", &[]),
                _ => self.retry("ivr-callback-invalid", &[]),
            },
            Stage::Confirm => match digits {
                "1" => self.open_report().await?,
                "2" => {
                    self.state.draft = Draft::default();
                    self.say("ivr-start-over", &[]);
                    self.go(Stage::Group { page: 0 });
                }
                "0" => self.go(Stage::Agent),
                _ => self.invalid(digits),
            },
            Stage::TicketEntry { follow_up } => self.ticket_entered(digits, follow_up).await?,
            Stage::Status => match digits {
                "1" => self.follow_up().await?,
                "9" => self.go(Stage::Main),
                "0" => self.go(Stage::Agent),
                _ => self.invalid(digits),
            },
            Stage::Done => match digits {
                "1" => self.go(Stage::Main),
                _ => self.go(Stage::Ended),
            },
            Stage::Inquiry => match digits {
                "9" => self.go(Stage::Main),
                "0" => self.go(Stage::Agent),
                _ => match digits.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| FAQS.get(i)) {
                    Some(key) if digits.len() == 1 => {
                        self.say(key, &[]);
                        self.state.attempts = 0;
                    }
                    _ => self.invalid(digits),
                },
            },
            Stage::Agent => match agent_result {
                Some("bridged" | "completed" | "answered") => self.go(Stage::SurveyAgent),
                Some("hangup" | "canceled") => self.go(Stage::Ended),
                _ => {
                    self.say("ivr-agent-unavailable", &[]);
                    self.go(Stage::Main);
                }
            },
            Stage::SurveyAgent => match score(digits) {
                Some(score) => {
                    self.call.agent_service = Some(score.value());
                    self.go(Stage::SurveyAnswer);
                }
                None => self.invalid(digits),
            },
            Stage::SurveyAnswer => match (score(digits), self.call.agent_service.and_then(|v| Score::new("agent_service", i64::from(v)).ok())) {
                (Some(answer), Some(agent)) => {
                    self.call.answer_quality = Some(answer.value());
                    let rating = InteractionRating { agent_service: agent, answer_quality: answer, agent: None };
                    let rated = self.ivr.app.rate_ivr_call(&self.call, rating).await?;
                    tracing::debug!(call = %self.call.call_sid, on_report = rated == CallRated::CallAndReport, "ivr survey answered");
                    self.say("ivr-survey-thanks", &[]);
                    self.go(Stage::Ended);
                }
                _ => self.invalid(digits),
            },
            Stage::Ended => {}
        }
        Ok(())
    }

    /// A paged menu's other choices: another page, back, an agent, or a retry.
    fn paged(&mut self, choice: Choice, digits: &str, page: impl Fn(usize) -> Stage, back: Stage) {
        match choice {
            Choice::Page(n) => self.go(page(n)),
            Choice::Back => self.go(back),
            Choice::Agent => self.go(Stage::Agent),
            Choice::Item(_) | Choice::Invalid => self.invalid(digits),
        }
    }

    async fn open_report(&mut self) -> Result<(), IvrError> {
        let draft = &self.state.draft;
        let city = draft.city.and_then(|c| self.ivr.settings.cities.get(c));
        let district = city.zip(draft.district).and_then(|(city, d)| city.districts.get(d));
        let address = match (city, district) {
            (Some(city), Some(district)) => Some(format!("{}، {}", district.0, city.name_ar)),
            (Some(city), None) => Some(city.name_ar.clone()),
            _ => None,
        };
        let report = ReportDraft {
            service_code: draft.service.clone(),
            attributes: draft.attributes.clone(),
            description: self.state.transcription.clone(),
            city: city.map(|c| c.name_ar.clone()),
            district: district.map(|d| d.0.clone()),
            address,
            phone: draft.callback.clone(),
            language: Some(self.call.language.clone()),
            media_urls: draft.recording.iter().map(|url| format!("media:recording:{url}")).collect(),
            ..ReportDraft::default()
        };
        let pin = draft.pin;
        let opened = if pin {
            self.ivr.app.open_report_by_call_awaiting_place(&report, &self.call.call_sid).await?
        } else {
            self.ivr.app.open_report_by_call(&report, &self.call.call_sid).await?
        };
        let ticket = opened.report.ticket().to_string();
        let digits = digits_spoken(&ticket, &self.call.language);
        if pin {
            let hours = self.ivr.app.place_wait().as_hours().max(1);
            self.say("ivr-opened-place", &[("digits", digits.into()), ("hours", hours.into())]);
        } else {
            self.say("ivr-opened", &[("digits", digits.into())]);
        }
        self.call.report_id = Some(opened.report.id);
        self.state.opened = Some(ticket.clone());
        self.opened = Some(ticket);
        self.go(Stage::Done);
        Ok(())
    }

    async fn ticket_entered(&mut self, digits: &str, follow_up: bool) -> Result<(), IvrError> {
        if digits.is_empty() {
            self.retry("ivr-no-input", &[]);
            return Ok(());
        }
        let spoken = digits_spoken(digits, &self.call.language);
        let ticket = match TicketNumber::parse(digits) {
            Ok(ticket) => ticket,
            Err(_) => {
                self.retry("ivr-ticket-invalid", &[("digits", spoken.into())]);
                return Ok(());
            }
        };
        let report = match self.ivr.app.report(ticket).await {
            Ok(report) => report,
            Err(AppError::NotFound { .. }) => {
                self.retry("ivr-ticket-unknown", &[("digits", spoken.into())]);
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        self.state.ticket = Some(ticket.to_string());
        self.call.report_id.get_or_insert(report.id);
        if follow_up {
            return self.follow_up().await;
        }
        let language = self.call.language.clone();
        let speaker = self.speaker();
        let service = self.catalogue().service(&report.service_code).map(|s| speaker.name(&s.name_ar, &s.name_en).to_owned()).unwrap_or_default();
        let status = status_name(report.status.as_str(), &language);
        let mut said = vec![speaker.say("ivr-status", &[("digits", spoken.into()), ("service", service.into()), ("status", status.into())])];
        let timeline = self.ivr.app.timeline(ticket, &Actor::beneficiary()).await?;
        if let Some(last) = timeline.iter().rev().find(|e| e.event.note.as_deref().is_some_and(|n| !n.trim().is_empty())) {
            let note = last.event.note.clone().unwrap_or_default();
            said.push(speaker.say("ivr-status-last", &[("date", gregorian_date(last.event.at, &language).into()), ("note", note.into())]));
        }
        if let Some(expected) = report.expected_at.filter(|_| !report.status.is_terminal()) {
            said.push(speaker.say("ivr-status-expected", &[("date", gregorian_date(expected, &language).into())]));
        }
        self.said.extend(said);
        self.go(Stage::Status);
        Ok(())
    }

    async fn follow_up(&mut self) -> Result<(), IvrError> {
        let ticket = self.state.ticket.as_deref().and_then(|t| TicketNumber::parse(t).ok());
        let (Some(ticket), Some(caller)) = (ticket, self.call.caller.clone()) else {
            self.say("ivr-follow-up-not-yours", &[]);
            self.go(Stage::Agent);
            return Ok(());
        };
        let key = match self.ivr.app.follow_up(ticket, &caller, None, Channel::Ivr).await {
            Ok(done) if done.escalated => "ivr-follow-up-escalated",
            Ok(_) => "ivr-follow-up-notified",
            Err(AppError::Conflict { code: "follow_up_too_soon", .. }) => "ivr-follow-up-too-soon",
            Err(AppError::Conflict { code: "report_closed", .. }) => "ivr-follow-up-closed",
            Err(AppError::Forbidden { .. }) => {
                self.say("ivr-follow-up-not-yours", &[]);
                self.go(Stage::Agent);
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        self.say(key, &[]);
        self.go(Stage::Done);
        Ok(())
    }

    /// The answer: what was said, then the current stage's prompt.
    fn reply(&self) -> Reply {
        let speaker = self.speaker();
        let mut verbs = self.said.clone();
        verbs.extend(self.prompt(&speaker));
        let mut dialog = Dialog::new(say_code(&self.call.language), verbs);
        dialog.session = vec![("CallSid".into(), self.call.call_sid.clone())];
        if let Some(caller) = &self.call.caller {
            dialog.session.push(("From".into(), caller.clone()));
        }
        Reply { dialog, ticket: self.opened.clone() }
    }

    fn url(&self, path: &str) -> String {
        self.ivr.app.delivery().url(path).unwrap_or_else(|| path.to_owned())
    }

    fn action(&self) -> String {
        self.url(&format!("/ivr/step/{}", self.call.step))
    }

    /// A gather of `prompts`, then the same action again without keys when none come.
    fn gather(&self, prompts: Vec<Verb>, num_digits: Option<u32>) -> Vec<Verb> {
        let action = self.action();
        let finish_on_key = if num_digits.is_none() { Some('#') } else { None };
        let timeout_seconds = self.ivr.settings.gather_timeout_seconds;
        vec![Verb::Gather { action: action.clone(), num_digits, finish_on_key, timeout_seconds, prompts }, Verb::Redirect(action)]
    }

    /// A paged menu of `names` under `header`.
    fn menu(&self, speaker: &Speaker, header: &str, names: &[String], page: usize) -> Vec<Verb> {
        let mut prompts = vec![speaker.say(header, &[])];
        for (key, index) in menu::page_items(names.len(), page) {
            prompts.push(speaker.say("ivr-option", &[("name", names[index].as_str().into()), ("key", key.to_string().into())]));
        }
        if menu::has_more(names.len(), page) {
            prompts.push(speaker.say("ivr-more", &[]));
        }
        prompts.push(speaker.say("ivr-back", &[]));
        self.gather(prompts, Some(1))
    }

    fn prompt(&self, speaker: &Speaker) -> Vec<Verb> {
        match self.state.stage {
            Stage::Language => {
                let mut prompts = vec![speaker.say_in(balagh_i18n::DEFAULT_LANGUAGE, "ivr-welcome", &[])];
                for (index, language) in LANGUAGES.iter().enumerate() {
                    prompts.push(speaker.say_in(language, "ivr-language-choice", &[("key", (index + 1).to_string().into())]));
                }
                self.gather(prompts, Some(1))
            }
            Stage::Main => self.gather(vec![speaker.say("ivr-main-menu", &[])], Some(1)),
            Stage::Group { page } => {
                let names: Vec<String> = self.groups().iter().map(|(_, ar, en)| speaker.name(ar, en).to_owned()).collect();
                self.menu(speaker, "ivr-choose-group", &names, page)
            }
            Stage::Service { page } => {
                let names: Vec<String> = self.services().iter().map(|s| speaker.name(&s.name_ar, &s.name_en).to_owned()).collect();
                self.menu(speaker, "ivr-choose-service", &names, page)
            }
            Stage::Attribute { index, page } => {
                let Some(attribute) = self.attributes().get(index).copied() else { return vec![Verb::Redirect(self.action())] };
                let question = speaker.name(&attribute.description_ar, &attribute.description_en).to_owned();
                if attribute.datatype.is_list() {
                    let names: Vec<String> = attribute.values.iter().map(|v| speaker.name(&v.name_ar, &v.name_en).to_owned()).collect();
                    let mut verbs = self.menu(speaker, "ivr-choose-detail", &names, page);
                    if let Some(Verb::Gather { prompts, .. }) = verbs.first_mut() {
                        prompts.insert(1, speaker.say_text(question));
                    }
                    verbs
                } else {
                    self.gather(vec![speaker.say_text(question), speaker.say("ivr-enter-number", &[])], None)
                }
            }
            Stage::Place => {
                let key = if self.ivr.settings.cities.is_empty() { "ivr-place-link-only" } else { "ivr-place-menu" };
                self.gather(vec![speaker.say(key, &[])], Some(1))
            }
            Stage::City { page } => {
                let names: Vec<String> = self.ivr.settings.cities.iter().map(|c| speaker.name(&c.name_ar, &c.name_en).to_owned()).collect();
                self.menu(speaker, "ivr-choose-city", &names, page)
            }
            Stage::District { page } => {
                let names: Vec<String> = self.districts().iter().map(|(ar, en)| speaker.name(ar, en).to_owned()).collect();
                self.menu(speaker, "ivr-choose-district", &names, page)
            }
            Stage::Record => {
                let action = self.action();
                vec![
                    speaker.say("ivr-record", &[]),
                    Verb::Record {
                        action: action.clone(),
                        max_length_seconds: self.ivr.settings.max_recording_seconds,
                        timeout_seconds: 5,
                        finish_on_key: '#',
                        transcribe_callback: Some(self.url("/ivr/transcription")),
                    },
                    Verb::Redirect(action),
                ]
            }
            Stage::Callback => {
                let number = self.call.caller.as_deref().map(local_number).unwrap_or_default();
                self.gather(vec![speaker.say("ivr-callback", &[("digits", digits_spoken(&number, &speaker.language).into())])], Some(1))
            }
            Stage::CallbackEntry => self.gather(vec![speaker.say("ivr-callback-enter", &[])], None),
            Stage::Confirm => {
                let service = self.state.draft.service.as_deref().and_then(|code| self.catalogue().service(code));
                let service = service.map(|s| speaker.name(&s.name_ar, &s.name_en).to_owned()).unwrap_or_default();
                let city = self.state.draft.city.and_then(|c| self.ivr.settings.cities.get(c));
                let district = city.zip(self.state.draft.district).and_then(|(city, d)| city.districts.get(d));
                let place = match (city, district) {
                    _ if self.state.draft.pin => text(&speaker.language, "ivr-place-by-link", &[]),
                    (Some(city), Some((ar, en))) => format!("{}, {}", speaker.name(ar, en), speaker.name(&city.name_ar, &city.name_en)),
                    (Some(city), None) => speaker.name(&city.name_ar, &city.name_en).to_owned(),
                    _ => String::new(),
                };
                self.gather(vec![speaker.say("ivr-confirm", &[("service", service.into()), ("place", place.into())])], Some(1))
            }
            Stage::TicketEntry { .. } => self.gather(vec![speaker.say("ivr-ticket-enter", &[])], None),
            Stage::Status => self.gather(vec![speaker.say("ivr-status-menu", &[])], Some(1)),
            Stage::Done => {
                let mut verbs = self.gather(vec![speaker.say("ivr-after", &[])], Some(1));
                // No key: goodbye, not the same question again.
                verbs.pop();
                verbs.extend([speaker.say("call-goodbye", &[]), Verb::Hangup]);
                verbs
            }
            Stage::Inquiry => self.gather(vec![speaker.say("ivr-inquiry-menu", &[])], Some(1)),
            Stage::Agent => {
                let action = Some(self.action());
                let connect = match &self.ivr.settings.agent_number {
                    Some(number) => Verb::Dial { number: number.clone(), action },
                    None => Verb::Enqueue {
                        queue: self.ivr.settings.agent_queue.clone(),
                        wait_url: Some(self.url(&format!("/ivr/wait?language={}", speaker.language))),
                        action,
                    },
                };
                vec![speaker.say("call-agent", &[]), connect]
            }
            Stage::SurveyAgent => self.gather(vec![speaker.say("ivr-survey-agent", &[])], Some(1)),
            Stage::SurveyAnswer => self.gather(vec![speaker.say("ivr-survey-answer", &[])], Some(1)),
            Stage::Ended => vec![speaker.say("call-goodbye", &[]), Verb::Hangup],
        }
    }

    /// The call as it is stored after this turn, with `reply` as its last answer.
    fn stored(&self, reply: &Reply) -> Result<IvrCall, IvrError> {
        let corrupt = |e: serde_json::Error| IvrError::Corrupt(self.call.call_sid.clone(), e.to_string());
        let mut call = self.call.clone();
        call.state = serde_json::to_string(&self.state).map_err(corrupt)?;
        call.last_reply = Some(serde_json::to_string(reply).map_err(corrupt)?);
        Ok(call)
    }
}

/// The required attributes a caller answers by keypad: a choice from a list, or a number.
fn asked_attributes(service: &Service) -> Vec<&Attribute> {
    let mut attributes: Vec<&Attribute> = service.attributes.iter().filter(|a| a.required && a.variable).collect();
    attributes.sort_by_key(|a| a.order);
    attributes
}

/// Whether a caller can open this service by keypad: not an inquiry (those have their own menu),
/// and every required detail is a list or a number (free text and dates need the app, the web or
/// an agent).
fn by_phone(service: &Service) -> bool {
    service.kind != ContactKind::Inquiry
        && asked_attributes(service).iter().all(|a| a.datatype.is_list() || matches!(a.datatype, balagh_domain::catalogue::Datatype::Number))
}

fn score(digits: &str) -> Option<Score> {
    let value: i64 = digits.parse().ok().filter(|_| digits.len() == 1)?;
    Score::new("score", value).ok()
}

/// A Saudi number as callers say it (`+966512345678` -> `0512345678`).
fn local_number(e164: &str) -> String {
    match e164.strip_prefix("+966") {
        Some(rest) => format!("0{rest}"),
        None => e164.to_owned(),
    }
}
