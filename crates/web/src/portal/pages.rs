//! The portal's pages and what their forms do. Handlers read the request, check the CSRF token
//! and the rate limits, call the application, and render a page; a refused form is shown again
//! with what the visitor typed and each problem next to its field.

use super::form::ReportForm;
use super::guard::{self, Attempt, Guards, Peer};
use super::view::{self, Page, Texts};
use crate::AppState;
use askama::Template;
use axum::Extension;
use axum::extract::{MatchedPath, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use balagh_app::AppError;
use balagh_app::portal::Tracked;
use balagh_domain::TicketNumber;
use balagh_domain::catalogue::{Attribute, Datatype, Service};
use balagh_domain::error::{FieldError, ValidationErrors};
use balagh_domain::geo::Coordinates;
use balagh_domain::photo::MAX_PHOTOS;
use balagh_domain::rating::{ClosureRating, Score};
use balagh_domain::report::{NewReport, Report};
use balagh_domain::vocabulary::{Channel, ContactKind};
use serde::Deserialize;
use std::sync::Arc;

/// `/`: the visitor's language from his cookie, then his browser's, then Arabic.
pub async fn root(headers: HeaderMap) -> Redirect {
    let lang = guard::cookie(&headers, view::LANGUAGE_COOKIE)
        .and_then(view::language)
        .unwrap_or_else(|| balagh_i18n::negotiate(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or_default()));
    Redirect::to(&format!("/{lang}/"))
}

/// The not-found page (in Arabic) for a path whose first segment names no language we serve.
pub(super) fn unknown_language(headers: &HeaderMap) -> Response {
    not_found(Page::new(balagh_i18n::DEFAULT_LANGUAGE, "/", headers))
}

#[derive(Template)]
#[template(path = "portal/not_found.html")]
struct NotFoundPage<'a> {
    page: &'a Page,
}

/// A read the page needed failed: its status, with the problem as the page's own.
pub(super) fn failed(page: &Page, error: &AppError) -> Response {
    page.clone().refused(error).respond(view::status_of(error), Ok(String::new()))
}

pub(super) fn not_found(page: Page) -> Response {
    page.respond(StatusCode::NOT_FOUND, NotFoundPage { page: &page }.render())
}

/// A report as anyone may see it: no name, phone, email, description or photo.
pub struct PublicReport {
    pub ticket: String,
    pub service: String,
    pub status: String,
    pub district: String,
    pub opened: String,
    pub coordinates: Option<(f64, f64)>,
    /// How far from the visitor, when he gave his position ("3.2", in the language's digits).
    pub distance_km: Option<String>,
}

impl PublicReport {
    fn new(tx: Texts, state: &AppState, report: &Report) -> Self {
        Self {
            ticket: report.ticket().to_string(),
            service: service_name(tx, state.app.catalogue().service(&report.service_code), &report.service_code),
            status: tx.status(report.status.as_str()),
            district: report.location.district.clone().or_else(|| report.location.city.clone()).unwrap_or_default(),
            opened: tx.date(&report.created_at),
            coordinates: report.location.coordinates.map(|c| (c.lat(), c.lon())),
            distance_km: None,
        }
    }
}

pub(super) fn service_name(tx: Texts, service: Option<&Service>, code: &str) -> String {
    service.map(|s| if tx.lang == "ar" { s.name_ar.clone() } else { s.name_en.clone() }).unwrap_or_else(|| code.to_owned())
}

fn localized<'a>(tx: Texts, ar: &'a str, en: &'a str) -> &'a str {
    if tx.lang == "ar" { ar } else { en }
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage<'a> {
    page: &'a Page,
    recent: Vec<PublicReport>,
}

pub async fn home(State(state): State<AppState>, Path(lang): Path<String>, headers: HeaderMap) -> Response {
    let Some(lang) = view::language(&lang) else { return unknown_language(&headers) };
    let page = Page::new(lang, "/", &headers);
    let recent = match state.app.public_reports(None, None, 5).await {
        Ok(reports) => reports.iter().map(|r| PublicReport::new(page.tx, &state, r)).collect(),
        Err(error) => return failed(&page, &error),
    };
    page.respond(StatusCode::OK, HomePage { page: &page, recent }.render())
}

