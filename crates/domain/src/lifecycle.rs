//! The report lifecycle as an explicit state machine. `apply` decides whether a command is allowed
//! for this report, this actor and this status, and returns the transition (new status, assignment,
//! event) as data; it performs nothing itself.
//!
//! ```text
//! new -> acknowledged -> assigned -> in_progress -> (on_hold | awaiting_citizen) -> in_progress
//!     in_progress -> resolved -> closed;  resolved | closed -> reopened -> assigned | in_progress
//! new | acknowledged | assigned -> rejected (reason) | duplicate (of another report)
//! new -> awaiting_citizen (await_location: the caller marks the place from a text message's link)
//!     -> new (place_location with the pin, or location_expired when the wait is over)
//! ```

use crate::error::FieldError;
use crate::event::{Actor, Event, EventKind, Role};
use crate::geo::Coordinates;
use crate::report::{Assignment, Report, ReportId, required_note, short_text};
use crate::vocabulary::{Channel, ContactKind, Status};
use jiff::Timestamp;

/// Something someone wants to do to a report's status.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Acknowledge,
    Assign {
        department: String,
        team: Option<String>,
        user: Option<String>,
    },
    Start,
    Hold {
        reason: String,
    },
    AwaitCitizen {
        question: String,
    },
    Resume,
    Resolve {
        resolution: String,
    },
    Close,
    Reopen {
        reason: String,
    },
    Reject {
        reason: String,
    },
    MarkDuplicate {
        original: ReportId,
    },
    /// A report opened without its place waits for the beneficiary to mark it on a map, until
    /// `until`.
    AwaitLocation {
        until: Timestamp,
    },
    /// The place of a report that waits for it, marked on a map.
    PlaceLocation {
        coordinates: Coordinates,
    },
    /// The wait for the place is over: the report goes on without it (its description says where).
    LocationExpired,
}

impl Command {
    /// The stable name used in the API (`"action": "resolve"`) and in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Acknowledge => "acknowledge",
            Command::Assign { .. } => "assign",
            Command::Start => "start",
            Command::Hold { .. } => "hold",
            Command::AwaitCitizen { .. } => "await_citizen",
            Command::Resume => "resume",
            Command::Resolve { .. } => "resolve",
            Command::Close => "close",
            Command::Reopen { .. } => "reopen",
            Command::Reject { .. } => "reject",
            Command::MarkDuplicate { .. } => "mark_duplicate",
            Command::AwaitLocation { .. } => "await_location",
            Command::PlaceLocation { .. } => "place_location",
            Command::LocationExpired => "location_expired",
        }
    }

    /// The statuses this command may be applied from, for a report of `kind`.
    pub fn allowed_from(&self, kind: ContactKind) -> &'static [Status] {
        use Status::*;
        match self {
            Command::Acknowledge => &[New],
            Command::Assign { .. } => &[New, Acknowledged, Assigned, InProgress, OnHold, AwaitingCitizen, Reopened],
            Command::Start => &[Assigned, Reopened],
            Command::Hold { .. } | Command::AwaitCitizen { .. } => &[InProgress],
            Command::Resume => &[OnHold, AwaitingCitizen],
            // An inquiry is answered, which may happen at first contact.
            Command::Resolve { .. } if kind == ContactKind::Inquiry => &[New, Acknowledged, Assigned, InProgress, Reopened],
            Command::Resolve { .. } => &[InProgress],
            Command::Close => &[Resolved],
            Command::Reopen { .. } => &[Resolved, Closed],
            Command::Reject { .. } | Command::MarkDuplicate { .. } => &[New, Acknowledged, Assigned],
            Command::AwaitLocation { .. } => &[New],
            Command::PlaceLocation { .. } | Command::LocationExpired => &[AwaitingCitizen],
        }
    }

    /// The roles that may give this command. `from` matters for `Resume`: a beneficiary resumes
    /// only a report that waits for him.
    pub fn allowed_roles(&self, from: Status) -> &'static [Role] {
        use Role::*;
        match self {
            Command::Acknowledge | Command::Assign { .. } => &[Agent, Staff, Supervisor, Admin, System],
            Command::Start | Command::Hold { .. } => &[Staff, Supervisor, Admin],
            Command::AwaitCitizen { .. } => &[Agent, Staff, Supervisor, Admin],
            Command::Resume if from == Status::AwaitingCitizen => &[Beneficiary, Agent, Staff, Supervisor, Admin, System],
            Command::Resume => &[Staff, Supervisor, Admin, System],
            Command::Resolve { .. } => &[Agent, Staff, Supervisor, Admin],
            Command::Close | Command::Reopen { .. } => &[Beneficiary, Staff, Supervisor, Admin, System],
            Command::Reject { .. } | Command::MarkDuplicate { .. } => &[Agent, Staff, Supervisor, Admin],
            Command::AwaitLocation { .. } => &[Beneficiary, Agent, System],
            Command::PlaceLocation { .. } => &[Beneficiary, Agent, Staff, Supervisor, Admin],
            Command::LocationExpired => &[System],
        }
    }

    fn target(&self) -> Status {
        match self {
            Command::Acknowledge => Status::Acknowledged,
            Command::Assign { .. } => Status::Assigned,
            Command::Start | Command::Resume => Status::InProgress,
            Command::Hold { .. } => Status::OnHold,
            Command::AwaitCitizen { .. } => Status::AwaitingCitizen,
            Command::Resolve { .. } => Status::Resolved,
            Command::Close => Status::Closed,
            Command::Reopen { .. } => Status::Reopened,
            Command::Reject { .. } => Status::Rejected,
            Command::MarkDuplicate { .. } => Status::Duplicate,
            Command::AwaitLocation { .. } => Status::AwaitingCitizen,
            Command::PlaceLocation { .. } | Command::LocationExpired => Status::New,
        }
    }
}

