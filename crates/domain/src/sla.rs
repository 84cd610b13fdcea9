//! Service-level agreements: how long a report may wait for its first response and for its
//! resolution, counted in business or wall-clock minutes, paused while the report waits on the
//! beneficiary or is on hold, and restarted when it is reopened. `SlaPolicies` picks the policy
//! for a report (service and priority first, then department, then priority, then the default);
//! `evaluate` turns a report's status history into due times, remaining time and the outcome.
//! Pure: the calendar and `now` are parameters.

use crate::vocabulary::{Priority, Status};
use jiff::Timestamp;
use serde::Deserialize;
use std::collections::BTreeSet;

/// Counts working time. The business calendar implements it; so does the wall clock.
pub trait WorkingTime {
    /// The instant at which `minutes` counted minutes have passed after `from`.
    fn add_minutes(&self, from: Timestamp, minutes: i64) -> Timestamp;
    /// Counted minutes in `[from, to)`; 0 when `to <= from`.
    fn minutes_between(&self, from: Timestamp, to: Timestamp) -> i64;
}

impl WorkingTime for crate::calendar::BusinessCalendar {
    fn add_minutes(&self, from: Timestamp, minutes: i64) -> Timestamp {
        self.add_business_minutes(from, minutes)
    }

    fn minutes_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        self.business_minutes_between(from, to)
    }
}

/// Every minute counts: for emergencies and for targets set in wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock;

impl WorkingTime for WallClock {
    fn add_minutes(&self, from: Timestamp, minutes: i64) -> Timestamp {
        from.checked_add(jiff::SignedDuration::from_mins(minutes)).unwrap_or(from)
    }

    fn minutes_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to <= from { 0 } else { to.duration_since(from).as_mins() }
    }
}

/// Whether a target counts business minutes (per the department's calendar) or every minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    Business,
    WallClock,
}

/// The two targets of a policy, in minutes of its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    /// Until the report is first acknowledged (leaves `new`).
    pub first_response_minutes: i64,
    /// Until it is resolved.
    pub resolution_minutes: i64,
    pub clock: ClockKind,
    /// The name of the business calendar to count with (ignored for wall-clock targets).
    pub calendar: String,
}

/// One rule of the policy file; the more fields it names, the more specific it is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    pub department: Option<String>,
    pub service: Option<String>,
    pub priority: Option<Priority>,
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
    pub clock: ClockKind,
    #[serde(default = "default_calendar")]
    pub calendar: String,
}

fn default_calendar() -> String {
    "default".into()
}

/// The policy file: the statuses that pause the clocks and the rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesSpec {
    #[serde(default = "default_pausing")]
    pub pausing_statuses: Vec<Status>,
    /// The shortest time between two follow-ups on one report, in wall-clock minutes.
    #[serde(default = "default_follow_up_interval")]
    pub follow_up_interval_minutes: i64,
    pub rules: Vec<PolicyRule>,
}

fn default_follow_up_interval() -> i64 {
    12 * 60
}

fn default_pausing() -> Vec<Status> {
    vec![Status::OnHold, Status::AwaitingCitizen]
}

/// Validated policies: every rule's targets are positive and ordered, and a default rule (naming no
/// department, service or priority) exists, so every report has a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicies {
    pausing: BTreeSet<Status>,
    rules: Vec<PolicyRule>,
    follow_up_interval_minutes: i64,
}

/// Why a policy file was refused; the message names the rule at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaError {
    #[error("SLA policy file does not parse: {0}")]
    Parse(String),
    #[error("SLA policy {0}")]
    Invalid(String),
}

impl PolicyRule {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(d) = &self.department {
            parts.push(format!("department={d}"));
        }
        if let Some(s) = &self.service {
            parts.push(format!("service={s}"));
        }
        if let Some(p) = self.priority {
            parts.push(format!("priority={p}"));
        }
        if parts.is_empty() { "default rule".into() } else { format!("rule [{}]", parts.join(", ")) }
    }

    /// How specific the rule is; `None` when it does not apply to this report.
    fn specificity(&self, department: &str, service: &str, priority: Priority) -> Option<u8> {
        let service_match = self.service.as_deref().map(|s| s == service);
        let department_match = self.department.as_deref().map(|d| d == department);
        let priority_match = self.priority.map(|p| p == priority);
        if [service_match, department_match, priority_match].contains(&Some(false)) {
            return None;
        }
        Some(u8::from(service_match.is_some()) * 4 + u8::from(department_match.is_some()) * 2 + u8::from(priority_match.is_some()))
    }
}