/// One service to choose, with the words the search matches.
pub struct ServiceChoice {
    pub code: String,
    pub name: String,
    pub description: String,
    pub words: String,
}

/// A group of services, with its icon.
pub struct GroupChoice {
    pub name: String,
    pub icon: &'static str,
    pub services: Vec<ServiceChoice>,
}

/// The catalogue's icon names as pictures (decorative: names say what they are).
fn icon(name: &str) -> &'static str {
    match name {
        "trash" => "🗑️",
        "road" => "🛣️",
        "bulb" => "💡",
        "tree" => "🌳",
        "water" => "💧",
        "food" => "🍽️",
        "building" => "🏗️",
        "paw" => "🐾",
        "eye" => "👁️",
        "store" => "🏪",
        _ => "❓",
    }
}

/// Lowercase, without Arabic diacritics and with the letters people type interchangeably made
/// one (أ إ آ → ا, ة → ه, ى → ي), so "الإنارة" finds "انارة". portal.js does the same.
fn normalize(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '\u{064B}'..='\u{065F}' | '\u{0670}'))
        .map(|c| match c {
            'أ' | 'إ' | 'آ' => 'ا',
            'ة' => 'ه',
            'ى' => 'ي',
            other => other,
        })
        .collect()
}

fn groups(tx: Texts, state: &AppState, query: &str) -> Vec<GroupChoice> {
    let catalogue = state.app.catalogue();
    let wanted: Vec<String> = normalize(query).split_whitespace().map(str::to_owned).collect();
    catalogue
        .groups
        .iter()
        .map(|group| GroupChoice {
            name: localized(tx, &group.name_ar, &group.name_en).to_owned(),
            icon: icon(&group.icon),
            services: catalogue
                .services
                .iter()
                .filter(|s| s.group == group.code && s.kind != ContactKind::Inquiry)
                .map(|s| ServiceChoice {
                    code: s.code.clone(),
                    name: localized(tx, &s.name_ar, &s.name_en).to_owned(),
                    description: localized(tx, &s.description_ar, &s.description_en).to_owned(),
                    words: normalize(
                        &[&s.name_ar, &s.name_en].into_iter().chain(s.keywords_ar.iter()).chain(s.keywords_en.iter()).cloned().collect::<Vec<_>>().join(" "),
                    ),
                })
                .filter(|choice| wanted.iter().all(|w| choice.words.contains(w.as_str())))
                .collect(),
        })
        .filter(|group| !group.services.is_empty())
        .collect()
}

#[derive(Template)]
#[template(path = "portal/choose_service.html")]
struct ChooseServicePage<'a> {
    page: &'a Page,
    query: String,
    groups: Vec<GroupChoice>,
}

/// One question of a service, as the form shows it.
pub struct AttributeField {
    pub name: String,
    pub code: String,
    pub label: String,
    pub hint: String,
    pub kind: &'static str,
    pub required: bool,
    pub options: Vec<(String, String)>,
}

impl AttributeField {
    fn new(tx: Texts, attribute: &Attribute) -> Self {
        let kind = match attribute.datatype {
            Datatype::String => "string",
            Datatype::Number => "number",
            Datatype::Datetime => "datetime",
            Datatype::Text => "text",
            Datatype::Singlevaluelist => "single",
            Datatype::Multivaluelist => "multiple",
        };
        let hint = match (&attribute.datatype_description_ar, &attribute.datatype_description_en) {
            (Some(ar), Some(en)) => localized(tx, ar, en).to_owned(),
            (Some(one), None) | (None, Some(one)) => one.clone(),
            (None, None) => String::new(),
        };
        Self {
            name: format!("attr_{}", attribute.code),
            code: attribute.code.clone(),
            label: localized(tx, &attribute.description_ar, &attribute.description_en).to_owned(),
            hint,
            kind,
            required: attribute.required,
            options: attribute.values.iter().map(|v| (v.key.clone(), localized(tx, &v.name_ar, &v.name_en).to_owned())).collect(),
        }
    }
}

