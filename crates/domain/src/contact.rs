//! The beneficiary's contact details, each a value that is valid once constructed: phone numbers in
//! E.164 (Saudi local forms such as 05XXXXXXXX accepted), email addresses, and served languages.

use crate::digits::to_ascii_digits;
use crate::error::FieldError;
use crate::vocabulary::Channel;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A phone number in E.164 form, e.g. `+966512345678`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number as a person in Saudi Arabia would write it: `0512345678`, `512345678`,
    /// `966512345678`, `00966 51 234 5678`, `+966512345678`, in ASCII or Arabic-Indic digits, or any
    /// international number with its `+` or `00` prefix.
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldError> {
        let ascii = to_ascii_digits(input.trim());
        let invalid = || FieldError::new(field, "invalid_phone", format!("'{}' is not a valid phone number", input.trim()));
        if ascii.is_empty() || ascii.len() > 32 {
            return Err(invalid());
        }
        if !ascii.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.')) {
            return Err(invalid());
        }
        let compact: String = ascii.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
        let international = if let Some(rest) = compact.strip_prefix("00") {
            format!("+{rest}")
        } else if compact.starts_with("966") && compact.len() == 12 {
            format!("+{compact}")
        } else {
            compact
        };
        let parsed = phonenumber::parse(Some(phonenumber::country::Id::SA), &international).map_err(|_| invalid())?;
        if !phonenumber::is_valid(&parsed) {
            return Err(invalid());
        }
        Ok(Self(parsed.format().mode(phonenumber::Mode::E164).to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last `n` digits, which the beneficiary proves he knows when tracking without a login.
    pub fn last_digits(&self, n: usize) -> &str {
        &self.0[self.0.len().saturating_sub(n)..]
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse("phone", &value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, checked for shape only (delivery proves the rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        let invalid = || FieldError::new(field, "invalid_email", format!("'{trimmed}' is not a valid email address"));
        if trimmed.len() > 254 || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = trimmed.split_once('@').ok_or_else(invalid)?;
        if local.is_empty() || domain.contains('@') || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(invalid());
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The languages Balagh serves: Arabic first, English, the other UN languages, and the languages
/// that residents of Saudi Arabia most often speak.
pub const SERVED_LANGUAGES: &[&str] =
    &["ar", "en", "fr", "es", "ru", "zh", "ur", "hi", "bn", "fil", "id", "ml", "ta", "te", "ne", "fa", "tr", "am", "so", "ps", "si", "sw", "ti", "om"];

/// A served language, as its lowercase ISO 639 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Language(&'static str);

impl Language {
    pub const ARABIC: Language = Language("ar");
    pub const ENGLISH: Language = Language("en");

    /// Accepts a served language's code, or a BCP 47 tag whose primary subtag is one (`ar-SA`).
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldError> {
        let lowered = input.trim().to_ascii_lowercase();
        let primary = lowered.split(['-', '_']).next().unwrap_or_default();
        let primary = if primary == "tl" { "fil" } else { primary };
        SERVED_LANGUAGES.iter().find(|code| **code == primary).map(|code| Language(code)).ok_or_else(|| {
            FieldError::new(field, "unsupported_language", format!("'{}' is not a language Balagh serves: {}", input.trim(), SERVED_LANGUAGES.join(", ")))
        })
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl Default for Language {
    fn default() -> Self {
        Self::ARABIC
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// How to reach the beneficiary. All of it is personal data: never in public output.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub name: Option<String>,
    pub phone: Option<PhoneNumber>,
    pub email: Option<Email>,
    pub language: Language,
    pub preferred_channel: Option<Channel>,
    /// Open311 `device_id` and `account_id`, kept private like the rest.
    pub device_id: Option<String>,
    pub account_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_phone(input: &str, expected: Option<&str>) {
        let got = PhoneNumber::parse("phone", input).ok().map(|p| p.as_str().to_owned());
        assert_eq!(got.as_deref(), expected, "input {input:?}");
    }

    #[test]
    fn saudi_and_international_phone_numbers_normalise_to_e164() {
        check_phone("0512345678", Some("+966512345678"));
        check_phone("512345678", Some("+966512345678"));
        check_phone("966512345678", Some("+966512345678"));
        check_phone("00966 51 234 5678", Some("+966512345678"));
        check_phone("+966 51-234-5678", Some("+966512345678"));
        check_phone("٠٥١٢٣٤٥٦٧٨", Some("+966512345678"));
        check_phone("0138331234", Some("+966138331234"));
        check_phone("+44 20 7946 0958", Some("+442079460958"));
        check_phone("", None);
        check_phone("12", None);
        check_phone("05123", None);
        check_phone("phone me", None);
        check_phone("05123456789012345678901234567890123", None);
    }

    #[test]
    fn email_shape_is_checked() {
        assert!(Email::parse("email", "a@example.sa").is_ok());
        assert!(Email::parse("email", "a@b").is_err());
        assert!(Email::parse("email", "a b@example.sa").is_err());
        assert!(Email::parse("email", "@example.sa").is_err());
    }

    #[test]
    fn languages_accept_tags_and_refuse_unserved_ones() {
        assert_eq!(Language::parse("language", "ar-SA").unwrap(), Language::ARABIC);
        assert_eq!(Language::parse("language", "EN").unwrap(), Language::ENGLISH);
        assert_eq!(Language::parse("language", "tl").unwrap().as_str(), "fil");
        assert_eq!(Language::parse("language", "xx").unwrap_err().code, "unsupported_language");
    }
}
