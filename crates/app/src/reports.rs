//! The report use cases: open, read, list, transition, comment, follow up, rate, and the timeline.

use crate::{App, AppError};
use balagh_domain::error::FieldError;
use balagh_domain::escalation::{self, Cause};
use balagh_domain::event::{Actor, Event, EventKind, Role};
use balagh_domain::lifecycle::{self, Command};
use balagh_domain::rating::{ClosureRating, InteractionRating};
use balagh_domain::report::{Description, NewReport, Report, ReportDraft, ReportId};
use balagh_domain::sla::StatusChange;
use balagh_domain::vocabulary::{Channel, Status};
use balagh_domain::{PhoneNumber, TicketNumber};
use balagh_store::{
    Acknowledgement, IdempotencyKey, IntakeOutcome, IntakeRecord, NewLocationRequest, NewMedia, OutboxMessage, Rating, RatingRecord, ReportChange,
    ReportFilter, StoredEvent,
};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// The outcome of opening a report.
#[derive(Debug, Clone)]
pub struct Opened {
    pub report: Report,
    /// True when an earlier request with the same idempotency key created it.
    pub replayed: bool,
}

/// A list request as channels give it: a store filter, restricted below by the viewer's role.
pub type ReportQuery = ReportFilter;

/// The longest idempotency key accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;

fn idempotency_key(actor: &Actor, key: Option<&str>, report: &NewReport) -> Result<Option<IdempotencyKey>, AppError> {
    let Some(key) = key.map(str::trim).filter(|k| !k.is_empty()) else { return Ok(None) };
    if key.len() > MAX_IDEMPOTENCY_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FieldError::new(
            "Idempotency-Key",
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"),
        )
        .into());
    }
    // Keys are scoped by caller, so two clients cannot collide or probe each other's keys.
    let scope = actor.id.as_deref().unwrap_or("public");
    let fingerprint = hex::encode(Sha256::digest(format!("{report:?}").as_bytes()));
    Ok(Some(IdempotencyKey { key: format!("{scope}:{key}"), fingerprint }))
}

/// What a new report is stored with, in its own transaction.
#[derive(Debug, Default)]
pub(crate) struct StoredWith {
    /// Builds the messages that acknowledge it from the stored report.
    pub acknowledge: Option<Acknowledgement>,
    /// Its photos.
    pub media: Vec<NewMedia>,
    /// It waits for its place, marked from a link, until then.
    pub location_request: Option<NewLocationRequest>,
}

impl App {
    /// Opens a report (or complaint, inquiry, suggestion) from any channel. Returns once the report is
    /// durably committed; a retry with the same idempotency key returns the original report.
    pub async fn open_report(&self, draft: &ReportDraft, channel: Channel, actor: &Actor, idempotency: Option<&str>) -> Result<Opened, AppError> {
        self.open_report_with(draft, channel, actor, idempotency, StoredWith::default()).await
    }

