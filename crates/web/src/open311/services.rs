//! The catalogue as Open311 shows it: the service list (`services.{fmt}`) and each service's
//! definition with its attributes (`services/{service_code}.{fmt}`), in the negotiated language.

use super::error::Open311Error;
use super::format::{Document, Value};
use super::locale::Lang;
use balagh_domain::Catalogue;
use balagh_domain::catalogue::{Attribute, Service};

/// Every service of the catalogue.
pub fn service_list(catalogue: &Catalogue, lang: Lang) -> Document {
    Document::list("services", "service", catalogue.services.iter().map(|service| service_entry(catalogue, service, lang)).collect())
}

fn service_entry(catalogue: &Catalogue, service: &Service, lang: Lang) -> Value {
    let keywords = match lang {
        Lang::Ar => &service.keywords_ar,
        Lang::En => &service.keywords_en,
    };
    let group = catalogue.group(&service.group).map_or(service.group.as_str(), |group| lang.pick(&group.name_ar, &group.name_en));
    Value::Record(vec![
        ("service_code", Value::text(service.code.clone())),
        ("service_name", Value::text(lang.pick(&service.name_ar, &service.name_en))),
        ("description", Value::optional_text(Some(lang.pick(&service.description_ar, &service.description_en)))),
        ("metadata", Value::Bool(!service.attributes.is_empty())),
        // Balagh answers every request with its ticket at once: no tokens, no black boxes.
        ("type", Value::text("realtime")),
        ("keywords", Value::optional_text(Some(keywords.join(", ")))),
        ("group", Value::text(group)),
    ])
}

/// The definition of the service `code`, or 404 when the catalogue has none.
pub fn service_definition(catalogue: &Catalogue, code: &str, lang: Lang) -> Result<Document, Open311Error> {
    let service = catalogue.service(code).ok_or_else(|| Open311Error::not_found(format!("service_code '{code}' is not in the catalogue")))?;
    let attributes = service.ordered_attributes().into_iter().map(|attribute| attribute_entry(attribute, lang)).collect();
    Ok(Document {
        root: "service_definition",
        body: Value::Record(vec![("service_code", Value::text(service.code.clone())), ("attributes", Value::list("attribute", attributes))]),
    })
}