/// A city and its districts, as the form offers them (the value is the Arabic name, as stored).
pub struct CityChoice {
    pub value: String,
    pub name: String,
    pub districts: Vec<(String, String)>,
}

/// Where a map opens, and its tiles.
pub struct MapView {
    pub tiles: String,
    pub attribution: String,
    pub lat: f64,
    pub lon: f64,
    pub zoom: u8,
}

impl MapView {
    pub(super) fn new(state: &AppState) -> Self {
        let portal = &state.config.portal;
        let (lat, lon, zoom) = portal.map_center;
        Self { tiles: portal.tile_url.clone(), attribution: portal.tile_attribution.clone(), lat, lon, zoom }
    }
}

/// The map a pin is dropped on (`map_pin.html`), with the coordinates the pin writes into the
/// form: empty at first, as sent when the form comes back.
pub struct MapPin {
    pub map: MapView,
    pub lat: String,
    pub lon: String,
    /// The page asks for nothing but the place: without JavaScript the coordinates are typed
    /// (the report form offers a city, a district and an address instead).
    pub coordinates_only: bool,
}

#[derive(Template)]
#[template(path = "portal/report_form.html")]
struct ReportFormPage<'a> {
    page: &'a Page,
    service_code: String,
    service_name: String,
    service_description: String,
    location_required: bool,
    attributes: Vec<AttributeField>,
    form: &'a ReportForm,
    cities: Vec<CityChoice>,
    pin: MapPin,
    max_photos: i64,
    languages: Vec<(&'static str, String)>,
    channels: Vec<(&'static str, String)>,
}

fn cities(tx: Texts, state: &AppState) -> Vec<CityChoice> {
    state
        .config
        .portal
        .cities
        .iter()
        .map(|city| CityChoice {
            value: city.name_ar.clone(),
            name: localized(tx, &city.name_ar, &city.name_en).to_owned(),
            districts: city.districts.iter().map(|(ar, en)| (ar.clone(), localized(tx, ar, en).to_owned())).collect(),
        })
        .collect()
}

fn languages() -> Vec<(&'static str, String)> {
    balagh_i18n::LANGUAGES.iter().map(|l| (*l, Texts { lang: l }.t("portal-language-name"))).collect()
}

fn channels(tx: Texts) -> Vec<(&'static str, String)> {
    ["sms", "call", "whatsapp", "email"].into_iter().map(|c| (c, tx.t(&format!("portal-channel-{c}")))).collect()
}

fn report_form(state: &AppState, page: &Page, service: &Service, form: &ReportForm, status: StatusCode) -> Response {
    let tx = page.tx;
    let html = ReportFormPage {
        page,
        service_code: service.code.clone(),
        service_name: service_name(tx, Some(service), &service.code),
        service_description: localized(tx, &service.description_ar, &service.description_en).to_owned(),
        location_required: service.location_required,
        attributes: service.ordered_attributes().into_iter().map(|a| AttributeField::new(tx, a)).collect(),
        form,
        cities: cities(tx, state),
        pin: MapPin { map: MapView::new(state), lat: form.lat.clone(), lon: form.lon.clone(), coordinates_only: false },
        max_photos: MAX_PHOTOS as i64,
        languages: languages(),
        channels: channels(tx),
    }
    .render();
    page.respond(status, html)
}

#[derive(Deserialize, Default)]
pub struct NewReportQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    service: String,
}

/// Step one: choose the service (searched by words, with or without JavaScript); step two, with
/// `?service=`, the form for that service.
pub async fn new_report(State(state): State<AppState>, Path(lang): Path<String>, headers: HeaderMap, Query(query): Query<NewReportQuery>) -> Response {
    let Some(lang) = view::language(&lang) else { return unknown_language(&headers) };
    let page = Page::new(lang, "/report/new", &headers);
    if let Some(service) = state.app.catalogue().service(query.service.trim()) {
        let mut page = Page::new(lang, &format!("/report/new?service={}", service.code), &headers);
        page.switch_url = format!("/{}/report/new?service={}", page.other_lang, service.code);
        let form = ReportForm { idempotency_key: guard::random_hex(), language: lang.to_owned(), preferred_channel: "sms".into(), ..ReportForm::default() };
        return report_form(&state, &page, service, &form, StatusCode::OK);
    }
    let groups = groups(page.tx, &state, &query.q);
    page.respond(StatusCode::OK, ChooseServicePage { page: &page, query: query.q.clone(), groups }.render())
}

