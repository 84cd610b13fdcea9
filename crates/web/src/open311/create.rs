//! `POST requests.{fmt}`: a form-encoded service request from a client holding an API key becomes
//! a `ReportDraft` and is opened through the same use case as every other channel. The answer comes
//! only after the report is committed, and carries its ticket number as the `service_request_id`.

use super::error::Open311Error;
use super::format::{Document, Value};
use super::locale::{self, Lang};
use super::params::Params;
use crate::AppState;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use balagh_domain::report::{NewReport, ReportDraft};
use balagh_domain::vocabulary::Channel;
use std::collections::BTreeMap;

/// The only body type Open311 defines for creating a request.
const FORM: &str = "application/x-www-form-urlencoded";

/// The body's content type must be a form; anything else is refused before it is read.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), Open311Error> {
    let given = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = given.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case(FORM) {
        Ok(())
    } else if given.is_empty() {
        Err(Open311Error::bad_request(format!("send the request as Content-Type: {FORM}; no content type was given")))
    } else {
        Err(Open311Error::bad_request(format!("send the request as Content-Type: {FORM}, not {given}")))
    }
}

/// Reads the Open311 fields of a form into a draft. Problems this adapter alone can see (numbers
/// that do not parse, malformed attribute names) are returned beside it; the domain checks the rest.
pub fn draft_from_form(form: &Params, language: Option<Lang>) -> (ReportDraft, Vec<String>) {
    let mut problems = Vec::new();
    let mut coordinate = |field: &str| -> Option<f64> {
        let text = form.get(field)?.trim();
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Some(value),
            _ => {
                let what = if field == "lat" { "latitude" } else { "longitude" };
                problems.push(format!("{field}: '{text}' is not a {what} in decimal degrees, such as {}", if field == "lat" { "26.4207" } else { "50.0888" }));
                None
            }
        }
    };
    let lat = coordinate("lat");
    let lon = coordinate("long");

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in form.pairs() {
        if !key.starts_with("attribute") {
            continue;
        }
        match attribute_code(key) {
            Some(code) if !value.trim().is_empty() => attributes.entry(code.to_owned()).or_default().push(value.trim().to_owned()),
            Some(_) => {}
            None => {
                problems.push(format!("{key}: attributes are sent as attribute[code]=value, or attribute[code][]=value for each value of a multivaluelist"))
            }
        }
    }

    let name = [form.get("first_name"), form.get("last_name")].into_iter().flatten().map(str::trim).collect::<Vec<_>>().join(" ");
    let draft = ReportDraft {
        service_code: form.get("service_code").map(|s| s.trim().to_owned()),
        description: form.get("description").map(str::to_owned),
        lat,
        lon,
        address: form.get("address_string").map(str::to_owned),
        address_id: form.get("address_id").map(str::to_owned),
        name: (!name.is_empty()).then_some(name),
        phone: form.get("phone").map(str::to_owned),
        email: form.get("email").map(str::to_owned),
        language: language.map(|lang| lang.code().to_owned()),
        device_id: form.get("device_id").map(str::to_owned),
        account_id: form.get("account_id").map(str::to_owned),
        media_urls: form.all("media_url").map(str::to_owned).collect(),
        attributes,
        ..ReportDraft::default()
    };
    (draft, problems)
}

/// `attribute[code]` or `attribute[code][]` to `code`.
fn attribute_code(key: &str) -> Option<&str> {
    let inner = key.strip_prefix("attribute[")?;
    let inner = inner.strip_suffix("][]").or_else(|| inner.strip_suffix(']'))?;
    (!inner.is_empty() && !inner.contains(['[', ']'])).then_some(inner)
}

/// The key presented in the form (or, for clients that put it there, the query string).
fn presented_key<'a>(form: &'a Params, query: &'a Params) -> Option<&'a str> {
    form.get("api_key").or_else(|| query.get("api_key")).map(str::trim)
}