/// The decided outcome of a command: what to store and what to append to the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    /// The new assignment, when the command assigns.
    pub assignment: Option<Assignment>,
    /// The public status note (resolution, reason) to show, when the command gives one.
    pub status_note: Option<String>,
    pub duplicate_of: Option<ReportId>,
    /// The place marked on a map, when the command gives one.
    pub coordinates: Option<Coordinates>,
    pub events: Vec<Event>,
    pub at: Timestamp,
}

impl Transition {
    /// The report as it is after this transition.
    pub fn applied_to(&self, report: &Report) -> Report {
        let mut next = report.clone();
        next.status = self.to;
        next.updated_at = self.at;
        if let Some(assignment) = &self.assignment {
            next.assignment = assignment.clone();
        }
        if self.status_note.is_some() {
            next.status_note = self.status_note.clone();
        }
        if self.duplicate_of.is_some() {
            next.duplicate_of = self.duplicate_of;
        }
        if self.coordinates.is_some() {
            next.location.coordinates = self.coordinates;
        }
        match self.to {
            Status::Resolved => next.resolved_at = Some(self.at),
            Status::Closed | Status::Rejected | Status::Duplicate => next.closed_at = Some(self.at),
            Status::Reopened => {
                next.resolved_at = None;
                next.closed_at = None;
            }
            _ => {}
        }
        next
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {command} a report that is {from}; allowed from: {allowed}")]
    Illegal { command: &'static str, from: Status, allowed: String },
    #[error("a {role} may not {command} a report")]
    Forbidden { command: &'static str, role: &'static str },
    #[error("this report belongs to department '{report_department}', not to '{actor_department}'")]
    OtherDepartment { report_department: String, actor_department: String },
    #[error("{0}")]
    Invalid(FieldError),
}

impl TransitionError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::Illegal { .. } => "illegal_transition",
            TransitionError::Forbidden { .. } => "forbidden_transition",
            TransitionError::OtherDepartment { .. } => "other_department",
            TransitionError::Invalid(error) => error.code,
        }
    }
}

impl From<FieldError> for TransitionError {
    fn from(error: FieldError) -> Self {
        TransitionError::Invalid(error)
    }
}

/// Staff act only on their own department's reports; other roles are not bound to a department.
pub fn check_department(report: &Report, actor: &Actor) -> Result<(), TransitionError> {
    match (&actor.role, &actor.department) {
        (Role::Staff, Some(department)) if *department != report.assignment.department => {
            Err(TransitionError::OtherDepartment { report_department: report.assignment.department.clone(), actor_department: department.clone() })
        }
        _ => Ok(()),
    }
}