/// Everything wrong with a report form at once: the domain's checks, the photos, the consent,
/// and the phone, which the portal needs to send the ticket and to prove the beneficiary later.
fn check_report_form(state: &AppState, form: &ReportForm, kind: Option<&str>) -> Result<Vec<balagh_domain::photo::Photo>, AppError> {
    let mut errors = ValidationErrors::default();
    if let Err(domain) = NewReport::validate(&form.draft(kind), Channel::Web, state.app.catalogue()) {
        errors.0.extend(domain.0);
    }
    if form.phone.trim().is_empty() {
        errors.push(FieldError::new("phone", "missing_phone", "a mobile number is needed to send the ticket number"));
    }
    if form.description.trim().is_empty() && kind == Some("inquiry") {
        errors.push(FieldError::new("description", "missing_description", "the question is empty"));
    }
    let photos = match form.photos_and_consent() {
        Ok(photos) => photos,
        Err(AppError::Validation(more)) => {
            errors.0.extend(more.0);
            Vec::new()
        }
        Err(other) => return Err(other),
    };
    if errors.0.is_empty() { Ok(photos) } else { Err(errors.into()) }
}

/// Why a form was not accepted before it reached the application.
pub(super) enum Refusal {
    Csrf,
    RateLimited,
    App(AppError),
}

impl Refusal {
    pub(super) fn apply(self, page: Page) -> (Page, StatusCode) {
        match self {
            Refusal::Csrf => (page.problem("csrf"), StatusCode::FORBIDDEN),
            Refusal::RateLimited => (page.problem("rate_limited"), StatusCode::TOO_MANY_REQUESTS),
            Refusal::App(error) => {
                let status = view::status_of(&error);
                (page.refused(&error), status)
            }
        }
    }
}

/// What a form submission needs to be checked with.
pub struct Visitor {
    pub(super) headers: HeaderMap,
    pub(super) address: String,
    guards: Arc<Guards>,
}

impl Visitor {
    pub(super) fn new(state: &AppState, headers: HeaderMap, peer: Peer, guards: Arc<Guards>) -> Self {
        let address = guard::client_address(&headers, peer.0, state.config.portal.trust_forwarded_for);
        Self { headers, address, guards }
    }

    pub(super) fn check(&self, csrf: &str, attempt: Attempt<'_>) -> Result<(), Refusal> {
        if !guard::csrf_ok(&self.headers, csrf) {
            return Err(Refusal::Csrf);
        }
        if !self.guards.allows(attempt) {
            return Err(Refusal::RateLimited);
        }
        Ok(())
    }
}

/// `POST /{lang}/report` and `POST /{lang}/inquiry`: opens the report (or inquiry) the form
/// describes and sends the visitor to its ticket; a form sent again with the same key (a double
/// click, an offline draft) lands on the same ticket.
pub async fn submit_form(
    State(state): State<AppState>,
    Path(lang): Path<String>,
    route: MatchedPath,
    headers: HeaderMap,
    peer: Peer,
    Extension(guards): Extension<Arc<Guards>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Some(lang) = view::language(&lang) else { return unknown_language(&headers) };
    let kind = route.as_str().ends_with("/inquiry").then_some("inquiry");
    let visitor = Visitor::new(&state, headers, peer, guards);
    submit(&state, lang, visitor, multipart, kind).await
}

