//! Notification texts: one topic (a status change, a reply, an escalation…) rendered for one medium
//! (SMS, call, e-mail, WhatsApp, webhook, staff console) in the recipient's language.
//!
//! A text is assembled from parts (main line, free-text note, details such as the expected date or
//! the escalation's reason, link), each a Fluent message, so every medium says the same thing in its own shape: SMS squeezes
//! the parts into [`MAX_SMS_SEGMENTS`] by shortening the note and dropping the least useful details,
//! e-mail adds a greeting, a sign-off and an HTML part, a call gets a text-to-speech script.
//! An administrator's override replaces the text; when it fails, the built-in text goes out and the
//! error is reported with it.

use crate::bundle::{Arg, has_message, is_rtl, negotiate, status_name, text};
use crate::dates::{date_line, digits_spoken, gregorian_date, localize_time};
use crate::overrides::{OverrideContext, render_override};
use crate::sms::{self, Segments};
use jiff::Timestamp;
use serde_json::Value;

/// The most SMS segments one notification may cost.
pub const MAX_SMS_SEGMENTS: u32 = 3;

/// The characters of a note an SMS tries to keep before it gives up the less useful details.
const WANTED_NOTE_CHARS: usize = 30;

/// The fewest characters of a note's own text worth sending; a shorter cut drops the note.
const MIN_NOTE_CHARS: usize = 15;

/// The topics with texts of their own; any other topic gets a generic update.
pub const TOPICS: &[&str] = &[
    "received",
    "place_requested",
    "place_expired",
    "status_changed",
    "public_comment",
    "closure_survey",
    "escalation",
    "follow_up",
    "call_fallback",
    "webhook",
];

/// The media a notification can be rendered for.
pub const MEDIA: &[&str] = &["sms", "call", "email", "whatsapp", "webhook", "staff"];

/// What to render: a topic's payload for one medium and language.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `received`, `place_requested`, `place_expired`, `status_changed`, `public_comment`,
    /// `closure_survey`, `escalation`, `follow_up`, `call_fallback`, `webhook`; anything else gets
    /// a generic update.
    pub topic: &'a str,
    /// `sms`, `call`, `email`, `whatsapp`, `webhook` or `staff`.
    pub medium: &'a str,
    /// The recipient's language, negotiated to a served one.
    pub language: &'a str,
    /// The outbox row's payload: `ticket` and the topic's optional fields.
    pub payload: &'a Value,
    /// The service's name in that language, from the catalogue.
    pub service_name: Option<&'a str>,
    /// Where the beneficiary can follow or rate the report, when Balagh has a public address.
    pub portal_url: Option<&'a str>,
    pub now: Timestamp,
    /// An administrator's minijinja template for this topic, medium and language.
    pub override_source: Option<&'a str>,
}

/// A rendered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The served language the text is in.
    pub language: String,
    pub rtl: bool,
    /// E-mail subject, or the title in a list of notifications.
    pub subject: String,
    /// The SMS, WhatsApp or staff text, the e-mail's text part, the log line of a call or webhook.
    /// For SMS it already fits [`MAX_SMS_SEGMENTS`].
    pub text: String,
    /// The e-mail's HTML part: escaped, in a `<div dir=… lang=…>`.
    pub html: Option<String>,
    /// For calls: what the call says (ticket digit by digit, status, note, date), without the menu.
    pub speech: Option<String>,
    /// For WhatsApp outside the 24-hour window: the approved template's name and body parameters.
    pub whatsapp_template: Option<(String, Vec<String>)>,
    /// For SMS: the cost of `text`.
    pub segments: Option<Segments>,
    /// The override failed with this error, and the built-in text was used instead.
    pub override_error: Option<String>,
}

