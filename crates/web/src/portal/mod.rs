//! The citizen portal: server-rendered pages (askama) where a beneficiary opens a report with
//! photos and a map pin, tracks it with its ticket and the last digits of his phone, follows it
//! up, rates its closure, browses the open reports, asks a question, and marks on a map the place
//! of a report he opened by phone, from the link he was sent; in Arabic (right to left) and
//! English, every text from Fluent. The core flows need no JavaScript; with it the portal is an
//! installable app that keeps a report typed offline and sends it once online.
//!
//! Pages live under `/{lang}/…`; `/` sends a visitor to his language (cookie, then
//! Accept-Language, then Arabic). Every form carries a CSRF token (double-submit cookie), and
//! report creation, tracking and marking a place are rate limited per client address (and per
//! phone and per ticket).

mod assets;
mod form;
mod guard;
mod pages;
mod place;
mod view;

pub use guard::RateLimits;

use crate::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// The portal's settings.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// The map tile URL template (`{z}/{x}/{y}`); served to the browser, never fetched by Balagh.
    pub tile_url: String,
    /// The tiles' attribution, as HTML the tile provider asks for.
    pub tile_attribution: String,
    /// Where maps open: latitude, longitude, zoom.
    pub map_center: (f64, f64, u8),
    /// The cities (and their districts) offered when a map is not used.
    pub cities: Vec<balagh_ivr::City>,
    /// Read the client's address from the last `X-Forwarded-For` entry (behind a trusted proxy).
    pub trust_forwarded_for: bool,
    pub rate_limits: RateLimits,
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            tile_url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png".into(),
            tile_attribution: "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a>".into(),
            map_center: (26.4207, 50.0888, 11),
            cities: Vec::new(),
            trust_forwarded_for: false,
            rate_limits: RateLimits::default(),
        }
    }
}

/// The largest report form read. Well over three photos at their limit, so that a visitor who
/// attaches too many or too large photos is told which (a body cut off at the limit would end in a
/// dropped connection instead of an answer); the photos' own limits are checked after reading.
const MAX_REPORT_FORM_BYTES: usize = 32 * 1024 * 1024;

pub fn routes(config: &PortalConfig) -> Router<AppState> {
    let guards = std::sync::Arc::new(guard::Guards::new(&config.rate_limits));
    Router::new()
        .route("/", get(pages::root))
        .route("/{lang}/", get(pages::home))
        .route("/{lang}/report/new", get(pages::new_report))
        .route("/{lang}/report", post(pages::submit_form).layer(DefaultBodyLimit::max(MAX_REPORT_FORM_BYTES)))
        .route("/{lang}/report/received/{ticket}", get(pages::received))
        .route("/{lang}/track", get(pages::track_form).post(pages::track))
        .route("/{lang}/track/{action}", post(pages::track))
        .route("/{lang}/reports", get(pages::public_reports))
        .route("/{lang}/inquiry", get(pages::inquiry_form).post(pages::submit_form))
        .route("/{lang}/place/{token}", get(place::place_form).post(place::place))
        .merge(assets::routes())
        .layer(axum::Extension(guards))
        .layer(tower_http::compression::CompressionLayer::new())
}

#[cfg(test)]
mod tests {
    //! Every text a visitor reads comes from Fluent: the templates hold markup and message keys,
    //! never words, and every key they or the handlers name exists (the i18n crate checks that
    //! every language has every message of every other).

    use std::path::PathBuf;

    fn templates() -> Vec<(String, String)> {
        let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates/portal");
        let mut files: Vec<(String, String)> = std::fs::read_dir(&directory)
            .expect("the templates directory")
            .map(|entry| entry.expect("a template").path())
            .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&path).expect("a UTF-8 template")))
            .collect();
        files.sort();
        assert!(files.len() >= 8, "templates found: {files:?}");
        files
    }

    /// Removes `open … close` spans.
    fn without(text: &str, open: &str, close: &str) -> String {
        let mut rest = text;
        let mut kept = String::new();
        while let Some(start) = rest.find(open) {
            kept.push_str(&rest[..start]);
            kept.push(' ');
            rest = rest[start..].find(close).map_or("", |end| &rest[start + end + close.len()..]);
        }
        kept.push_str(rest);
        kept
    }

    /// The words a visitor could read in a template once its expressions are taken out: text
    /// between tags, and the attributes browsers show or speak.
    fn visible_words(template: &str) -> Vec<String> {
        let code = without(&without(&without(template, "{#", "#}"), "{%", "%}"), "{{", "}}");
        let mut words = Vec::new();
        let mut rest = code.as_str();
        while !rest.is_empty() {
            let (text, after) = rest.split_once('<').unwrap_or((rest, ""));
            words.push(text.to_owned());
            let (tag, after) = after.split_once('>').unwrap_or((after, ""));
            for attribute in ["title=\"", "alt=\"", "placeholder=\"", "aria-label=\"", "label=\""] {
                for value in tag.split(attribute).skip(1) {
                    words.push(value.split('"').next().unwrap_or_default().to_owned());
                }
            }
            rest = after;
        }
        words.into_iter().filter(|w| w.chars().any(char::is_alphabetic)).map(|w| w.trim().to_owned()).collect()
    }

    #[test]
    fn templates_hold_no_words_of_their_own() {
        for (name, template) in templates() {
            assert_eq!(visible_words(&template), Vec::<String>::new(), "{name} has text that is not a Fluent message");
        }
    }

    #[test]
    fn the_check_finds_words_in_text_and_in_shown_attributes() {
        let words = visible_words(r#"<p title="Hello">{{ tx.t("k") }} Send</p><input aria-label="{{ x }}" value="yes">"#);
        assert_eq!(words, ["Hello", "Send"]);
    }

    #[test]
    fn every_message_the_portal_names_exists() {
        let sources = [include_str!("pages.rs"), include_str!("place.rs"), include_str!("view.rs"), include_str!("guard.rs"), include_str!("form.rs")];
        let mut keys: Vec<String> = Vec::new();
        for text in templates().iter().map(|(_, t)| t.as_str()).chain(sources) {
            for piece in text.split("\"portal-").skip(1) {
                let key: String = piece.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                if !key.is_empty() && !key.ends_with('-') {
                    keys.push(format!("portal-{key}"));
                }
            }
        }
        // Keys built at run time: the update channels, and the refusals the portal expects.
        keys.extend(["sms", "call", "whatsapp", "email"].map(|c| format!("portal-channel-{c}")));
        let refusals = [
            "csrf",
            "rate_limited",
            "not_found",
            "phone_mismatch",
            "no_phone_on_file",
            "invalid_ticket",
            "invalid_last_digits",
            "consent",
            "missing_place",
            "invalid_latitude",
            "invalid_longitude",
            "latitude_out_of_range",
            "longitude_out_of_range",
        ];
        keys.extend(refusals.iter().map(|code| format!("portal-error-{}", code.replace('_', "-"))));
        assert!(keys.len() > 60, "{keys:?}");
        for key in keys {
            for language in balagh_i18n::LANGUAGES {
                assert!(balagh_i18n::has_message(language, &key), "{key} is missing in {language}");
            }
        }
    }
}