/// The report form and the inquiry form, both multipart, both ending on the ticket.
async fn submit(
    state: &AppState,
    lang: &'static str,
    visitor: Visitor,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    kind: Option<&'static str>,
) -> Response {
    let inquiry = kind == Some("inquiry");
    let path = if inquiry { "/inquiry" } else { "/report/new" };
    let page = Page::new(lang, path, &visitor.headers);
    let form = match multipart {
        Ok(multipart) => ReportForm::read(multipart).await,
        Err(rejection) => Err(AppError::Invalid(FieldError::new("form", "unreadable_form", rejection.body_text()))),
    };
    let mut form = match form {
        Ok(form) => form,
        Err(error) => {
            let (page, status) = Refusal::App(error).apply(page);
            return service_chooser(state, page, status);
        }
    };
    if inquiry {
        form.service_code = inquiry_service(state).map(|s| s.code.clone()).unwrap_or_default();
    }
    let outcome = async {
        visitor.check(&form.csrf, Attempt::Report { address: &visitor.address, phone: &form.phone })?;
        let photos = check_report_form(state, &form, kind).map_err(Refusal::App)?;
        let key = Some(form.idempotency_key.trim().to_owned()).filter(|k| !k.is_empty()).unwrap_or_else(guard::random_hex);
        state.app.open_report_online(&form.draft(kind), &photos, &key).await.map_err(Refusal::App)
    }
    .await;
    match outcome {
        Ok(opened) => {
            metrics::counter!("balagh_portal_reports_total", "kind" => opened.report.kind.as_str()).increment(1);
            Redirect::to(&format!("/{lang}/report/received/{}", opened.report.ticket())).into_response()
        }
        Err(refusal) => {
            let (page, status) = refusal.apply(page);
            // The photos are not sent back; the visitor attaches them again.
            form.photos.clear();
            match (inquiry, state.app.catalogue().service(&form.service_code)) {
                (false, Some(service)) => report_form(state, &page, service, &form, status),
                (true, _) => inquiry_page(&page, &form, status),
                (false, None) => service_chooser(state, page, status),
            }
        }
    }
}

/// The service chooser with the page's problems: for a form that could not be read, or that named
/// no service.
fn service_chooser(state: &AppState, page: Page, status: StatusCode) -> Response {
    let groups = groups(page.tx, state, "");
    page.respond(status, ChooseServicePage { page: &page, query: String::new(), groups }.render())
}

#[derive(Template)]
#[template(path = "portal/received.html")]
struct ReceivedPage<'a> {
    page: &'a Page,
    ticket: String,
    inquiry: bool,
    service: String,
    expected: Option<String>,
}