/// Renders a notification. Never fails: unknown topics get a generic update, missing fields are
/// left out, and a failing override falls back to the built-in text.
pub fn render(request: &Request) -> Rendered {
    let facts = Facts::read(request);
    let parts = Parts::for_topic(&facts);
    let medium = normalized(request.medium);
    let mut rendered = Rendered {
        language: facts.language.to_owned(),
        rtl: is_rtl(facts.language),
        subject: parts.subject.clone(),
        text: String::new(),
        html: None,
        speech: None,
        whatsapp_template: None,
        segments: None,
        override_error: None,
    };
    let overridden = match request.override_source.filter(|source| !source.trim().is_empty()) {
        Some(source) => match render_override(source, &build_context(request)) {
            Ok(text) => Some(text),
            Err(error) => {
                rendered.override_error = Some(error);
                None
            }
        },
        None => None,
    };
    match medium.as_str() {
        "sms" => {
            rendered.text = match &overridden {
                Some(text) => sms::fit("", text, "", MAX_SMS_SEGMENTS),
                None => parts.sms_text(),
            };
            rendered.segments = Some(sms::segments(&rendered.text));
        }
        "call" => {
            rendered.text = overridden.clone().unwrap_or_else(|| parts.one_line());
            rendered.speech = Some(overridden.unwrap_or_else(|| parts.speech.clone()));
        }
        "email" => {
            rendered.html = Some(match &overridden {
                Some(text) => html_from_text(&facts, &parts.subject, text),
                None => parts.email_html(&facts),
            });
            rendered.text = overridden.unwrap_or_else(|| parts.email_text(&facts));
        }
        "whatsapp" => {
            rendered.text = overridden.unwrap_or_else(|| parts.lines());
            rendered.whatsapp_template = Some(parts.whatsapp.clone());
        }
        _ => rendered.text = overridden.unwrap_or_else(|| parts.lines()),
    }
    rendered
}

