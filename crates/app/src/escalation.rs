//! Escalation use cases: every change settles the report's clocks and its next escalation timer;
//! a due timer fires the next step of the report's chain (an event on the timeline, a row per
//! target, an outbox row per notified target); supervisors list what was escalated to them and
//! acknowledge it; follow-ups and escalations are measured.

use crate::sla::status_history;
use crate::{App, AppError};
use balagh_domain::escalation::{self, Cause, Target};
use balagh_domain::event::{Actor, Event, EventKind, Role};
use balagh_domain::report::{Report, ReportId};
use balagh_domain::sla::StatusChange;
use balagh_store::{
    EscalationFilter, EscalationRecord, EscalationTarget, FollowUpCounts, OutboxMessage, ReportChange, StatusHistory, StoredEscalation, TimerKind,
};
use jiff::Timestamp;
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::Notify;

/// Wakes the escalation worker when a change sets a timer earlier than the one it sleeps until.
#[derive(Debug)]
pub struct TimerSignal {
    notify: Notify,
    /// The instant (µs) the worker sleeps until; `i64::MAX` when it sleeps without a deadline.
    planned_wake: AtomicI64,
}

impl Default for TimerSignal {
    fn default() -> Self {
        TimerSignal { notify: Notify::new(), planned_wake: AtomicI64::new(i64::MAX) }
    }
}

impl TimerSignal {
    /// A timer was set to `due`: wake the worker if it would otherwise sleep past it.
    pub fn timer_set(&self, due: Timestamp) {
        if due.as_microsecond() < self.planned_wake.load(Ordering::Acquire) {
            self.notify.notify_one();
        }
    }

    /// The worker is about to sleep until `wake` (or indefinitely).
    pub fn sleeping_until(&self, wake: Option<Timestamp>) {
        self.planned_wake.store(wake.map_or(i64::MAX, Timestamp::as_microsecond), Ordering::Release);
    }

    pub async fn notified(&self) {
        self.notify.notified().await;
    }
}

/// Which escalations a viewer asks for.
#[derive(Debug, Clone, Default)]
pub struct EscalationQuery {
    /// Only those addressed to the viewer: his user id, or the position he holds.
    pub mine: bool,
    pub unacknowledged_only: bool,
    pub report: Option<ReportId>,
    pub before: Option<i64>,
    pub limit: u64,
}

/// Follow-up and escalation measurements over reports received in a period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FollowUpMeasures {
    pub counts: FollowUpCounts,
    /// Share of reports followed up at least once, 0 to 1.
    pub followed_up_share: f64,
    /// Follow-ups per report.
    pub follow_ups_per_report: f64,
    /// Share of reports escalated at least once, 0 to 1.
    pub escalated_share: f64,
}

impl App {
    /// Finishes a change: the report's escalation progress follows its status changes (a reopening
    /// restarts the chain), its expected resolution follows its clocks, and its next escalation
    /// timer is set from its chain.
    pub(crate) fn settle(&self, mut change: ReportChange, history: &[StatusChange], now: Timestamp) -> ReportChange {
        let new_changes = status_history(&change.events);
        // An escalation in the same change was decided on progress already settled for the
        // status changes before it; only those after it move the progress now.
        let after_escalation = change.events.iter().rposition(|e| matches!(e.kind, EventKind::Escalated { .. })).map_or(0, |i| i + 1);
        for status_change in &status_history(&change.events[after_escalation..]) {
            change.report.escalation = escalation::after_status_change(change.report.escalation, status_change.to);
        }
        let mut changes = history.to_vec();
        changes.extend(new_changes);
        let sla = self.sla();
        let (_, state, clocks) = sla.clocks(&change.report, &changes, now);
        change.report.expected_at = Some(state.resolution.due_at);
        let next_due = sla.chain(&change.report).next_due(&change.report, &clocks, now);
        change.with_timer(next_due)
    }