impl SlaPolicies {
    pub fn from_toml(text: &str, calendar_names: &[&str]) -> Result<SlaPolicies, SlaError> {
        let spec: PoliciesSpec = toml::from_str(text).map_err(|e| SlaError::Parse(e.to_string()))?;
        SlaPolicies::new(spec, calendar_names)
    }

    pub fn new(spec: PoliciesSpec, calendar_names: &[&str]) -> Result<SlaPolicies, SlaError> {
        for rule in &spec.rules {
            let name = rule.describe();
            if rule.first_response_minutes <= 0 || rule.resolution_minutes <= 0 {
                return Err(SlaError::Invalid(format!("{name}: targets must be positive minutes")));
            }
            if rule.first_response_minutes > rule.resolution_minutes {
                return Err(SlaError::Invalid(format!("{name}: first_response_minutes exceeds resolution_minutes")));
            }
            if rule.clock == ClockKind::Business && !calendar_names.contains(&rule.calendar.as_str()) {
                return Err(SlaError::Invalid(format!("{name}: unknown calendar '{}'", rule.calendar)));
            }
        }
        if !spec.rules.iter().any(|r| r.department.is_none() && r.service.is_none() && r.priority.is_none()) {
            return Err(SlaError::Invalid("file needs a default rule naming no department, service or priority".into()));
        }
        if spec.pausing_statuses.iter().any(|s| s.is_terminal() || matches!(s, Status::New | Status::Resolved)) {
            return Err(SlaError::Invalid("pausing_statuses may list only working statuses (on_hold, awaiting_citizen, …)".into()));
        }
        if spec.follow_up_interval_minutes < 0 {
            return Err(SlaError::Invalid("follow_up_interval_minutes must not be negative".into()));
        }
        Ok(SlaPolicies { pausing: spec.pausing_statuses.into_iter().collect(), rules: spec.rules, follow_up_interval_minutes: spec.follow_up_interval_minutes })
    }

    /// The most specific rule for this report: service beats department beats priority alone.
    pub fn policy_for(&self, department: &str, service: &str, priority: Priority) -> SlaPolicy {
        let rule = self
            .rules
            .iter()
            .filter_map(|r| r.specificity(department, service, priority).map(|s| (s, r)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, r)| r)
            .unwrap_or(&self.rules[0]);
        SlaPolicy {
            first_response_minutes: rule.first_response_minutes,
            resolution_minutes: rule.resolution_minutes,
            clock: rule.clock,
            calendar: rule.calendar.clone(),
        }
    }

    pub fn pauses(&self, status: Status) -> bool {
        self.pausing.contains(&status)
    }

    /// The earliest instant a new follow-up is accepted after one filed at `last`.
    pub fn next_follow_up_allowed(&self, last: Timestamp) -> Timestamp {
        WallClock.add_minutes(last, self.follow_up_interval_minutes)
    }
}

/// One status change in a report's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub at: Timestamp,
    pub to: Status,
}

/// Where one clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockOutcome {
    /// Still counting; due at `due_at`.
    Running,
    /// Stopped while the report waits; `due_at` is when it would be due if it resumed now.
    Paused,
    /// Stopped in time at `at`.
    Met { at: Timestamp },
    /// Stopped, or still running, past its due time.
    Breached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockState {
    pub due_at: Timestamp,
    /// Counted minutes left before the due time (negative once breached).
    pub remaining_minutes: i64,
    /// Share of the target used, in percent (over 100 once breached).
    pub percent_used: i64,
    pub outcome: ClockOutcome,
}

/// A report's SLA: its first-response and resolution clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaState {
    pub first_response: ClockState,
    pub resolution: ClockState,
}

/// Evaluates both clocks for a report created at `created_at` whose status changes, oldest first,
/// are `history`, at `now`. The resolution clock restarts at the last reopening, pauses in the
/// policy's pausing statuses, and stops at resolution (or a terminal status).
pub fn evaluate(
    policy: &SlaPolicy,
    policies: &SlaPolicies,
    time: &dyn WorkingTime,
    created_at: Timestamp,
    history: &[StatusChange],
    now: Timestamp,
) -> SlaState {
    let first_stop = history.iter().find(|c| c.to != Status::New).map(|c| c.at);
    let first_used = time.minutes_between(created_at, first_stop.unwrap_or(now).min(now));
    let first_response = clock_state(policy.first_response_minutes, first_used, time, created_at, first_stop.filter(|at| *at <= now), false, now);

    let start_index = history.iter().rposition(|c| c.to == Status::Reopened);
    let start = start_index.map(|i| history[i].at).unwrap_or(created_at);
    let relevant = &history[start_index.map(|i| i + 1).unwrap_or(0)..];
    let mut used = 0;
    let mut running_since = Some(start);
    let mut stopped_at = None;
    for change in relevant.iter().filter(|c| c.at <= now) {
        if let Some(since) = running_since.take() {
            used += time.minutes_between(since, change.at);
        }
        if change.to == Status::Resolved || change.to.is_terminal() {
            stopped_at = Some(change.at);
            break;
        }
        if !policies.pauses(change.to) {
            running_since = Some(change.at);
        }
    }
    let paused = stopped_at.is_none() && running_since.is_none();
    if let Some(since) = running_since.filter(|_| stopped_at.is_none()) {
        used += time.minutes_between(since, now);
    }
    let resume_from = if paused { now } else { running_since.unwrap_or(start) };
    let resolution = clock_state_from(policy.resolution_minutes, used, time, resume_from, stopped_at, paused, now);
    SlaState { first_response, resolution }
}

