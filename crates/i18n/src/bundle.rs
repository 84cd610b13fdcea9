//! The Fluent bundles embedded in the binary, language negotiation and the one way to look up a
//! translated message.
//!
//! Every bundle is built once, on first use, from the `.ftl` files compiled in with
//! `include_str!`; nothing is read from disk at run time. Isolation marks (U+2068/U+2069) are turned
//! off: the texts go to SMS gateways, e-mail and text-to-speech, where they would show up as
//! garbage or be read aloud.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::sync::LazyLock;
use unic_langid::LanguageIdentifier;

/// Every language with complete texts, the default (Arabic) first.
pub const LANGUAGES: &[&str] = &["ar", "en"];

/// The language used when a request names none we serve.
pub const DEFAULT_LANGUAGE: &str = "ar";

/// The language whose texts fill any gap in another's.
pub const FALLBACK_LANGUAGE: &str = "en";

/// The Fluent sources, one per entry of [`LANGUAGES`], in the same order.
pub(crate) const SOURCES: &[(&str, &str)] = &[
    (
        "ar",
        concat!(include_str!("../locales/ar/notifications.ftl"), "\n", include_str!("../locales/ar/ivr.ftl"), "\n", include_str!("../locales/ar/portal.ftl")),
    ),
    (
        "en",
        concat!(include_str!("../locales/en/notifications.ftl"), "\n", include_str!("../locales/en/ivr.ftl"), "\n", include_str!("../locales/en/portal.ftl")),
    ),
];

/// A value for a variable of a Fluent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Shown as given (ticket numbers stay in Latin digits, so they can be typed back).
    Str(String),
    /// Written in the language's digits and used to pick plural forms.
    Num(i64),
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Str(value.to_owned())
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Str(value)
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Self {
        Arg::Str(value.clone())
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Num(value)
    }
}

impl From<i32> for Arg {
    fn from(value: i32) -> Self {
        Arg::Num(value.into())
    }
}

impl From<u32> for Arg {
    fn from(value: u32) -> Self {
        Arg::Num(value.into())
    }
}

type Bundle = FluentBundle<FluentResource>;

static BUNDLES: LazyLock<Vec<(&'static str, Bundle)>> =
    LazyLock::new(|| SOURCES.iter().map(|(language, source)| (*language, build_bundle(language, source))).collect());

/// Builds one language's bundle. A syntax error (ruled out by the tests) loses only the broken
/// entries: Fluent's parser recovers, and nothing here panics.
fn build_bundle(language: &'static str, source: &str) -> Bundle {
    let language_id: LanguageIdentifier = language.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![language_id]);
    bundle.set_use_isolating(false);
    if uses_eastern_arabic_digits(language) {
        bundle.set_formatter(Some(eastern_arabic_number_formatter));
    }
    let resource = FluentResource::try_new(source.to_owned()).unwrap_or_else(|(partial, _errors)| partial);
    // Duplicate ids (also ruled out by the tests) keep their first definition.
    let _ = bundle.add_resource(resource);
    bundle
}

/// Writes Fluent numbers in Arabic-Indic digits. Generic over the memoizer so that the bundle's own
/// type is inferred.
fn eastern_arabic_number_formatter<M>(value: &FluentValue, _: &M) -> Option<String> {
    match value {
        FluentValue::Number(number) => Some(localize_digits(&number.as_string(), "ar")),
        _ => None,
    }
}

fn bundle(language: &str) -> Option<&'static Bundle> {
    BUNDLES.iter().find(|(code, _)| *code == language).map(|(_, bundle)| bundle)
}

/// Whether the language writes numbers with Arabic-Indic digits (٠١٢٣٤٥٦٧٨٩).
fn uses_eastern_arabic_digits(language: &str) -> bool {
    primary_subtag(language) == "ar"
}