    /// Fires the report's next escalation step at `now`.
    pub(crate) fn escalate(&self, report: &Report, cause: Cause, now: Timestamp) -> ReportChange {
        let fired = self.sla().chain(report).fire(report, cause, now);
        let department = report.assignment.department.clone();
        let targets: Vec<EscalationTarget> =
            fired.targets.iter().map(|target| EscalationTarget { target: target.to_string(), department: Some(department.clone()) }).collect();
        let reason = fired.event.note.clone().unwrap_or_default();
        let outbox = if fired.notify {
            fired
                .targets
                .iter()
                .map(|target| OutboxMessage {
                    dedupe_key: format!("escalation:{}:{}:{}:{target}", report.id.0, fired.round, fired.step),
                    topic: "escalation",
                    recipient: recipient(target, &department),
                    payload: json!({
                        "ticket": report.ticket().to_string(),
                        "service_code": report.service_code,
                        "department": department,
                        "priority": fired.report.priority.as_str(),
                        "status": report.status.as_str(),
                        "level": fired.level,
                        "round": fired.round,
                        "step": fired.step,
                        "reason": reason,
                        "expected_at": report.expected_at.map(|at| at.to_string()),
                    }),
                    created_at: now,
                    available_at: None,
                })
                .collect()
        } else {
            vec![]
        };
        metrics::counter!("balagh_escalations_total", "level" => fired.level.to_string(), "cause" => cause_name(cause)).increment(1);
        let record = EscalationRecord { round: fired.round, step: fired.step, level: fired.level, reminder: fired.reminder, targets, reason, fired_at: now };
        let mut change = ReportChange::new(fired.report, vec![fired.event]);
        change.escalations.push(record);
        change.outbox = outbox;
        // The beneficiary hears of escalations he did not cause himself (a follow-up answers him
        // with its own message; a "not fixed" is answered on the spot).
        if cause == Cause::Due {
            change.outbox.extend(crate::updates::beneficiary_updates(&change.report, &change.events));
        }
        change
    }

    /// Fires the claimed timers that `owner` still holds, in one transaction. Returns how many
    /// reports were escalated (or had a stale timer removed).
    pub async fn fire_claimed(&self, owner: &str, ids: &[ReportId], now: Timestamp) -> Result<usize, AppError> {
        let fired = self
            .store
            .db
            .fire_claimed(TimerKind::Escalation, owner, ids, |report, history: &StatusHistory| {
                let history = crate::sla::from_stored(history);
                if !escalation::escalates(report.status) {
                    return Ok::<_, AppError>(Some(ReportChange::new(report.clone(), vec![]).with_timer(None)));
                }
                Ok(Some(self.settle(self.escalate(report, Cause::Due, now), &history, now)))
            })
            .await??;
        if fired > 0 {
            self.outbox_signal().notify_waiters();
        }
        Ok(fired)
    }

    /// Escalations visible to `viewer`, newest first. Staff and supervisors bound to a department
    /// see their department's; `mine` narrows to those addressed to the viewer.
    pub async fn escalations(&self, viewer: &Actor, query: EscalationQuery) -> Result<Vec<StoredEscalation>, AppError> {
        if !matches!(viewer.role, Role::Staff | Role::Supervisor | Role::Admin | Role::System) {
            return Err(AppError::Forbidden { code: "forbidden", message: format!("a {} may not list escalations", viewer.role.as_str()) });
        }
        let addressees = if query.mine {
            let addressees = addressees(viewer);
            if addressees.is_empty() {
                return Ok(vec![]);
            }
            addressees
        } else {
            vec![]
        };
        let department = if viewer.role == Role::Admin || viewer.role == Role::System { None } else { viewer.department.clone() };
        let filter = EscalationFilter {
            addressees,
            department,
            report: query.report,
            unacknowledged_only: query.unacknowledged_only,
            before: query.before,
            limit: query.limit,
        };
        Ok(self.store.db.escalations(&filter).await?)
    }