    /// `open_report`, storing what `with` holds in the same transaction (photos, the messages that
    /// acknowledge the report, the wait for its place), so a report is never stored without them
    /// (nor acknowledged twice).
    pub(crate) async fn open_report_with(
        &self,
        draft: &ReportDraft,
        channel: Channel,
        actor: &Actor,
        idempotency: Option<&str>,
        with: StoredWith,
    ) -> Result<Opened, AppError> {
        let report = NewReport::validate(draft, channel, self.catalogue())?;
        let idempotency = idempotency_key(actor, idempotency, &report)?;
        let now = self.now();
        let created = Event {
            at: now,
            actor: actor.clone(),
            channel,
            public: true,
            kind: EventKind::Created { kind: report.kind, service_code: report.service_code.clone(), priority: report.priority },
            note: None,
        };
        let expected_at = Some(self.sla().expected_resolution(&report.department, &report.service_code, report.priority, now));
        let mut events = vec![created];
        let mut provisional = report.clone().into_report(ReportId(0), now, expected_at);
        if let Some(wait) = &with.location_request {
            let transition = lifecycle::apply(&provisional, Command::AwaitLocation { until: wait.expires_at }, actor, channel, now)?;
            provisional = transition.applied_to(&provisional);
            events.extend(transition.events);
        }
        let history = crate::sla::status_history(&events);
        let next_due = self.settle(ReportChange::new(provisional, vec![]), &history, now).next_due;
        let (kind, channel_name) = (report.kind.as_str(), channel.as_str());
        let acknowledged = with.acknowledge.is_some();
        let record = IntakeRecord {
            report,
            created_at: now,
            expected_at,
            next_due,
            events,
            idempotency,
            messages: with.acknowledge,
            media: with.media,
            location_request: with.location_request,
        };
        match self.store.intake.submit(record).await? {
            IntakeOutcome::Created(report) => {
                if let Some(due) = next_due {
                    self.timer_signal().timer_set(due);
                }
                if acknowledged {
                    self.outbox_signal().notify_waiters();
                }
                metrics::counter!("balagh_reports_created_total", "channel" => channel_name, "kind" => kind).increment(1);
                Ok(Opened { report: *report, replayed: false })
            }
            IntakeOutcome::Replayed(id) => Ok(Opened { report: self.report_by_id(id).await?, replayed: true }),
            IntakeOutcome::KeyReused(_) => {
                Err(AppError::Conflict { code: "idempotency_key_reused", message: "this Idempotency-Key was already used for a different request".into() })
            }
        }
    }

    pub async fn report_by_id(&self, id: ReportId) -> Result<Report, AppError> {
        self.store.db.report(id).await?.ok_or_else(|| AppError::not_found(format!("report {}", id.ticket())))
    }

    pub async fn report(&self, ticket: TicketNumber) -> Result<Report, AppError> {
        self.report_by_id(ticket.report_id()).await
    }

    /// Reports matching `query`, newest first. Staff bound to a department see only its reports.
    pub async fn list_reports(&self, mut query: ReportQuery, viewer: &Actor) -> Result<Vec<Report>, AppError> {
        if viewer.role == Role::Staff
            && let Some(department) = &viewer.department
        {
            query.departments = vec![department.clone()];
        }
        Ok(self.store.db.reports(&query).await?)
    }

    /// Moves a report through its lifecycle, as the domain allows for this actor.
    pub async fn transition(&self, ticket: TicketNumber, command: Command, actor: &Actor, channel: Channel) -> Result<Report, AppError> {
        if let Command::MarkDuplicate { original } = &command {
            self.report_by_id(*original).await?;
        }
        if let Command::Assign { department, .. } = &command
            && self.catalogue().department(department).is_none()
        {
            return Err(FieldError::new("department", "unknown_department", format!("department '{department}' is not in the catalogue")).into());
        }
        // A report waiting for its place is not resumed by hand; assigning it ends the wait.
        let place_wait = match command {
            Command::Resume | Command::Assign { .. } => self.open_place_wait(ticket.report_id()).await?,
            _ => None,
        };
        let now = self.now();
        let report = self
            .change(ticket, now, |report, _| {
                let waits_for_place = report.status == Status::AwaitingCitizen && place_wait.is_some();
                if waits_for_place && command == Command::Resume {
                    let until = place_wait.as_ref().map(|wait| wait.expires_at.to_string()).unwrap_or_default();
                    return Err(AppError::Conflict {
                        code: "awaiting_place",
                        message: format!("report {ticket} waits for its place to be marked from a link until {until}; assign it to go on without"),
                    });
                }
                let transition = lifecycle::apply(report, command.clone(), actor, channel, now)?;
                let next = transition.applied_to(report);
                let mut change = ReportChange::new(next, transition.events);
                if waits_for_place {
                    change.location_answered = Some((balagh_store::LocationOutcome::Superseded, now));
                }
                Ok(change)
            })
            .await?;
        metrics::counter!("balagh_transitions_total", "to" => report.status.as_str()).increment(1);
        Ok(report)
    }

