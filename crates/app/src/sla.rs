//! SLA settings and their use: the business calendars and the policies, loaded once; each new
//! report gets its expected resolution time, each status change moves it, and a report's full SLA
//! state (due times, remaining time, share used, met or breached) is computed from its timeline.

use crate::{App, AppError};
use balagh_domain::FieldError;
use balagh_domain::calendar::{BusinessCalendar, calendars_from_toml};
use balagh_domain::event::EventKind;
use balagh_domain::report::Report;
use balagh_domain::sla::{ClockKind, SlaPolicies, SlaPolicy, SlaState, StatusChange, WallClock, WorkingTime, evaluate};
use balagh_domain::vocabulary::Priority;
use jiff::Timestamp;
use std::collections::BTreeMap;

/// The calendars and policies in force.
#[derive(Debug, Clone)]
pub struct SlaSettings {
    pub policies: SlaPolicies,
    pub calendars: BTreeMap<String, BusinessCalendar>,
}

/// The shipped calendars and policies of the Eastern Province.
pub const DEFAULT_CALENDARS: &str = include_str!("../../../catalogue/calendar-eastern-province.toml");
pub const DEFAULT_POLICIES: &str = include_str!("../../../catalogue/sla-policies.toml");

impl SlaSettings {
    /// Parses and cross-checks the calendar and policy files.
    pub fn from_toml(calendars: &str, policies: &str) -> Result<SlaSettings, AppError> {
        let calendars = calendars_from_toml(calendars).map_err(|e| FieldError::new("calendars", "invalid_calendar", e.to_string()))?;
        let names: Vec<&str> = calendars.keys().map(String::as_str).collect();
        let policies = SlaPolicies::from_toml(policies, &names).map_err(|e| FieldError::new("sla_policies", "invalid_sla_policy", e.to_string()))?;
        Ok(SlaSettings { policies, calendars })
    }

    /// The shipped defaults.
    pub fn eastern_province() -> Result<SlaSettings, AppError> {
        SlaSettings::from_toml(DEFAULT_CALENDARS, DEFAULT_POLICIES)
    }

    pub fn policy(&self, department: &str, service: &str, priority: Priority) -> SlaPolicy {
        self.policies.policy_for(department, service, priority)
    }

    /// What counts minutes for `policy`: its business calendar, or every minute.
    pub fn time(&self, policy: &SlaPolicy) -> &dyn WorkingTime {
        match (policy.clock, self.calendars.get(&policy.calendar)) {
            (ClockKind::Business, Some(calendar)) => calendar,
            _ => &WallClock,
        }
    }

    /// When a report opened at `at` is expected to be resolved.
    pub fn expected_resolution(&self, department: &str, service: &str, priority: Priority, at: Timestamp) -> Timestamp {
        let policy = self.policy(department, service, priority);
        self.time(&policy).add_minutes(at, policy.resolution_minutes)
    }

    /// Both clocks of `report`, given its status changes oldest first, at `now`.
    pub fn state(&self, report: &Report, history: &[StatusChange], now: Timestamp) -> SlaState {
        let policy = self.policy(&report.assignment.department, &report.service_code, report.priority);
        evaluate(&policy, &self.policies, self.time(&policy), report.created_at, history, now)
    }
}

/// The status changes in a list of timeline events, oldest first.
pub fn status_history<'a>(events: impl IntoIterator<Item = &'a balagh_domain::Event>) -> Vec<StatusChange> {
    events
        .into_iter()
        .filter_map(|event| match event.kind {
            EventKind::StatusChanged { to, .. } => Some(StatusChange { at: event.at, to }),
            _ => None,
        })
        .collect()
}

impl App {
    /// The report's SLA state now.
    pub async fn sla_state(&self, report: &Report) -> Result<SlaState, AppError> {
        let events = self.store.db.events(report.id, true).await?;
        let history = status_history(events.iter().map(|stored| &stored.event));
        Ok(self.sla().state(report, &history, self.now()))
    }
}