/// The ticket, large, after a report or question was accepted. Shows nothing personal.
pub async fn received(State(state): State<AppState>, Path((lang, ticket)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(lang) = view::language(&lang) else { return unknown_language(&headers) };
    let page = Page::new(lang, &format!("/report/received/{ticket}"), &headers);
    let Ok(ticket) = TicketNumber::parse(&ticket) else { return not_found(page) };
    let report = match state.app.report(ticket).await {
        Ok(report) => report,
        Err(AppError::NotFound { .. }) => return not_found(page),
        Err(error) => return failed(&page, &error),
    };
    let html = ReceivedPage {
        page: &page,
        ticket: ticket.to_string(),
        inquiry: report.kind == ContactKind::Inquiry,
        service: service_name(page.tx, state.app.catalogue().service(&report.service_code), &report.service_code),
        expected: report.expected_at.as_ref().map(|at| page.tx.ts("portal-received-expected", "date", &page.tx.date(at))),
    }
    .render();
    page.respond(StatusCode::OK, html)
}

/// One public timeline entry, in words.
pub struct TimelineEntry {
    pub when: String,
    pub what: String,
    pub note: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/track.html")]
struct TrackPage<'a> {
    page: &'a Page,
    ticket: String,
    last4: String,
    tracked: Option<TrackedView>,
}

/// What the tracking page shows of a report.
pub struct TrackedView {
    pub service: String,
    pub status: String,
    pub opened: String,
    pub expected: Option<String>,
    pub sla: String,
    pub sla_class: &'static str,
    pub timeline: Vec<TimelineEntry>,
    pub can_follow_up: bool,
    pub closure_rateable: bool,
}

impl TrackedView {
    fn new(tx: Texts, state: &AppState, tracked: &Tracked) -> Self {
        let report = &tracked.report;
        let (sla, sla_class) = view::sla_words(tx, &tracked.sla.resolution);
        let timeline = tracked
            .timeline
            .iter()
            .map(|event| {
                let what = match event.event.kind.name() {
                    "created" => tx.t("portal-event-created"),
                    "status_changed" => tx.ts("portal-event-status", "status", &tx.status(event.status.as_str())),
                    "commented" => tx.t("portal-event-comment"),
                    "followed_up" => tx.t("portal-event-followed-up"),
                    "escalated" => tx.t("portal-event-escalated"),
                    "location_requested" => tx.t("portal-event-location-requested"),
                    "location_placed" => tx.t("portal-event-location-placed"),
                    _ => tx.t("portal-event-updated"),
                };
                // The beneficiary's own words are his; the municipality's public notes are public.
                TimelineEntry { when: tx.date(&event.event.at), what, note: event.event.note.clone().filter(|n| !n.trim().is_empty()) }
            })
            .collect();
        Self {
            service: service_name(tx, state.app.catalogue().service(&report.service_code), &report.service_code),
            status: tx.status(report.status.as_str()),
            opened: tx.date(&report.created_at),
            expected: report.expected_at.as_ref().map(|at| tx.date(at)),
            sla,
            sla_class,
            timeline,
            can_follow_up: !report.status.is_terminal() && report.status != balagh_domain::vocabulary::Status::Resolved,
            closure_rateable: tracked.closure_rateable,
        }
    }
}

#[derive(Deserialize, Default)]
pub struct TicketQuery {
    #[serde(default)]
    ticket: String,
}

pub async fn track_form(Path(lang): Path<String>, headers: HeaderMap, Query(query): Query<TicketQuery>) -> Response {
    let Some(lang) = view::language(&lang) else { return unknown_language(&headers) };
    let page = Page::new(lang, "/track", &headers);
    let ticket = query.ticket;
    page.respond(StatusCode::OK, TrackPage { page: &page, ticket, last4: String::new(), tracked: None }.render())
}

/// The tracking forms: the lookup itself, the follow-up and the closure survey. Each carries the
/// ticket and the last four digits again, and is checked again.
#[derive(Deserialize, Default)]
pub struct TrackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    last4: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    quality: String,
    #[serde(default)]
    speed: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    not_fixed: String,
}

/// What a tracking form asks for besides showing the report.
enum TrackAction {
    Show,
    FollowUp,
    Rate,
}

/// `/{lang}/track` shows the report; `/{lang}/track/follow-up` and `/{lang}/track/rate` act on it
/// first. One handler: every tracking form is checked the same way.
pub async fn track(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
    peer: Peer,
    Extension(guards): Extension<Arc<Guards>>,
    form: Result<axum::Form<TrackForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let Some(lang) = param("lang").and_then(view::language) else { return unknown_language(&headers) };
    let action = match param("action") {
        None => TrackAction::Show,
        Some("follow-up") => TrackAction::FollowUp,
        Some("rate") => TrackAction::Rate,
        Some(_) => return not_found(Page::new(lang, "/track", &headers)),
    };
    tracking(state, lang, headers, peer, guards, form, action).await
}

fn closure_rating(form: &TrackForm) -> Result<ClosureRating, AppError> {
    let score = |field: &str, value: &str| -> Result<Score, FieldError> {
        let value = balagh_domain::digits::to_ascii_digits(value.trim());
        value
            .parse::<i64>()
            .map_err(|_| FieldError::new(field, "invalid_rating", format!("{field} must be a whole number from 1 to 5")))
            .and_then(|v| Score::new(field, v))
    };
    let mut errors = ValidationErrors::default();
    let quality = score("quality", &form.quality).map_err(|e| errors.push(e)).ok();
    let speed = score("speed", &form.speed).map_err(|e| errors.push(e)).ok();
    match (quality, speed) {
        (Some(quality), Some(speed)) => {
            Ok(ClosureRating { quality, speed, comment: Some(form.comment.trim().to_owned()).filter(|c| !c.is_empty()), not_fixed: !form.not_fixed.is_empty() })
        }
        _ => Err(errors.into()),
    }
}