    /// Adds a staff comment, public (the beneficiary sees it) or internal.
    pub async fn comment(&self, ticket: TicketNumber, text: &str, public: bool, actor: &Actor, channel: Channel) -> Result<Report, AppError> {
        if !actor.role.is_staff_side() {
            return Err(AppError::Forbidden {
                code: "forbidden",
                message: format!("a {} may not comment; beneficiaries file a follow-up", actor.role.as_str()),
            });
        }
        let note = balagh_domain::report::required_note("text", text)?;
        let now = self.now();
        self.change(ticket, now, |report, _| {
            lifecycle::check_department(report, actor)?;
            let mut next = report.clone();
            next.updated_at = now;
            if public {
                next.status_note = Some(note.clone());
            }
            let event = Event { at: now, actor: actor.clone(), channel, public, kind: EventKind::Commented, note: Some(note.clone()) };
            Ok(ReportChange::new(next, vec![event]))
        })
        .await
    }

    /// Records a beneficiary's follow-up on his report ("I feel my report is being ignored"),
    /// proven by the report's phone number.
    pub async fn follow_up(&self, ticket: TicketNumber, phone: &str, text: Option<&str>, channel: Channel) -> Result<FollowedUp, AppError> {
        let phone = PhoneNumber::parse("phone", phone)?;
        let text = text.map(|t| Description::parse("text", t.trim())).transpose()?.filter(|t| !t.as_str().is_empty());
        let last_follow_up = self.store.db.last_event_at(ticket.report_id(), "followed_up").await?;
        let now = self.now();
        let mut escalated = false;
        let report = self
            .change(ticket, now, |report, history| {
                check_beneficiary(report, &phone)?;
                if let Some(last) = last_follow_up {
                    let allowed = self.sla().policies.next_follow_up_allowed(last);
                    if now < allowed {
                        return Err(AppError::Conflict {
                            code: "follow_up_too_soon",
                            message: format!(
                                "a follow-up on report {} was filed at {last}; the next one is accepted from {allowed}, and the report is being followed",
                                report.ticket()
                            ),
                        });
                    }
                }
                if report.status.is_terminal() {
                    return Err(AppError::Conflict {
                        code: "report_closed",
                        message: format!(
                            "report {} is {}; a follow-up needs an open report (rate the closure as not fixed to reopen it)",
                            report.ticket(),
                            report.status
                        ),
                    });
                }
                let mut next = report.clone();
                next.n_follow_ups += 1;
                next.updated_at = now;
                let event = Event {
                    at: now,
                    actor: Actor::beneficiary(),
                    channel,
                    public: true,
                    kind: EventKind::FollowedUp { n_follow_ups: next.n_follow_ups },
                    note: text.as_ref().map(|t| t.as_str().to_owned()),
                };
                // Overdue or idle: the report climbs one level at once. Otherwise whoever holds it
                // is told that the beneficiary is waiting.
                escalated = self.follow_up_escalates(report, history, now);
                if escalated {
                    let mut change = self.escalate(&next, Cause::FollowUp, now);
                    change.events.insert(0, event);
                    return Ok(change);
                }
                let mut change = ReportChange::new(next, vec![event]);
                change.outbox.push(self.follow_up_notice(&change.report, now));
                Ok(change)
            })
            .await?;
        let outcome = if escalated { "escalated" } else { "notified" };
        metrics::counter!("balagh_follow_ups_total", "channel" => channel.as_str(), "outcome" => outcome).increment(1);
        Ok(FollowedUp { report, escalated })
    }

    /// The beneficiary rates one contact: the agent's service and the quality of the answer.
    pub async fn rate_interaction(&self, ticket: TicketNumber, phone: &str, rating: InteractionRating, channel: Channel) -> Result<Report, AppError> {
        let phone = PhoneNumber::parse("phone", phone)?;
        let now = self.now();
        self.change(ticket, now, |report, _| {
            check_beneficiary(report, &phone)?;
            let event = Event {
                at: now,
                actor: Actor::beneficiary(),
                channel,
                public: false,
                kind: EventKind::InteractionRated { rating: rating.clone() },
                note: None,
            };
            let record = RatingRecord { rating: Rating::Interaction(rating.clone()), channel, at: now };
            let mut change = ReportChange::new(report.clone(), vec![event]);
            change.ratings.push(record);
            Ok(change)
        })
        .await
    }

