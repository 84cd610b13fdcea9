//! A report as the beneficiary gives it (`ReportDraft`), as the domain accepts it (`NewReport`), and
//! as it is stored (`Report`).

use crate::catalogue::{AttributeAnswer, Catalogue};
use crate::contact::{Contact, Email, Language, PhoneNumber};
use crate::error::{FieldError, ValidationErrors};
use crate::geo::{Coordinates, Location, ShortAddress};
use crate::ticket::TicketNumber;
use crate::vocabulary::{Channel, ContactKind, Priority, Status};
use jiff::Timestamp;
use std::collections::BTreeMap;

/// A report's internal id; the public ticket number is derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ReportId(pub i64);

impl ReportId {
    pub fn ticket(self) -> TicketNumber {
        TicketNumber::for_report(self)
    }
}

/// The longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// The most media references one report carries.
pub const MAX_MEDIA: usize = 10;
/// The longest short free-text field (name, address, city, district, ids), in characters.
pub const MAX_SHORT_TEXT: usize = 200;

/// Plain text of at most 4,000 characters, stored exactly as given and escaped on every output.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Description(String);

impl Description {
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldError> {
        let chars = input.chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            return Err(FieldError::new(field, "description_too_long", format!("{field} has {chars} characters; at most {MAX_DESCRIPTION_CHARS} are allowed")));
        }
        if input.contains('\0') {
            return Err(FieldError::new(field, "invalid_text", format!("{field} must not contain NUL characters")));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a short free-text field: at most `MAX_SHORT_TEXT` characters, no control characters.
/// Empty or blank text counts as absent.
pub fn short_text(field: &str, input: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(text) = input.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if text.chars().count() > MAX_SHORT_TEXT {
        return Err(FieldError::new(field, "text_too_long", format!("{field} must be at most {MAX_SHORT_TEXT} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(field, "invalid_text", format!("{field} must not contain control characters")));
    }
    Ok(Some(text.to_owned()))
}

/// A note that a person must give (a resolution, a reason): non-blank, at most 4,000 characters.
pub fn required_note(field: &str, input: &str) -> Result<String, FieldError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "note_required", format!("{field} must not be empty")));
    }
    Ok(Description::parse(field, trimmed)?.0)
}

/// What a channel adapter hands over, unvalidated: every field as the beneficiary gave it.
#[derive(Debug, Clone, Default)]
pub struct ReportDraft {
    pub kind: Option<String>,
    pub service_code: Option<String>,
    pub description: Option<String>,
    pub priority: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub short_address: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub preferred_channel: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub media_urls: Vec<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    /// The beneficiary will mark the place on a map later (a link sent by text message), so a
    /// service that needs a location is accepted without one; the report waits for it.
    pub location_pending: bool,
}

/// A report the domain has accepted, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReport {
    pub kind: ContactKind,
    pub service_code: String,
    pub department: String,
    pub description: Description,
    pub priority: Priority,
    pub location: Location,
    pub contact: Contact,
    pub channel: Channel,
    pub media: Vec<String>,
    pub attributes: BTreeMap<String, AttributeAnswer>,
}