/// Creates the request. `language` is set when the client named one; the report then records it.
pub async fn create(state: &AppState, form: &Params, query: &Params, headers: &HeaderMap, language: Option<Lang>) -> Result<Document, Open311Error> {
    let Some(key) = presented_key(form, query) else {
        return Err(Open311Error::forbidden("api_key is required to post a service request; see key_service in discovery"));
    };
    let Some(actor) = state.app.authenticate(key).await? else {
        return Err(Open311Error::forbidden("api_key is unknown or revoked"));
    };

    let (draft, problems) = draft_from_form(form, language);
    if !problems.is_empty() {
        // Nothing is written; the domain's own checks run too, so every problem is listed at once.
        let mut error = Open311Error::bad_requests(problems);
        if let Err(more) = NewReport::validate(&draft, Channel::Api, state.app.catalogue()) {
            // Unreadable coordinates were left out of the draft; what the domain says about the
            // missing coordinates or location would only repeat the problem.
            let coordinates_unread = error_names_field(&error, "lat") || error_names_field(&error, "long");
            let remaining: Vec<_> = more.0.into_iter().filter(|e| !(coordinates_unread && matches!(e.field.as_str(), "lat" | "long" | "location"))).collect();
            if !remaining.is_empty() {
                error = error.merge(Open311Error::fields(&remaining));
            }
        }
        return Err(error);
    }

    let idempotency_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let opened = state.app.open_report(&draft, Channel::Api, &actor, idempotency_key).await?;
    let ticket = opened.report.ticket().to_string();
    let entry = Value::Record(vec![
        ("service_request_id", Value::text(ticket.clone())),
        ("service_notice", Value::text(locale::received_notice(&ticket))),
        // The spec lets the answer echo the account id the client sent; nothing else personal.
        ("account_id", Value::optional_text(form.get("account_id").map(str::trim))),
    ]);
    Ok(Document::list("service_requests", "request", vec![entry]))
}

fn error_names_field(error: &Open311Error, field: &str) -> bool {
    let prefix = format!("{field}: ");
    error.errors.iter().any(|e| e.description.starts_with(&prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn form(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn only_form_bodies_are_accepted() {
        let check = |value: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(value) = value {
                headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            }
            check_content_type(&headers)
        };
        assert!(check(Some("application/x-www-form-urlencoded")).is_ok());
        assert!(check(Some("Application/X-WWW-Form-Urlencoded; charset=utf-8")).is_ok());
        assert!(check(Some("application/json")).unwrap_err().errors[0].description.contains(FORM));
        assert!(check(None).unwrap_err().errors[0].description.contains("no content type"));
    }

    #[test]
    fn attribute_names_take_both_open311_forms() {
        assert_eq!(attribute_code("attribute[size]"), Some("size"));
        assert_eq!(attribute_code("attribute[hazards][]"), Some("hazards"));
        assert_eq!(attribute_code("attribute[]"), None);
        assert_eq!(attribute_code("attribute[a][b]"), None);
        assert_eq!(attribute_code("attributes"), None);
    }

    #[test]
    fn a_form_becomes_a_draft() {
        let (draft, problems) = draft_from_form(
            &form(&[
                ("service_code", " pothole "),
                ("lat", "26.4207"),
                ("long", "50.0888"),
                ("first_name", "Mohammed"),
                ("last_name", "Alotaibi"),
                ("attribute[hazards][]", "water"),
                ("attribute[hazards][]", "traffic"),
                ("attribute[depth_cm]", "12"),
                ("media_url", "https://photos.example.sa/1.jpg"),
                ("email", ""),
                ("title", "ignored: not an Open311 field"),
            ]),
            Some(Lang::En),
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(draft.service_code.as_deref(), Some("pothole"));
        assert_eq!((draft.lat, draft.lon), (Some(26.4207), Some(50.0888)));
        assert_eq!(draft.name.as_deref(), Some("Mohammed Alotaibi"));
        assert_eq!(draft.attributes["hazards"], vec!["water", "traffic"]);
        assert_eq!(draft.attributes["depth_cm"], vec!["12"]);
        assert_eq!(draft.email, None);
        assert_eq!(draft.language.as_deref(), Some("en"));
    }

    #[test]
    fn unparseable_coordinates_and_attribute_names_are_named() {
        let (_, problems) = draft_from_form(&form(&[("lat", "north"), ("long", "NaN"), ("attribute[x", "1")]), None);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("lat: 'north' is not a latitude"), "{problems:?}");
        assert!(problems[1].starts_with("long: 'NaN' is not a longitude"), "{problems:?}");
        assert!(problems[2].starts_with("attribute[x: "), "{problems:?}");
    }
}
