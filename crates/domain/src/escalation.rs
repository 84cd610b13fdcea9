//! Escalation chains: who hears about a report that is not being resolved, when, and what is done to
//! it. A chain is an ordered list of levels, each with a trigger (a share of the resolution time
//! used, the breach, some hours after the breach, hours without activity, or at once), targets
//! (positions, users, teams) and actions (notify, reassign, raise the priority, flag). After the last
//! level the top level is reminded every `reminder_interval` until the report is resolved, closed or
//! rejected: escalation never silently stops. Pure: the SLA state, the clock and `now` are inputs.

use crate::event::{Actor, Event, EventKind};
use crate::report::Report;
use crate::sla::{ClockOutcome, ClockState, WorkingTime};
use crate::vocabulary::{Channel, Priority, Status};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A position that escalations are addressed to. Team leads and department managers are those of
/// the report's department; the others serve the whole municipality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    TeamLead,
    DepartmentManager,
    DeputyForServices,
    MayorsOffice,
    EmergencyCommittee,
}

impl Position {
    pub const ALL: &'static [Position] =
        &[Position::TeamLead, Position::DepartmentManager, Position::DeputyForServices, Position::MayorsOffice, Position::EmergencyCommittee];

    pub fn as_str(self) -> &'static str {
        match self {
            Position::TeamLead => "team_lead",
            Position::DepartmentManager => "department_manager",
            Position::DeputyForServices => "deputy_for_services",
            Position::MayorsOffice => "mayors_office",
            Position::EmergencyCommittee => "emergency_committee",
        }
    }

    pub fn parse(input: &str) -> Option<Position> {
        Position::ALL.iter().copied().find(|p| p.as_str() == input)
    }

    /// Whether the position belongs to a department (the report's), rather than the municipality.
    pub fn is_departmental(self) -> bool {
        matches!(self, Position::TeamLead | Position::DepartmentManager)
    }
}

/// Whom a level addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Position(Position),
    /// A named person (a staff account id).
    User(String),
    /// A named team of the department.
    Team(String),
}

impl Target {
    /// `team_lead` (any position), `user:<id>` or `team:<name>`.
    pub fn parse(input: &str) -> Result<Target, String> {
        let named = |prefix: &str| input.strip_prefix(prefix).map(str::trim).filter(|name| !name.is_empty() && name.len() <= 100).map(str::to_owned);
        if let Some(position) = Position::parse(input) {
            Ok(Target::Position(position))
        } else if let Some(user) = named("user:") {
            Ok(Target::User(user))
        } else if let Some(team) = named("team:") {
            Ok(Target::Team(team))
        } else {
            let known: Vec<&str> = Position::ALL.iter().map(|p| p.as_str()).collect();
            Err(format!("unknown target '{input}' (known: {}, user:<id>, team:<name>)", known.join(", ")))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Position(p) => f.write_str(p.as_str()),
            Target::User(id) => write!(f, "user:{id}"),
            Target::Team(name) => write!(f, "team:{name}"),
        }
    }
}

/// When a level fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// As soon as the level is reached (emergencies).
    Immediately,
    /// When this percentage of the resolution time is used.
    ResolutionUsed { percent: i64 },
    /// When the resolution time runs out.
    Breach,
    /// This many minutes of the report's clock after the breach.
    AfterBreach { minutes: i64 },
    /// This many minutes of the report's clock without activity on it.
    NoActivity { minutes: i64 },
}

