//! The page where a caller marks the place of his report on a map, from the link the IVR sent him
//! by text message when he could not name the place by the keypad menus. The link's token is all
//! the proof there is (128 random bits), so it is treated as a secret: its pages are never cached
//! (nor kept by the service worker) and send no referrer, and they show the ticket and the service
//! but nothing personal. The map is the report form's (`map_pin.html`); without JavaScript the
//! coordinates are typed.

use super::guard::{Attempt, Guards, Peer};
use super::pages::{self, MapPin, MapView, Refusal, Visitor};
use super::view::{self, Page};
use crate::AppState;
use askama::Template;
use axum::Extension;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use balagh_app::{AppError, PlaceWait};
use balagh_domain::error::{FieldError, ValidationErrors};
use balagh_domain::geo::Coordinates;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Template)]
#[template(path = "portal/place.html")]
struct PlacePage<'a> {
    page: &'a Page,
    token: &'a str,
    ticket: String,
    service: String,
    /// Until when the link works, in words.
    until: String,
    pin: MapPin,
}

/// What came of a link: the place recorded, already recorded before, or the link run out.
#[derive(Template)]
#[template(path = "portal/place_outcome.html")]
struct PlaceOutcomePage<'a> {
    page: &'a Page,
    title: String,
    body: String,
    /// Known when the place was just recorded (a refused link does not say whose it was).
    ticket: Option<String>,
}

/// What the place form sends: the pin's coordinates (or the typed ones).
#[derive(Deserialize, Default)]
pub struct PlaceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
}