impl NewReport {
    /// Validates every field of `draft` against the catalogue and collects every problem found.
    pub fn validate(draft: &ReportDraft, channel: Channel, catalogue: &Catalogue) -> Result<NewReport, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let service = match draft.service_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => {
                errors.add("service_code", "missing_service_code", "service_code is required");
                None
            }
            Some(code) => {
                let found = catalogue.service(code);
                if found.is_none() {
                    errors.add("service_code", "unknown_service", format!("service_code '{code}' is not in the catalogue"));
                }
                found
            }
        };
        let kind = match draft.kind.as_deref().filter(|k| !k.trim().is_empty()) {
            Some(text) => errors.take(ContactKind::parse("kind", text)),
            None => Some(service.map(|s| s.kind).unwrap_or(ContactKind::Report)),
        };
        let priority = match draft.priority.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(text) => errors.take(Priority::parse("priority", text)),
            None => Some(service.map(|s| s.default_priority).unwrap_or(Priority::Normal)),
        };
        let description = errors.take(Description::parse("description", draft.description.as_deref().unwrap_or_default()));

        let coordinates = match (draft.lat, draft.lon) {
            (Some(lat), Some(lon)) => errors.take(Coordinates::new(lat, lon)),
            (Some(_), None) => {
                errors.add("long", "missing_longitude", "long is required when lat is given");
                None
            }
            (None, Some(_)) => {
                errors.add("lat", "missing_latitude", "lat is required when long is given");
                None
            }
            (None, None) => None,
        };
        let short_address = match draft.short_address.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => errors.take(ShortAddress::parse("short_address", text)),
            None => None,
        };
        let location = Location {
            coordinates,
            address: errors.take(short_text("address_string", draft.address.as_deref())).flatten(),
            address_id: errors.take(short_text("address_id", draft.address_id.as_deref())).flatten(),
            city: errors.take(short_text("city", draft.city.as_deref())).flatten(),
            district: errors.take(short_text("district", draft.district.as_deref())).flatten(),
            short_address,
        };
        if let Some(service) = service
            && service.location_required
            && location.is_empty()
            && !draft.location_pending
            && !errors.0.iter().any(|e| matches!(e.field.as_str(), "lat" | "long" | "short_address"))
        {
            errors.add(
                "location",
                "missing_location",
                format!("service '{}' needs a location: lat and long, address_string, address_id or short_address", service.code),
            );
        }

        let phone = match draft.phone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => errors.take(PhoneNumber::parse("phone", text)),
            None => None,
        };
        let email = match draft.email.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => errors.take(Email::parse("email", text)),
            None => None,
        };
        let language = match draft.language.as_deref().filter(|l| !l.trim().is_empty()) {
            Some(text) => errors.take(Language::parse("language", text)),
            None => Some(Language::ARABIC),
        };
        let preferred_channel = match draft.preferred_channel.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(text) => errors.take(Channel::parse_contact("preferred_channel", text)).map(Some),
            None => Some(None),
        };
        let contact = Contact {
            name: errors.take(short_text("name", draft.name.as_deref())).flatten(),
            phone,
            email,
            language: language.unwrap_or_default(),
            preferred_channel: preferred_channel.flatten(),
            device_id: errors.take(short_text("device_id", draft.device_id.as_deref())).flatten(),
            account_id: errors.take(short_text("account_id", draft.account_id.as_deref())).flatten(),
        };

        let media: Vec<String> = draft.media_urls.iter().map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect();
        if media.len() > MAX_MEDIA {
            errors.add("media_url", "too_many_media", format!("at most {MAX_MEDIA} media references are allowed"));
        }
        for url in &media {
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://") || url.starts_with("media:");
            if !scheme_ok || url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                errors.add("media_url", "invalid_media_url", format!("'{url}' is not an http(s) URL"));
            }
        }

        let attributes = match service {
            Some(service) => match service.validate_answers(&draft.attributes) {
                Ok(answers) => Some(answers),
                Err(more) => {
                    errors.0.extend(more.0);
                    None
                }
            },
            None => None,
        };

        match (service, kind, priority, description, attributes) {
            (Some(service), Some(kind), Some(priority), Some(description), Some(attributes)) if errors.is_empty() => Ok(NewReport {
                kind,
                service_code: service.code.clone(),
                department: service.department.clone(),
                description,
                priority,
                location,
                contact,
                channel,
                media,
                attributes,
            }),
            _ => Err(errors),
        }
    }
}

impl NewReport {
    /// The stored report this becomes once it has its id, at `now`.
    pub fn into_report(self, id: ReportId, now: Timestamp, expected_at: Option<Timestamp>) -> Report {
        Report {
            id,
            kind: self.kind,
            service_code: self.service_code,
            description: self.description,
            priority: self.priority,
            status: Status::New,
            location: self.location,
            contact: self.contact,
            channel: self.channel,
            assignment: Assignment { department: self.department, team: None, user: None },
            media: self.media,
            attributes: self.attributes,
            status_note: None,
            duplicate_of: None,
            n_follow_ups: 0,
            created_at: now,
            updated_at: now,
            resolved_at: None,
            closed_at: None,
            expected_at,
            escalation: Default::default(),
        }
    }
}

