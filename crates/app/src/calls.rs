//! Automated update calls and what providers say afterwards. An update call reads the beneficiary
//! his ticket digit by digit and the update, then takes one key: 1 hear it again, 2 confirm a
//! resolved report is fixed (it closes), 3 not fixed (it reopens and escalates, as a "not fixed"
//! closure rating does everywhere), 4 rate the closure (quality, then speed), 0 an agent. Each
//! answer is on the report's timeline. Status callbacks are recorded once each; a call that was
//! not answered is placed again at the configured intervals, then replaced by a text.

use crate::{App, AppError};
use balagh_domain::event::{Actor, Event, EventKind};
use balagh_domain::lifecycle::{self, Command};
use balagh_domain::rating::{ClosureRating, Score};
use balagh_domain::report::{Report, ReportId};
use balagh_domain::vocabulary::{Channel, Status};
use balagh_domain::{FieldError, PhoneNumber};
use balagh_notify::Medium;
use balagh_store::{OutboxMessage, Receipt, ReportChange, StoredOutbox};

/// The channel of what a beneficiary does on an automated call.
const CALL_CHANNEL: Channel = Channel::Ivr;

/// An update call as it is about to be spoken.
#[derive(Debug, Clone)]
pub struct UpdateCall {
    pub report: Report,
    pub language: String,
    /// The ticket read digit by digit, the update, the expected date: everything before the menu.
    pub speech: String,
    /// The report is resolved now: the menu offers confirming, "not fixed" and rating.
    pub resolved: bool,
}

/// A key pressed on an update call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAnswer {
    Repeat,
    Confirm,
    NotFixed,
    Rate { quality: Score, speed: Score },
    Agent,
}

impl CallAnswer {
    fn choice(self) -> &'static str {
        match self {
            CallAnswer::Repeat => "repeat",
            CallAnswer::Confirm => "confirmed",
            CallAnswer::NotFixed => "not_fixed",
            CallAnswer::Rate { .. } => "rated",
            CallAnswer::Agent => "agent",
        }
    }
}

/// What an answer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    Recorded,
    /// Nothing to do: the report moved on, or the answer was already given (a replayed request).
    AlreadyDone {
        reason: String,
    },
}

/// A provider's status callback for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    pub outbox_id: i64,
    /// The provider's id of the message or call (`SM…`, `CA…`).
    pub provider_ref: String,
    pub status: String,
    pub error_code: Option<String>,
}

/// Message and call statuses a Twilio-compatible provider reports.
const KNOWN_STATUSES: &[&str] = &[
    "accepted",
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "read",
    "canceled",
    "initiated",
    "ringing",
    "in-progress",
    "answered",
    "completed",
    "busy",
    "no-answer",
];

/// Call statuses that mean nobody answered.
const NOT_ANSWERED: &[&str] = &["busy", "no-answer", "failed", "canceled"];

impl App {
    /// The update call of outbox row `outbox_id`, as it is about to be spoken.
    pub async fn update_call(&self, outbox_id: i64) -> Result<UpdateCall, AppError> {
        let (row, _, report) = self.call_row(outbox_id).await?;
        let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap_or_default();
        let language = balagh_i18n::negotiate(payload.get("language").and_then(|l| l.as_str()).unwrap_or("ar")).to_owned();
        let service = self.catalogue().service(&report.service_code).map(|s| if language == "ar" { s.name_ar.clone() } else { s.name_en.clone() });
        let rendered = balagh_i18n::render(&balagh_i18n::Request {
            topic: &row.topic,
            medium: "call",
            language: &language,
            payload: &payload,
            service_name: service.as_deref(),
            portal_url: None,
            now: self.now(),
            override_source: None,
        });
        let speech = rendered.speech.unwrap_or(rendered.text);
        Ok(UpdateCall { resolved: report.status == Status::Resolved, report, language, speech })
    }

    /// Records a key the beneficiary pressed on update call `outbox_id` (provider call id `call`)
    /// and does what it asks.
    pub async fn answer_update_call(&self, outbox_id: i64, call: Option<&str>, answer: CallAnswer) -> Result<Answered, AppError> {
        let (_, phone, report) = self.call_row(outbox_id).await?;
        let ticket = report.ticket();
        if let CallAnswer::Rate { quality, speed } = answer {
            let rating = ClosureRating { quality, speed, comment: None, not_fixed: false };
            return already_done(self.rate_closure(ticket, phone.as_str(), rating, CALL_CHANNEL).await);
        }
        let now = self.now();
        let answered = Event {
            at: now,
            actor: Actor::beneficiary(),
            channel: CALL_CHANNEL,
            public: false,
            kind: EventKind::UpdateCallAnswered { choice: answer.choice().to_owned(), call: call.map(str::to_owned) },
            note: None,
        };
        let result = self
            .change(ticket, now, |report, _| match answer {
                CallAnswer::Confirm => {
                    let transition = lifecycle::apply(report, Command::Close, &Actor::beneficiary(), CALL_CHANNEL, now)?;
                    let mut events = vec![answered.clone()];
                    events.extend(transition.events.clone());
                    Ok(ReportChange::new(transition.applied_to(report), events))
                }
                CallAnswer::NotFixed => self.reopened_not_fixed(report, vec![answered.clone()], CALL_CHANNEL, now),
                _ => Ok(ReportChange::new(report.clone(), vec![answered.clone()])),
            })
            .await;
        already_done(result)
    }

