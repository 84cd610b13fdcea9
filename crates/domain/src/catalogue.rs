//! The service catalogue: what the municipality takes reports about, which department handles each
//! service, and the extra questions (Open311 attributes) a service asks. Loaded from a TOML data
//! file (the default is `catalogue/eastern-province.toml`) and validated as a whole.

use crate::error::{FieldError, ValidationErrors};
use crate::vocabulary::{ContactKind, Priority};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// The whole catalogue. Once constructed through `Catalogue::new` or `from_toml`, every service's
/// group and department exist and every code is unique.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub version: u32,
    pub departments: Vec<Department>,
    pub groups: Vec<Group>,
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub code: String,
    pub name_ar: String,
    pub name_en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub code: String,
    pub name_ar: String,
    pub name_en: String,
    pub icon: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub code: String,
    pub group: String,
    pub department: String,
    pub name_ar: String,
    pub name_en: String,
    pub description_ar: String,
    pub description_en: String,
    #[serde(default)]
    pub keywords_ar: Vec<String>,
    #[serde(default)]
    pub keywords_en: Vec<String>,
    pub default_priority: Priority,
    pub location_required: bool,
    /// The kind of contact this service opens when the client does not say (inquiry services).
    #[serde(default = "default_kind")]
    pub kind: ContactKind,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

fn default_kind() -> ContactKind {
    ContactKind::Report
}

/// Open311 attribute datatypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    String,
    Number,
    Datetime,
    Text,
    Singlevaluelist,
    Multivaluelist,
}

impl Datatype {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Datetime => "datetime",
            Self::Text => "text",
            Self::Singlevaluelist => "singlevaluelist",
            Self::Multivaluelist => "multivaluelist",
        }
    }

    pub fn is_list(self) -> bool {
        matches!(self, Self::Singlevaluelist | Self::Multivaluelist)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    pub code: String,
    pub datatype: Datatype,
    pub required: bool,
    #[serde(default = "yes")]
    pub variable: bool,
    pub order: u32,
    pub description_ar: String,
    pub description_en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datatype_description_ar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datatype_description_en: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<AttributeValue>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeValue {
    pub key: String,
    pub name_ar: String,
    pub name_en: String,
}

/// A validated answer to one attribute, as stored on the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeAnswer {
    One(String),
    Many(Vec<String>),
}

/// The longest answer accepted for a string or text attribute, in characters.
const MAX_ANSWER_CHARS: usize = 4000;

impl Catalogue {
    /// Parses and validates a catalogue file's text.
    pub fn from_toml(text: &str) -> Result<Self, CatalogueError> {
        let catalogue: Catalogue = toml::from_str(text).map_err(|e| CatalogueError::Parse(e.to_string()))?;
        catalogue.validated()
    }

    /// Checks cross references and codes; returns the catalogue unchanged when it is sound.
    pub fn validated(self) -> Result<Self, CatalogueError> {
        let mut problems = Vec::new();
        let code_ok =
            |code: &str| !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        let mut seen = HashSet::new();
        for department in &self.departments {
            if !code_ok(&department.code) || !seen.insert(("department", department.code.as_str())) {
                problems.push(format!("department code '{}' is invalid or repeated", department.code));
            }
        }
        for group in &self.groups {
            if !code_ok(&group.code) || !seen.insert(("group", group.code.as_str())) {
                problems.push(format!("group code '{}' is invalid or repeated", group.code));
            }
        }
        for service in &self.services {
            if !code_ok(&service.code) || !seen.insert(("service", service.code.as_str())) {
                problems.push(format!("service code '{}' is invalid or repeated", service.code));
            }
            if !self.departments.iter().any(|d| d.code == service.department) {
                problems.push(format!("service '{}' names unknown department '{}'", service.code, service.department));
            }
            if !self.groups.iter().any(|g| g.code == service.group) {
                problems.push(format!("service '{}' names unknown group '{}'", service.code, service.group));
            }
            let mut attribute_codes = HashSet::new();
            for attribute in &service.attributes {
                if !code_ok(&attribute.code) || !attribute_codes.insert(attribute.code.as_str()) {
                    problems.push(format!("service '{}' attribute '{}' is invalid or repeated", service.code, attribute.code));
                }
                if attribute.datatype.is_list() == attribute.values.is_empty() {
                    problems.push(format!("service '{}' attribute '{}': list datatypes need values and others must have none", service.code, attribute.code));
                }
            }
        }
        if problems.is_empty() { Ok(self) } else { Err(CatalogueError::Invalid(problems)) }
    }

