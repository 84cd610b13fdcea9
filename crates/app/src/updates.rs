//! Updates that a change sends, written in its transaction. To the beneficiary: each public status
//! change and public comment made by someone else, the receipt of his follow-up, and an escalation
//! of his overdue report, on the channel he can be reached on (his preference; a call for reports
//! opened by phone or IVR; else a text to his phone; else email), in his language. A resolution asks
//! him to rate the closure. Automated calls are kept for what matters (assigned, in progress,
//! resolved, escalated past the deadline); other updates to a caller go by text. To staff: the
//! assignment of a report to them.

use balagh_domain::event::{Event, EventKind, Role};
use balagh_domain::report::{Assignment, Report};
use balagh_domain::vocabulary::{Channel, Status};
use balagh_store::{Acknowledgement, OutboxMessage};
use jiff::Timestamp;
use std::sync::Arc;

/// How a beneficiary is reached, as an outbox recipient: `sms:+9665…`, `whatsapp:+9665…`,
/// `call:+9665…` or `email:…`; `None` when the report holds no way to reach him.
pub fn beneficiary_recipient(report: &Report) -> Option<String> {
    let phone = report.contact.phone.as_ref().map(|p| p.as_str().to_owned());
    let email = report.contact.email.as_ref().map(|e| e.as_str().to_owned());
    let by = |medium: &str, address: &Option<String>| address.as_ref().map(|a| format!("{medium}:{a}"));
    let preferred = match report.contact.preferred_channel {
        Some(Channel::Whatsapp) => by("whatsapp", &phone),
        Some(Channel::Phone | Channel::Ivr) => by("call", &phone),
        Some(Channel::Email) => by("email", &email),
        Some(Channel::Sms) => by("sms", &phone),
        _ => None,
    };
    let opened_by_voice = report.contact.preferred_channel.is_none() && matches!(report.channel, Channel::Phone | Channel::Ivr);
    preferred.or_else(|| if opened_by_voice { by("call", &phone) } else { None }).or_else(|| by("sms", &phone)).or_else(|| by("email", &email))
}

/// The message that tells a beneficiary his report was received, with its ticket number: on the
/// channel he prefers, but as a text where that is a call (he has just heard or seen the ticket).
pub fn receipt() -> Acknowledgement {
    Acknowledgement(Arc::new(|report: &Report| beneficiary_text(report, "received", serde_json::Map::new(), report.created_at).into_iter().collect()))
}

/// A message of `topic` about `report` to its beneficiary, at `at`: on the channel he prefers, but
/// as a text where that is a call. `extra` adds to the payload every such message carries.
pub(crate) fn beneficiary_text(
    report: &Report,
    topic: &'static str,
    extra: serde_json::Map<String, serde_json::Value>,
    at: Timestamp,
) -> Option<OutboxMessage> {
    let recipient = beneficiary_recipient(report)?;
    let recipient = match recipient.strip_prefix("call:") {
        Some(phone) => format!("sms:{phone}"),
        None => recipient,
    };
    let mut payload = serde_json::json!({
        "ticket": report.ticket().to_string(),
        "service_code": report.service_code,
        "status": report.status.as_str(),
        "language": report.contact.language.as_str(),
        "expected_at": report.expected_at.map(|at| at.to_string()),
    });
    if let Some(fields) = payload.as_object_mut() {
        fields.extend(extra);
    }
    Some(OutboxMessage { dedupe_key: format!("{topic}:{}", report.id.0), topic, recipient, payload, created_at: at, available_at: None })
}

/// Statuses worth an automated call; other updates to a caller go by text.
fn worth_a_call(status: Status) -> bool {
    matches!(status, Status::Assigned | Status::InProgress | Status::Resolved)
}

/// The outbox rows that `events`, just applied to `report`, send to its beneficiary.
pub fn beneficiary_updates(report: &Report, events: &[Event]) -> Vec<OutboxMessage> {
    let Some(recipient) = beneficiary_recipient(report) else { return vec![] };
    let escalated = events.iter().any(|event| matches!(event.kind, EventKind::Escalated { .. }));
    events
        .iter()
        .filter_map(|event| {
            let by_others = event.public && event.actor.role != Role::Beneficiary;
            let (topic, status, call) = match &event.kind {
                EventKind::StatusChanged { to: Status::Resolved, .. } if by_others => ("closure_survey", Status::Resolved, true),
                EventKind::StatusChanged { to, .. } if by_others => ("status_changed", *to, worth_a_call(*to)),
                EventKind::Commented if by_others => ("public_comment", report.status, false),
                EventKind::FollowedUp { .. } if event.actor.role == Role::Beneficiary => ("follow_up_received", report.status, false),
                // A step of the chain (not a reminder) on a report past its expected resolution.
                EventKind::Escalated { reminder: false, .. } if report.expected_at.is_some_and(|due| due <= event.at) => ("escalated", report.status, true),
                _ => return None,
            };
            let recipient = if call || !recipient.starts_with("call:") { recipient.clone() } else { recipient.replacen("call:", "sms:", 1) };
            let mut payload = serde_json::json!({
                "ticket": report.ticket().to_string(),
                "service_code": report.service_code,
                "status": status.as_str(),
                "note": event.note,
                "language": report.contact.language.as_str(),
                "expected_at": report.expected_at.map(|at| at.to_string()),
            });
            if topic == "follow_up_received" {
                payload["escalated"] = serde_json::Value::Bool(escalated);
            }
            Some(OutboxMessage {
                dedupe_key: format!("{topic}:{}:{}:{}:{recipient}", report.id.0, event.at.as_microsecond(), status.as_str()),
                topic,
                recipient,
                payload,
                created_at: event.at,
                available_at: None,
            })
        })
        .collect()
}

