//! SLA settings and their use: the business calendars, the policies and the escalation chains,
//! loaded once; each new report gets its expected resolution time, each status change moves it, and
//! a report's full SLA state (due times, remaining time, share used, met or breached) is computed
//! from its timeline.

use crate::{App, AppError};
use balagh_domain::Catalogue;
use balagh_domain::FieldError;
use balagh_domain::calendar::{BusinessCalendar, calendars_from_toml};
use balagh_domain::escalation::{Chain, Clocks, EscalationChains};
use balagh_domain::event::EventKind;
use balagh_domain::report::Report;
use balagh_domain::sla::{ClockKind, SlaPolicies, SlaPolicy, SlaState, StatusChange, WallClock, WorkingTime, evaluate};
use balagh_domain::vocabulary::Priority;
use jiff::Timestamp;
use std::collections::BTreeMap;

/// The calendars, policies and escalation chains in force.
#[derive(Debug, Clone)]
pub struct SlaSettings {
    pub policies: SlaPolicies,
    pub calendars: BTreeMap<String, BusinessCalendar>,
    pub chains: EscalationChains,
}

/// The shipped calendars and policies of the Eastern Province.
pub const DEFAULT_CALENDARS: &str = include_str!("../../../catalogue/calendar-eastern-province.toml");
pub const DEFAULT_POLICIES: &str = include_str!("../../../catalogue/sla-policies.toml");
pub const DEFAULT_CHAINS: &str = include_str!("../../../catalogue/escalation-chains.toml");

impl SlaSettings {
    /// Parses and cross-checks the calendar, policy and chain files against each other and the
    /// catalogue (a chain may name only the catalogue's departments and services).
    pub fn from_toml(calendars: &str, policies: &str, chains: &str, catalogue: &Catalogue) -> Result<SlaSettings, AppError> {
        let calendars = calendars_from_toml(calendars).map_err(|e| FieldError::new("calendars", "invalid_calendar", e.to_string()))?;
        let names: Vec<&str> = calendars.keys().map(String::as_str).collect();
        let policies = SlaPolicies::from_toml(policies, &names).map_err(|e| FieldError::new("sla_policies", "invalid_sla_policy", e.to_string()))?;
        let departments: Vec<&str> = catalogue.departments.iter().map(|d| d.code.as_str()).collect();
        let services: Vec<&str> = catalogue.services.iter().map(|s| s.code.as_str()).collect();
        let chains = EscalationChains::from_toml(chains, &departments, &services)
            .map_err(|e| FieldError::new("escalation_chains", "invalid_escalation_chain", e.to_string()))?;
        Ok(SlaSettings { policies, calendars, chains })
    }

    /// The shipped defaults.
    pub fn eastern_province(catalogue: &Catalogue) -> Result<SlaSettings, AppError> {
        SlaSettings::from_toml(DEFAULT_CALENDARS, DEFAULT_POLICIES, DEFAULT_CHAINS, catalogue)
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
        self.clocks(report, history, now).1
    }

    /// The report's policy, both clocks, and what the escalation chain needs of them.
    pub fn clocks(&self, report: &Report, history: &[StatusChange], now: Timestamp) -> (SlaPolicy, SlaState, Clocks<'_>) {
        let policy = self.policy(&report.assignment.department, &report.service_code, report.priority);
        let time = self.time(&policy);
        let state = evaluate(&policy, &self.policies, time, report.created_at, history, now);
        let clocks = Clocks { time, resolution: state.resolution, resolution_minutes: policy.resolution_minutes };
        (policy, state, clocks)
    }

    /// When `report`'s next escalation step is due, given its status changes, at `now`.
    pub fn next_escalation_due(&self, report: &Report, history: &[StatusChange], now: Timestamp) -> Option<Timestamp> {
        let (_, _, clocks) = self.clocks(report, history, now);
        self.chain(report).next_due(report, &clocks, now)
    }

    /// The chain `report` climbs.
    pub fn chain(&self, report: &Report) -> &Chain {
        self.chains.chain_for(&report.assignment.department, &report.service_code, report.priority)
    }
}

/// Status changes as the store reads them, for the SLA clocks.
pub fn from_stored(history: &balagh_store::StatusHistory) -> Vec<StatusChange> {
    history.iter().map(|&(at, to)| StatusChange { at, to }).collect()
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