    pub fn service(&self, code: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.code == code)
    }

    pub fn department(&self, code: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.code == code)
    }

    pub fn group(&self, code: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.code == code)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

impl Service {
    /// The service's attributes in their Open311 `order`.
    pub fn ordered_attributes(&self) -> Vec<&Attribute> {
        let mut attributes: Vec<&Attribute> = self.attributes.iter().collect();
        attributes.sort_by_key(|a| a.order);
        attributes
    }

    /// Validates the answers given for this service's attributes: required ones present, values
    /// of the right type, list answers among the allowed keys, no unknown attributes. Every problem
    /// is reported, under the field name `attribute[code]`.
    pub fn validate_answers(&self, answers: &BTreeMap<String, Vec<String>>) -> Result<BTreeMap<String, AttributeAnswer>, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut accepted = BTreeMap::new();
        for code in answers.keys() {
            if !self.attributes.iter().any(|a| &a.code == code) {
                errors.add(format!("attribute[{code}]"), "unknown_attribute", format!("service '{}' has no attribute '{code}'", self.code));
            }
        }
        // Attributes with `variable = false` are notices shown to the beneficiary, not questions.
        for attribute in self.ordered_attributes().into_iter().filter(|a| a.variable) {
            let field = format!("attribute[{}]", attribute.code);
            let given: Vec<&str> = answers.get(&attribute.code).map(|v| v.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect()).unwrap_or_default();
            if given.is_empty() {
                if attribute.required {
                    errors.add(field, "missing_required_attribute", format!("attribute '{}' is required: {}", attribute.code, attribute.description_en));
                }
                continue;
            }
            if attribute.datatype != Datatype::Multivaluelist && given.len() > 1 {
                errors.add(field, "too_many_values", format!("attribute '{}' takes one value, got {}", attribute.code, given.len()));
                continue;
            }
            let answer = match attribute.datatype {
                Datatype::String | Datatype::Text => {
                    if given[0].chars().count() > MAX_ANSWER_CHARS || given[0].contains('\0') {
                        errors.add(
                            field,
                            "invalid_attribute_value",
                            format!("attribute '{}' must be text of at most {MAX_ANSWER_CHARS} characters", attribute.code),
                        );
                        continue;
                    }
                    AttributeAnswer::One(given[0].to_owned())
                }
                Datatype::Number => match given[0].parse::<f64>() {
                    Ok(n) if n.is_finite() => AttributeAnswer::One(given[0].to_owned()),
                    _ => {
                        errors.add(field, "invalid_attribute_value", format!("attribute '{}' must be a number, got '{}'", attribute.code, given[0]));
                        continue;
                    }
                },
                Datatype::Datetime => match given[0].parse::<jiff::Timestamp>() {
                    Ok(at) => AttributeAnswer::One(at.to_string()),
                    Err(_) => {
                        errors.add(
                            field,
                            "invalid_attribute_value",
                            format!("attribute '{}' must be a date and time with an offset, such as 2026-03-01T10:00:00+03:00", attribute.code),
                        );
                        continue;
                    }
                },
                Datatype::Singlevaluelist | Datatype::Multivaluelist => {
                    let unknown: Vec<&str> = given.iter().copied().filter(|g| !attribute.values.iter().any(|v| v.key == *g)).collect();
                    if !unknown.is_empty() {
                        let allowed: Vec<&str> = attribute.values.iter().map(|v| v.key.as_str()).collect();
                        errors.add(
                            field,
                            "invalid_attribute_value",
                            format!("attribute '{}' does not allow '{}'; allowed: {}", attribute.code, unknown.join(", "), allowed.join(", ")),
                        );
                        continue;
                    }
                    if attribute.datatype == Datatype::Multivaluelist {
                        let mut keys: Vec<String> = given.iter().map(|s| (*s).to_owned()).collect();
                        keys.dedup();
                        AttributeAnswer::Many(keys)
                    } else {
                        AttributeAnswer::One(given[0].to_owned())
                    }
                }
            };
            accepted.insert(attribute.code.clone(), answer);
        }
        errors.into_result(|| accepted)
    }
}

