//! FixMyStreet's Open311 extension `GET servicerequestupdates.{fmt}?start_date&end_date`: the
//! municipality's public updates to requests (status changes and public comments), oldest first,
//! with FixMyStreet's extended status values so FixMyStreet and its kin can mirror them.

use super::error::Open311Error;
use super::format::{Document, Value};
use super::locale::{self, Lang};
use super::params::{self, Params, w3c};
use crate::AppState;
use balagh_app::StoredEvent;
use balagh_domain::event::EventKind;
use balagh_domain::vocabulary::Status;

/// The most updates one answer carries.
pub const MAX_UPDATES: u64 = 1000;

/// Balagh's detailed status as FixMyStreet's extended Open311 update status
/// (github.com/mysociety/fixmystreet/wiki/Open311-FMS---Proposed-differences-to-Open311):
///
/// | Balagh           | FixMyStreet        | why                                                                 |
/// |------------------|--------------------|---------------------------------------------------------------------|
/// | new              | OPEN               | received; nobody has acted on it yet                                |
/// | acknowledged     | INVESTIGATING      | the center has read it and is finding out what is needed            |
/// | assigned         | ACTION_SCHEDULED   | a department has it on its work list                                |
/// | in_progress      | IN_PROGRESS        |                                                                     |
/// | on_hold          | ACTION_SCHEDULED   | work paused but still planned (materials, another agency)           |
/// | awaiting_citizen | INVESTIGATING      | more information is needed from the reporter                        |
/// | resolved         | FIXED              |                                                                     |
/// | closed           | FIXED              | Balagh closes only resolved reports; FixMyStreet's CLOSED would read as "closed unfixed" |
/// | reopened         | OPEN               | FixMyStreet's REOPEN is a value it sends, not one it reads          |
/// | rejected         | NO_FURTHER_ACTION  | refused with a public reason, shown as the update's text            |
/// | duplicate        | DUPLICATE          |                                                                     |
///
/// NOT_COUNCILS_RESPONSIBILITY, INTERNAL_REFERRAL and CLOSED are never sent: no Balagh status
/// says that alone (a rejection's reason says why in words).
pub fn fixmystreet_status(status: Status) -> &'static str {
    match status {
        Status::New | Status::Reopened => "OPEN",
        Status::Acknowledged | Status::AwaitingCitizen => "INVESTIGATING",
        Status::Assigned | Status::OnHold => "ACTION_SCHEDULED",
        Status::InProgress => "IN_PROGRESS",
        Status::Resolved | Status::Closed => "FIXED",
        Status::Rejected => "NO_FURTHER_ACTION",
        Status::Duplicate => "DUPLICATE",
    }
}

/// Whether an event is an update from the municipality. The report's creation is not an update,
/// and a beneficiary's follow-up is the beneficiary's own words, not the municipality's.
fn is_update(stored: &StoredEvent) -> bool {
    matches!(stored.event.kind, EventKind::StatusChanged { .. } | EventKind::Commented) && stored.event.public
}

pub fn update_entry(stored: &StoredEvent, lang: Lang) -> Value {
    let description = stored.event.note.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| locale::status_changed(stored.status, lang));
    Value::Record(vec![
        ("update_id", Value::text(stored.id.to_string())),
        ("service_request_id", Value::text(stored.report_id.ticket().to_string())),
        ("status", Value::text(fixmystreet_status(stored.status))),
        ("updated_datetime", Value::text(w3c(stored.event.at))),
        ("description", Value::text(description)),
        ("media_url", Value::Null),
    ])
}