    /// `viewer` acknowledges an escalation addressed to him; the chain goes on for everyone else.
    pub async fn acknowledge_escalation(&self, id: i64, viewer: &Actor) -> Result<StoredEscalation, AppError> {
        let escalation = self.store.db.escalation(id).await?.ok_or_else(|| AppError::not_found(format!("escalation {id}")))?;
        let addressed = addressees(viewer).iter().any(|a| a.target == escalation.target && (a.department.is_none() || a.department == escalation.department));
        if !addressed {
            return Err(AppError::Forbidden { code: "not_addressed", message: format!("escalation {id} is addressed to {}, not to you", escalation.target) });
        }
        if escalation.acknowledged_at.is_some() {
            return Err(AppError::Conflict { code: "already_acknowledged", message: format!("escalation {id} was already acknowledged") });
        }
        let report = self.report_by_id(escalation.report_id).await?;
        let now = self.now();
        let by = viewer.id.clone().unwrap_or_else(|| viewer.role.as_str().to_owned());
        let event = Event {
            at: now,
            actor: viewer.clone(),
            channel: balagh_domain::Channel::Api,
            public: false,
            kind: EventKind::EscalationAcknowledged { round: escalation.round, step: escalation.step, target: escalation.target.clone() },
            note: None,
        };
        let change = ReportChange::new(report, vec![event]);
        if !self.store.db.acknowledge_escalation(id, &by, now, &change).await? {
            return Err(AppError::Conflict { code: "already_acknowledged", message: format!("escalation {id} was already acknowledged") });
        }
        Ok(StoredEscalation { acknowledged_at: Some(now), acknowledged_by: Some(by), ..escalation })
    }

    /// Follow-ups and escalations of the reports received in `[from, to]`, for supervisors and
    /// administrators; a supervisor bound to a department measures his department.
    pub async fn follow_up_measures(&self, viewer: &Actor, from: Timestamp, to: Timestamp) -> Result<FollowUpMeasures, AppError> {
        if !matches!(viewer.role, Role::Supervisor | Role::Admin | Role::System) {
            return Err(AppError::Forbidden {
                code: "forbidden",
                message: format!("a {} may not read measurements; supervisors and administrators may", viewer.role.as_str()),
            });
        }
        let department = if viewer.role == Role::Supervisor { viewer.department.as_deref() } else { None };
        let counts = self.store.db.follow_up_counts(from, to, department).await?;
        let share = |n: i64| if counts.reports == 0 { 0.0 } else { n as f64 / counts.reports as f64 };
        Ok(FollowUpMeasures {
            counts,
            followed_up_share: share(counts.followed_up),
            follow_ups_per_report: share(counts.follow_ups),
            escalated_share: share(counts.escalated),
        })
    }
}

fn cause_name(cause: Cause) -> &'static str {
    match cause {
        Cause::Due => "due",
        Cause::FollowUp => "follow_up",
        Cause::NotFixed => "not_fixed",
    }
}

/// Where a target's notification goes: departmental positions and teams are those of the report's
/// department.
fn recipient(target: &Target, department: &str) -> String {
    match target {
        Target::Position(position) if position.is_departmental() => format!("{}@{department}", position.as_str()),
        Target::Team(_) => format!("{target}@{department}"),
        _ => target.to_string(),
    }
}

/// The targets that address `viewer`: his user id, and the position he holds (of his department,
/// for departmental positions).
fn addressees(viewer: &Actor) -> Vec<EscalationTarget> {
    let mut addressees = Vec::new();
    if let Some(id) = &viewer.id {
        addressees.push(EscalationTarget { target: Target::User(id.clone()).to_string(), department: None });
    }
    if let Some(position) = viewer.position {
        let department = if position.is_departmental() { viewer.department.clone() } else { None };
        if !position.is_departmental() || department.is_some() {
            addressees.push(EscalationTarget { target: position.as_str().to_owned(), department });
        }
    }
    addressees
}
