//! Administrators' notification templates: minijinja sources that replace the built-in text of one
//! topic, medium and language, rendered in a sandbox.
//!
//! The sandbox: no loader (a template cannot include or import anything), no auto-escaping (the
//! output is text; the e-mail HTML escapes it in the built-in layout), a fuel budget that stops
//! endless loops and runaway output, and a cap on the length of the result.
//!
//! Undefined values are *semi-strict*: printing or iterating an undefined name is an error (so a
//! misspelt `{{ tiket }}` is caught by [`check_override`] instead of sending a hole to thousands of
//! beneficiaries), while `{% if payload.department %}` is allowed and simply false. Every name of
//! the context is always defined; those without a value are empty strings.

use crate::bundle::LANGUAGES;
use crate::render::{Request, TOPICS, build_context};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use std::collections::BTreeMap;

/// The work one render may do: minijinja charges one fuel per instruction and one per 64 bytes of
/// data, so this allows some thousands of instructions and well under a megabyte of data.
const FUEL: u64 = 20_000;

/// The longest text an override may produce, in characters.
pub const MAX_OVERRIDE_CHARS: usize = 8_000;

/// How deep templates may nest blocks and calls.
const RECURSION_LIMIT: usize = 32;

/// What a template sees. Built by `render` from the request.
#[derive(Debug, Clone, Default)]
pub(crate) struct OverrideContext {
    pub ticket: String,
    /// The status in the recipient's language.
    pub status: String,
    /// The status as stored: `in_progress`.
    pub status_code: String,
    pub note: String,
    /// The service's name in the recipient's language.
    pub service: String,
    /// The expected completion in both calendars (`date_line`), or empty.
    pub date: String,
    /// The expected completion as RFC 3339, or empty.
    pub expected_at: String,
    pub portal_url: String,
    pub language: String,
    pub topic: String,
    pub medium: String,
    pub payload: serde_json::Value,
}

impl OverrideContext {
    fn to_value(&self) -> Value {
        minijinja::context! {
            ticket => self.ticket.as_str(),
            status => self.status.as_str(),
            status_code => self.status_code.as_str(),
            note => self.note.as_str(),
            service => self.service.as_str(),
            date => self.date.as_str(),
            expected_at => self.expected_at.as_str(),
            portal_url => self.portal_url.as_str(),
            language => self.language.as_str(),
            topic => self.topic.as_str(),
            medium => self.medium.as_str(),
            payload => json_value(&self.payload),
        }
    }
}

/// A JSON value as a template value (done by hand: minijinja's serde support is not compiled in).
fn json_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(flag) => Value::from(*flag),
        serde_json::Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(integer), _, _) => Value::from(integer),
            (None, Some(unsigned), _) => Value::from(unsigned),
            (None, None, Some(float)) => Value::from(float),
            (None, None, None) => Value::from(number.to_string()),
        },
        serde_json::Value::String(text) => Value::from(text.as_str()),
        serde_json::Value::Array(items) => items.iter().map(json_value).collect(),
        serde_json::Value::Object(fields) => {
            Value::from(fields.iter().map(|(key, value)| (key.clone(), json_value(value))).collect::<BTreeMap<String, Value>>())
        }
    }
}

fn sandbox() -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    environment.set_auto_escape_callback(|_| AutoEscape::None);
    environment.set_fuel(Some(FUEL));
    environment.set_recursion_limit(RECURSION_LIMIT);
    environment
}

/// Renders `source` against `context`. The error names the line and the problem.
pub(crate) fn render_override(source: &str, context: &OverrideContext) -> Result<String, String> {
    let environment = sandbox();
    let template = environment.template_from_str(source).map_err(|error| describe(&error, source))?;
    let output = template.render(context.to_value()).map_err(|error| describe(&error, source))?;
    let output = output.trim().to_owned();
    if output.is_empty() {
        return Err("the template rendered an empty text".to_owned());
    }
    let length = output.chars().count();
    if length > MAX_OVERRIDE_CHARS {
        return Err(format!("the template rendered {length} characters, more than {MAX_OVERRIDE_CHARS}"));
    }
    Ok(output)
}

/// The problem, with the line it is on quoted: "line 2: undefined value in `{{ tiket }}`".
/// (minijinja's `debug` feature would point at the exact expression, but costs a third more
/// compile time.)
fn describe(error: &minijinja::Error, source: &str) -> String {
    let problem = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    let Some(line) = error.line() else { return problem };
    let quoted = source.lines().nth(line.saturating_sub(1)).map(str::trim).filter(|text| !text.is_empty());
    match quoted {
        Some(text) if text.chars().count() <= 80 => format!("line {line}: {problem} in `{text}`"),
        Some(text) => format!("line {line}: {problem} in `{}…`", text.chars().take(79).collect::<String>()),
        None => format!("line {line}: {problem}"),
    }
}