fn attribute_entry(attribute: &Attribute, lang: Lang) -> Value {
    let datatype_description = match lang {
        Lang::Ar => attribute.datatype_description_ar.as_deref(),
        Lang::En => attribute.datatype_description_en.as_deref(),
    };
    let values = attribute
        .values
        .iter()
        .map(|value| Value::Record(vec![("key", Value::text(value.key.clone())), ("name", Value::text(lang.pick(&value.name_ar, &value.name_en)))]))
        .collect();
    Value::Record(vec![
        ("variable", Value::Bool(attribute.variable)),
        ("code", Value::text(attribute.code.clone())),
        ("datatype", Value::text(attribute.datatype.as_str())),
        ("required", Value::Bool(attribute.required)),
        ("datatype_description", Value::optional_text(datatype_description)),
        ("order", Value::integer(i64::from(attribute.order))),
        ("description", Value::text(lang.pick(&attribute.description_ar, &attribute.description_en))),
        ("values", Value::list("value", values)),
    ])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::open311::format::Format;
    use expect_test::expect;

    /// A two-service catalogue for the Open311 snapshots.
    pub(crate) fn catalogue() -> Catalogue {
        Catalogue::from_toml(
            r#"
version = 1
[[departments]]
code = "roads"
name_ar = "الطرق"
name_en = "Roads department"
[[groups]]
code = "roads"
name_ar = "الطرق والأرصفة"
name_en = "Roads and pavements"
icon = "road"
[[services]]
code = "pothole"
group = "roads"
department = "roads"
name_ar = "حفرة في الطريق"
name_en = "Pothole"
description_ar = "حفرة أو تلف في الإسفلت"
description_en = "A hole in the road"
keywords_ar = ["حفرة", "إسفلت"]
keywords_en = ["pothole", "asphalt"]
default_priority = "normal"
location_required = true
[[services.attributes]]
code = "hazards"
datatype = "multivaluelist"
required = false
order = 2
description_ar = "ما المخاطر؟"
description_en = "What hazards are there?"
[[services.attributes.values]]
key = "water"
name_ar = "مياه"
name_en = "Water"
[[services.attributes.values]]
key = "traffic"
name_ar = "حركة مرور"
name_en = "Traffic"
[[services.attributes]]
code = "depth_cm"
datatype = "number"
required = true
order = 1
description_ar = "العمق بالسنتيمتر"
description_en = "Depth in cm"
datatype_description_ar = "رقم، مثل 10"
datatype_description_en = "A number, e.g. 10"
[[services]]
code = "general-inquiry"
group = "roads"
department = "roads"
name_ar = "استفسار"
name_en = "Inquiry"
description_ar = "استفسار عام"
description_en = "A general question"
default_priority = "low"
location_required = false
kind = "inquiry"
"#,
        )
        .unwrap()
    }

    #[test]
    fn a_service_definition_in_xml_lists_attributes_in_order() {
        let document = service_definition(&catalogue(), "pothole", Lang::En).unwrap();
        expect![[r#"
            <?xml version="1.0" encoding="UTF-8"?>
            <service_definition>
              <service_code>pothole</service_code>
              <attributes>
                <attribute>
                  <variable>true</variable>
                  <code>depth_cm</code>
                  <datatype>number</datatype>
                  <required>true</required>
                  <datatype_description>A number, e.g. 10</datatype_description>
                  <order>1</order>
                  <description>Depth in cm</description>
                  <values/>
                </attribute>
                <attribute>
                  <variable>true</variable>
                  <code>hazards</code>
                  <datatype>multivaluelist</datatype>
                  <required>false</required>
                  <datatype_description/>
                  <order>2</order>
                  <description>What hazards are there?</description>
                  <values>
                    <value>
                      <key>water</key>
                      <name>Water</name>
                    </value>
                    <value>
                      <key>traffic</key>
                      <name>Traffic</name>
                    </value>
                  </values>
                </attribute>
              </attributes>
            </service_definition>
        "#]]
        .assert_eq(&document.render(Format::Xml));
    }

    #[test]
    fn a_service_definition_in_json_speaks_arabic_by_default() {
        let document = service_definition(&catalogue(), "pothole", Lang::Ar).unwrap();
        expect![[r#"
            {
              "service_code": "pothole",
              "attributes": [
                {
                  "variable": true,
                  "code": "depth_cm",
                  "datatype": "number",
                  "required": true,
                  "datatype_description": "رقم، مثل 10",
                  "order": 1,
                  "description": "العمق بالسنتيمتر",
                  "values": []
                },
                {
                  "variable": true,
                  "code": "hazards",
                  "datatype": "multivaluelist",
                  "required": false,
                  "datatype_description": null,
                  "order": 2,
                  "description": "ما المخاطر؟",
                  "values": [
                    {
                      "key": "water",
                      "name": "مياه"
                    },
                    {
                      "key": "traffic",
                      "name": "حركة مرور"
                    }
                  ]
                }
              ]
            }
        "#]]
        .assert_eq(&document.render(Format::Json));
    }

    #[test]
    fn the_service_list_says_which_services_have_attributes() {
        let document = service_list(&catalogue(), Lang::En);
        expect![[r#"
            [
              {
                "service_code": "pothole",
                "service_name": "Pothole",
                "description": "A hole in the road",
                "metadata": true,
                "type": "realtime",
                "keywords": "pothole, asphalt",
                "group": "Roads and pavements"
              },
              {
                "service_code": "general-inquiry",
                "service_name": "Inquiry",
                "description": "A general question",
                "metadata": false,
                "type": "realtime",
                "keywords": null,
                "group": "Roads and pavements"
              }
            ]
        "#]]
        .assert_eq(&document.render(Format::Json));
    }

    #[test]
    fn an_unknown_service_code_is_not_found() {
        let error = service_definition(&catalogue(), "moon", Lang::En).unwrap_err();
        assert_eq!(error.status, axum::http::StatusCode::NOT_FOUND);
        assert!(error.errors[0].description.contains("'moon'"));
    }
}