/// A topic or medium name in the form of [`TOPICS`] and [`MEDIA`]: trimmed, lowercase, `_` for `-`.
fn normalized(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

/// What a template override sees; also used by `check_override` on sample payloads.
pub(crate) fn build_context(request: &Request) -> OverrideContext {
    let facts = Facts::read(request);
    let expected_at = facts.expected_at_any;
    OverrideContext {
        ticket: facts.ticket.clone(),
        status: facts.status.clone().unwrap_or_default(),
        status_code: facts.status_code.clone().unwrap_or_default(),
        note: facts.note.clone().unwrap_or_default(),
        service: facts.service.clone().unwrap_or_default(),
        date: expected_at.map(|at| date_line(at, facts.language)).unwrap_or_default(),
        expected_at: expected_at.map(|at| at.to_string()).unwrap_or_default(),
        portal_url: facts.portal_url.clone().unwrap_or_default(),
        language: facts.language.to_owned(),
        topic: normalized(request.topic),
        medium: normalized(request.medium),
        payload: without_nulls(request.payload),
    }
}

/// The payload with its null fields removed, so that a template testing `payload.note` sees it as
/// absent and one printing it fails instead of printing "none".
fn without_nulls(payload: &Value) -> Value {
    match payload {
        Value::Object(fields) => {
            Value::Object(fields.iter().filter(|(_, value)| !value.is_null()).map(|(key, value)| (key.clone(), without_nulls(value))).collect())
        }
        other => other.clone(),
    }
}

/// The request's payload read once: trimmed strings, translated names, dates parsed.
struct Facts {
    language: &'static str,
    topic: String,
    now: Timestamp,
    ticket: String,
    status_code: Option<String>,
    /// The status in the recipient's language.
    status: Option<String>,
    note: Option<String>,
    service: Option<String>,
    portal_url: Option<String>,
    /// The expected completion, whatever it is.
    expected_at_any: Option<Timestamp>,
    department: Option<String>,
    /// The priority in the recipient's language.
    priority: Option<String>,
    level: Option<i64>,
    round: Option<i64>,
    step: Option<i64>,
    reason: Option<String>,
    n_follow_ups: Option<i64>,
    /// The link where the beneficiary marks the place of his report, and until when it works.
    place_url: Option<String>,
    place_until: Option<Timestamp>,
}

impl Facts {
    fn read(request: &Request) -> Facts {
        let language = negotiate(request.language);
        let payload = request.payload;
        let status_code = string_field(payload, "status");
        let priority = string_field(payload, "priority").map(|code| {
            let key = format!("priority-{code}");
            if has_message(language, &key) { text(language, &key, &[]) } else { code }
        });
        Facts {
            language,
            topic: normalized(request.topic),
            now: request.now,
            ticket: string_field(payload, "ticket").unwrap_or_default(),
            status: status_code.as_deref().map(|code| status_name(code, language)),
            status_code,
            note: string_field(payload, "note"),
            service: request.service_name.map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned),
            portal_url: request.portal_url.map(str::trim).filter(|url| !url.is_empty()).map(str::to_owned),
            expected_at_any: string_field(payload, "expected_at").and_then(|at| at.parse().ok()),
            department: string_field(payload, "department"),
            priority,
            level: number_field(payload, "level"),
            round: number_field(payload, "round"),
            step: number_field(payload, "step"),
            reason: string_field(payload, "reason"),
            n_follow_ups: number_field(payload, "n_follow_ups"),
            place_url: string_field(payload, "place_url"),
            place_until: string_field(payload, "place_until").and_then(|at| at.parse().ok()),
        }
    }

    fn text(&self, key: &str, args: &[(&str, Arg)]) -> String {
        text(self.language, key, args)
    }

    /// The ticket, with the service's name when known: "10000047 (Street lighting)".
    fn reference(&self) -> String {
        match &self.service {
            Some(service) => self.text("report-ref-service", &[("ticket", self.ticket.as_str().into()), ("service", service.into())]),
            None => self.ticket.clone(),
        }
    }

    /// Whether the status ends the work, so that an expected date no longer means anything.
    fn status_is_final(&self) -> bool {
        matches!(self.status_code.as_deref(), Some("resolved" | "closed" | "rejected" | "duplicate"))
    }

    /// The expected completion worth telling a beneficiary: still ahead, and the work not over.
    fn expected_at_for_beneficiary(&self) -> Option<Timestamp> {
        self.expected_at_any.filter(|at| *at > self.now && !self.status_is_final())
    }

    /// The note on one line, for SMS, WhatsApp and speech.
    fn note_on_one_line(&self) -> Option<String> {
        self.note.as_deref().map(|note| note.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// A JSON string or number as trimmed text; absent, null and blank fields give `None`.
fn string_field(payload: &Value, key: &str) -> Option<String> {
    match payload.get(key)? {
        Value::String(text) => Some(text.trim().to_owned()).filter(|text| !text.is_empty()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A JSON integer, or a string holding one.
fn number_field(payload: &Value, key: &str) -> Option<i64> {
    match payload.get(key)? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A line of a text with an optional shorter form, for SMS: the Arabic expected date in both
/// calendars can give way to the Gregorian one alone.
#[derive(Debug, Clone)]
struct Detail {
    full: String,
    short: Option<String>,
    /// Whether SMS may leave it out when room runs short.
    optional: bool,
}

impl Detail {
    fn required(text: String) -> Detail {
        Detail { full: text, short: None, optional: false }
    }

    fn optional(text: String) -> Detail {
        Detail { full: text, short: None, optional: true }
    }
}

/// One topic's text in parts, before a medium shapes it.
struct Parts {
    language: &'static str,
    staff: bool,
    subject: String,
    line: String,
    /// The free text (staff note, reply), labelled, on one line.
    note: Option<String>,
    /// The same with a shorter label: the part SMS shortens.
    note_sms: Option<String>,
    /// The same, with its line breaks kept, for e-mail.
    note_multiline: Option<String>,
    /// The length of the SMS note's label ("Note: "), in characters.
    note_label_chars: usize,
    details: Vec<Detail>,
    /// A Fluent key with a `$url` variable, and the URL.
    link: Option<(&'static str, String)>,
    speech: String,
    whatsapp: (String, Vec<String>),
}

impl Parts {
    fn for_topic(facts: &Facts) -> Parts {
        match facts.topic.as_str() {
            "received" => Parts::received(facts),
            "place_requested" => Parts::place_requested(facts),
            "place_expired" => Parts::place_expired(facts),
            "status_changed" => Parts::status_changed(facts, "status-changed-subject", "status-changed-line"),
            "call_fallback" => Parts::status_changed(facts, "call-fallback-subject", "call-fallback-line"),
            "public_comment" => Parts::public_comment(facts),
            "closure_survey" => Parts::closure_survey(facts),
            "escalation" => Parts::escalation(facts),
            "follow_up" => Parts::follow_up(facts),
            _ => Parts::generic(facts),
        }
    }

    /// A beneficiary's text: subject, line, note, the expected date and the link to follow the report.
    fn beneficiary(facts: &Facts, subject: String, line: String, note_key: &str, speech: String, whatsapp: (String, Vec<String>)) -> Parts {
        let mut details = Vec::new();
        if let Some(at) = facts.expected_at_for_beneficiary() {
            details.push(Detail {
                full: facts.text("expected-line", &[("date", date_line(at, facts.language).into())]),
                short: Some(facts.text("expected-line", &[("date", gregorian_date(at, facts.language).into())])),
                optional: true,
            });
        }
        Parts {
            language: facts.language,
            staff: false,
            subject,
            line,
            note: facts.note_on_one_line().map(|note| facts.text(note_key, &[("note", note.into())])),
            note_sms: facts.note_on_one_line().map(|note| facts.text(short_note_key(note_key), &[("note", note.into())])),
            note_multiline: facts.note.as_ref().map(|note| facts.text(note_key, &[("note", note.into())])),
            note_label_chars: facts.text(short_note_key(note_key), &[("note", "".into())]).chars().count(),
            details,
            link: facts.portal_url.clone().map(|url| ("portal-track", url)),
            speech,
            whatsapp,
        }
    }

    fn status_changed(facts: &Facts, subject_key: &str, line_key: &str) -> Parts {
        let status = facts.status.clone().unwrap_or_else(|| facts.text("status-unknown", &[]));
        let subject = facts.text(subject_key, &[("ticket", facts.ticket.as_str().into())]);
        let line = facts.text(line_key, &[("ref", facts.reference().into()), ("status", status.as_str().into())]);
        let mut parts = Parts::beneficiary(facts, subject, line, "note-line", status_speech(facts, &status), update_template(facts, &status));
        if let Some(code) = &facts.status_code {
            let hint = format!("status-hint-{code}");
            if has_message(facts.language, &hint) {
                parts.details.push(Detail::optional(facts.text(&hint, &[])));
            }
        }
        parts
    }

    fn public_comment(facts: &Facts) -> Parts {
        let subject = facts.text("public-comment-subject", &[("ticket", facts.ticket.as_str().into())]);
        let line = facts.text("public-comment-line", &[("ref", facts.reference().into())]);
        let mut speech = vec![facts.text("call-comment", &[("digits", digits_spoken(&facts.ticket, facts.language).into())])];
        if let Some(note) = facts.note_on_one_line() {
            speech.push(facts.text("call-comment-text", &[("note", note.into())]));
        }
        let comment = facts.note_on_one_line().map(|note| whatsapp_parameter(&note)).unwrap_or_else(|| "-".to_owned());
        let whatsapp = ("balagh_report_comment".to_owned(), vec![facts.ticket.clone(), comment]);
        Parts::beneficiary(facts, subject, line, "comment-line", speech.join(" "), whatsapp)
    }

    fn received(facts: &Facts) -> Parts {
        let subject = facts.text("received-subject", &[("ticket", facts.ticket.as_str().into())]);
        let line = facts.text("received-line", &[("ref", facts.reference().into())]);
        let speech = facts.text("call-received", &[("digits", digits_spoken(&facts.ticket, facts.language).into())]);
        let whatsapp = ("balagh_report_received".to_owned(), vec![facts.ticket.clone()]);
        Parts::beneficiary(facts, subject, line, "note-line", speech, whatsapp)
    }

    /// The receipt of a report opened by phone without its place: the link to mark it on a map.
    fn place_requested(facts: &Facts) -> Parts {
        let subject = facts.text("place-requested-subject", &[("ticket", facts.ticket.as_str().into())]);
        let line = facts.text("place-requested-line", &[("ref", facts.reference().into())]);
        let speech = facts.text("call-place-requested", &[("digits", digits_spoken(&facts.ticket, facts.language).into())]);
        let url = facts.place_url.clone();
        let whatsapp = ("balagh_place_requested".to_owned(), vec![facts.ticket.clone(), url.clone().unwrap_or_else(|| "-".to_owned())]);
        let mut parts = Parts::beneficiary(facts, subject, line, "note-line", speech, whatsapp);
        // The SLA waits with the report: no completion date yet.
        parts.details.clear();
        match url {
            Some(url) => {
                parts.link = Some(("place-link", url));
                if let Some(until) = facts.place_until {
                    let time = localize_time(until, facts.language);
                    let until_on = |date: String| facts.text("place-until", &[("date", date.into()), ("time", time.as_str().into())]);
                    parts.details.push(Detail {
                        full: until_on(date_line(until, facts.language)),
                        short: Some(until_on(gregorian_date(until, facts.language))),
                        optional: true,
                    });
                }
            }
            None => {
                parts.link = None;
                parts.details.push(Detail::required(facts.text("place-no-link", &[])));
            }
        }
        parts
    }

    /// No place came in time: the report goes on with the caller's description.
    fn place_expired(facts: &Facts) -> Parts {
        let subject = facts.text("place-expired-subject", &[("ticket", facts.ticket.as_str().into())]);
        let line = facts.text("place-expired-line", &[("ref", facts.reference().into())]);
        let speech = facts.text("call-place-expired", &[("digits", digits_spoken(&facts.ticket, facts.language).into())]);
        let whatsapp = ("balagh_place_expired".to_owned(), vec![facts.ticket.clone()]);
        Parts::beneficiary(facts, subject, line, "note-line", speech, whatsapp)
    }

    fn closure_survey(facts: &Facts) -> Parts {
        let subject = facts.text("closure-survey-subject", &[("ticket", facts.ticket.as_str().into())]);
        let line = facts.text("closure-survey-line", &[("ref", facts.reference().into())]);
        let speech = facts.text("call-closure", &[("digits", digits_spoken(&facts.ticket, facts.language).into())]);
        let whatsapp = ("balagh_closure_survey".to_owned(), vec![facts.ticket.clone()]);
        let mut parts = Parts::beneficiary(facts, subject, line, "note-line", speech, whatsapp);
        // A closed report has no completion date to wait for.
        parts.details.clear();
        match &facts.portal_url {
            Some(url) => parts.link = Some(("portal-rate", url.clone())),
            None => parts.details.push(Detail::required(facts.text("closure-survey-no-link", &[]))),
        }
        parts
    }

    fn generic(facts: &Facts) -> Parts {
        let subject = facts.text("generic-subject", &[("ticket", facts.ticket.as_str().into())]);
        let (line, speech) = match &facts.status {
            Some(status) => {
                (facts.text("generic-line-status", &[("ref", facts.reference().into()), ("status", status.as_str().into())]), status_speech(facts, status))
            }
            None => (
                facts.text("generic-line", &[("ref", facts.reference().into())]),
                facts.text("call-generic", &[("digits", digits_spoken(&facts.ticket, facts.language).into())]),
            ),
        };
        let status = facts.status.clone().unwrap_or_else(|| facts.text("status-unknown", &[]));
        Parts::beneficiary(facts, subject, line, "note-line", speech, update_template(facts, &status))
    }

    /// The lines every staff notice carries: department, priority, status and the deadline.
    fn staff_details(facts: &Facts) -> Vec<Detail> {
        let mut details = Vec::new();
        if let Some(department) = &facts.department {
            details.push(Detail::required(facts.text("staff-department", &[("department", department.into())])));
        }
        if let Some(priority) = &facts.priority {
            details.push(Detail::required(facts.text("staff-priority", &[("priority", priority.into())])));
        }
        if let Some(status) = &facts.status {
            details.push(Detail::optional(facts.text("staff-status", &[("status", status.into())])));
        }
        if let Some(at) = facts.expected_at_any.filter(|_| !facts.status_is_final()) {
            let time = localize_time(at, facts.language);
            details.push(Detail {
                full: facts.text("staff-deadline", &[("date", date_line(at, facts.language).into()), ("time", time.as_str().into())]),
                short: Some(facts.text("staff-deadline", &[("date", gregorian_date(at, facts.language).into()), ("time", time.as_str().into())])),
                optional: true,
            });
        }
        details
    }

    fn staff(facts: &Facts, subject: String, line: String, details: Vec<Detail>, speech: String, whatsapp: (String, Vec<String>)) -> Parts {
        Parts {
            language: facts.language,
            staff: true,
            subject,
            line,
            note: facts.note_on_one_line().map(|note| facts.text("note-line", &[("note", note.into())])),
            note_sms: facts.note_on_one_line().map(|note| facts.text("note-line-short", &[("note", note.into())])),
            note_multiline: facts.note.as_ref().map(|note| facts.text("note-line", &[("note", note.into())])),
            note_label_chars: facts.text("note-line-short", &[("note", "".into())]).chars().count(),
            details,
            link: None,
            speech,
            whatsapp,
        }
    }

    fn escalation(facts: &Facts) -> Parts {
        let ticket = || Arg::from(facts.ticket.as_str());
        let digits = digits_spoken(&facts.ticket, facts.language);
        let (subject, line) = match facts.level {
            Some(level) => (
                facts.text("escalation-subject", &[("level", level.into()), ("ticket", ticket())]),
                facts.text("escalation-line", &[("ref", facts.reference().into()), ("level", level.into())]),
            ),
            None => (
                facts.text("escalation-subject-no-level", &[("ticket", ticket())]),
                facts.text("escalation-line-no-level", &[("ref", facts.reference().into())]),
            ),
        };
        let mut details = Vec::new();
        if let Some(reason) = &facts.reason {
            details.push(Detail::required(facts.text("escalation-reason", &[("reason", reason.into())])));
        }
        details.extend(Parts::staff_details(facts));
        if let (Some(step), Some(round)) = (facts.step, facts.round) {
            details.push(Detail::optional(facts.text("escalation-details", &[("step", step.into()), ("round", round.into())])));
        }
        details.push(Detail::required(facts.text("escalation-action", &[])));
        let mut speech = vec![facts.text("call-escalation", &[("digits", digits.into())])];
        if let Some(level) = facts.level {
            speech.push(facts.text("call-escalation-level", &[("level", level.into())]));
        }
        if let Some(reason) = &facts.reason {
            speech.push(sentence(&facts.text("escalation-reason", &[("reason", reason.into())])));
        }
        let whatsapp = (
            "balagh_staff_escalation".to_owned(),
            vec![
                facts.ticket.clone(),
                facts.level.map(|level| level.to_string()).unwrap_or_else(|| "-".to_owned()),
                facts.reason.as_deref().map(whatsapp_parameter).unwrap_or_else(|| "-".to_owned()),
            ],
        );
        Parts::staff(facts, subject, line, details, speech.join(" "), whatsapp)
    }

    fn follow_up(facts: &Facts) -> Parts {
        let subject = facts.text("follow-up-subject", &[("ticket", facts.ticket.as_str().into())]);
        let line = match facts.n_follow_ups {
            Some(count) => facts.text("follow-up-line", &[("ref", facts.reference().into()), ("count", count.into())]),
            None => facts.text("follow-up-line-no-count", &[("ref", facts.reference().into())]),
        };
        let mut details = Parts::staff_details(facts);
        details.push(Detail::required(facts.text("follow-up-action", &[])));
        let speech = facts.text("call-follow-up", &[("digits", digits_spoken(&facts.ticket, facts.language).into())]);
        let whatsapp = (
            "balagh_staff_follow_up".to_owned(),
            vec![facts.ticket.clone(), facts.n_follow_ups.map(|count| count.to_string()).unwrap_or_else(|| "1".to_owned())],
        );
        Parts::staff(facts, subject, line, details, speech, whatsapp)
    }

    fn link_line(&self) -> Option<String> {
        self.link.as_ref().map(|(key, url)| text(self.language, key, &[("url", url.into())]))
    }

    /// Every part on its own line, in reading order.
    fn lines(&self) -> String {
        let mut lines = vec![self.line.clone()];
        lines.extend(self.note.clone());
        lines.extend(self.details.iter().map(|detail| detail.full.clone()));
        lines.extend(self.link_line());
        lines.join("\n")
    }

    /// Every part in one paragraph, each ending as a sentence, for call logs.
    fn one_line(&self) -> String {
        let mut pieces = vec![self.line.clone()];
        pieces.extend(self.note.as_deref().map(sentence));
        pieces.extend(self.details.iter().map(|detail| sentence(&detail.full)));
        pieces.extend(self.link_line());
        pieces.join(" ")
    }

    /// The tails an SMS can end with, richest first: every detail in full; the shorter forms; only
    /// the required details. Each ends with the link.
    fn sms_tails(&self) -> Vec<String> {
        let link = self.link_line();
        let tail = |details: Vec<&str>| -> String {
            let mut pieces: Vec<String> = details.into_iter().map(sentence).collect();
            pieces.extend(link.clone());
            pieces.iter().map(|piece| format!(" {piece}")).collect()
        };
        let short_form = |detail: &Detail| detail.short.clone().unwrap_or_else(|| detail.full.clone());
        let full: Vec<String> = self.details.iter().map(|detail| detail.full.clone()).collect();
        let short: Vec<String> = self.details.iter().map(short_form).collect();
        let required: Vec<String> = self.details.iter().filter(|detail| !detail.optional).map(short_form).collect();
        let mut tails = vec![
            tail(full.iter().map(String::as_str).collect()),
            tail(short.iter().map(String::as_str).collect()),
            tail(required.iter().map(String::as_str).collect()),
        ];
        tails.dedup();
        tails
    }

    /// The SMS: the line, the note, then the details and the link, within [`MAX_SMS_SEGMENTS`].
    ///
    /// The richest tail is kept that still leaves room for the note or a useful start of it
    /// ([`WANTED_NOTE_CHARS`]), else the richest that fits at all; then the note is shortened to
    /// fill what is left. A note cut to fewer than [`MIN_NOTE_CHARS`] of its own text is dropped instead of
    /// sending a bare label.
    fn sms_text(&self) -> String {
        let fits = |text: &str| sms::segments(text).count <= MAX_SMS_SEGMENTS;
        let tails = self.sms_tails();
        let leanest = tails.last().cloned().unwrap_or_default();
        let Some(note) = self.note_sms.as_deref().map(|note| format!(" {}", sentence(note))) else {
            let tail = tails.iter().find(|tail| fits(&format!("{}{tail}", self.line))).cloned().unwrap_or(leanest);
            return format!("{}{tail}", self.line);
        };
        let label_chars = 1 + self.note_label_chars;
        let note_chars = note.chars().count();
        let wanted: String = note.chars().take(label_chars + WANTED_NOTE_CHARS).chain((note_chars > label_chars + WANTED_NOTE_CHARS).then_some('…')).collect();
        let tail =
            [wanted.as_str(), ""].iter().find_map(|probe| tails.iter().find(|tail| fits(&format!("{}{probe}{tail}", self.line)))).cloned().unwrap_or(leanest);
        let fitted = sms::fit(&self.line, &note, &tail, MAX_SMS_SEGMENTS);
        let kept = fitted.chars().count().saturating_sub(self.line.chars().count() + tail.chars().count());
        if kept < note_chars && kept < label_chars + MIN_NOTE_CHARS { format!("{}{tail}", self.line) } else { fitted }
    }

    fn email_text(&self, facts: &Facts) -> String {
        let (greeting, signoff) = self.greeting_and_signoff(facts);
        let mut body = vec![self.line.clone()];
        body.extend(self.note_multiline.clone());
        body.extend(self.details.iter().map(|detail| detail.full.clone()));
        let mut paragraphs = vec![greeting, body.join("\n")];
        paragraphs.extend(self.link_line());
        paragraphs.push(signoff);
        paragraphs.join("\n\n")
    }

    fn greeting_and_signoff(&self, facts: &Facts) -> (String, String) {
        if self.staff {
            (facts.text("greeting-staff", &[]), facts.text("signoff-staff", &[]))
        } else {
            (facts.text("greeting-beneficiary", &[]), facts.text("signoff-beneficiary", &[]))
        }
    }

    fn email_html(&self, facts: &Facts) -> String {
        let (greeting, signoff) = self.greeting_and_signoff(facts);
        let mut body = vec![paragraph(&greeting), paragraph(&self.line)];
        body.extend(self.note_multiline.as_deref().map(|note| format!("<blockquote>{}</blockquote>", escape_lines(note))));
        body.extend(self.details.iter().map(|detail| paragraph(&detail.full)));
        if let Some((key, url)) = &self.link {
            // The label comes from Fluent with a marker where the URL goes, so the link can be an anchor.
            const MARKER: &str = "\u{E000}";
            let label = escape_html(&text(facts.language, key, &[("url", MARKER.into())]));
            let anchor = format!("<a href=\"{}\">{}</a>", escape_html(url), escape_html(url));
            body.push(format!("<p>{}</p>", label.replace(MARKER, &anchor)));
        }
        body.push(paragraph(&signoff));
        html_document(facts, &self.subject, &body.join("\n"))
    }
}

/// "Hello, this is Balagh with an update on your report number 1, 0, … Its status is now: …", the
/// note and the expected date: what an update call says before its menu.
fn status_speech(facts: &Facts, status: &str) -> String {
    let mut speech = vec![facts.text("call-intro", &[("digits", digits_spoken(&facts.ticket, facts.language).into()), ("status", status.into())])];
    if let Some(note) = facts.note_on_one_line() {
        speech.push(facts.text("call-note", &[("note", note.into())]));
    }
    if let Some(at) = facts.expected_at_for_beneficiary() {
        speech.push(facts.text("call-expected", &[("date", gregorian_date(at, facts.language).into())]));
    }
    speech.join(" ")
}

/// The `balagh_report_update` WhatsApp template: ticket, status and the date of the update.
fn update_template(facts: &Facts, status: &str) -> (String, Vec<String>) {
    ("balagh_report_update".to_owned(), vec![facts.ticket.clone(), status.to_owned(), date_line(facts.now, facts.language)])
}

/// The SMS form of a note message: "note-line" becomes "note-line-short"; others stay.
fn short_note_key(note_key: &str) -> &str {
    if note_key == "note-line" { "note-line-short" } else { note_key }
}

/// The piece ending as a sentence: a full stop is added unless it already ends in punctuation.
fn sentence(piece: &str) -> String {
    let piece = piece.trim_end();
    match piece.chars().last() {
        Some('.' | '!' | '?' | '؟' | '…' | ':' | '،' | ';' | '»' | '"' | '۔') | None => piece.to_owned(),
        Some(_) => format!("{piece}."),
    }
}

/// A WhatsApp template parameter: one line (the API refuses line breaks and tabs), at most 1,000
/// characters.
fn whatsapp_parameter(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= 1000 { one_line } else { format!("{}…", one_line.chars().take(999).collect::<String>()) }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Escaped text with its line breaks kept as `<br>`.
fn escape_lines(text: &str) -> String {
    text.lines().map(escape_html).collect::<Vec<_>>().join("<br>\n")
}

fn paragraph(text: &str) -> String {
    format!("<p>{}</p>", escape_lines(text))
}

/// An override's text as HTML: paragraphs at blank lines, line breaks kept, the portal address made
/// a link.
fn html_from_text(facts: &Facts, subject: &str, text: &str) -> String {
    let mut body: Vec<String> = text.split("\n\n").map(str::trim).filter(|block| !block.is_empty()).map(paragraph).collect();
    if let Some(url) = &facts.portal_url {
        let escaped = escape_html(url);
        let anchor = format!("<a href=\"{escaped}\">{escaped}</a>");
        body = body.into_iter().map(|block| block.replace(&escaped, &anchor)).collect();
    }
    html_document(facts, subject, &body.join("\n"))
}

fn html_document(facts: &Facts, subject: &str, body: &str) -> String {
    let direction = if is_rtl(facts.language) { "rtl" } else { "ltr" };
    let language = facts.language;
    format!(
        "<!DOCTYPE html>\n<html lang=\"{language}\" dir=\"{direction}\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n<div dir=\"{direction}\" lang=\"{language}\">\n{body}\n</div>\n</body>\n</html>\n",
        escape_html(subject)
    )
}
