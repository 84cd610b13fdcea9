//! Reading service requests: the filtered list (`requests.{fmt}`), one request
//! (`requests/{service_request_id}.{fmt}`) and the token lookup (`tokens/{token}.{fmt}`). The
//! `service_request_id` is the report's public ticket number. Nothing personal is ever shown here:
//! no name, phone, email, device or account id, and free text only where Open311 makes it public.

use super::error::Open311Error;
use super::format::{Document, Value};
use super::locale::Lang;
use super::params::{self, Params, w3c};
use crate::AppState;
use balagh_app::{AppError, ReportFilter};
use balagh_domain::event::Actor;
use balagh_domain::report::Report;
use balagh_domain::vocabulary::{ContactKind, OpenStatus, Status};
use balagh_domain::{Catalogue, TicketNumber};

/// The most requests one answer carries, and the default page size.
pub const MAX_RESULTS: u64 = 1000;

/// One request as Open311 shows it, plus Balagh's `detailed_status` extension.
pub fn request_entry(report: &Report, catalogue: &Catalogue, lang: Lang) -> Value {
    let service = catalogue.service(&report.service_code);
    let service_name = service.map_or(report.service_code.as_str(), |s| lang.pick(&s.name_ar, &s.name_en));
    let department = &report.assignment.department;
    let agency = catalogue.department(department).map_or(department.as_str(), |d| lang.pick(&d.name_ar, &d.name_en));
    // Reports of problems in public places are public by Open311's design. Complaints, inquiries
    // and suggestions are about people and their affairs, so their text stays private.
    let description = (report.kind == ContactKind::Report).then(|| report.description.as_str().to_owned());
    let location = &report.location;
    let address = location.address.clone().or_else(|| {
        let parts: Vec<&str> = [location.district.as_deref(), location.city.as_deref()].into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join("، "))
    });
    let coordinates = location.coordinates;
    // Only links the client gave are shown; media kept by Balagh itself (`media:` references) may
    // carry the photo's location metadata and is served elsewhere, if at all.
    let media_url = report.media.iter().find(|m| m.starts_with("https://") || m.starts_with("http://")).cloned();
    Value::Record(vec![
        ("service_request_id", Value::text(report.ticket().to_string())),
        ("status", Value::text(report.status.open311().as_str())),
        ("status_notes", Value::optional_text(report.status_note.clone())),
        ("service_name", Value::text(service_name)),
        ("service_code", Value::text(report.service_code.clone())),
        ("description", Value::optional_text(description)),
        ("agency_responsible", Value::text(agency)),
        ("service_notice", Value::Null),
        ("requested_datetime", Value::text(w3c(report.created_at))),
        ("updated_datetime", Value::text(w3c(report.updated_at))),
        ("expected_datetime", Value::optional_text(report.expected_at.map(w3c))),
        ("address", Value::optional_text(address)),
        ("address_id", Value::optional_text(location.address_id.clone())),
        ("zipcode", Value::Null),
        ("lat", coordinates.map_or(Value::Null, |c| Value::decimal(c.lat()))),
        ("long", coordinates.map_or(Value::Null, |c| Value::decimal(c.lon()))),
        ("media_url", Value::optional_text(media_url)),
        ("detailed_status", Value::text(report.status.as_str())),
    ])
}

fn requests_document(reports: &[Report], catalogue: &Catalogue, lang: Lang) -> Document {
    Document::list("service_requests", "request", reports.iter().map(|report| request_entry(report, catalogue, lang)).collect())
}

/// Parses a ticket number given as a `service_request_id`, naming the problem when it is not one.
fn ticket(field: &str, text: &str) -> Result<TicketNumber, String> {
    TicketNumber::parse(text).map_err(|e| format!("{field}: '{text}' is not a service_request_id: {e}"))
}