impl Trigger {
    /// `immediately`, `75% used`, `breach`, `breach + 24h` (or `+ 30m`), `no activity 48h`.
    pub fn parse(input: &str) -> Result<Trigger, String> {
        let text = input.trim();
        let bad = || format!("unknown trigger '{input}' (use 'immediately', '75% used', 'breach', 'breach + 24h' or 'no activity 48h')");
        if text == "immediately" {
            return Ok(Trigger::Immediately);
        }
        if text == "breach" {
            return Ok(Trigger::Breach);
        }
        if let Some(percent) = text.strip_suffix("% used") {
            let percent: i64 = percent.trim().parse().map_err(|_| bad())?;
            if !(1..=100).contains(&percent) {
                return Err(format!("trigger '{input}': the percentage must be 1 to 100"));
            }
            return Ok(Trigger::ResolutionUsed { percent });
        }
        if let Some(after) = text.strip_prefix("breach") {
            let after = after.trim_start().strip_prefix('+').ok_or_else(bad)?;
            return Ok(Trigger::AfterBreach { minutes: duration_minutes(input, after)? });
        }
        if let Some(idle) = text.strip_prefix("no activity") {
            return Ok(Trigger::NoActivity { minutes: duration_minutes(input, idle)? });
        }
        Err(bad())
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Immediately => f.write_str("immediately"),
            Trigger::ResolutionUsed { percent } => write!(f, "{percent}% used"),
            Trigger::Breach => f.write_str("breach"),
            Trigger::AfterBreach { minutes } => write!(f, "breach + {}", format_minutes(*minutes)),
            Trigger::NoActivity { minutes } => write!(f, "no activity {}", format_minutes(*minutes)),
        }
    }
}

fn format_minutes(minutes: i64) -> String {
    if minutes % 60 == 0 { format!("{}h", minutes / 60) } else { format!("{minutes}m") }
}

/// `24h`, `90m` or `1h30m`, positive and at most a year.
fn duration_minutes(whole: &str, text: &str) -> Result<i64, String> {
    let text = text.trim();
    let bad = || format!("trigger '{whole}': '{text}' is not a duration like 24h, 90m or 1h30m");
    let (hours, rest) = match text.split_once('h') {
        Some((hours, rest)) => (hours.trim().parse::<i64>().map_err(|_| bad())?, rest.trim()),
        None => (0, text),
    };
    let minutes = match rest {
        "" => 0,
        rest => rest.strip_suffix('m').ok_or_else(bad)?.trim().parse::<i64>().map_err(|_| bad())?,
    };
    let total = hours.checked_mul(60).and_then(|h| h.checked_add(minutes)).ok_or_else(bad)?;
    if !(1..=366 * 24 * 60).contains(&total) || hours < 0 || minutes < 0 {
        return Err(format!("trigger '{whole}': the duration must be positive and at most a year"));
    }
    Ok(total)
}

/// What a level does besides recording itself on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send each target a notification (an outbox row).
    Notify,
    /// Give the report to the level's user or team target.
    Reassign,
    /// Raise the report's priority one step.
    RaisePriority,
    /// Mark the report as escalated, for supervisors' queues.
    Flag,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Notify => "notify",
            Action::Reassign => "reassign",
            Action::RaisePriority => "raise_priority",
            Action::Flag => "flag",
        }
    }
}

/// One level of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub trigger: Trigger,
    pub targets: Vec<Target>,
    pub actions: Vec<Action>,
}

/// An ordered chain of levels and the interval at which its top level is reminded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    pub levels: Vec<Level>,
    pub reminder_interval_minutes: i64,
}

/// How far a report has climbed its chain. `round` counts reopenings: a reopened report starts
/// its chain again from the first level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    pub round: u32,
    /// Steps fired this round: levels, then reminders of the top level.
    pub fired: u32,
    pub last_at: Option<Timestamp>,
    /// Set by the `flag` action; cleared when the report is resolved.
    pub flagged: bool,
}

impl Progress {
    /// The chain starts again (after a reopening).
    pub fn restarted(self) -> Progress {
        Progress { round: self.round.saturating_add(1), fired: 0, last_at: None, flagged: self.flagged }
    }
}

/// Why a step fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Its trigger came due.
    Due,
    /// The beneficiary followed up on an overdue or idle report.
    FollowUp,
    /// The beneficiary said a resolved report is not fixed; it was reopened.
    NotFixed,
}

/// What the SLA says about a report at the moment the chain is consulted.
#[derive(Clone, Copy)]
pub struct Clocks<'a> {
    /// Counts the report's minutes (its business calendar or every minute).
    pub time: &'a dyn WorkingTime,
    pub resolution: ClockState,
    pub resolution_minutes: i64,
}