async fn tracking(
    state: AppState,
    lang: &'static str,
    headers: HeaderMap,
    peer: Peer,
    guards: Arc<Guards>,
    form: Result<axum::Form<TrackForm>, axum::extract::rejection::FormRejection>,
    action: TrackAction,
) -> Response {
    let visitor = Visitor::new(&state, headers, peer, guards);
    let mut page = Page::new(lang, "/track", &visitor.headers);
    let form = match form {
        Ok(axum::Form(form)) => form,
        Err(rejection) => {
            let error = AppError::Invalid(FieldError::new("form", "unreadable_form", rejection.body_text()));
            let (page, status) = Refusal::App(error).apply(page);
            return page.respond(status, TrackPage { page: &page, ticket: String::new(), last4: String::new(), tracked: None }.render());
        }
    };
    let outcome = async {
        visitor.check(&form.csrf, Attempt::Track { address: &visitor.address, ticket: &form.ticket })?;
        let ticket = TicketNumber::parse(&form.ticket).map_err(|e| Refusal::App(FieldError::new("ticket", "invalid_ticket", e.to_string()).into()))?;
        let notice = match action {
            TrackAction::Show => None,
            TrackAction::FollowUp => {
                let text = Some(form.text.as_str()).filter(|t| !t.trim().is_empty());
                let done = state.app.follow_up_online(ticket, &form.last4, text).await.map_err(Refusal::App)?;
                Some(if done.escalated { "portal-follow-up-escalated" } else { "portal-follow-up-notified" })
            }
            TrackAction::Rate => {
                let rating = closure_rating(&form).map_err(Refusal::App)?;
                let reopened = rating.not_fixed || rating.reopens();
                state.app.rate_closure_online(ticket, &form.last4, rating).await.map_err(Refusal::App)?;
                Some(if reopened { "portal-survey-reopened" } else { "portal-survey-thanks" })
            }
        };
        Ok::<_, Refusal>((ticket, notice))
    }
    .await;
    let (ticket, notice, status) = match outcome {
        Ok((ticket, notice)) => (Some(ticket), notice, StatusCode::OK),
        Err(refusal) => {
            // A refused follow-up or rating still shows the report when the visitor proved it.
            let shown =
                matches!(refusal, Refusal::App(AppError::Conflict { .. }) | Refusal::App(AppError::Validation(_))) && !matches!(action, TrackAction::Show);
            let (refused, status) = refusal.apply(page);
            page = refused;
            (if shown { TicketNumber::parse(&form.ticket).ok() } else { None }, None, status)
        }
    };
    page.notice = notice.map(|key| page.tx.t(key));
    let tracked = match ticket {
        Some(ticket) => match state.app.track(ticket, &form.last4).await {
            Ok(tracked) => Some(TrackedView::new(page.tx, &state, &tracked)),
            Err(error) => {
                let status = view::status_of(&error);
                page = page.refused(&error);
                return page.respond(status, TrackPage { page: &page, ticket: form.ticket.clone(), last4: form.last4.clone(), tracked: None }.render());
            }
        },
        None => None,
    };
    page.respond(status, TrackPage { page: &page, ticket: form.ticket.clone(), last4: form.last4.clone(), tracked }.render())
}

#[derive(Template)]
#[template(path = "portal/reports.html")]
struct ReportsPage<'a> {
    page: &'a Page,
    reports: Vec<PublicReport>,
    points_json: String,
    services: Vec<(String, String)>,
    districts: Vec<(String, String)>,
    service: String,
    district: String,
    near: String,
    map: MapView,
}

#[derive(Deserialize, Default)]
pub struct ReportsQuery {
    #[serde(default)]
    service: String,
    #[serde(default)]
    district: String,
    /// The visitor's position ("LAT,LON"): the nearest reports come first.
    #[serde(default)]
    near: String,
}

/// The most reports the public list shows.
const PUBLIC_LIST_LIMIT: u64 = 200;