/// Compiles an administrator's template and renders it against a sample payload of every topic, in
/// every language, with and without a note and an expected date, exactly as notifications would.
/// The error names the line, the problem and the sample that failed.
pub fn check_override(source: &str) -> Result<(), String> {
    sandbox().template_from_str(source).map_err(|error| describe(&error, source))?;
    let now: jiff::Timestamp = "2026-12-05T09:00:00Z".parse().map_err(|error| format!("sample clock: {error}"))?;
    for topic in TOPICS {
        for language in LANGUAGES {
            for complete in [true, false] {
                let payload = sample_payload(topic, complete);
                let request = Request {
                    topic,
                    medium: "sms",
                    language,
                    payload: &payload,
                    service_name: complete.then_some(if *language == "ar" { "إنارة الشوارع" } else { "Street lighting" }),
                    portal_url: complete.then_some("https://balagh.example.sa/r/10000047"),
                    now,
                    override_source: None,
                };
                render_override(source, &build_context(&request)).map_err(|error| {
                    format!("{error} (sample: topic {topic}, language {language}, {})", if complete { "every field set" } else { "no note, no date" })
                })?;
            }
        }
    }
    Ok(())
}

/// A realistic payload of `topic`; `complete` sets every optional field, otherwise the note, the
/// expected date and the service are absent.
fn sample_payload(topic: &str, complete: bool) -> serde_json::Value {
    let mut payload = serde_json::json!({
        "ticket": "10000047",
        "service_code": "street_light",
        "status": if topic == "closure_survey" { "closed" } else { "in_progress" },
        "language": "ar",
        "department": "lighting",
        "priority": "high",
        "level": 2,
        "round": 1,
        "step": 1,
        "reason": "75% of the resolution time used",
        "n_follow_ups": 2,
    });
    if complete {
        payload["note"] = "The team will replace the lamp post tomorrow morning.".into();
        payload["expected_at"] = "2026-12-07T12:00:00Z".into();
    } else {
        payload["note"] = serde_json::Value::Null;
        payload["expected_at"] = serde_json::Value::Null;
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> OverrideContext {
        OverrideContext {
            ticket: "10000047".into(),
            status: "In progress".into(),
            status_code: "in_progress".into(),
            language: "en".into(),
            payload: serde_json::json!({"ticket": "10000047", "department": "roads"}),
            ..OverrideContext::default()
        }
    }

    #[test]
    fn renders_a_template_against_the_context() {
        let output = render_override("Report {{ ticket }}: {{ status | upper }}{% if note %} ({{ note }}){% endif %} [{{ payload.department }}]", &context());
        assert_eq!(output.as_deref(), Ok("Report 10000047: IN PROGRESS [roads]"));
    }

    #[test]
    fn does_not_escape_text() {
        assert_eq!(render_override("{{ '<b>&' }}", &context()).as_deref(), Ok("<b>&"));
    }

    #[test]
    fn reports_errors_with_their_line() {
        fn check(source: &str, expected: &str) {
            let error = render_override(source, &context()).unwrap_err();
            assert!(error.contains(expected), "{source:?} gave {error:?}, expected it to contain {expected:?}");
        }
        check("Report {{ ticket }}\n{% if status %}", "line 2: syntax error");
        check("line one\n{{ tiket }}", "line 2: undefined value in `{{ tiket }}`");
        check("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", "out of fuel");
        check("{{ 'x' * 10000000 }}", "line 1");
        check("{{ 'a' * 9000 }}", "more than 8000");
        check("  {{ note }}  ", "empty text");
        check("{% include 'other' %}", "line 1");
    }

    #[test]
    fn missing_payload_fields_may_be_tested_but_not_printed() {
        assert_eq!(render_override("{% if payload.priority %}P{% else %}none{% endif %}", &context()).as_deref(), Ok("none"));
        assert!(render_override("{{ payload.priority }}", &context()).is_err());
        assert_eq!(render_override("{{ payload.priority | default('-') }}", &context()).as_deref(), Ok("-"));
    }

    #[test]
    fn checks_templates_against_every_topic() {
        assert_eq!(check_override("{{ ticket }} {{ status }} {{ date }} {{ payload.department }}"), Ok(()));
        let syntax = check_override("{{ ticket ").unwrap_err();
        assert!(syntax.starts_with("line 1: syntax error"), "{syntax}");
        let hole = check_override("{{ ticket }}\n{{ payload.n_follow_ups }} {{ payload.note }}").unwrap_err();
        assert!(hole.starts_with("line 2: undefined value"), "{hole}");
        assert!(hole.contains("no note, no date"), "{hole}");
        let endless = check_override("{% for i in range(99999) %}{% for j in range(99999) %}{{ i }}{% endfor %}{% endfor %}").unwrap_err();
        assert!(endless.contains("out of fuel"), "{endless}");
    }
}