/// One step of a chain: the level it repeats and whether it is a reminder of the top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<'a> {
    /// 0-based step number within the round.
    pub index: u32,
    /// 1-based level number.
    pub level: u32,
    pub reminder: bool,
    pub spec: &'a Level,
}

/// A fired step: the report as it now is and the timeline event that records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub report: Report,
    pub event: Event,
    pub round: u32,
    pub step: u32,
    pub level: u32,
    pub reminder: bool,
    pub targets: Vec<Target>,
    pub notify: bool,
}

impl Chain {
    pub fn step(&self, index: u32) -> Step<'_> {
        let last = self.levels.len() - 1;
        let position = Ord::min(index as usize, last);
        Step { index, level: position as u32 + 1, reminder: index as usize > last, spec: &self.levels[position] }
    }

    /// When the report's next step is due, or `None` when nothing can fire: the report is resolved,
    /// closed or rejected, or its clock is paused (a change resumes it and asks again).
    pub fn next_due(&self, report: &Report, clocks: &Clocks<'_>, now: Timestamp) -> Option<Timestamp> {
        if !escalates(report.status) || matches!(clocks.resolution.outcome, ClockOutcome::Paused | ClockOutcome::Met { .. }) {
            return None;
        }
        let progress = report.escalation;
        let step = self.step(progress.fired);
        if step.reminder {
            let since = progress.last_at.unwrap_or(now);
            return Some(clocks.time.add_minutes(since, self.reminder_interval_minutes));
        }
        let resolution = clocks.resolution;
        Some(match step.spec.trigger {
            Trigger::Immediately => progress.last_at.map_or(report.created_at, |at| Ord::max(at, report.created_at)),
            Trigger::ResolutionUsed { percent } => {
                let needed = (clocks.resolution_minutes * percent + 99) / 100;
                let used = clocks.resolution_minutes - resolution.remaining_minutes;
                if used >= needed { now } else { clocks.time.add_minutes(now, needed - used) }
            }
            Trigger::Breach => resolution.due_at,
            Trigger::AfterBreach { minutes } => clocks.time.add_minutes(resolution.due_at, minutes),
            Trigger::NoActivity { minutes } => clocks.time.add_minutes(report.updated_at, minutes),
        })
    }

    /// Fires the report's next step at `now`: records it, applies its actions to the report, and
    /// moves the report's progress on.
    pub fn fire(&self, report: &Report, cause: Cause, now: Timestamp) -> Escalation {
        let progress = report.escalation;
        let step = self.step(progress.fired);
        let mut next = report.clone();
        for action in &step.spec.actions {
            match action {
                Action::Notify => {}
                Action::Flag => next.escalation.flagged = true,
                Action::RaisePriority => next.priority = next.priority.raised(),
                Action::Reassign => {
                    for target in &step.spec.targets {
                        match target {
                            Target::User(user) => next.assignment.user = Some(user.clone()),
                            Target::Team(team) => next.assignment.team = Some(team.clone()),
                            Target::Position(_) => {}
                        }
                    }
                }
            }
        }
        next.escalation = Progress { round: progress.round, fired: progress.fired.saturating_add(1), last_at: Some(now), flagged: next.escalation.flagged };
        let reason = match cause {
            Cause::Due if step.reminder => format!("reminder: still open ({})", step.spec.trigger),
            Cause::Due => step.spec.trigger.to_string(),
            Cause::FollowUp => "the beneficiary followed up on an overdue or idle report".to_owned(),
            Cause::NotFixed => "the beneficiary says the resolved report is not fixed".to_owned(),
        };
        let targets: Vec<String> = step.spec.targets.iter().map(Target::to_string).collect();
        let event = Event {
            at: now,
            actor: Actor::system(),
            channel: Channel::System,
            public: true,
            kind: EventKind::Escalated {
                round: progress.round,
                step: step.index,
                level: step.level,
                reminder: step.reminder,
                targets,
                actions: step.spec.actions.clone(),
                priority: (next.priority != report.priority).then_some(next.priority),
            },
            note: Some(reason),
        };
        Escalation {
            report: next,
            event,
            round: progress.round,
            step: step.index,
            level: step.level,
            reminder: step.reminder,
            targets: step.spec.targets.clone(),
            notify: step.spec.actions.contains(&Action::Notify),
        }
    }
}