/// Open reports on a map and in a list, filterable by service and district; nothing personal.
pub async fn public_reports(State(state): State<AppState>, Path(lang): Path<String>, headers: HeaderMap, Query(query): Query<ReportsQuery>) -> Response {
    let Some(lang) = view::language(&lang) else { return unknown_language(&headers) };
    let page = Page::new(lang, "/reports", &headers);
    let tx = page.tx;
    let service = Some(query.service.trim()).filter(|s| !s.is_empty());
    let district = Some(query.district.trim()).filter(|d| !d.is_empty());
    let reports = match state.app.public_reports(service, district, PUBLIC_LIST_LIMIT).await {
        Ok(reports) => reports,
        Err(error) => return failed(&page, &error),
    };
    let mut reports: Vec<PublicReport> = reports.iter().map(|r| PublicReport::new(tx, &state, r)).collect();
    let mut page = page;
    let mut map = MapView::new(&state);
    let mut status = StatusCode::OK;
    let near = match Some(query.near.trim()).filter(|n| !n.is_empty()).map(|n| Coordinates::parse_pair("near", n)) {
        Some(Ok(near)) => Some(near),
        Some(Err(_)) => {
            page = page.problem("invalid_near");
            status = StatusCode::UNPROCESSABLE_ENTITY;
            None
        }
        None => None,
    };
    if let Some(near) = near {
        // Nearest first; reports without a pin after, newest first as before.
        let distance = |r: &PublicReport| r.coordinates.and_then(|(lat, lon)| Coordinates::new(lat, lon).ok()).map(|c| c.distance_km(near));
        reports.sort_by(|a, b| match (distance(a), distance(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        for report in &mut reports {
            report.distance_km = distance(report).map(|km| tx.num(format!("{km:.1}")));
        }
        (map.lat, map.lon, map.zoom) = (near.lat(), near.lon(), 14);
    }
    let points: Vec<serde_json::Value> = reports
        .iter()
        .filter_map(|r| {
            r.coordinates.map(|(lat, lon)| {
                serde_json::json!({ "lat": lat, "lon": lon, "ticket": r.ticket, "service": r.service, "status": r.status, "url": format!("/{lang}/reports#r-{}", r.ticket) })
            })
        })
        .collect();
    // Inside <script type="application/json">: "</" must not end the element early.
    let points_json = serde_json::to_string(&points).unwrap_or_else(|_| "[]".into()).replace("</", "<\\/");
    let catalogue = state.app.catalogue();
    let services = catalogue.services.iter().map(|s| (s.code.clone(), localized(tx, &s.name_ar, &s.name_en).to_owned())).collect();
    let districts = cities(tx, &state).into_iter().flat_map(|c| c.districts).collect();
    let html = ReportsPage {
        page: &page,
        reports,
        points_json,
        services,
        districts,
        service: query.service.clone(),
        district: query.district.clone(),
        near: if near.is_some() { query.near.trim().to_owned() } else { String::new() },
        map,
    }
    .render();
    page.respond(status, html)
}

#[derive(Template)]
#[template(path = "portal/inquiry.html")]
struct InquiryPage<'a> {
    page: &'a Page,
    form: &'a ReportForm,
    languages: Vec<(&'static str, String)>,
    channels: Vec<(&'static str, String)>,
}

fn inquiry_service(state: &AppState) -> Option<&Service> {
    state.app.catalogue().services.iter().find(|s| s.kind == ContactKind::Inquiry)
}

fn inquiry_page(page: &Page, form: &ReportForm, status: StatusCode) -> Response {
    page.respond(status, InquiryPage { page, form, languages: languages(), channels: channels(page.tx) }.render())
}

pub async fn inquiry_form(Path(lang): Path<String>, headers: HeaderMap) -> Response {
    let Some(lang) = view::language(&lang) else { return unknown_language(&headers) };
    let page = Page::new(lang, "/inquiry", &headers);
    let form = ReportForm { idempotency_key: guard::random_hex(), language: lang.to_owned(), preferred_channel: "sms".into(), ..ReportForm::default() };
    inquiry_page(&page, &form, StatusCode::OK)
}
