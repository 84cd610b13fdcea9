//! What every portal page knows besides its own content: the language and its direction, the
//! texts (always Fluent messages, looked up by key), the CSRF token, the links to the same page
//! in the other language, and the problems to show; plus the localized pieces pages share
//! (dates in Gregorian and Hijri, status names, the SLA in plain words, error messages).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use balagh_app::AppError;
use balagh_domain::sla::{ClockOutcome, ClockState};
use balagh_i18n::{Arg, LANGUAGES};
use jiff::Timestamp;

/// The Fluent texts of one language.
#[derive(Debug, Clone, Copy)]
pub struct Texts {
    pub lang: &'static str,
}

impl Texts {
    /// The message `key`.
    pub fn t(&self, key: &str) -> String {
        balagh_i18n::text(self.lang, key, &[])
    }

    /// The message `key` with a number (written in the language's digits).
    pub fn tn<N: Copy + Into<i64>>(&self, key: &str, name: &str, value: &N) -> String {
        balagh_i18n::text(self.lang, key, &[(name, Arg::Num((*value).into()))])
    }

    /// The message `key` with a text argument.
    pub fn ts(&self, key: &str, name: &str, value: &str) -> String {
        balagh_i18n::text(self.lang, key, &[(name, Arg::from(value))])
    }

    /// A number as the language writes it.
    pub fn num(&self, value: impl ToString) -> String {
        balagh_i18n::localize_digits(&value.to_string(), self.lang)
    }

    /// A date in the Gregorian calendar and, for Arabic, the Hijri (Umm al-Qura) one.
    pub fn date(&self, at: &Timestamp) -> String {
        balagh_i18n::date_line(*at, self.lang)
    }

    /// The time of day in Riyadh (24-hour clock) in the language's digits.
    pub fn time(&self, at: &Timestamp) -> String {
        balagh_i18n::localize_time(*at, self.lang)
    }

    pub fn status(&self, status: &str) -> String {
        balagh_i18n::status_name(status, self.lang)
    }

    /// An error code as a sentence in this language (`missing_phone` -> `portal-error-missing-phone`).
    pub fn error(&self, code: &str) -> String {
        let key = format!("portal-error-{}", code.replace('_', "-"));
        if balagh_i18n::has_message(self.lang, &key) { self.t(&key) } else { self.t("portal-error-other") }
    }
}

/// A problem to show on a page: which field (empty for the page as a whole) and what to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// The frame of every page.
#[derive(Debug, Clone)]
pub struct Page {
    pub tx: Texts,
    pub dir: &'static str,
    pub csrf: String,
    /// This page's path in the other language, and that language.
    pub other_lang: &'static str,
    pub other_lang_name: String,
    pub switch_url: String,
    pub problems: Vec<Problem>,
    /// A message to show at the top (a follow-up's outcome, a rating's thanks).
    pub notice: Option<String>,
    /// Set-Cookie values for the response: a new CSRF token, the language.
    cookies: Vec<HeaderValue>,
}

impl Page {
    /// The frame of the page at `path` (below the language) in `lang`.
    pub fn new(lang: &'static str, path: &str, headers: &HeaderMap) -> Self {
        let (csrf, new_cookie) = super::guard::csrf_token(headers);
        let other_lang = LANGUAGES.iter().copied().find(|l| *l != lang).unwrap_or(lang);
        let mut cookies: Vec<HeaderValue> = new_cookie.into_iter().collect();
        if super::guard::cookie(headers, LANGUAGE_COOKIE) != Some(lang)
            && let Ok(value) = HeaderValue::from_str(&format!("{LANGUAGE_COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Lax"))
        {
            cookies.push(value);
        }
        Self {
            tx: Texts { lang },
            dir: if balagh_i18n::is_rtl(lang) { "rtl" } else { "ltr" },
            csrf,
            other_lang,
            other_lang_name: Texts { lang: other_lang }.t("portal-language-name"),
            switch_url: format!("/{other_lang}{path}"),
            problems: Vec::new(),
            notice: None,
            cookies,
        }
    }

    pub fn lang(&self) -> &'static str {
        self.tx.lang
    }

    /// The page's problems from a refused request, each in this language.
    pub fn refused(mut self, error: &AppError) -> Self {
        self.problems = problems(self.tx, error);
        self
    }

    /// A problem with the whole page (`code` as in `portal-error-*`).
    pub fn problem(mut self, code: &str) -> Self {
        self.problems.push(Problem { field: String::new(), message: self.tx.error(code) });
        self
    }

    /// The message for `field`, if it has a problem.
    pub fn problem_for(&self, field: &str) -> Option<&str> {
        self.problems.iter().find(|p| p.field == field).map(|p| p.message.as_str())
    }

    /// Renders `html` (a page built on this frame) with its cookies.
    pub fn respond(&self, status: StatusCode, html: Result<String, askama::Error>) -> Response {
        let mut response = match html {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, "a portal page could not be rendered");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        };
        for cookie in &self.cookies {
            response.headers_mut().append(header::SET_COOKIE, cookie.clone());
        }
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The cookie remembering the visitor's language.
pub const LANGUAGE_COOKIE: &str = "balagh_lang";

/// The served language named by the path's first segment.
pub fn language(segment: &str) -> Option<&'static str> {
    LANGUAGES.iter().copied().find(|l| *l == segment)
}

/// Each problem of a refused request, in the page's language. Problems with the same field and
/// message are shown once.
pub fn problems(tx: Texts, error: &AppError) -> Vec<Problem> {
    let fields = match error {
        AppError::Validation(errors) => errors.0.iter().map(|e| (e.field.clone(), e.code)).collect(),
        AppError::Invalid(error) => vec![(error.field.clone(), error.code)],
        other => vec![(String::new(), other.code())],
    };
    let mut problems: Vec<Problem> = Vec::new();
    for (field, code) in fields {
        let problem = Problem { field: portal_field(&field), message: tx.error(code) };
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    problems
}

/// The status a refused request answers with.
pub fn status_of(error: &AppError) -> StatusCode {
    match error {
        AppError::Validation(_) | AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::NotFound { .. } => StatusCode::NOT_FOUND,
        AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
        AppError::Conflict { .. } | AppError::Transition(_) => StatusCode::CONFLICT,
        AppError::Store(balagh_app::StoreError::Contention) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Store(_) => {
            tracing::error!(%error, "a portal request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// Maps the domain's (Open311) field names onto the portal form's.
fn portal_field(field: &str) -> String {
    match field {
        "long" => "lat".into(),
        "address_string" => "address".into(),
        "media_url" => "photo".into(),
        other => other.strip_prefix("attribute[").and_then(|f| f.strip_suffix(']')).map(|code| format!("attr_{code}")).unwrap_or_else(|| other.to_owned()),
    }
}

/// The SLA of a report in plain words, and the style that goes with it: late once breached, due
/// soon from three quarters of the time used, on time before, finished once stopped in time.
pub fn sla_words(tx: Texts, resolution: &ClockState) -> (String, &'static str) {
    match resolution.outcome {
        ClockOutcome::Breached => (tx.t("portal-sla-breached"), "sla-breached"),
        ClockOutcome::Met { .. } => (tx.t("portal-sla-stopped"), "sla-on-time"),
        ClockOutcome::Running | ClockOutcome::Paused if resolution.percent_used >= 75 => (tx.t("portal-sla-at-risk"), "sla-at-risk"),
        ClockOutcome::Running | ClockOutcome::Paused => (tx.t("portal-sla-on-time"), "sla-on-time"),
    }
}