fn clock_state(target: i64, used: i64, time: &dyn WorkingTime, start: Timestamp, stopped_at: Option<Timestamp>, paused: bool, now: Timestamp) -> ClockState {
    let due_at = time.add_minutes(start, target);
    finish(target, used, due_at, stopped_at, paused, now)
}

/// Like `clock_state`, but the due time counts what is left from the moment the clock last ran.
fn clock_state_from(
    target: i64,
    used: i64,
    time: &dyn WorkingTime,
    resume_from: Timestamp,
    stopped_at: Option<Timestamp>,
    paused: bool,
    now: Timestamp,
) -> ClockState {
    let counted_before_resume = if stopped_at.is_none() && !paused { time.minutes_between(resume_from, now) } else { 0 };
    let left_at_resume = target - (used - counted_before_resume);
    let due_at = if left_at_resume > 0 { time.add_minutes(resume_from, left_at_resume) } else { resume_from };
    finish(target, used, due_at, stopped_at, paused, now)
}

fn finish(target: i64, used: i64, due_at: Timestamp, stopped_at: Option<Timestamp>, paused: bool, now: Timestamp) -> ClockState {
    let remaining_minutes = target - used;
    let percent_used = used.saturating_mul(100) / target.max(1);
    let outcome = match stopped_at {
        Some(at) if remaining_minutes >= 0 => ClockOutcome::Met { at },
        Some(_) => ClockOutcome::Breached,
        None if remaining_minutes < 0 || (remaining_minutes == 0 && now >= due_at) => ClockOutcome::Breached,
        None if paused => ClockOutcome::Paused,
        None => ClockOutcome::Running,
    };
    ClockState { due_at, remaining_minutes, percent_used, outcome }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICIES: &str = r#"
[[rules]]
first_response_minutes = 240
resolution_minutes = 2400
clock = "business"

[[rules]]
priority = "emergency"
first_response_minutes = 15
resolution_minutes = 240
clock = "wall_clock"

[[rules]]
department = "roads"
first_response_minutes = 120
resolution_minutes = 1200
clock = "business"

[[rules]]
service = "pothole"
priority = "urgent"
first_response_minutes = 60
resolution_minutes = 600
clock = "business"
"#;

    fn policies() -> SlaPolicies {
        SlaPolicies::from_toml(POLICIES, &["default"]).unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_shipped_policies_are_sound() {
        let shipped = SlaPolicies::from_toml(include_str!("../../../catalogue/sla-policies.toml"), &["default", "emergency"]).unwrap();
        assert_eq!(shipped.policy_for("roads", "pothole", Priority::Emergency).clock, ClockKind::WallClock);
        assert_eq!(shipped.policy_for("drainage", "open-manhole", Priority::Urgent).first_response_minutes, 30);
        assert_eq!(shipped.policy_for("cleanliness", "graffiti", Priority::Normal).resolution_minutes, 2100);
        assert!(shipped.pauses(Status::AwaitingCitizen));
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let p = policies();
        assert_eq!(p.policy_for("roads", "pothole", Priority::Urgent).resolution_minutes, 600);
        assert_eq!(p.policy_for("roads", "pothole", Priority::Normal).resolution_minutes, 1200);
        assert_eq!(p.policy_for("parks", "fallen-tree", Priority::Emergency).clock, ClockKind::WallClock);
        assert_eq!(p.policy_for("parks", "fallen-tree", Priority::Normal).resolution_minutes, 2400);
    }

    #[test]
    fn bad_policies_are_refused_with_the_rule_named() {
        let check = |text: &str, expected: &str| {
            let error = SlaPolicies::from_toml(text, &["default"]).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        };
        check("[[rules]]\nfirst_response_minutes = -5\nresolution_minutes = 10\nclock = \"business\"\n", "default rule: targets must be positive");
        check("[[rules]]\nfirst_response_minutes = 50\nresolution_minutes = 10\nclock = \"business\"\n", "exceeds");
        check("[[rules]]\nfirst_response_minutes = 5\nresolution_minutes = 10\nclock = \"business\"\ncalendar = \"mars\"\n", "unknown calendar 'mars'");
        check("[[rules]]\npriority = \"low\"\nfirst_response_minutes = 5\nresolution_minutes = 10\nclock = \"business\"\n", "needs a default rule");
        check("rules = []\ncolour = 1\n", "colour");
        check(
            "follow_up_interval_minutes = -1\n[[rules]]\nfirst_response_minutes = 5\nresolution_minutes = 10\nclock = \"business\"\n",
            "follow_up_interval_minutes",
        );
        check("pausing_statuses = [\"closed\"]\n[[rules]]\nfirst_response_minutes = 5\nresolution_minutes = 10\nclock = \"business\"\n", "pausing_statuses");
    }

    fn policy(first: i64, resolution: i64) -> SlaPolicy {
        SlaPolicy { first_response_minutes: first, resolution_minutes: resolution, clock: ClockKind::WallClock, calendar: "default".into() }
    }

    #[test]
    fn a_running_clock_reports_due_time_and_share_used() {
        let created = at("2026-03-01T07:00:00Z");
        let state = evaluate(&policy(60, 600), &policies(), &WallClock, created, &[], at("2026-03-01T09:00:00Z"));
        assert_eq!(state.first_response.outcome, ClockOutcome::Breached);
        assert_eq!(state.first_response.due_at, at("2026-03-01T08:00:00Z"));
        assert_eq!(state.resolution.outcome, ClockOutcome::Running);
        assert_eq!(state.resolution.due_at, at("2026-03-01T17:00:00Z"));
        assert_eq!((state.resolution.remaining_minutes, state.resolution.percent_used), (480, 20));
    }

    #[test]
    fn pauses_push_the_due_time_and_reopening_restarts_the_clock() {
        let created = at("2026-03-01T07:00:00Z");
        let history = [
            StatusChange { at: at("2026-03-01T07:30:00Z"), to: Status::Acknowledged },
            StatusChange { at: at("2026-03-01T08:00:00Z"), to: Status::InProgress },
            StatusChange { at: at("2026-03-01T09:00:00Z"), to: Status::AwaitingCitizen },
            StatusChange { at: at("2026-03-01T12:00:00Z"), to: Status::InProgress },
        ];
        let state = evaluate(&policy(60, 600), &policies(), &WallClock, created, &history, at("2026-03-01T13:00:00Z"));
        assert_eq!(state.first_response.outcome, ClockOutcome::Met { at: at("2026-03-01T07:30:00Z") });
        // 2 h before the pause and 1 h after it: 7 h left, due 3 h later than without the pause.
        assert_eq!(state.resolution.remaining_minutes, 420);
        assert_eq!(state.resolution.due_at, at("2026-03-01T20:00:00Z"));
        let paused = evaluate(&policy(60, 600), &policies(), &WallClock, created, &history[..3], at("2026-03-01T10:00:00Z"));
        assert_eq!(paused.resolution.outcome, ClockOutcome::Paused);
        assert_eq!(paused.resolution.remaining_minutes, 480);

        let mut reopened = history.to_vec();
        reopened.push(StatusChange { at: at("2026-03-01T14:00:00Z"), to: Status::Resolved });
        let resolved = evaluate(&policy(60, 600), &policies(), &WallClock, created, &reopened, at("2026-03-02T00:00:00Z"));
        assert_eq!(resolved.resolution.outcome, ClockOutcome::Met { at: at("2026-03-01T14:00:00Z") });
        reopened.push(StatusChange { at: at("2026-03-03T07:00:00Z"), to: Status::Reopened });
        let again = evaluate(&policy(60, 600), &policies(), &WallClock, created, &reopened, at("2026-03-03T08:00:00Z"));
        assert_eq!((again.resolution.outcome, again.resolution.remaining_minutes), (ClockOutcome::Running, 540));
        assert_eq!(again.resolution.due_at, at("2026-03-03T17:00:00Z"));
    }

    #[test]
    fn resolving_late_is_a_breach() {
        let created = at("2026-03-01T07:00:00Z");
        let history =
            [StatusChange { at: at("2026-03-01T08:00:00Z"), to: Status::InProgress }, StatusChange { at: at("2026-03-01T20:00:00Z"), to: Status::Resolved }];
        let state = evaluate(&policy(60, 600), &policies(), &WallClock, created, &history, at("2026-03-02T00:00:00Z"));
        assert_eq!(state.resolution.outcome, ClockOutcome::Breached);
        assert_eq!(state.resolution.remaining_minutes, -180);
    }
}