/// The progress after the report moved to `to`: a reopening starts the chain again, and a resolved
/// or closed report is no longer flagged.
pub fn after_status_change(progress: Progress, to: Status) -> Progress {
    match to {
        Status::Reopened => progress.restarted(),
        to if !escalates(to) => Progress { flagged: false, ..progress },
        _ => progress,
    }
}

/// Whether a report in `status` is still climbing its chain: anything not yet resolved.
pub fn escalates(status: Status) -> bool {
    !status.is_terminal() && status != Status::Resolved
}

/// A follow-up escalates at once when the report is past its resolution time or has had no
/// activity for `idle_minutes` of its clock; otherwise the assignee is told.
pub fn follow_up_escalates(report: &Report, clocks: &Clocks<'_>, idle_minutes: i64, now: Timestamp) -> bool {
    escalates(report.status) && (clocks.resolution.outcome == ClockOutcome::Breached || clocks.time.minutes_between(report.updated_at, now) >= idle_minutes)
}

/// The chain file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainsSpec {
    /// A follow-up on a report idle this many hours of its clock escalates it at once.
    follow_up_idle_hours: i64,
    chains: Vec<ChainSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainSpec {
    name: String,
    department: Option<String>,
    service: Option<String>,
    priority: Option<Priority>,
    reminder_interval_hours: f64,
    levels: Vec<LevelSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelSpec {
    trigger: String,
    targets: Vec<String>,
    actions: Vec<Action>,
}

/// Why a chain file was refused; the message names the chain and level at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("escalation chain file does not parse: {0}")]
    Parse(String),
    #[error("escalation chain {0}")]
    Invalid(String),
}

/// Validated chains: every chain has levels, every target and trigger is known, and a default
/// chain (naming no department, service or priority) exists, so every report climbs one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationChains {
    scoped: Vec<(Scope, Chain)>,
    follow_up_idle_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Scope {
    department: Option<String>,
    service: Option<String>,
    priority: Option<Priority>,
}

impl Scope {
    /// Priority beats service beats department, so an emergency always climbs the emergency chain.
    fn specificity(&self, department: &str, service: &str, priority: Priority) -> Option<u8> {
        let matches =
            [self.department.as_deref().map(|d| d == department), self.service.as_deref().map(|s| s == service), self.priority.map(|p| p == priority)];
        if matches.contains(&Some(false)) {
            return None;
        }
        Some(u8::from(matches[0].is_some()) + u8::from(matches[1].is_some()) * 2 + u8::from(matches[2].is_some()) * 4)
    }
}