/// `GET /{lang}/place/{token}`: the map to mark the place on, while the link works.
pub async fn place_form(State(state): State<AppState>, Path((lang, token)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(lang) = view::language(&lang) else { return secret(pages::unknown_language(&headers)) };
    let page = Page::new(lang, &format!("/place/{token}"), &headers);
    let response = match state.app.place_wait_for(&token).await {
        Ok(wait) => place_page(&state, &page, &token, &wait, &PlaceForm::default(), StatusCode::OK),
        Err(error) => refused_link(page, &error),
    };
    secret(response)
}

/// `POST /{lang}/place/{token}`: records the place and says so; a form that cannot be used comes
/// back with what was sent and each problem next to its field.
pub async fn place(
    State(state): State<AppState>,
    Path((lang, token)): Path<(String, String)>,
    headers: HeaderMap,
    peer: Peer,
    Extension(guards): Extension<Arc<Guards>>,
    form: Result<axum::Form<PlaceForm>, FormRejection>,
) -> Response {
    let Some(lang) = view::language(&lang) else { return secret(pages::unknown_language(&headers)) };
    let visitor = Visitor::new(&state, headers, peer, guards);
    let page = Page::new(lang, &format!("/place/{token}"), &visitor.headers);
    let form = form.map(|axum::Form(form)| form);
    let outcome = async {
        let unreadable = |rejection: &FormRejection| Refusal::App(FieldError::new("form", "unreadable_form", rejection.body_text()).into());
        let form = form.as_ref().map_err(unreadable)?;
        visitor.check(&form.csrf, Attempt::Place { address: &visitor.address })?;
        let coordinates = coordinates(&form.lat, &form.lon).map_err(Refusal::App)?;
        state.app.place_pin(&token, coordinates).await.map_err(Refusal::App)
    }
    .await;
    let response = match outcome {
        Ok(report) => {
            let ticket = report.ticket().to_string();
            let tx = page.tx;
            let (title, body) = (tx.t("portal-place-done-title"), tx.ts("portal-place-done-body", "ticket", &ticket));
            page.respond(StatusCode::OK, PlaceOutcomePage { page: &page, title, body, ticket: Some(ticket) }.render())
        }
        Err(Refusal::App(error @ (AppError::NotFound { .. } | AppError::Conflict { .. }))) => refused_link(page, &error),
        Err(refusal) => {
            let (page, status) = refusal.apply(page);
            // Coordinates that cannot be used are a bad request, said in the page's words.
            let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
            match state.app.place_wait_for(&token).await {
                Ok(wait) => place_page(&state, &page, &token, &wait, form.as_ref().unwrap_or(&PlaceForm::default()), status),
                Err(error) => refused_link(page, &error),
            }
        }
    };
    secret(response)
}

fn place_page(state: &AppState, page: &Page, token: &str, wait: &PlaceWait, form: &PlaceForm, status: StatusCode) -> Response {
    let tx = page.tx;
    let report = &wait.report;
    let html = PlacePage {
        page,
        token,
        ticket: report.ticket().to_string(),
        service: pages::service_name(tx, state.app.catalogue().service(&report.service_code), &report.service_code),
        until: balagh_i18n::text(tx.lang, "portal-place-until", &[("time", tx.time(&wait.expires_at).into()), ("date", tx.date(&wait.expires_at).into())]),
        pin: MapPin { map: MapView::new(state), lat: form.lat.clone(), lon: form.lon.clone(), coordinates_only: true },
    }
    .render();
    page.respond(status, html)
}

/// The page for a link that cannot mark a place: unknown (404), already used (409) or run out
/// (410); any other failure as the portal shows it.
fn refused_link(page: Page, error: &AppError) -> Response {
    let tx = page.tx;
    let (status, title, body) = match error {
        AppError::NotFound { .. } => return pages::not_found(page),
        AppError::Conflict { code: "place_already_marked", .. } => {
            (StatusCode::CONFLICT, tx.t("portal-place-already-title"), tx.t("portal-place-already-body"))
        }
        AppError::Conflict { code: "place_link_expired", .. } => (StatusCode::GONE, tx.t("portal-place-expired-title"), tx.t("portal-place-expired-body")),
        other => return pages::failed(&page, other),
    };
    page.respond(status, PlaceOutcomePage { page: &page, title, body, ticket: None }.render())
}

/// The token is a secret: the page must not be kept by any cache, nor its address sent to the map
/// tiles' server or to a site a link leads to.
fn secret(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The place from the form: both coordinates, Arabic-Indic digits and the Arabic decimal
/// separator read as ASCII ones; every problem named for its field.
fn coordinates(lat: &str, lon: &str) -> Result<Coordinates, AppError> {
    if lat.trim().is_empty() && lon.trim().is_empty() {
        return Err(FieldError::new("lat", "missing_place", "no place was marked on the map").into());
    }
    let number = |text: &str| -> Option<f64> {
        let text = balagh_domain::digits::to_ascii_digits(text.trim()).replace(['\u{066B}', ','], ".").replace('\u{2212}', "-");
        text.parse::<f64>().ok()
    };
    let mut errors = ValidationErrors::default();
    let lat = number(lat).ok_or_else(|| errors.push(FieldError::new("lat", "invalid_latitude", format!("'{}' is not a latitude", lat.trim())))).ok();
    let lon = number(lon).ok_or_else(|| errors.push(FieldError::new("lon", "invalid_longitude", format!("'{}' is not a longitude", lon.trim())))).ok();
    let (Some(lat), Some(lon)) = (lat, lon) else { return Err(errors.into()) };
    // The domain names the longitude as Open311 does (`long`); the form calls it `lon`.
    Coordinates::new(lat, lon).map_err(|error| {
        let field = if error.field == "lat" { "lat" } else { "lon" };
        FieldError::new(field, error.code, error.message).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(lat: &str, lon: &str, expected: Result<(f64, f64), &[(&str, &str)]>) {
        let found = coordinates(lat, lon).map(|c| (c.lat(), c.lon())).map_err(|error| match error {
            AppError::Validation(errors) => errors.0.iter().map(|e| (e.field.clone(), e.code)).collect::<Vec<_>>(),
            AppError::Invalid(error) => vec![(error.field, error.code)],
            other => panic!("{other:?}"),
        });
        let expected = expected.map_err(|problems| problems.iter().map(|(field, code)| ((*field).to_owned(), *code)).collect::<Vec<_>>());
        assert_eq!(found, expected, "{lat:?}, {lon:?}");
    }

    #[test]
    fn coordinates_are_read_in_any_digits_and_each_problem_is_named_for_its_field() {
        check("26.4207", "50.0888", Ok((26.4207, 50.0888)));
        check(" ٢٦٫٤٢ ", "٥٠٫٠٨", Ok((26.42, 50.08)));
        check("26,5", "50", Ok((26.5, 50.0)));
        check("−33.9", "151.2", Ok((-33.9, 151.2)));
        check("", " ", Err(&[("lat", "missing_place")]));
        check("north", "", Err(&[("lat", "invalid_latitude"), ("lon", "invalid_longitude")]));
        check("26.4", "east", Err(&[("lon", "invalid_longitude")]));
        check("95", "50", Err(&[("lat", "latitude_out_of_range")]));
        check("26", "190", Err(&[("lon", "longitude_out_of_range")]));
        check("NaN", "50", Err(&[("lat", "latitude_out_of_range")]));
    }
}