    /// The beneficiary rates a resolved or closed report's closure: quality and speed. Accepting it
    /// closes a resolved report; "not fixed" or a low quality reopens it. One rating per resolution.
    pub async fn rate_closure(&self, ticket: TicketNumber, phone: &str, rating: ClosureRating, channel: Channel) -> Result<Report, AppError> {
        let phone = PhoneNumber::parse("phone", phone)?;
        if let Some(comment) = &rating.comment {
            Description::parse("comment", comment)?;
        }
        let last_rated = self.store.db.last_closure_rating_at(ticket.report_id()).await?;
        let now = self.now();
        let beneficiary = Actor::beneficiary();
        self.change(ticket, now, |report, _| {
            check_beneficiary(report, &phone)?;
            if !matches!(report.status, Status::Resolved | Status::Closed) {
                return Err(AppError::Conflict {
                    code: "not_resolved",
                    message: format!("report {} is {}; closure can be rated once it is resolved", report.ticket(), report.status),
                });
            }
            let resolved_at = report.resolved_at.unwrap_or(report.created_at);
            if last_rated.is_some_and(|at| at >= resolved_at) {
                return Err(AppError::Conflict { code: "already_rated", message: format!("the closure of report {} was already rated", report.ticket()) });
            }
            let rated = Event {
                at: now,
                actor: beneficiary.clone(),
                channel,
                public: false,
                kind: EventKind::ClosureRated { rating: rating.clone() },
                note: rating.comment.clone(),
            };
            let record = RatingRecord { rating: Rating::Closure(rating.clone()), channel, at: now };
            if rating.not_fixed {
                let mut change = self.reopened_not_fixed(report, vec![rated], channel, now)?;
                change.ratings.push(record);
                return Ok(change);
            }
            let follow_on = if rating.reopens() {
                let reason = format!("the beneficiary rated the closure quality {}/5", rating.quality.value());
                Some(Command::Reopen { reason })
            } else if report.status == Status::Resolved {
                Some(Command::Close)
            } else {
                None
            };
            let mut events = vec![rated];
            let mut next = report.clone();
            if let Some(command) = follow_on {
                let transition = lifecycle::apply(report, command, &beneficiary, channel, now)?;
                next = transition.applied_to(report);
                events.extend(transition.events);
            }
            let mut change = ReportChange::new(next, events);
            change.ratings.push(record);
            Ok(change)
        })
        .await
    }

    /// A report's timeline, oldest first: everything for staff, public events for everyone else.
    pub async fn timeline(&self, ticket: TicketNumber, viewer: &Actor) -> Result<Vec<StoredEvent>, AppError> {
        let report = self.report(ticket).await?;
        let staff = viewer.role.is_staff_side();
        if staff {
            lifecycle::check_department(&report, viewer)?;
        }
        Ok(self.store.db.events(report.id, staff).await?)
    }

    /// The municipality's public updates (status changes and public comments) across all reports
    /// in `[from, to]`, oldest first, for Open311 update feeds. The beneficiary's own words
    /// (creation, follow-ups) are not updates.
    pub async fn public_updates(&self, from: Timestamp, to: Timestamp, limit: u64) -> Result<Vec<StoredEvent>, AppError> {
        Ok(self.store.db.public_events_between(from, to, &["status_changed", "commented"], limit).await?)
    }

    /// The report's status changes so far, oldest first (empty for an unknown report, which the
    /// change that follows reports as not found).
    async fn status_history(&self, ticket: TicketNumber) -> Result<Vec<StatusChange>, AppError> {
        let history = self.store.db.status_history(ticket.report_id()).await?;
        Ok(crate::sla::from_stored(&history))
    }