/// What `GET requests` asks for, read from its parameters; every problem is listed.
pub fn list_filter(params: &Params, now: jiff::Timestamp) -> Result<ReportFilter, Open311Error> {
    let mut problems = Vec::new();
    let ids = params.comma_list("service_request_id");
    if !ids.is_empty() {
        // The spec: service_request_id overrides every other parameter.
        if ids.len() as u64 > MAX_RESULTS {
            return Err(Open311Error::bad_request(format!("service_request_id: at most {MAX_RESULTS} ids may be asked for at once, got {}", ids.len())));
        }
        let mut tickets = Vec::new();
        for id in ids {
            match ticket("service_request_id", id) {
                Ok(ticket) => tickets.push(ticket.report_id()),
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            return Err(Open311Error::bad_requests(problems));
        }
        let limit = tickets.len() as u64;
        return Ok(ReportFilter { ids: tickets, limit, ..ReportFilter::default() });
    }

    let window = params::window(params, now).map_err(|p| problems.extend(p)).ok();
    let mut statuses = Vec::new();
    for status in params.comma_list("status") {
        match OpenStatus::parse("status", &status.to_ascii_lowercase()) {
            Ok(open) => statuses.extend(Status::for_open311(open)),
            Err(e) => problems.push(e.to_string()),
        }
    }
    statuses.sort();
    statuses.dedup();
    let page = positive("page", params.get("page"), u64::MAX, &mut problems).unwrap_or(1);
    let page_size = positive("page_size", params.get("page_size"), MAX_RESULTS, &mut problems).unwrap_or(MAX_RESULTS);
    let offset = (page - 1).checked_mul(page_size);
    if offset.is_none() {
        problems.push(format!("page: page {page} of {page_size} requests is beyond any result"));
    }
    match (window, offset) {
        (Some(window), Some(offset)) if problems.is_empty() => Ok(ReportFilter {
            service_codes: params.comma_list("service_code").into_iter().map(str::to_owned).collect(),
            statuses,
            created_from: Some(window.from),
            created_to: Some(window.to),
            offset,
            limit: page_size,
            ..ReportFilter::default()
        }),
        _ => Err(Open311Error::bad_requests(problems)),
    }
}

/// A whole number from 1 to `max`, or `None` when absent (a problem is recorded when it is wrong).
fn positive(field: &str, text: Option<&str>, max: u64, problems: &mut Vec<String>) -> Option<u64> {
    let text = text?.trim();
    match text.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Some(n),
        _ if max == u64::MAX => {
            problems.push(format!("{field}: '{text}' is not a whole number of at least 1"));
            None
        }
        _ => {
            problems.push(format!("{field}: '{text}' is not a whole number from 1 to {max}"));
            None
        }
    }
}

/// `GET requests.{fmt}`: newest first, at most 1,000.
pub async fn list(state: &AppState, params: &Params, lang: Lang) -> Result<Document, Open311Error> {
    let filter = list_filter(params, state.app.now())?;
    let reports = state.app.list_reports(filter, &Actor::beneficiary()).await?;
    Ok(requests_document(&reports, state.app.catalogue(), lang))
}

/// `GET requests/{service_request_id}.{fmt}`: the same list shape holding the one request.
pub async fn one(state: &AppState, id: &str, lang: Lang) -> Result<Document, Open311Error> {
    let ticket = ticket("service_request_id", id).map_err(Open311Error::bad_request)?;
    let report = state.app.report(ticket).await.map_err(|e| not_found_as("service_request_id", id, e))?;
    Ok(requests_document(std::slice::from_ref(&report), state.app.catalogue(), lang))
}

/// `GET tokens/{token}.{fmt}`. Requests are created synchronously, so the token Balagh would give
/// is the `service_request_id` itself; any other token is unknown.
pub async fn token(state: &AppState, token: &str) -> Result<Document, Open311Error> {
    let unknown = || Open311Error::not_found(format!("token '{token}' not found"));
    let ticket = TicketNumber::parse(token).map_err(|_| unknown())?;
    let report = state.app.report(ticket).await.map_err(|e| not_found_as("token", token, e))?;
    let entry = Value::Record(vec![("service_request_id", Value::text(report.ticket().to_string())), ("token", Value::text(token))]);
    Ok(Document::list("service_requests", "request", vec![entry]))
}

