//! The timeline: every change to a report is an append-only event saying who, when, what, from
//! which channel, and whether the beneficiary may see it.

use crate::rating::{ClosureRating, InteractionRating};
use crate::report::Assignment;
use crate::vocabulary::{Channel, ContactKind, Priority, Status};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What someone may do depends on their role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The citizen or resident who opened the report, proven by the report's phone number.
    Beneficiary,
    /// A call-center agent.
    Agent,
    /// Department staff and field teams.
    Staff,
    Supervisor,
    Admin,
    /// An outside system holding an Open311 API key: it may open reports and read, nothing more.
    Integration,
    /// Balagh itself (timers, automatic closure).
    System,
}

impl Role {
    pub const ALL: &'static [Role] = &[Role::Beneficiary, Role::Agent, Role::Staff, Role::Supervisor, Role::Admin, Role::Integration, Role::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Beneficiary => "beneficiary",
            Role::Agent => "agent",
            Role::Staff => "staff",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Integration => "integration",
            Role::System => "system",
        }
    }

    pub fn parse(input: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.as_str() == input)
    }

    /// Staff-side roles see personal data and internal notes.
    pub fn is_staff_side(self) -> bool {
        matches!(self, Role::Agent | Role::Staff | Role::Supervisor | Role::Admin | Role::System)
    }
}

/// Who did something: a role and, for people and systems with names, their id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub role: Role,
    pub id: Option<String>,
    /// The department a staff member belongs to; staff act only on their department's reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The position a supervisor fills (team lead, department manager, …), for escalations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<crate::escalation::Position>,
}

impl Actor {
    pub fn beneficiary() -> Self {
        Self { role: Role::Beneficiary, id: None, department: None, position: None }
    }

    pub fn system() -> Self {
        Self { role: Role::System, id: None, department: None, position: None }
    }

    pub fn new(role: Role, id: impl Into<String>) -> Self {
        Self { role, id: Some(id.into()), department: None, position: None }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Created {
        kind: ContactKind,
        service_code: String,
        priority: Priority,
    },
    StatusChanged {
        from: Status,
        to: Status,
    },
    Assigned {
        assignment: Assignment,
    },
    Commented,
    FollowedUp {
        n_follow_ups: u32,
    },
    InteractionRated {
        rating: InteractionRating,
    },
    ClosureRated {
        rating: ClosureRating,
    },
    /// A step of the report's escalation chain fired: a level, or a reminder of the top level.
    Escalated {
        round: u32,
        step: u32,
        level: u32,
        reminder: bool,
        targets: Vec<String>,
        actions: Vec<crate::escalation::Action>,
        /// The raised priority, when the step raised it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
    },
    /// A target of an escalation took note of it; the chain goes on for the others.
    EscalationAcknowledged {
        round: u32,
        step: u32,
        target: String,
    },
    /// The beneficiary pressed a key on an automated update call (`repeat`, `confirmed`,
    /// `not_fixed`, `rated`, `agent`). What the answer did (a closure, a reopening, a rating)
    /// follows as its own events.
    UpdateCallAnswered {
        choice: String,
        /// The provider's id of the call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<String>,
    },
    /// A call to the IVR about this report ended: its length, the menus the caller went through,
    /// and the ratings he gave the agent and the answer, if he was put through to one.
    IvrCall {
        /// The provider's id of the call.
        call: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_seconds: Option<i64>,
        path: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_service: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer_quality: Option<u8>,
    },
    /// The provider's transcription of the description the caller recorded became the report's
    /// description (the event's note holds it).
    DescriptionTranscribed {
        call: String,
    },
    /// The report was opened without its place: a link to mark it on a map went to the
    /// beneficiary, and the report waits for it until `until`.
    LocationRequested {
        until: Timestamp,
    },
    /// The beneficiary (or an agent for him) marked the place on the map.
    LocationPlaced {
        lat: f64,
        lon: f64,
    },
    /// No place was marked in time; the report went on with its description alone.
    LocationExpired,
}

impl EventKind {
    /// The stable name stored beside the event and shown in timelines.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Created { .. } => "created",
            EventKind::StatusChanged { .. } => "status_changed",
            EventKind::Assigned { .. } => "assigned",
            EventKind::Commented => "commented",
            EventKind::FollowedUp { .. } => "followed_up",
            EventKind::InteractionRated { .. } => "interaction_rated",
            EventKind::ClosureRated { .. } => "closure_rated",
            EventKind::Escalated { .. } => "escalated",
            EventKind::EscalationAcknowledged { .. } => "escalation_acknowledged",
            EventKind::UpdateCallAnswered { .. } => "update_call_answered",
            EventKind::IvrCall { .. } => "ivr_call",
            EventKind::DescriptionTranscribed { .. } => "description_transcribed",
            EventKind::LocationRequested { .. } => "location_requested",
            EventKind::LocationPlaced { .. } => "location_placed",
            EventKind::LocationExpired => "location_expired",
        }
    }
}

/// One entry of a report's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at: Timestamp,
    pub actor: Actor,
    pub channel: Channel,
    /// Public events are shown to the beneficiary and in Open311 updates; internal ones to staff only.
    pub public: bool,
    pub kind: EventKind,
    pub note: Option<String>,
}