    /// Records a provider's status callback. An unanswered call is placed again after the next
    /// configured interval, or, when those are used up, replaced by a text. A replayed callback
    /// changes nothing; false says so.
    pub async fn delivery_status(&self, status: DeliveryStatus) -> Result<bool, AppError> {
        let row = self.store.db.outbox_row(status.outbox_id).await.map_err(|e| match e {
            balagh_store::StoreError::NotFound => AppError::not_found(format!("notification {}", status.outbox_id)),
            other => other.into(),
        })?;
        if let Some(sent_as) = &row.provider_ref
            && row.state == "sent"
            && sent_as != &status.provider_ref
        {
            return Err(AppError::not_found(format!("message {} of notification {} (it was sent as {sent_as})", status.provider_ref, status.outbox_id)));
        }
        if !KNOWN_STATUSES.contains(&status.status.as_str()) {
            return Err(FieldError::new("status", "unknown_status", format!("'{}' is not a message or call status", status.status)).into());
        }
        let now = self.now();
        let follow_on = self.after_unanswered(&row, &status.status, now);
        let receipt = Receipt {
            outbox_id: status.outbox_id,
            provider_ref: status.provider_ref,
            status: status.status.clone(),
            error_code: status.error_code,
            received_at: now,
        };
        let new = self.store.db.record_receipt(&receipt, &follow_on).await?;
        metrics::counter!("balagh_delivery_status_total", "status" => status.status).increment(1);
        if new && !follow_on.is_empty() {
            self.outbox_signal().notify_waiters();
        }
        Ok(new)
    }

    /// The row that follows a call nobody answered: the same call later, or a text at last.
    fn after_unanswered(&self, row: &StoredOutbox, status: &str, now: jiff::Timestamp) -> Vec<OutboxMessage> {
        let (medium, address) = Medium::split(&row.recipient);
        if medium != Medium::Call || !NOT_ANSWERED.contains(&status) || row.report_id.is_none() {
            return vec![];
        }
        let mut payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap_or_default();
        let attempt = payload.get("call_attempt").and_then(|a| a.as_u64()).unwrap_or(1);
        let first = payload.get("first_call").and_then(|f| f.as_i64()).unwrap_or(row.id);
        payload["first_call"] = first.into();
        payload["call_attempt"] = (attempt + 1).into();
        let retries = &self.delivery().call_retries;
        let message = match usize::try_from(attempt - 1).ok().and_then(|i| retries.get(i)) {
            Some(wait) => OutboxMessage {
                dedupe_key: format!("call-retry:{first}:{}", attempt + 1),
                topic: topic_name(&row.topic),
                recipient: row.recipient.clone(),
                payload,
                created_at: now,
                available_at: now.checked_add(*wait).ok(),
            },
            None => OutboxMessage {
                dedupe_key: format!("call-fallback:{first}"),
                topic: "call_fallback",
                recipient: format!("sms:{address}"),
                payload,
                created_at: now,
                available_at: None,
            },
        };
        vec![message]
    }

    /// An outbox row that is an update call, its phone, and its report.
    async fn call_row(&self, outbox_id: i64) -> Result<(StoredOutbox, PhoneNumber, Report), AppError> {
        let missing = || AppError::not_found(format!("update call {outbox_id}"));
        let row = self.store.db.outbox_row(outbox_id).await.map_err(|e| match e {
            balagh_store::StoreError::NotFound => missing(),
            other => other.into(),
        })?;
        let (medium, address) = Medium::split(&row.recipient);
        let Some(report_id) = row.report_id.filter(|_| medium == Medium::Call) else { return Err(missing()) };
        let phone = PhoneNumber::parse("phone", address)?;
        let report = self.report_by_id(ReportId(report_id)).await?;
        Ok((row, phone, report))
    }
}

/// The static topic name of a stored topic (outbox rows keep `&'static str` topics).
fn topic_name(topic: &str) -> &'static str {
    [
        "received",
        "status_changed",
        "closure_survey",
        "escalated",
        "public_comment",
        "follow_up_received",
        "assigned",
        "escalation",
        "follow_up",
        "call_fallback",
    ]
    .into_iter()
    .find(|known| *known == topic)
    .unwrap_or("status_changed")
}

/// A refused answer because the report moved on (not resolved any more, already rated, already
/// reopened) is not an error of the call: the caller is told it was already recorded.
fn already_done<T>(result: Result<T, AppError>) -> Result<Answered, AppError> {
    match result {
        Ok(_) => Ok(Answered::Recorded),
        Err(AppError::Conflict { message, .. }) => Ok(Answered::AlreadyDone { reason: message }),
        Err(AppError::Transition(error)) => Ok(Answered::AlreadyDone { reason: error.to_string() }),
        Err(other) => Err(other),
    }
}
