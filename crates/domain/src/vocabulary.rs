//! The closed vocabularies of a report: its kind, priority, status and channel of origin, each
//! with a stable lowercase name used in JSON, SQL and URLs.

use crate::error::FieldError;

/// Declares a fieldless enum with its stable wire names, `as_str`, `parse` and `ALL`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $code:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire name; the error lists the accepted names.
            pub fn parse(field: &str, input: &str) -> Result<Self, FieldError> {
                match input.trim() {
                    $($text => Ok($name::$variant),)+
                    other => Err(FieldError::new(
                        field,
                        $code,
                        format!("'{}' is not one of: {}", other, Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// What the beneficiary brought to the center. Inquiries are answered and closed and are counted
    /// apart from reports, as the brief's figures are.
    ContactKind, "unknown_kind", {
    Report => "report",
    Complaint => "complaint",
    Inquiry => "inquiry",
    Suggestion => "suggestion",
});

vocabulary!(
    /// Urgency, lowest first; `Emergency` goes to the emergency oversight committee.
    Priority, "unknown_priority", {
    Low => "low",
    Normal => "normal",
    High => "high",
    Urgent => "urgent",
    Emergency => "emergency",
});

vocabulary!(
    /// Where a report's lifecycle stands. See `lifecycle` for the allowed moves.
    Status, "unknown_status", {
    New => "new",
    Acknowledged => "acknowledged",
    Assigned => "assigned",
    InProgress => "in_progress",
    OnHold => "on_hold",
    AwaitingCitizen => "awaiting_citizen",
    Resolved => "resolved",
    Closed => "closed",
    Reopened => "reopened",
    Rejected => "rejected",
    Duplicate => "duplicate",
});

vocabulary!(
    /// The channel a contact came through.
    Channel, "unknown_channel", {
    Phone => "phone",
    Ivr => "ivr",
    Web => "web",
    App => "app",
    Whatsapp => "whatsapp",
    X => "x",
    Facebook => "facebook",
    Telegram => "telegram",
    Sms => "sms",
    Email => "email",
    WalkIn => "walk_in",
    Api => "api",
    /// Balagh itself: timers and workers. Never a contact's channel.
    System => "system",
});

vocabulary!(
    /// Open311's two-valued status.
    OpenStatus, "unknown_open311_status", {
    Open => "open",
    Closed => "closed",
});

impl Priority {
    /// A small integer that sorts by urgency, for storage and comparisons.
    pub fn rank(self) -> i16 {
        self as i16
    }

    pub fn from_rank(rank: i16) -> Option<Self> {
        Self::ALL.get(usize::try_from(rank).ok()?).copied()
    }
}

impl Priority {
    /// One step more urgent; emergency stays emergency.
    pub fn raised(self) -> Priority {
        Priority::from_rank(self.rank() + 1).unwrap_or(self)
    }
}

impl Channel {
    /// A channel a contact may come through or a beneficiary may prefer: any but `system`.
    pub fn parse_contact(field: &str, input: &str) -> Result<Channel, FieldError> {
        match Channel::parse(field, input)? {
            Channel::System => Err(FieldError::new(field, "unknown_channel", "channel 'system' is reserved for Balagh's own events")),
            channel => Ok(channel),
        }
    }
}

impl Status {
    /// Open311 maps every terminal status to `closed` and every other one to `open`.
    pub fn open311(self) -> OpenStatus {
        if self.is_terminal() { OpenStatus::Closed } else { OpenStatus::Open }
    }

    /// Closed, rejected and duplicate reports need no more work.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Closed | Status::Rejected | Status::Duplicate)
    }

    /// The detailed statuses that Open311's `open` or `closed` stands for.
    pub fn for_open311(status: OpenStatus) -> Vec<Status> {
        Status::ALL.iter().copied().filter(|s| s.open311() == status).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for status in Status::ALL {
            assert_eq!(Status::parse("status", status.as_str()), Ok(*status));
        }
        for channel in Channel::ALL {
            assert_eq!(Channel::parse("channel", channel.as_str()), Ok(*channel));
        }
        for priority in Priority::ALL {
            assert_eq!(Priority::from_rank(priority.rank()), Some(*priority));
        }
    }

    #[test]
    fn unknown_names_list_the_accepted_ones() {
        let error = Priority::parse("priority", "asap").unwrap_err();
        assert_eq!(error.field, "priority");
        assert!(error.message.contains("low, normal, high, urgent, emergency"), "{}", error.message);
    }

    #[test]
    fn open311_status_maps_terminal_statuses_to_closed() {
        assert_eq!(Status::Closed.open311(), OpenStatus::Closed);
        assert_eq!(Status::Rejected.open311(), OpenStatus::Closed);
        assert_eq!(Status::Duplicate.open311(), OpenStatus::Closed);
        assert_eq!(Status::Resolved.open311(), OpenStatus::Open);
        assert_eq!(Status::New.open311(), OpenStatus::Open);
    }
}