impl EscalationChains {
    /// Parses and checks a chain file. `departments` and `services` are the catalogue's codes, so a
    /// chain cannot name one that does not exist.
    pub fn from_toml(text: &str, departments: &[&str], services: &[&str]) -> Result<EscalationChains, ChainError> {
        let spec: ChainsSpec = toml::from_str(text).map_err(|e| ChainError::Parse(e.to_string()))?;
        if spec.follow_up_idle_hours <= 0 {
            return Err(ChainError::Invalid("file: follow_up_idle_hours must be a positive number of hours".into()));
        }
        let mut scoped = Vec::new();
        for chain in spec.chains {
            let name = format!("'{}'", chain.name);
            let invalid = |message: String| ChainError::Invalid(format!("{name}: {message}"));
            if let Some(department) = chain.department.as_deref().filter(|d| !departments.contains(d)) {
                return Err(invalid(format!("unknown department '{department}'")));
            }
            if let Some(service) = chain.service.as_deref().filter(|s| !services.contains(s)) {
                return Err(invalid(format!("unknown service '{service}'")));
            }
            if chain.levels.is_empty() {
                return Err(invalid("a chain needs at least one level".into()));
            }
            if !(chain.reminder_interval_hours.is_finite() && chain.reminder_interval_hours > 0.0 && chain.reminder_interval_hours <= 24.0 * 366.0) {
                return Err(invalid("reminder_interval_hours must be positive and at most a year".into()));
            }
            let mut levels = Vec::new();
            for (i, level) in chain.levels.into_iter().enumerate() {
                let at = |message: String| invalid(format!("level {}: {message}", i + 1));
                let trigger = Trigger::parse(&level.trigger).map_err(at)?;
                if level.targets.is_empty() {
                    return Err(at("a level needs at least one target".into()));
                }
                let targets = level.targets.iter().map(|t| Target::parse(t)).collect::<Result<Vec<_>, _>>().map_err(at)?;
                if level.actions.is_empty() {
                    return Err(at("a level needs at least one action".into()));
                }
                if level.actions.contains(&Action::Reassign) && !targets.iter().any(|t| matches!(t, Target::User(_) | Target::Team(_))) {
                    return Err(at("reassign needs a user:<id> or team:<name> target".into()));
                }
                levels.push(Level { trigger, targets, actions: level.actions });
            }
            let scope = Scope { department: chain.department, service: chain.service, priority: chain.priority };
            if scoped.iter().any(|(s, _): &(Scope, Chain)| *s == scope) {
                return Err(invalid("another chain has the same department, service and priority".into()));
            }
            let reminder_interval_minutes = (chain.reminder_interval_hours * 60.0).round() as i64;
            scoped.push((scope, Chain { name: chain.name, levels, reminder_interval_minutes }));
        }
        if !scoped.iter().any(|(s, _)| s.department.is_none() && s.service.is_none() && s.priority.is_none()) {
            return Err(ChainError::Invalid("file: needs a default chain naming no department, service or priority".into()));
        }
        Ok(EscalationChains { scoped, follow_up_idle_minutes: spec.follow_up_idle_hours * 60 })
    }

    /// The chain a report climbs: the most specific that applies.
    pub fn chain_for(&self, department: &str, service: &str, priority: Priority) -> &Chain {
        self.scoped
            .iter()
            .filter_map(|(scope, chain)| scope.specificity(department, service, priority).map(|s| (s, chain)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, chain)| chain)
            .unwrap_or(&self.scoped[0].1)
    }

    pub fn follow_up_idle_minutes(&self) -> i64 {
        self.follow_up_idle_minutes
    }