/// Decides `command` for `report`, given by `actor` through `channel` at `now`.
pub fn apply(report: &Report, command: Command, actor: &Actor, channel: Channel, now: Timestamp) -> Result<Transition, TransitionError> {
    let from = report.status;
    if !command.allowed_from(report.kind).contains(&from) {
        return Err(TransitionError::Illegal { command: command.name(), from, allowed: join(command.allowed_from(report.kind)) });
    }
    if !command.allowed_roles(from).contains(&actor.role) {
        return Err(TransitionError::Forbidden { command: command.name(), role: actor.role.as_str() });
    }
    check_department(report, actor)?;
    let to = command.target();
    let mut transition = Transition { from, to, assignment: None, status_note: None, duplicate_of: None, coordinates: None, events: Vec::new(), at: now };
    let event = |kind: EventKind, public: bool, note: Option<String>| Event { at: now, actor: actor.clone(), channel, public, kind, note };
    let mut note = None;
    match command {
        Command::Assign { department, team, user } => {
            let department = short_text("department", Some(&department))?
                .ok_or_else(|| FieldError::new("department", "missing_department", "department is required to assign"))?;
            let assignment = Assignment { department, team: short_text("team", team.as_deref())?, user: short_text("user", user.as_deref())? };
            transition.events.push(event(EventKind::Assigned { assignment: assignment.clone() }, false, None));
            transition.assignment = Some(assignment);
        }
        Command::Hold { reason } => note = Some(required_note("reason", &reason)?),
        Command::AwaitCitizen { question } => note = Some(required_note("question", &question)?),
        Command::Resolve { resolution } => note = Some(required_note("resolution", &resolution)?),
        Command::Reopen { reason } | Command::Reject { reason } => note = Some(required_note("reason", &reason)?),
        Command::MarkDuplicate { original } => {
            if original == report.id {
                return Err(FieldError::new("original", "duplicate_of_itself", "a report cannot be a duplicate of itself").into());
            }
            transition.duplicate_of = Some(original);
            note = Some(format!("duplicate of {}", original.ticket()));
        }
        Command::AwaitLocation { until } => {
            if until <= now {
                return Err(FieldError::new("until", "wait_over", "the wait for the place must end after it starts").into());
            }
            transition.events.push(event(EventKind::LocationRequested { until }, true, None));
        }
        Command::PlaceLocation { coordinates } => {
            transition.coordinates = Some(coordinates);
            transition.events.push(event(EventKind::LocationPlaced { lat: coordinates.lat(), lon: coordinates.lon() }, true, None));
        }
        Command::LocationExpired => transition.events.push(event(EventKind::LocationExpired, false, None)),
        Command::Acknowledge | Command::Start | Command::Resume | Command::Close => {}
    }
    transition.status_note = note.clone();
    transition.events.push(event(EventKind::StatusChanged { from, to }, true, note));
    Ok(transition)
}