    /// Applies the change `decide` makes to the report, settled (clocks, expected resolution, next
    /// escalation timer) against the report's status history, in one transaction.
    pub(crate) async fn change(
        &self,
        ticket: TicketNumber,
        now: Timestamp,
        mut decide: impl FnMut(&Report, &[StatusChange]) -> Result<ReportChange, AppError>,
    ) -> Result<Report, AppError> {
        let history = self.status_history(ticket).await?;
        let mut next_due = None;
        let mut wrote_outbox = false;
        let report = self
            .store
            .db
            .change_report(ticket.report_id(), |report| {
                let mut change = self.settle(decide(report, &history)?, &history, now);
                let without_escalations: Vec<Event> = change.events.iter().filter(|e| !matches!(e.kind, EventKind::Escalated { .. })).cloned().collect();
                let mut updates = crate::updates::beneficiary_updates(&change.report, &without_escalations);
                updates.extend(crate::updates::staff_updates(&change.report, &change.events));
                change.outbox.extend(updates);
                next_due = change.next_due;
                wrote_outbox = !change.outbox.is_empty();
                Ok::<_, AppError>(change)
            })
            .await
            .map_err(|e| not_found_as_ticket(e, ticket))??;
        if let Some(due) = next_due {
            self.timer_signal().timer_set(due);
        }
        if wrote_outbox {
            self.outbox_signal().notify_waiters();
        }
        Ok(report)
    }

    /// The beneficiary says a resolved or closed report is not fixed: it reopens and climbs its
    /// escalation chain at once, after `events` (what he said). Every channel's "not fixed" (a
    /// closure rating, a key on an update call) comes here.
    pub(crate) fn reopened_not_fixed(&self, report: &Report, mut events: Vec<Event>, channel: Channel, now: Timestamp) -> Result<ReportChange, AppError> {
        let reason = "the beneficiary says it is not fixed".to_owned();
        let transition = lifecycle::apply(report, Command::Reopen { reason }, &Actor::beneficiary(), channel, now)?;
        let mut next = transition.applied_to(report);
        next.escalation = escalation::after_status_change(next.escalation, Status::Reopened);
        events.extend(transition.events);
        let mut change = self.escalate(&next, Cause::NotFixed, now);
        events.append(&mut change.events);
        change.events = events;
        Ok(change)
    }

    /// Whether a follow-up on `report` escalates it: past due, or idle for the configured time.
    fn follow_up_escalates(&self, report: &Report, history: &[StatusChange], now: Timestamp) -> bool {
        let (_, _, clocks) = self.sla().clocks(report, history, now);
        escalation::follow_up_escalates(report, &clocks, self.sla().chains.follow_up_idle_minutes(), now)
    }

    /// The notice to whoever holds a report that its beneficiary followed up.
    fn follow_up_notice(&self, report: &Report, now: Timestamp) -> OutboxMessage {
        let assignment = &report.assignment;
        let recipient = crate::updates::holder(assignment);
        OutboxMessage {
            dedupe_key: format!("follow_up:{}:{}", report.id.0, report.n_follow_ups),
            topic: "follow_up",
            recipient,
            payload: serde_json::json!({
                "ticket": report.ticket().to_string(),
                "service_code": report.service_code,
                "department": assignment.department,
                "status": report.status.as_str(),
                "n_follow_ups": report.n_follow_ups,
                "expected_at": report.expected_at.map(|at| at.to_string()),
            }),
            created_at: now,
            available_at: None,
        }
    }
}

/// What a follow-up did: the report as it now is, and whether it escalated.
#[derive(Debug, Clone)]
pub struct FollowedUp {
    pub report: Report,
    pub escalated: bool,
}

fn not_found_as_ticket(error: balagh_store::StoreError, ticket: TicketNumber) -> AppError {
    match error {
        balagh_store::StoreError::NotFound => AppError::not_found(format!("report {ticket}")),
        other => other.into(),
    }
}

/// The beneficiary proves the report is his with the phone number on it.
fn check_beneficiary(report: &Report, phone: &PhoneNumber) -> Result<(), AppError> {
    match &report.contact.phone {
        Some(on_file) if on_file == phone => Ok(()),
        Some(_) => Err(AppError::Forbidden { code: "phone_mismatch", message: "the phone number does not match this report".into() }),
        None => Err(AppError::Forbidden { code: "no_phone_on_file", message: "this report has no phone number to verify you with; please call 940".into() }),
    }
}