    pub fn chains(&self) -> impl Iterator<Item = &Chain> {
        self.scoped.iter().map(|(_, chain)| chain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::WallClock;

    const CHAINS: &str = r#"
follow_up_idle_hours = 48

[[chains]]
name = "default"
reminder_interval_hours = 24
levels = [
  { trigger = "75% used", targets = ["team_lead"], actions = ["notify"] },
  { trigger = "breach", targets = ["department_manager"], actions = ["notify", "flag"] },
  { trigger = "breach + 24h", targets = ["deputy_for_services", "team:rapid"], actions = ["notify", "reassign", "raise_priority"] },
]

[[chains]]
name = "emergency"
priority = "emergency"
reminder_interval_hours = 1
levels = [{ trigger = "immediately", targets = ["emergency_committee"], actions = ["notify", "flag"] }]

[[chains]]
name = "roads"
department = "roads"
reminder_interval_hours = 12
levels = [{ trigger = "no activity 2h", targets = ["user:roads-lead"], actions = ["notify"] }]
"#;

    fn chains() -> EscalationChains {
        EscalationChains::from_toml(CHAINS, &["roads", "cleanliness"], &["pothole"]).unwrap()
    }

    fn refused(text: &str) -> String {
        EscalationChains::from_toml(text, &["roads"], &["pothole"]).unwrap_err().to_string()
    }

    #[test]
    fn the_shipped_chains_are_sound() {
        let catalogue = crate::Catalogue::from_toml(include_str!("../../../catalogue/eastern-province.toml")).unwrap();
        let departments: Vec<&str> = catalogue.departments.iter().map(|d| d.code.as_str()).collect();
        let services: Vec<&str> = catalogue.services.iter().map(|s| s.code.as_str()).collect();
        let shipped = EscalationChains::from_toml(include_str!("../../../catalogue/escalation-chains.toml"), &departments, &services).unwrap();
        let emergency = shipped.chain_for("roads", "pothole", Priority::Emergency);
        assert_eq!(emergency.levels[0].trigger, Trigger::Immediately);
        assert_eq!(emergency.levels[0].targets, vec![Target::Position(Position::EmergencyCommittee)]);
        assert!(shipped.chains().all(|c| !c.levels.is_empty()));
    }

    #[test]
    fn triggers_parse_and_print_back() {
        for text in ["immediately", "75% used", "breach", "breach + 24h", "breach + 90m", "no activity 48h", "no activity 1h30m"] {
            let trigger = Trigger::parse(text).unwrap();
            assert_eq!(Trigger::parse(&trigger.to_string()).unwrap(), trigger, "{text}");
        }
        assert_eq!(Trigger::parse("breach+2h").unwrap(), Trigger::AfterBreach { minutes: 120 });
        assert_eq!(Trigger::parse("no activity 1h30m").unwrap(), Trigger::NoActivity { minutes: 90 });
    }

    #[test]
    fn bad_triggers_are_refused_with_the_reason() {
        for (text, expected) in [
            ("soon", "unknown trigger 'soon'"),
            ("0% used", "percentage must be 1 to 100"),
            ("150% used", "percentage must be 1 to 100"),
            ("breach + -2h", "must be positive"),
            ("breach + 0h", "must be positive"),
            ("no activity forever", "not a duration"),
            ("breach 2h", "unknown trigger"),
        ] {
            let error = Trigger::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn invalid_files_are_refused_naming_the_setting() {
        let default = "[[chains]]\nname = \"default\"\nreminder_interval_hours = 24\nlevels = [{ trigger = \"breach\", targets = [\"team_lead\"], actions = [\"notify\"] }]\n";
        let with = |extra: &str| format!("follow_up_idle_hours = 48\n{default}{extra}");
        for (text, expected) in [
            (
                with("[[chains]]\nname = \"empty\"\ndepartment = \"roads\"\nreminder_interval_hours = 24\nlevels = []\n"),
                "'empty': a chain needs at least one level",
            ),
            (
                with(
                    "[[chains]]\nname = \"x\"\ndepartment = \"roads\"\nreminder_interval_hours = 24\nlevels = [{ trigger = \"breach\", targets = [\"janitor\"], actions = [\"notify\"] }]\n",
                ),
                "'x': level 1: unknown target 'janitor'",
            ),
            (
                with(
                    "[[chains]]\nname = \"x\"\ndepartment = \"parks\"\nreminder_interval_hours = 24\nlevels = [{ trigger = \"breach\", targets = [\"team_lead\"], actions = [\"notify\"] }]\n",
                ),
                "'x': unknown department 'parks'",
            ),
            (
                with(
                    "[[chains]]\nname = \"x\"\nservice = \"swings\"\nreminder_interval_hours = 24\nlevels = [{ trigger = \"breach\", targets = [\"team_lead\"], actions = [\"notify\"] }]\n",
                ),
                "'x': unknown service 'swings'",
            ),
            (
                with(
                    "[[chains]]\nname = \"x\"\ndepartment = \"roads\"\nreminder_interval_hours = -1\nlevels = [{ trigger = \"breach\", targets = [\"team_lead\"], actions = [\"notify\"] }]\n",
                ),
                "'x': reminder_interval_hours must be positive",
            ),
            (
                with(
                    "[[chains]]\nname = \"x\"\ndepartment = \"roads\"\nreminder_interval_hours = 2\nlevels = [{ trigger = \"breach\", targets = [\"team_lead\"], actions = [\"reassign\"] }]\n",
                ),
                "'x': level 1: reassign needs a user:<id> or team:<name> target",
            ),
            (
                with(
                    "[[chains]]\nname = \"x\"\ndepartment = \"roads\"\nreminder_interval_hours = 2\nlevels = [{ trigger = \"breach\", targets = [], actions = [\"notify\"] }]\n",
                ),
                "'x': level 1: a level needs at least one target",
            ),
            (
                with(
                    "[[chains]]\nname = \"x\"\ndepartment = \"roads\"\nreminder_interval_hours = 2\nlevels = [{ trigger = \"breach\", targets = [\"team_lead\"], actions = [\"shout\"] }]\n",
                ),
                "unknown variant `shout`",
            ),
            (with(""), "OK"),
            (format!("follow_up_idle_hours = 0\n{default}"), "follow_up_idle_hours must be a positive"),
            ("follow_up_idle_hours = 4\nchains = []\n".to_owned(), "needs a default chain"),
            (with(default), "another chain has the same department, service and priority"),
        ] {
            if expected == "OK" {
                assert!(EscalationChains::from_toml(&text, &["roads"], &["pothole"]).is_ok());
                continue;
            }
            let error = refused(&text);
            assert!(error.contains(expected), "expected {expected:?} in {error:?}");
        }
    }

    #[test]
    fn the_most_specific_chain_applies_and_emergencies_always_climb_theirs() {
        let chains = chains();
        assert_eq!(chains.chain_for("cleanliness", "graffiti", Priority::Normal).name, "default");
        assert_eq!(chains.chain_for("roads", "pothole", Priority::Normal).name, "roads");
        assert_eq!(chains.chain_for("roads", "pothole", Priority::Emergency).name, "emergency");
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn report(status: Status) -> Report {
        let mut report = crate::lifecycle::tests::report(Status::New);
        report.status = status;
        report.created_at = at("2026-01-01T00:00:00Z");
        report.updated_at = report.created_at;
        report
    }

    fn running(due_at: Timestamp, remaining_minutes: i64) -> ClockState {
        ClockState { due_at, remaining_minutes, percent_used: 0, outcome: ClockOutcome::Running }
    }

    #[test]
    fn each_step_is_due_when_its_trigger_says_and_reminders_repeat_the_top_level() {
        let chains = chains();
        let chain = chains.chain_for("cleanliness", "graffiti", Priority::Normal);
        let now = at("2026-01-01T01:00:00Z");
        let due = at("2026-01-01T10:00:00Z");
        let clocks = Clocks { time: &WallClock, resolution: running(due, 540), resolution_minutes: 600 };
        let mut report = report(Status::Assigned);
        // 60 of 600 minutes used; 75% is 450 minutes: 390 more.
        assert_eq!(chain.next_due(&report, &clocks, now), Some(at("2026-01-01T07:30:00Z")));
        report.escalation.fired = 1;
        assert_eq!(chain.next_due(&report, &clocks, now), Some(due));
        report.escalation.fired = 2;
        assert_eq!(chain.next_due(&report, &clocks, now), Some(at("2026-01-02T10:00:00Z")));
        report.escalation = Progress { fired: 3, last_at: Some(at("2026-01-02T10:00:05Z")), ..Progress::default() };
        assert_eq!(chain.next_due(&report, &clocks, now), Some(at("2026-01-03T10:00:05Z")));
        let step = chain.step(7);
        assert_eq!((step.level, step.reminder), (3, true));
    }

    #[test]
    fn nothing_is_due_for_resolved_closed_or_paused_reports() {
        let chains = chains();
        let chain = chains.chain_for("cleanliness", "graffiti", Priority::Normal);
        let now = at("2026-01-01T01:00:00Z");
        let clocks = Clocks { time: &WallClock, resolution: running(now, 10), resolution_minutes: 600 };
        for status in [Status::Resolved, Status::Closed, Status::Rejected, Status::Duplicate] {
            assert_eq!(chain.next_due(&report(status), &clocks, now), None, "{status}");
        }
        let paused = Clocks { resolution: ClockState { outcome: ClockOutcome::Paused, ..clocks.resolution }, ..clocks };
        assert_eq!(chain.next_due(&report(Status::OnHold), &paused, now), None);
    }

    #[test]
    fn firing_applies_the_actions_and_records_the_step() {
        let chains = chains();
        let chain = chains.chain_for("cleanliness", "graffiti", Priority::Normal);
        let mut report = report(Status::Assigned);
        report.escalation.fired = 2;
        let now = at("2026-01-05T10:00:00Z");
        let fired = chain.fire(&report, Cause::Due, now);
        assert_eq!((fired.round, fired.step, fired.level, fired.notify), (0, 2, 3, true));
        assert_eq!(fired.report.priority, report.priority.raised());
        assert_eq!(fired.report.assignment.team.as_deref(), Some("rapid"));
        assert_eq!(fired.report.escalation, Progress { round: 0, fired: 3, last_at: Some(now), flagged: false });
        assert_eq!(fired.report.updated_at, report.updated_at, "an escalation is not activity on the report");
        assert_eq!(fired.event.note.as_deref(), Some("breach + 24h"));
        let reminder = chain.fire(&fired.report, Cause::Due, now);
        assert_eq!((reminder.step, reminder.level), (3, 3));
        assert!(reminder.event.note.unwrap().starts_with("reminder"));
        let restarted = reminder.report.escalation.restarted();
        assert_eq!((restarted.round, restarted.fired, restarted.last_at), (1, 0, None));
    }

    #[test]
    fn a_follow_up_escalates_an_overdue_or_idle_report_only() {
        let now = at("2026-01-03T00:00:00Z");
        let report = report(Status::Assigned);
        let fresh = Clocks { time: &WallClock, resolution: running(at("2026-01-09T00:00:00Z"), 100), resolution_minutes: 600 };
        assert!(follow_up_escalates(&report, &fresh, 48 * 60, now), "idle for 48 hours");
        assert!(!follow_up_escalates(&report, &fresh, 49 * 60, now));
        let breached = Clocks { resolution: ClockState { outcome: ClockOutcome::Breached, ..fresh.resolution }, ..fresh };
        assert!(follow_up_escalates(&report, &breached, 49 * 60, now));
        assert!(!follow_up_escalates(&self::report(Status::Closed), &breached, 49 * 60, now));
    }

    proptest::proptest! {
        /// Fired at their due instants, a report's steps come one after another, never earlier
        /// than the step before, and reminders of the top level are spaced exactly by the interval.
        #[test]
        fn steps_fire_in_order_and_reminders_keep_their_interval(
            target in 60..10_000i64,
            used in 0..10_000i64,
            idle in 0..5_000i64,
            steps in 1..12u32,
        ) {
            let chains = chains();
            let chain = chains.chain_for("cleanliness", "graffiti", Priority::Normal);
            let start = at("2026-01-01T00:00:00Z");
            let mut report = report(Status::InProgress);
            report.updated_at = start - jiff::SignedDuration::from_mins(idle);
            let mut now = start;
            let mut previous: Option<Timestamp> = None;
            for expected_step in 0..steps {
                // The SLA clock as it stands at `now`: `used` minutes counted when we began.
                let used_now = used + WallClock.minutes_between(start, now);
                let remaining = target - used_now;
                let due_at = WallClock.add_minutes(now, remaining);
                let outcome = if remaining < 0 { ClockOutcome::Breached } else { ClockOutcome::Running };
                let clocks = Clocks {
                    time: &WallClock,
                    resolution: ClockState { due_at, remaining_minutes: remaining, percent_used: 0, outcome },
                    resolution_minutes: target,
                };
                let due = chain.next_due(&report, &clocks, now).expect("an open report always has a next step");
                let fire_at = Ord::max(due, now);
                if let Some(previous) = previous {
                    proptest::prop_assert!(fire_at >= previous);
                    if chain.step(expected_step).reminder {
                        proptest::prop_assert_eq!(fire_at, WallClock.add_minutes(previous, chain.reminder_interval_minutes));
                    }
                }
                let fired = chain.fire(&report, Cause::Due, fire_at);
                proptest::prop_assert_eq!(fired.step, expected_step);
                proptest::prop_assert_eq!(fired.report.escalation.fired, expected_step + 1);
                report = fired.report;
                now = fire_at;
                previous = Some(fire_at);
            }
        }
    }
}