fn join(statuses: &[Status]) -> String {
    statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::contact::Contact;
    use crate::geo::Location;
    use crate::report::Description;
    use crate::vocabulary::Priority;

    pub(crate) fn report(status: Status) -> Report {
        let at = Timestamp::from_second(1_780_000_000).unwrap();
        Report {
            id: ReportId(7),
            kind: ContactKind::Report,
            service_code: "pothole".into(),
            description: Description::default(),
            priority: Priority::Normal,
            status,
            location: Location::default(),
            contact: Contact::default(),
            channel: Channel::Web,
            assignment: Assignment { department: "roads".into(), team: None, user: None },
            media: vec![],
            attributes: Default::default(),
            status_note: None,
            duplicate_of: None,
            n_follow_ups: 0,
            created_at: at,
            updated_at: at,
            resolved_at: None,
            closed_at: None,
            expected_at: None,
            escalation: Default::default(),
        }
    }

    fn staff() -> Actor {
        Actor { role: Role::Staff, id: Some("u1".into()), department: Some("roads".into()), position: None }
    }

    fn check(status: Status, command: Command, actor: &Actor, expected: Result<Status, &str>) {
        let got = apply(&report(status), command.clone(), actor, Channel::Api, Timestamp::UNIX_EPOCH).map(|t| t.to).map_err(|e| e.code());
        assert_eq!(got, expected, "{status} {command:?} by {:?}", actor.role);
    }

    #[test]
    fn the_happy_path_moves_forward() {
        let s = staff();
        check(Status::New, Command::Acknowledge, &s, Ok(Status::Acknowledged));
        check(Status::Acknowledged, Command::Assign { department: "roads".into(), team: Some("east".into()), user: None }, &s, Ok(Status::Assigned));
        check(Status::Assigned, Command::Start, &s, Ok(Status::InProgress));
        check(Status::InProgress, Command::Hold { reason: "waiting for asphalt".into() }, &s, Ok(Status::OnHold));
        check(Status::OnHold, Command::Resume, &s, Ok(Status::InProgress));
        check(Status::InProgress, Command::AwaitCitizen { question: "which side of the road?".into() }, &s, Ok(Status::AwaitingCitizen));
        check(Status::AwaitingCitizen, Command::Resume, &Actor::beneficiary(), Ok(Status::InProgress));
        check(Status::InProgress, Command::Resolve { resolution: "filled".into() }, &s, Ok(Status::Resolved));
        check(Status::Resolved, Command::Close, &Actor::beneficiary(), Ok(Status::Closed));
        check(Status::Closed, Command::Reopen { reason: "hole is back".into() }, &Actor::beneficiary(), Ok(Status::Reopened));
        check(Status::Reopened, Command::Start, &s, Ok(Status::InProgress));
        check(Status::New, Command::Reject { reason: "private property".into() }, &s, Ok(Status::Rejected));
        check(Status::Assigned, Command::MarkDuplicate { original: ReportId(3) }, &s, Ok(Status::Duplicate));
    }

    #[test]
    fn illegal_moves_are_named() {
        let s = staff();
        check(Status::New, Command::Resolve { resolution: "done".into() }, &s, Err("illegal_transition"));
        check(Status::Closed, Command::Start, &s, Err("illegal_transition"));
        check(Status::InProgress, Command::Reject { reason: "no".into() }, &s, Err("illegal_transition"));
        check(Status::Rejected, Command::Reopen { reason: "why".into() }, &s, Err("illegal_transition"));
        let error = apply(&report(Status::New), Command::Close, &s, Channel::Api, Timestamp::UNIX_EPOCH).unwrap_err();
        assert_eq!(error.to_string(), "cannot close a report that is new; allowed from: resolved");
    }

    #[test]
    fn roles_and_departments_are_enforced() {
        check(Status::New, Command::Acknowledge, &Actor::beneficiary(), Err("forbidden_transition"));
        check(Status::Assigned, Command::Start, &Actor::new(Role::Integration, "fixmystreet"), Err("forbidden_transition"));
        check(Status::OnHold, Command::Resume, &Actor::beneficiary(), Err("forbidden_transition"));
        let other = Actor { department: Some("parks".into()), ..staff() };
        check(Status::Assigned, Command::Start, &other, Err("other_department"));
        check(Status::Assigned, Command::Start, &Actor::new(Role::Supervisor, "s1"), Ok(Status::InProgress));
    }

    #[test]
    fn notes_are_required_where_they_explain_the_move() {
        let s = staff();
        check(Status::InProgress, Command::Resolve { resolution: "  ".into() }, &s, Err("note_required"));
        check(Status::New, Command::Reject { reason: String::new() }, &s, Err("note_required"));
        check(Status::New, Command::MarkDuplicate { original: ReportId(7) }, &s, Err("duplicate_of_itself"));
        let resolved = apply(&report(Status::InProgress), Command::Resolve { resolution: "filled".into() }, &s, Channel::Api, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(resolved.status_note.as_deref(), Some("filled"));
        assert!(resolved.events[0].public);
        let after = resolved.applied_to(&report(Status::InProgress));
        assert_eq!((after.status, after.resolved_at, after.status_note.as_deref()), (Status::Resolved, Some(Timestamp::UNIX_EPOCH), Some("filled")));
    }

    #[test]
    fn a_report_waits_for_its_place_and_goes_on_as_new() {
        let now = Timestamp::UNIX_EPOCH;
        let until = now + jiff::SignedDuration::from_hours(24);
        let waiting = apply(&report(Status::New), Command::AwaitLocation { until }, &Actor::beneficiary(), Channel::Ivr, now).unwrap();
        assert_eq!(waiting.to, Status::AwaitingCitizen);
        assert_eq!(waiting.events.iter().map(|e| e.kind.name()).collect::<Vec<_>>(), ["location_requested", "status_changed"]);
        let pin = Coordinates::new(26.43, 50.1).unwrap();
        let placed = apply(&report(Status::AwaitingCitizen), Command::PlaceLocation { coordinates: pin }, &Actor::beneficiary(), Channel::Web, now).unwrap();
        let after = placed.applied_to(&report(Status::AwaitingCitizen));
        assert_eq!((after.status, after.location.coordinates), (Status::New, Some(pin)));
        check(Status::AwaitingCitizen, Command::LocationExpired, &Actor::system(), Ok(Status::New));
        check(Status::AwaitingCitizen, Command::LocationExpired, &Actor::beneficiary(), Err("forbidden_transition"));
        check(Status::InProgress, Command::AwaitLocation { until }, &Actor::beneficiary(), Err("illegal_transition"));
        check(Status::New, Command::AwaitLocation { until: now }, &Actor::beneficiary(), Err("wait_over"));
        check(Status::New, Command::PlaceLocation { coordinates: pin }, &Actor::beneficiary(), Err("illegal_transition"));
    }

    #[test]
    fn inquiries_can_be_answered_at_first_contact() {
        let mut inquiry = report(Status::New);
        inquiry.kind = ContactKind::Inquiry;
        let agent = Actor::new(Role::Agent, "a1");
        let answered = apply(&inquiry, Command::Resolve { resolution: "the park opens at 4pm".into() }, &agent, Channel::Phone, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(answered.to, Status::Resolved);
    }
}
