//! Open311's two output formats from one element tree: every answer is built once as a `Document`
//! and rendered as XML (elements named as the GeoReport v2 spec names them, an empty element for a
//! missing value) or as JSON by the spec's "Spark convention" (the same names, `null` for a missing
//! value, arrays where XML repeats an element).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;

/// The output format, chosen by the path's suffix (`services.xml`, `requests/00000018.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    /// The suffixes served, for error messages.
    pub const SUPPORTED: &'static str = ".xml and .json";

    pub fn from_suffix(suffix: &str) -> Option<Format> {
        match suffix {
            "xml" => Some(Format::Xml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xml => "text/xml; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
        }
    }
}

/// A value in an Open311 answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A missing value: JSON `null`, an empty XML element.
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
    /// A JSON array; in XML, one `<item>` element per entry inside the field's element.
    List {
        item: &'static str,
        items: Vec<Value>,
    },
    /// A JSON object; in XML, one child element per field, in this order.
    Record(Vec<(&'static str, Value)>),
}

impl Value {
    pub fn text(text: impl Into<String>) -> Value {
        Value::Text(text.into())
    }

    /// Text, or `Null` when absent or empty.
    pub fn optional_text(text: Option<impl Into<String>>) -> Value {
        match text.map(Into::into) {
            Some(text) if !text.is_empty() => Value::Text(text),
            _ => Value::Null,
        }
    }

    pub fn integer(number: i64) -> Value {
        Value::Number(number.into())
    }

    /// A decimal number; `Null` for the non-finite values JSON cannot carry.
    pub fn decimal(number: f64) -> Value {
        serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
    }

    pub fn list(item: &'static str, items: Vec<Value>) -> Value {
        Value::List { item, items }
    }
}

/// A whole answer: the XML root element's name and what it holds. JSON has no root name: a root
/// list is a JSON array, a root record a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub root: &'static str,
    pub body: Value,
}

impl Document {
    /// A root list, such as `<services><service>…</service></services>` or `[{…}]`.
    pub fn list(root: &'static str, item: &'static str, items: Vec<Value>) -> Document {
        Document { root, body: Value::list(item, items) }
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Xml => to_xml(self),
            Format::Json => to_json(&self.body),
        }
    }

    /// The HTTP answer with `status`, the body in `format` and its content type.
    pub fn respond(&self, format: Format, status: StatusCode) -> Response {
        let mut response = (status, self.render(format)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
        response
    }
}

/// Renders `document` as XML with its declaration, indented by two spaces.
pub fn to_xml(document: &Document) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write_element(&mut out, document.root, &document.body, 0);
    out
}

fn write_element(out: &mut String, name: &str, value: &Value, depth: usize) {
    let indent = "  ".repeat(depth);
    match value {
        Value::Null => {
            let _ = writeln!(out, "{indent}<{name}/>");
        }
        Value::List { items, .. } if items.is_empty() => {
            let _ = writeln!(out, "{indent}<{name}/>");
        }
        Value::Record(fields) if fields.is_empty() => {
            let _ = writeln!(out, "{indent}<{name}/>");
        }
        Value::Bool(_) | Value::Number(_) | Value::Text(_) => {
            let _ = writeln!(out, "{indent}<{name}>{}</{name}>", xml_text(&scalar_text(value)));
        }
        Value::List { item, items } => {
            let _ = writeln!(out, "{indent}<{name}>");
            for entry in items {
                write_element(out, item, entry, depth + 1);
            }
            let _ = writeln!(out, "{indent}</{name}>");
        }
        Value::Record(fields) => {
            let _ = writeln!(out, "{indent}<{name}>");
            for (field, entry) in fields {
                write_element(out, field, entry, depth + 1);
            }
            let _ = writeln!(out, "{indent}</{name}>");
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::Text(text) => text.clone(),
        Value::Null | Value::List { .. } | Value::Record(_) => String::new(),
    }
}

/// Escapes markup characters and replaces the characters XML 1.0 cannot carry at all (most C0
/// controls, U+FFFE, U+FFFF) with U+FFFD, so stored text can never break the document.
pub fn xml_text(text: &str) -> String {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}');
    let cleaned: String = text.chars().map(|c| if allowed(c) { c } else { '\u{fffd}' }).collect();
    quick_xml::escape::escape(cleaned.as_str()).into_owned()
}

/// Renders `value` as JSON, indented by two spaces, fields in their given order.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value, 0);
    out.push('\n');
    out
}

fn write_json(out: &mut String, value: &Value, depth: usize) {
    let inner = "  ".repeat(depth + 1);
    let outer = "  ".repeat(depth);
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::Text(text) => out.push_str(&serde_json::Value::String(text.clone()).to_string()),
        Value::List { items, .. } if items.is_empty() => out.push_str("[]"),
        Value::Record(fields) if fields.is_empty() => out.push_str("{}"),
        Value::List { items, .. } => {
            out.push_str("[\n");
            for (index, entry) in items.iter().enumerate() {
                out.push_str(&inner);
                write_json(out, entry, depth + 1);
                out.push_str(if index + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&outer);
            out.push(']');
        }
        Value::Record(fields) => {
            out.push_str("{\n");
            for (index, (field, entry)) in fields.iter().enumerate() {
                let _ = write!(out, "{inner}{}: ", serde_json::Value::String((*field).to_owned()));
                write_json(out, entry, depth + 1);
                out.push_str(if index + 1 < fields.len() { ",\n" } else { "\n" });
            }
            out.push_str(&outer);
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn sample() -> Document {
        Document::list(
            "things",
            "thing",
            vec![Value::Record(vec![
                ("name", Value::text("a <b> & \"c\"\u{1}")),
                ("count", Value::integer(3)),
                ("share", Value::decimal(0.5)),
                ("open", Value::Bool(true)),
                ("missing", Value::Null),
                ("tags", Value::list("tag", vec![Value::text("x"), Value::text("y")])),
                ("none", Value::list("tag", vec![])),
            ])],
        )
    }

    #[test]
    fn xml_escapes_markup_and_replaces_characters_xml_cannot_carry() {
        expect![[r#"
            <?xml version="1.0" encoding="UTF-8"?>
            <things>
              <thing>
                <name>a &lt;b&gt; &amp; &quot;c&quot;�</name>
                <count>3</count>
                <share>0.5</share>
                <open>true</open>
                <missing/>
                <tags>
                  <tag>x</tag>
                  <tag>y</tag>
                </tags>
                <none/>
              </thing>
            </things>
        "#]]
        .assert_eq(&sample().render(Format::Xml));
    }

    #[test]
    fn json_keeps_field_order_and_uses_null_for_missing_values() {
        expect![[r#"
            [
              {
                "name": "a <b> & \"c\"\u0001",
                "count": 3,
                "share": 0.5,
                "open": true,
                "missing": null,
                "tags": [
                  "x",
                  "y"
                ],
                "none": []
              }
            ]
        "#]]
        .assert_eq(&sample().render(Format::Json));
    }

    #[test]
    fn rendered_json_parses_back() {
        let parsed: serde_json::Value = serde_json::from_str(&sample().render(Format::Json)).unwrap();
        assert_eq!(parsed[0]["tags"][1], "y");
        assert!(parsed[0]["missing"].is_null());
    }

    #[test]
    fn only_xml_and_json_suffixes_are_formats() {
        assert_eq!(Format::from_suffix("xml"), Some(Format::Xml));
        assert_eq!(Format::from_suffix("json"), Some(Format::Json));
        assert_eq!(Format::from_suffix("XML"), None);
        assert_eq!(Format::from_suffix("html"), None);
    }
}