/// Whoever holds a report: its user, else its team, else the department's team lead.
pub fn holder(assignment: &Assignment) -> String {
    match (&assignment.user, &assignment.team) {
        (Some(user), _) => format!("user:{user}"),
        (None, Some(team)) => format!("team:{team}@{}", assignment.department),
        (None, None) => format!("team_lead@{}", assignment.department),
    }
}

/// The notices that `events` send to staff: a report assigned to a user or team tells them.
pub fn staff_updates(report: &Report, events: &[Event]) -> Vec<OutboxMessage> {
    events
        .iter()
        .filter_map(|event| {
            let EventKind::Assigned { assignment } = &event.kind else { return None };
            if assignment.user.is_none() && assignment.team.is_none() {
                return None;
            }
            let recipient = holder(assignment);
            Some(OutboxMessage {
                dedupe_key: format!("assigned:{}:{}:{recipient}", report.id.0, event.at.as_microsecond()),
                topic: "assigned",
                recipient,
                payload: serde_json::json!({
                    "ticket": report.ticket().to_string(),
                    "service_code": report.service_code,
                    "department": assignment.department,
                    "priority": report.priority.as_str(),
                    "status": report.status.as_str(),
                    "note": event.note,
                    "expected_at": report.expected_at.map(|at| at.to_string()),
                }),
                created_at: event.at,
                available_at: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use balagh_domain::contact::{Email, PhoneNumber};
    use balagh_domain::event::Actor;
    use balagh_domain::vocabulary::Status;

    fn report(channel: Channel, preferred: Option<Channel>, phone: bool, email: bool) -> Report {
        let at = jiff::Timestamp::from_second(1_780_000_000).unwrap();
        let mut report = Report {
            id: balagh_domain::ReportId(1_000_000),
            kind: balagh_domain::ContactKind::Report,
            service_code: "pothole".into(),
            description: Default::default(),
            priority: balagh_domain::Priority::Normal,
            status: Status::Assigned,
            location: Default::default(),
            contact: Default::default(),
            channel,
            assignment: balagh_domain::report::Assignment { department: "roads".into(), team: None, user: None },
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
        };
        report.contact.preferred_channel = preferred;
        report.contact.phone = phone.then(|| PhoneNumber::parse("phone", "0512345678").unwrap());
        report.contact.email = email.then(|| Email::parse("email", "m@example.sa").unwrap());
        report
    }

    #[test]
    fn the_beneficiary_is_reached_as_he_prefers_then_by_voice_text_or_email() {
        let check = |channel, preferred, phone, email, expected: Option<&str>| {
            assert_eq!(beneficiary_recipient(&report(channel, preferred, phone, email)).as_deref(), expected, "{channel:?} {preferred:?} {phone} {email}");
        };
        check(Channel::Web, Some(Channel::Whatsapp), true, true, Some("whatsapp:+966512345678"));
        check(Channel::Web, Some(Channel::Email), true, true, Some("email:m@example.sa"));
        check(Channel::Web, Some(Channel::Email), true, false, Some("sms:+966512345678"));
        check(Channel::Web, Some(Channel::Phone), true, false, Some("call:+966512345678"));
        check(Channel::Ivr, None, true, false, Some("call:+966512345678"));
        check(Channel::App, None, true, true, Some("sms:+966512345678"));
        check(Channel::X, None, false, true, Some("email:m@example.sa"));
        check(Channel::X, Some(Channel::Whatsapp), false, false, None);
    }

    #[test]
    fn only_public_changes_by_others_are_sent() {
        let report = report(Channel::App, None, true, false);
        let at = report.created_at;
        let event = |role, public, kind| Event {
            at,
            actor: Actor { role, id: None, department: None, position: None },
            channel: Channel::Web,
            public,
            kind,
            note: None,
        };
        let changed = EventKind::StatusChanged { from: Status::New, to: Status::Assigned };
        let events = [
            event(Role::Staff, true, changed.clone()),
            event(Role::Staff, false, EventKind::Commented),
            event(Role::Beneficiary, true, changed),
            event(Role::Staff, true, EventKind::Commented),
        ];
        let topics: Vec<&str> = beneficiary_updates(&report, &events).iter().map(|m| m.topic).collect();
        assert_eq!(topics, ["status_changed", "public_comment"]);
    }

    #[test]
    fn callers_are_called_for_what_matters_and_texted_the_rest() {
        let report = report(Channel::Ivr, None, true, false);
        let event = |to| Event {
            at: report.created_at,
            actor: Actor { role: Role::Staff, id: None, department: None, position: None },
            channel: Channel::Web,
            public: true,
            kind: EventKind::StatusChanged { from: Status::New, to },
            note: None,
        };
        let sent: Vec<(String, &str)> = beneficiary_updates(&report, &[event(Status::Acknowledged), event(Status::Assigned), event(Status::Resolved)])
            .into_iter()
            .map(|m| (m.recipient, m.topic))
            .collect();
        assert_eq!(
            sent,
            [
                ("sms:+966512345678".to_owned(), "status_changed"),
                ("call:+966512345678".to_owned(), "status_changed"),
                ("call:+966512345678".to_owned(), "closure_survey")
            ]
        );
    }
}
