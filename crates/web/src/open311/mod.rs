//! Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) under `/open311/v2`, in XML and
//! JSON, with FixMyStreet's `servicerequestupdates` extension. The format is the path's suffix
//! (`services.xml`, `requests/00000018.json`); axum cannot capture part of a segment, so each
//! route captures the last segment whole and `split_format` takes the suffix off.
//!
//! Module map: `format` renders one element tree as XML or JSON; `error` is the Open311 error list;
//! `params` reads parameters, dates and the search window; `locale` picks Arabic or English;
//! `discovery`, `services`, `requests` (reading), `create` (posting) and `updates` build the answers.

mod create;
mod discovery;
mod error;
mod format;
mod locale;
mod params;
mod requests;
mod services;
mod updates;

use crate::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use error::Open311Error;
use format::{Document, Format};
use locale::Lang;
use params::{Params, check_jurisdiction};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{file}", get(get_resource).post(post_resource))
        .route("/services/{file}", get(get_service_definition))
        .route("/requests/{file}", get(get_request))
        .route("/tokens/{file}", get(get_token))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
}

/// `requests.json` to `("requests", Json)`. A missing or unknown suffix is a 404 that names the
/// formats served.
fn split_format(file: &str) -> Result<(&str, Format), Open311Error> {
    match file.rsplit_once('.') {
        Some((stem, suffix)) => match Format::from_suffix(suffix) {
            Some(format) => Ok((stem, format)),
            None => Err(Open311Error::not_found(format!("unsupported format '.{suffix}' in '{file}': the formats served are {}", Format::SUPPORTED))),
        },
        None => Err(Open311Error::not_found(format!("'{file}' names no format: add {} to the path, e.g. services.xml", Format::SUPPORTED))),
    }
}

/// What every GET shares: the format, the query's parameters and the answer's language.
struct Call {
    format: Format,
    query: Params,
    lang: Lang,
}

impl Call {
    /// Takes the format off the last path segment, reads the query and refuses a foreign
    /// `jurisdiction_id`. A refusal comes with the format to answer in: XML when the format itself
    /// is what is wrong, as XML is the one format every Open311 client reads.
    fn start<'a>(state: &AppState, file: &'a str, raw_query: Option<String>, headers: &HeaderMap) -> Result<(&'a str, Call), (Format, Open311Error)> {
        let (stem, format) = split_format(file).map_err(|e| (Format::Xml, e))?;
        let query = Params::parse(raw_query.unwrap_or_default().as_bytes()).map_err(|e| (format, e))?;
        check_jurisdiction(state.config.jurisdiction_id.as_deref(), query.get("jurisdiction_id")).map_err(|e| (format, e))?;
        let (lang, _) = locale::negotiate(&query, headers);
        Ok((stem, Call { format, query, lang }))
    }

    fn answer(&self, result: Result<Document, Open311Error>) -> Response {
        answer(self.format, result)
    }
}

fn answer(format: Format, result: Result<Document, Open311Error>) -> Response {
    match result {
        Ok(document) => document.respond(format, StatusCode::OK),
        Err(error) => error.respond(format),
    }
}

/// `discovery`, `services`, `requests` and `servicerequestupdates`, each `.xml` or `.json`.
async fn get_resource(State(state): State<AppState>, Path(file): Path<String>, RawQuery(raw_query): RawQuery, headers: HeaderMap) -> Response {
    let (stem, call) = match Call::start(&state, &file, raw_query, &headers) {
        Ok(started) => started,
        Err((format, error)) => return error.respond(format),
    };
    let result = match stem {
        "discovery" => Ok(discovery::discovery(&state.config)),
        "services" => Ok(services::service_list(state.app.catalogue(), call.lang)),
        "requests" => requests::list(&state, &call.query, call.lang).await,
        "servicerequestupdates" => updates::list(&state, &call.query, call.lang).await,
        other => Err(Open311Error::not_found(format!("nothing is served at '{other}': see discovery.xml for what is"))),
    };
    call.answer(result)
}

async fn get_service_definition(State(state): State<AppState>, Path(file): Path<String>, RawQuery(raw_query): RawQuery, headers: HeaderMap) -> Response {
    match Call::start(&state, &file, raw_query, &headers) {
        Ok((code, call)) => call.answer(services::service_definition(state.app.catalogue(), code, call.lang)),
        Err((format, error)) => error.respond(format),
    }
}

async fn get_request(State(state): State<AppState>, Path(file): Path<String>, RawQuery(raw_query): RawQuery, headers: HeaderMap) -> Response {
    match Call::start(&state, &file, raw_query, &headers) {
        Ok((id, call)) => call.answer(requests::one(&state, id, call.lang).await),
        Err((format, error)) => error.respond(format),
    }
}

async fn get_token(State(state): State<AppState>, Path(file): Path<String>, RawQuery(raw_query): RawQuery, headers: HeaderMap) -> Response {
    match Call::start(&state, &file, raw_query, &headers) {
        Ok((token, call)) => call.answer(requests::token(&state, token).await),
        Err((format, error)) => error.respond(format),
    }
}

/// `POST requests.{fmt}`.
///
/// Success is 200 OK, not 201 Created. The spec names no success status; mySociety's Open311
/// endpoint library answers 200, and GeoReporter (the City of Bloomington's Android client, listed
/// among Open311 apps) accepts only `status == 200` and shows anything else as a failure, which
/// would make people post the same report again. FixMyStreet and the codeforamerica Java client
/// accept any 2xx, so 200 suits every client found; 201 would break some.
async fn post_resource(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (stem, format) = match split_format(&file) {
        Ok(split) => split,
        Err(error) => return error.respond(Format::Xml),
    };
    if stem != "requests" {
        return Open311Error::new(StatusCode::METHOD_NOT_ALLOWED, format!("POST is accepted only on requests.{{xml,json}}, not on '{file}'")).respond(format);
    }
    answer(format, post_request(&state, raw_query, &headers, body).await)
}

async fn post_request(state: &AppState, raw_query: Option<String>, headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Document, Open311Error> {
    create::check_content_type(headers)?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Open311Error::new(StatusCode::PAYLOAD_TOO_LARGE, "the request body is larger than this server accepts")
        } else {
            Open311Error::bad_request(format!("the request body cannot be read: {}", rejection.body_text()))
        }
    })?;
    let query = Params::parse(raw_query.unwrap_or_default().as_bytes())?;
    let form = Params::parse(&body)?;
    check_jurisdiction(state.config.jurisdiction_id.as_deref(), form.get("jurisdiction_id").or_else(|| query.get("jurisdiction_id")))?;
    let locale_source = if form.get("locale").is_some() { &form } else { &query };
    let (lang, explicit) = locale::negotiate(locale_source, headers);
    create::create(state, &form, &query, headers, explicit.then_some(lang)).await
}

/// Anything else under `/open311/v2`: an Open311 404, in the format the path asks for if any.
async fn fallback(uri: Uri) -> Response {
    let format = requested_format(&uri);
    Open311Error::not_found(format!("nothing is served at {}: see discovery.xml for what is", uri.path())).respond(format)
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let format = requested_format(&uri);
    Open311Error::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed on {}", uri.path())).respond(format)
}

fn requested_format(uri: &Uri) -> Format {
    uri.path().rsplit_once('.').and_then(|(_, suffix)| Format::from_suffix(suffix)).unwrap_or(Format::Xml)
}
