//! Open311 service discovery (`discovery.{xml,json}`): who runs this endpoint, how to get an API
//! key, and the one GeoReport v2 endpoint served with its formats.

use super::format::{Document, Value};
use crate::WebConfig;

/// When this Open311 implementation last changed in a way clients could notice. Bump it with any
/// change to the output.
pub const CHANGESET: &str = "2026-12-04T00:00:00+03:00";

pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

pub fn discovery(config: &WebConfig) -> Document {
    let endpoint = Value::Record(vec![
        ("specification", Value::text(SPECIFICATION)),
        ("url", Value::text(format!("{}/open311/v2", config.public_base_url.trim_end_matches('/')))),
        ("changeset", Value::text(CHANGESET)),
        ("type", Value::text("production")),
        ("formats", Value::list("format", vec![Value::text("text/xml"), Value::text("application/json")])),
    ]);
    Document {
        root: "discovery",
        body: Value::Record(vec![
            ("changeset", Value::text(CHANGESET)),
            ("contact", Value::optional_text(Some(config.contact.clone()))),
            ("key_service", Value::optional_text(Some(config.key_service.clone()))),
            ("endpoints", Value::list("endpoint", vec![endpoint])),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::open311::format::Format;
    use expect_test::expect;

    fn config() -> WebConfig {
        WebConfig {
            public_base_url: "https://940.example.sa/".into(),
            contact: "940 center <open311@example.sa>".into(),
            key_service: "Ask the 940 administrator".into(),
            ..WebConfig::default()
        }
    }

    #[test]
    fn discovery_in_xml() {
        expect![[r#"
            <?xml version="1.0" encoding="UTF-8"?>
            <discovery>
              <changeset>2026-12-04T00:00:00+03:00</changeset>
              <contact>940 center &lt;open311@example.sa&gt;</contact>
              <key_service>Ask the 940 administrator</key_service>
              <endpoints>
                <endpoint>
                  <specification>http://wiki.open311.org/GeoReport_v2</specification>
                  <url>https://940.example.sa/open311/v2</url>
                  <changeset>2026-12-04T00:00:00+03:00</changeset>
                  <type>production</type>
                  <formats>
                    <format>text/xml</format>
                    <format>application/json</format>
                  </formats>
                </endpoint>
              </endpoints>
            </discovery>
        "#]]
        .assert_eq(&discovery(&config()).render(Format::Xml));
    }

    #[test]
    fn discovery_in_json() {
        expect![[r#"
            {
              "changeset": "2026-12-04T00:00:00+03:00",
              "contact": "940 center <open311@example.sa>",
              "key_service": "Ask the 940 administrator",
              "endpoints": [
                {
                  "specification": "http://wiki.open311.org/GeoReport_v2",
                  "url": "https://940.example.sa/open311/v2",
                  "changeset": "2026-12-04T00:00:00+03:00",
                  "type": "production",
                  "formats": [
                    "text/xml",
                    "application/json"
                  ]
                }
              ]
            }
        "#]]
        .assert_eq(&discovery(&config()).render(Format::Json));
    }
}