fn not_found_as(field: &str, id: &str, error: AppError) -> Open311Error {
    match error {
        AppError::NotFound { .. } => Open311Error::not_found(format!("{field} '{id}' not found")),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::open311::format::Format;
    use crate::open311::services::tests::catalogue;
    use balagh_domain::catalogue::AttributeAnswer;
    use balagh_domain::contact::{Contact, Email, Language, PhoneNumber};
    use balagh_domain::geo::{Coordinates, Location};
    use balagh_domain::report::{Assignment, Description, ReportId};
    use balagh_domain::vocabulary::{Channel, Priority};
    use expect_test::expect;
    use jiff::Timestamp;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    pub(crate) fn report() -> Report {
        Report {
            id: ReportId(1),
            kind: ContactKind::Report,
            service_code: "pothole".into(),
            description: Description::parse("description", "حفرة عميقة أمام المدرسة & <خطرة>").unwrap(),
            priority: Priority::Normal,
            status: Status::InProgress,
            location: Location {
                coordinates: Some(Coordinates::new(26.4207, 50.0888).unwrap()),
                address: Some("شارع الملك فهد، الدمام".into()),
                address_id: Some("RRRD2929".into()),
                ..Location::default()
            },
            contact: Contact {
                name: Some("محمد العتيبي".into()),
                phone: Some(PhoneNumber::parse("phone", "0512345678").unwrap()),
                email: Some(Email::parse("email", "m@example.sa").unwrap()),
                language: Language::ARABIC,
                preferred_channel: None,
                device_id: Some("device-77".into()),
                account_id: Some("account-42".into()),
            },
            channel: Channel::Api,
            assignment: Assignment { department: "roads".into(), team: Some("night crew".into()), user: Some("u-9".into()) },
            media: vec!["media:abc".into(), "https://photos.example.sa/1.jpg".into()],
            attributes: [("depth_cm".to_owned(), AttributeAnswer::One("12".into()))].into(),
            status_note: Some("the crew is on site".into()),
            duplicate_of: None,
            n_follow_ups: 0,
            created_at: at("2026-03-01T07:00:00Z"),
            updated_at: at("2026-03-01T09:30:00Z"),
            resolved_at: None,
            closed_at: None,
            expected_at: Some(at("2026-03-03T07:00:00Z")),
            escalation: Default::default(),
        }
    }

    #[test]
    fn a_request_in_xml() {
        expect![[r#"
            <?xml version="1.0" encoding="UTF-8"?>
            <service_requests>
              <request>
                <service_request_id>00000013</service_request_id>
                <status>open</status>
                <status_notes>the crew is on site</status_notes>
                <service_name>Pothole</service_name>
                <service_code>pothole</service_code>
                <description>حفرة عميقة أمام المدرسة &amp; &lt;خطرة&gt;</description>
                <agency_responsible>Roads department</agency_responsible>
                <service_notice/>
                <requested_datetime>2026-03-01T10:00:00+03:00</requested_datetime>
                <updated_datetime>2026-03-01T12:30:00+03:00</updated_datetime>
                <expected_datetime>2026-03-03T10:00:00+03:00</expected_datetime>
                <address>شارع الملك فهد، الدمام</address>
                <address_id>RRRD2929</address_id>
                <zipcode/>
                <lat>26.4207</lat>
                <long>50.0888</long>
                <media_url>https://photos.example.sa/1.jpg</media_url>
                <detailed_status>in_progress</detailed_status>
              </request>
            </service_requests>
        "#]]
        .assert_eq(&requests_document(&[report()], &catalogue(), Lang::En).render(Format::Xml));
    }

    #[test]
    fn a_request_in_json() {
        expect![[r#"
            [
              {
                "service_request_id": "00000013",
                "status": "open",
                "status_notes": "the crew is on site",
                "service_name": "حفرة في الطريق",
                "service_code": "pothole",
                "description": "حفرة عميقة أمام المدرسة & <خطرة>",
                "agency_responsible": "الطرق",
                "service_notice": null,
                "requested_datetime": "2026-03-01T10:00:00+03:00",
                "updated_datetime": "2026-03-01T12:30:00+03:00",
                "expected_datetime": "2026-03-03T10:00:00+03:00",
                "address": "شارع الملك فهد، الدمام",
                "address_id": "RRRD2929",
                "zipcode": null,
                "lat": 26.4207,
                "long": 50.0888,
                "media_url": "https://photos.example.sa/1.jpg",
                "detailed_status": "in_progress"
              }
            ]
        "#]]
        .assert_eq(&requests_document(&[report()], &catalogue(), Lang::Ar).render(Format::Json));
    }

    #[test]
    fn nothing_personal_is_rendered() {
        for format in [Format::Xml, Format::Json] {
            let text = requests_document(&[report()], &catalogue(), Lang::En).render(format);
            for secret in ["محمد", "512345678", "m@example.sa", "device-77", "account-42", "night crew", "u-9", "media:abc"] {
                assert!(!text.contains(secret), "{secret} leaked into {format:?}");
            }
        }
    }

    #[test]
    fn complaints_keep_their_text_private_and_closed_statuses_read_closed() {
        let complaint = Report { kind: ContactKind::Complaint, status: Status::Rejected, ..report() };
        let Value::Record(fields) = request_entry(&complaint, &catalogue(), Lang::En) else { panic!("a request is a record") };
        let field = |name: &str| fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(field("description"), Value::Null);
        assert_eq!(field("status"), Value::text("closed"));
        assert_eq!(field("detailed_status"), Value::text("rejected"));
    }

    fn filter(pairs: &[(&str, &str)]) -> Result<ReportFilter, Open311Error> {
        let params = Params::from_pairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        list_filter(&params, at("2026-06-01T00:00:00Z"))
    }

    #[test]
    fn ids_override_every_other_parameter() {
        let ticket = ReportId(1).ticket().to_string();
        let only_ids = filter(&[("service_request_id", &format!("{ticket}, {ticket}")), ("status", "bogus"), ("start_date", "never")]).unwrap();
        assert_eq!(only_ids.ids, vec![ReportId(1), ReportId(1)]);
        assert_eq!(only_ids.created_from, None);
        let bad = filter(&[("service_request_id", "12345678,abc")]).unwrap_err();
        assert_eq!(bad.errors.len(), 2, "{bad:?}");
        assert!(bad.errors[0].description.contains("check digit"), "{bad:?}");
    }

    #[test]
    fn statuses_pages_and_windows_are_read_and_every_problem_listed() {
        let ok = filter(&[("status", "Closed"), ("service_code", "pothole,general-inquiry"), ("page", "3"), ("page_size", "10")]).unwrap();
        assert_eq!(ok.statuses, vec![Status::Closed, Status::Rejected, Status::Duplicate]);
        assert_eq!(ok.service_codes, vec!["pothole", "general-inquiry"]);
        assert_eq!((ok.offset, ok.limit), (20, 10));
        assert_eq!(ok.created_to, Some(at("2026-06-01T00:00:00Z")));
        let defaults = filter(&[]).unwrap();
        assert_eq!((defaults.offset, defaults.limit), (0, MAX_RESULTS));
        let bad = filter(&[
            ("status", "pending"),
            ("page", "0"),
            ("page_size", "1001"),
            ("start_date", "2026-01-01T00:00:00Z"),
            ("end_date", "2026-05-01T00:00:00Z"),
        ])
        .unwrap_err();
        let descriptions: Vec<&str> = bad.errors.iter().map(|e| e.description.as_str()).collect();
        assert_eq!(descriptions.len(), 4, "{descriptions:?}");
        assert!(descriptions[0].contains("at most 90 days"), "{descriptions:?}");
        assert!(descriptions[1].starts_with("status: 'pending'"), "{descriptions:?}");
        assert!(descriptions[2].starts_with("page: "), "{descriptions:?}");
        assert!(descriptions[3].starts_with("page_size: "), "{descriptions:?}");
    }
}