/// Why a catalogue file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogueError {
    #[error("catalogue file does not parse: {0}")]
    Parse(String),
    #[error("catalogue is inconsistent: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl From<CatalogueError> for FieldError {
    fn from(error: CatalogueError) -> Self {
        FieldError::new("catalogue", "invalid_catalogue", error.to_string())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SMALL: &str = r#"
version = 1
[[departments]]
code = "roads"
name_ar = "الطرق"
name_en = "Roads"
[[groups]]
code = "roads"
name_ar = "الطرق"
name_en = "Roads"
icon = "road"
[[services]]
code = "pothole"
group = "roads"
department = "roads"
name_ar = "حفرة"
name_en = "Pothole"
description_ar = "حفرة في الطريق"
description_en = "A hole in the road"
default_priority = "normal"
location_required = true
[[services.attributes]]
code = "size"
datatype = "singlevaluelist"
required = true
order = 2
description_ar = "الحجم"
description_en = "Size"
[[services.attributes.values]]
key = "small"
name_ar = "صغيرة"
name_en = "Small"
[[services.attributes.values]]
key = "large"
name_ar = "كبيرة"
name_en = "Large"
[[services.attributes]]
code = "depth"
datatype = "number"
required = false
order = 1
description_ar = "العمق"
description_en = "Depth in cm"
[[services.attributes]]
code = "hazards"
datatype = "multivaluelist"
required = false
order = 3
description_ar = "مخاطر"
description_en = "Hazards"
[[services.attributes.values]]
key = "water"
name_ar = "ماء"
name_en = "Water"
[[services.attributes.values]]
key = "traffic"
name_ar = "مرور"
name_en = "Traffic"
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
"#;

    pub(crate) fn small() -> Catalogue {
        Catalogue::from_toml(SMALL).unwrap()
    }

    fn answers(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect())).collect()
    }

    #[test]
    fn the_shipped_catalogue_is_sound_and_large_enough() {
        let text = include_str!("../../../catalogue/eastern-province.toml");
        let catalogue = Catalogue::from_toml(text).unwrap();
        assert!(catalogue.services.len() >= 25);
        assert!(catalogue.departments.len() >= 8);
        assert!(catalogue.services.iter().filter(|s| !s.attributes.is_empty()).count() >= 5);
    }

    #[test]
    fn unknown_keys_and_dangling_references_are_refused() {
        let extra = SMALL.replace("version = 1", "version = 1\ncolour = \"red\"");
        assert!(matches!(Catalogue::from_toml(&extra), Err(CatalogueError::Parse(m)) if m.contains("colour")));
        let dangling = SMALL.replace("department = \"roads\"\nname_ar = \"حفرة\"", "department = \"nowhere\"\nname_ar = \"حفرة\"");
        assert!(matches!(Catalogue::from_toml(&dangling), Err(CatalogueError::Invalid(p)) if p[0].contains("nowhere")));
    }

    #[test]
    fn attribute_answers_are_checked_all_at_once() {
        let catalogue = small();
        let pothole = catalogue.service("pothole").unwrap();
        let errors = pothole.validate_answers(&answers(&[("depth", &["deep"]), ("hazards", &["fire"]), ("colour", &["red"])])).unwrap_err();
        let codes: Vec<(&str, &str)> = errors.0.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            vec![
                ("attribute[colour]", "unknown_attribute"),
                ("attribute[depth]", "invalid_attribute_value"),
                ("attribute[size]", "missing_required_attribute"),
                ("attribute[hazards]", "invalid_attribute_value"),
            ]
        );
        let ok = pothole.validate_answers(&answers(&[("size", &["large"]), ("hazards", &["water", "traffic"])])).unwrap();
        assert_eq!(ok["hazards"], AttributeAnswer::Many(vec!["water".into(), "traffic".into()]));
    }
}