/// Rewrites the ASCII digits of `text` in the language's digits: Arabic-Indic for Arabic, unchanged
/// for every other language.
pub fn localize_digits(text: &str, language: &str) -> String {
    if !uses_eastern_arabic_digits(language) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| match c.to_digit(10) {
            Some(digit) if c.is_ascii_digit() => char::from_u32(0x0660 + digit).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// The lowercase primary subtag of a BCP 47 tag or POSIX locale: "ar-SA" and "ar_SA.UTF-8" give "ar".
fn primary_subtag(tag: &str) -> String {
    tag.trim().split(['-', '_', '.', '@']).next().unwrap_or_default().to_ascii_lowercase()
}

/// Picks the served language for a request: a tag ("ar-SA", "EN_us"), a three-letter code ("ara",
/// "eng") or a whole Accept-Language header ("fr-FR, en;q=0.8"). Anything unknown gets Arabic, the
/// municipality's first language.
pub fn negotiate(requested: &str) -> &'static str {
    let mut ranges: Vec<(f32, usize, String)> = requested
        .split(',')
        .enumerate()
        .filter_map(|(position, range)| {
            let mut parts = range.split(';');
            let tag = primary_subtag(parts.next().unwrap_or_default());
            let quality = parts.filter_map(|parameter| parameter.trim().strip_prefix("q=")).find_map(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
            (!tag.is_empty() && quality > 0.0).then_some((quality, position, tag))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.iter().find_map(|(_, _, tag)| served(tag)).unwrap_or(DEFAULT_LANGUAGE)
}

fn served(primary: &str) -> Option<&'static str> {
    let two_letters = match primary {
        "ara" | "arb" => "ar",
        "eng" => "en",
        other => other,
    };
    LANGUAGES.iter().copied().find(|language| *language == two_letters)
}

/// Whether the language is written right to left: Arabic, Urdu, Persian, Hebrew, Pashto, Sorani
/// Kurdish, Sindhi, Uyghur, Dhivehi, Yiddish, Syriac…; an explicit script subtag decides ("ku-Arab"
/// is, "az-Latn" is not).
pub fn is_rtl(language: &str) -> bool {
    let subtags: Vec<String> = language.trim().split(['-', '_']).map(str::to_ascii_lowercase).collect();
    for script in subtags.iter().skip(1).filter(|subtag| subtag.len() == 4) {
        match script.as_str() {
            "arab" | "hebr" | "syrc" | "thaa" | "nkoo" | "adlm" | "rohg" | "mand" | "samr" => return true,
            "latn" | "cyrl" | "grek" | "deva" | "hans" | "hant" => return false,
            _ => {}
        }
    }
    matches!(
        subtags.first().map(String::as_str),
        Some(
            "ar" | "ara"
                | "arb"
                | "ur"
                | "fa"
                | "per"
                | "fas"
                | "prs"
                | "he"
                | "iw"
                | "ps"
                | "ku"
                | "ckb"
                | "sd"
                | "ug"
                | "dv"
                | "yi"
                | "ji"
                | "syr"
                | "arc"
                | "ks"
                | "bal"
                | "azb"
                | "glk"
                | "mzn"
                | "lrc"
        )
    )
}

/// One Fluent message in `language` (negotiated), without isolation marks. A message missing there
/// comes from English; one missing everywhere gives the key itself, so a gap shows up in the text
/// instead of failing the notification.
pub fn text(language: &str, key: &str, args: &[(&str, Arg)]) -> String {
    let language = negotiate(language);
    [language, FALLBACK_LANGUAGE].iter().find_map(|candidate| format_message(candidate, key, args)).unwrap_or_else(|| key.to_owned())
}

/// Whether `language` (negotiated) or the fallback language has a message `key`.
pub fn has_message(language: &str, key: &str) -> bool {
    [negotiate(language), FALLBACK_LANGUAGE].iter().any(|candidate| bundle(candidate).is_some_and(|bundle| bundle.has_message(key)))
}

fn format_message(language: &str, key: &str, args: &[(&str, Arg)]) -> Option<String> {
    let bundle = bundle(language)?;
    let pattern = bundle.get_message(key)?.value()?;
    let mut fluent_args = FluentArgs::with_capacity(args.len());
    for (name, value) in args {
        match value {
            Arg::Str(text) => fluent_args.set(*name, FluentValue::from(text.as_str())),
            Arg::Num(number) => fluent_args.set(*name, FluentValue::from(*number)),
        }
    }
    let mut errors = Vec::new();
    Some(bundle.format_pattern(pattern, Some(&fluent_args), &mut errors).into_owned())
}

/// The beneficiary-facing name of a report status ("in_progress" -> "In progress" / "قيد المعالجة");
/// an unknown status gives a neutral "Updated".
pub fn status_name(status_code: &str, language: &str) -> String {
    let key = format!("status-{}", status_code.trim());
    if has_message(language, &key) { text(language, &key, &[]) } else { text(language, "status-unknown", &[]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_syntax::ast::Entry;
    use std::collections::BTreeSet;

    fn message_ids(source: &str) -> BTreeSet<String> {
        let resource = fluent_syntax::parser::parse(source).unwrap_or_else(|(_, errors)| panic!("syntax errors: {errors:?}"));
        resource
            .body
            .iter()
            .filter_map(|entry| match entry {
                Entry::Message(message) => Some(message.id.name.to_owned()),
                Entry::Term(term) => Some(format!("-{}", term.id.name)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_language_has_every_message_of_every_other() {
        let all: Vec<(&str, BTreeSet<String>)> = SOURCES.iter().map(|(language, source)| (*language, message_ids(source))).collect();
        for (language, ids) in &all {
            for (other, other_ids) in &all {
                let missing: Vec<&String> = other_ids.difference(ids).collect();
                assert!(missing.is_empty(), "{language} lacks messages that {other} has: {missing:?}");
            }
        }
    }

    #[test]
    fn every_source_parses_and_adds_without_errors() {
        for (language, source) in SOURCES {
            let resource = FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(_, errors)| panic!("{language}: {errors:?}"));
            let mut bundle: Bundle = FluentBundle::new_concurrent(vec![language.parse().unwrap()]);
            bundle.add_resource(resource).unwrap_or_else(|errors| panic!("{language}: {errors:?}"));
        }
    }

    #[test]
    fn languages_and_sources_agree() {
        let sourced: Vec<&str> = SOURCES.iter().map(|(language, _)| *language).collect();
        assert_eq!(sourced, LANGUAGES);
        assert_eq!(LANGUAGES[0], DEFAULT_LANGUAGE);
    }

    #[test]
    fn negotiates_the_served_language() {
        fn check(requested: &str, expected: &str) {
            assert_eq!(negotiate(requested), expected, "negotiate({requested:?})");
        }
        check("ar", "ar");
        check("ar-SA", "ar");
        check("ar_SA.UTF-8", "ar");
        check("EN_us", "en");
        check("en-GB", "en");
        check(" En ", "en");
        check("eng", "en");
        check("ara", "ar");
        check("fr", "ar");
        check("", "ar");
        check("ur-PK", "ar");
        check("fr-FR, en;q=0.8, ar;q=0.5", "en");
        check("en;q=0.2, ar;q=0.9", "ar");
        check("en;q=0, fr", "ar");
        check("*", "ar");
    }

    #[test]
    fn knows_right_to_left_languages() {
        fn check(language: &str, expected: bool) {
            assert_eq!(is_rtl(language), expected, "is_rtl({language:?})");
        }
        check("ar", true);
        check("ar-SA", true);
        check("ur", true);
        check("fa-IR", true);
        check("he", true);
        check("ps", true);
        check("ckb", true);
        check("ku-Arab", true);
        check("ku-Latn-TR", false);
        check("pa-Arab", true);
        check("en", false);
        check("fr", false);
        check("tr", false);
        check("", false);
    }

    #[test]
    fn text_falls_back_to_english_then_to_the_key() {
        assert_eq!(text("ar", "status-in_progress", &[]), "قيد المعالجة");
        assert_eq!(text("en-US", "status-in_progress", &[]), "In progress");
        assert_eq!(text("de", "status-in_progress", &[]), "قيد المعالجة");
        assert_eq!(text("en", "no-such-message", &[]), "no-such-message");
    }

    #[test]
    fn text_has_no_isolation_marks_and_writes_numbers_in_the_languages_digits() {
        let english = text("en", "follow-up-line", &[("ref", "10000047".into()), ("count", Arg::Num(3))]);
        assert_eq!(english, "The beneficiary has followed up on report 10000047 again: 3 follow-ups so far.");
        let arabic = text("ar", "follow-up-line", &[("ref", "10000047".into()), ("count", Arg::Num(3))]);
        assert_eq!(arabic, "تابع المستفيد البلاغ رقم 10000047 مجددًا: ٣ متابعات حتى الآن.");
        let arabic_many = text("ar", "follow-up-line", &[("ref", "10000047".into()), ("count", Arg::Num(11))]);
        assert_eq!(arabic_many, "تابع المستفيد البلاغ رقم 10000047 مجددًا: ١١ متابعة حتى الآن.");
        assert!(!arabic.contains(['\u{2068}', '\u{2069}']));
    }

    #[test]
    fn call_prompts_exist_in_every_language() {
        for key in [
            "call-intro",
            "call-note",
            "call-expected",
            "call-menu",
            "call-menu-resolved",
            "call-rate-quality",
            "call-rate-speed",
            "call-thanks-confirmed",
            "call-thanks-not-fixed",
            "call-thanks-rated",
            "call-agent",
            "call-invalid",
            "call-already",
            "call-goodbye",
        ] {
            for language in LANGUAGES {
                assert!(format_message(language, key, &[]).is_some(), "{language} lacks {key}");
            }
        }
        let intro = text("en", "call-intro", &[("digits", "1, 0".into()), ("status", "Resolved".into())]);
        assert_eq!(intro, "Hello, this is Balagh with an update on your report number 1, 0. Its status is now: Resolved.");
    }

    #[test]
    fn status_names_are_translated() {
        assert_eq!(status_name("awaiting_citizen", "en"), "Waiting for information from you");
        assert_eq!(status_name("resolved", "ar"), "تمت المعالجة");
        assert_eq!(status_name("bogus", "en"), "Updated");
    }
}