/// `GET servicerequestupdates.{fmt}`: FixMyStreet sends both dates; a missing one takes the same
/// defaults as `GET requests` (90 days from or up to the other, or the last 90 days). At most
/// 1,000 updates are answered per call; narrow the window to see more.
pub async fn list(state: &AppState, params: &Params, lang: Lang) -> Result<Document, Open311Error> {
    let window = params::window(params, state.app.now()).map_err(Open311Error::bad_requests)?;
    let events = state.app.public_updates(window.from, window.to, MAX_UPDATES).await?;
    let entries = events.iter().filter(|stored| is_update(stored)).map(|stored| update_entry(stored, lang)).collect();
    Ok(Document::list("service_request_updates", "request_update", entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::open311::format::Format;
    use balagh_domain::event::{Actor, Event, Role};
    use balagh_domain::report::ReportId;
    use balagh_domain::vocabulary::Channel;
    use expect_test::expect;

    fn stored(id: i64, kind: EventKind, status: Status, note: Option<&str>) -> StoredEvent {
        StoredEvent {
            id,
            report_id: ReportId(1),
            status,
            event: Event {
                at: "2026-03-02T06:15:00Z".parse().unwrap(),
                actor: Actor::new(Role::Staff, "u-9"),
                channel: Channel::Web,
                public: true,
                kind,
                note: note.map(str::to_owned),
            },
        }
    }

    #[test]
    fn an_update_in_xml_and_json() {
        let update = stored(7, EventKind::StatusChanged { from: Status::InProgress, to: Status::Resolved }, Status::Resolved, Some("filled & levelled"));
        let document = Document::list("service_request_updates", "request_update", vec![update_entry(&update, Lang::En)]);
        expect![[r#"
            <?xml version="1.0" encoding="UTF-8"?>
            <service_request_updates>
              <request_update>
                <update_id>7</update_id>
                <service_request_id>00000013</service_request_id>
                <status>FIXED</status>
                <updated_datetime>2026-03-02T09:15:00+03:00</updated_datetime>
                <description>filled &amp; levelled</description>
                <media_url/>
              </request_update>
            </service_request_updates>
        "#]]
        .assert_eq(&document.render(Format::Xml));
        expect![[r#"
            [
              {
                "update_id": "7",
                "service_request_id": "00000013",
                "status": "FIXED",
                "updated_datetime": "2026-03-02T09:15:00+03:00",
                "description": "filled & levelled",
                "media_url": null
              }
            ]
        "#]]
        .assert_eq(&document.render(Format::Json));
    }

    #[test]
    fn an_update_without_a_note_says_what_changed_in_the_asked_language() {
        let update = stored(8, EventKind::StatusChanged { from: Status::New, to: Status::Acknowledged }, Status::Acknowledged, None);
        let Value::Record(fields) = update_entry(&update, Lang::Ar) else { panic!("an update is a record") };
        assert_eq!(fields[4].1, Value::text("تغيرت حالة البلاغ إلى: تم الاستلام"));
        assert_eq!(fields[2].1, Value::text("INVESTIGATING"));
    }

    #[test]
    fn creation_and_follow_ups_are_not_municipal_updates() {
        let created = stored(
            1,
            EventKind::Created { kind: balagh_domain::ContactKind::Report, service_code: "pothole".into(), priority: balagh_domain::Priority::Normal },
            Status::New,
            None,
        );
        let follow_up = stored(2, EventKind::FollowedUp { n_follow_ups: 1 }, Status::New, Some("please hurry, call me on 0512345678"));
        let comment = stored(3, EventKind::Commented, Status::Assigned, Some("the crew comes on Tuesday"));
        assert!(!is_update(&created));
        assert!(!is_update(&follow_up));
        assert!(is_update(&comment));
    }

    #[test]
    fn every_status_has_a_fixmystreet_value() {
        let allowed = ["OPEN", "INVESTIGATING", "ACTION_SCHEDULED", "IN_PROGRESS", "FIXED", "NO_FURTHER_ACTION", "DUPLICATE"];
        for status in Status::ALL {
            assert!(allowed.contains(&fixmystreet_status(*status)), "{status}");
        }
        assert_eq!(fixmystreet_status(Status::Closed), "FIXED");
        assert_eq!(fixmystreet_status(Status::Rejected), "NO_FURTHER_ACTION");
    }
}