/// Who is working a report.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Assignment {
    pub department: String,
    pub team: Option<String>,
    pub user: Option<String>,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: ReportId,
    pub kind: ContactKind,
    pub service_code: String,
    pub description: Description,
    pub priority: Priority,
    pub status: Status,
    pub location: Location,
    pub contact: Contact,
    pub channel: Channel,
    pub assignment: Assignment,
    pub media: Vec<String>,
    pub attributes: BTreeMap<String, AttributeAnswer>,
    /// The latest public note on the status (a resolution, a reason), shown as Open311 `status_notes`.
    pub status_note: Option<String>,
    pub duplicate_of: Option<ReportId>,
    pub n_follow_ups: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// When the report is expected to be resolved (from the SLA), Open311 `expected_datetime`.
    pub expected_at: Option<Timestamp>,
    /// How far the report has climbed its escalation chain.
    pub escalation: crate::escalation::Progress,
}

impl Report {
    pub fn ticket(&self) -> TicketNumber {
        self.id.ticket()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::tests::small;

    fn draft() -> ReportDraft {
        ReportDraft {
            service_code: Some("pothole".into()),
            description: Some("حفرة كبيرة أمام المدرسة".into()),
            lat: Some(26.4207),
            lon: Some(50.0888),
            phone: Some("0512345678".into()),
            attributes: [("size".to_owned(), vec!["large".to_owned()])].into(),
            ..ReportDraft::default()
        }
    }

    #[test]
    fn a_valid_draft_takes_defaults_from_the_service() {
        let report = NewReport::validate(&draft(), Channel::Web, &small()).unwrap();
        assert_eq!(report.kind, ContactKind::Report);
        assert_eq!(report.priority, Priority::Normal);
        assert_eq!(report.department, "roads");
        assert_eq!(report.contact.phone.unwrap().as_str(), "+966512345678");
        assert_eq!(report.contact.language, Language::ARABIC);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = ReportDraft {
            lat: Some(95.0),
            phone: Some("12".into()),
            description: Some("x".repeat(4001)),
            priority: Some("asap".into()),
            attributes: BTreeMap::new(),
            ..draft()
        };
        let errors = NewReport::validate(&bad, Channel::Web, &small()).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["priority", "description", "lat", "phone", "attribute[size]"]);
    }

    #[test]
    fn a_location_is_required_when_the_service_says_so() {
        let no_place = ReportDraft { lat: None, lon: None, ..draft() };
        let errors = NewReport::validate(&no_place, Channel::Web, &small()).unwrap_err();
        assert_eq!(errors.0[0].code, "missing_location");
        let by_address = ReportDraft { address: Some("شارع الملك فهد، الدمام".into()), ..no_place };
        assert!(NewReport::validate(&by_address, Channel::Web, &small()).is_ok());
    }

    #[test]
    fn a_place_to_be_marked_later_stands_in_for_the_location() {
        let pending = ReportDraft { lat: None, lon: None, location_pending: true, ..draft() };
        let report = NewReport::validate(&pending, Channel::Ivr, &small()).unwrap();
        assert!(report.location.is_empty());
    }

    #[test]
    fn inquiry_services_open_inquiries() {
        let inquiry = ReportDraft { service_code: Some("general-inquiry".into()), lat: None, lon: None, attributes: BTreeMap::new(), ..draft() };
        assert_eq!(NewReport::validate(&inquiry, Channel::Ivr, &small()).unwrap().kind, ContactKind::Inquiry);
    }

    #[test]
    fn unknown_service_is_named() {
        let unknown = ReportDraft { service_code: Some("moon".into()), ..draft() };
        let errors = NewReport::validate(&unknown, Channel::Web, &small()).unwrap_err();
        assert_eq!((errors.0[0].field.as_str(), errors.0[0].code), ("service_code", "unknown_service"));
    }
}
