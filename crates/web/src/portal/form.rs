//! The portal's report and inquiry form as the browser posts it (multipart, so photos come with
//! it), read into plain values that can be shown again when something is wrong, and turned into
//! the domain's draft and photos.

use axum::extract::Multipart;
use balagh_app::AppError;
use balagh_domain::error::{FieldError, ValidationErrors};
use balagh_domain::photo::{MAX_PHOTOS, Photo};
use balagh_domain::report::ReportDraft;
use std::collections::BTreeMap;

/// The longest text field accepted (the description has its own, lower, limit in the domain).
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// What the form sent.
#[derive(Debug, Clone, Default)]
pub struct ReportForm {
    pub csrf: String,
    pub idempotency_key: String,
    pub service_code: String,
    pub description: String,
    pub lat: String,
    pub lon: String,
    pub city: String,
    pub district: String,
    pub address: String,
    pub phone: String,
    pub name: String,
    pub email: String,
    pub language: String,
    pub preferred_channel: String,
    pub consent: bool,
    /// `attr_CODE` fields by attribute code (several values for a multiple choice).
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Each non-empty file sent as `photo`, unchecked.
    pub photos: Vec<Vec<u8>>,
}

impl ReportForm {
    /// Reads the whole form; a body that is not a multipart form, or a part that cannot be read,
    /// is a problem named for the form as a whole.
    pub async fn read(mut multipart: Multipart) -> Result<ReportForm, AppError> {
        let mut form = ReportForm::default();
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "photo" {
                let bytes = field.bytes().await.map_err(unreadable)?;
                if !bytes.is_empty() {
                    form.photos.push(bytes.to_vec());
                }
                continue;
            }
            let value = field.text().await.map_err(unreadable)?;
            if value.len() > MAX_FIELD_BYTES {
                return Err(FieldError::new(name, "text_too_long", format!("a field is over {MAX_FIELD_BYTES} bytes")).into());
            }
            form.set(&name, value);
        }
        Ok(form)
    }

    fn set(&mut self, name: &str, value: String) {
        let slot = match name {
            "csrf" => &mut self.csrf,
            "idempotency_key" => &mut self.idempotency_key,
            "service_code" => &mut self.service_code,
            "description" | "question" => &mut self.description,
            "lat" => &mut self.lat,
            "lon" => &mut self.lon,
            "city" => &mut self.city,
            "district" => &mut self.district,
            "address" => &mut self.address,
            "phone" => &mut self.phone,
            "name" => &mut self.name,
            "email" => &mut self.email,
            "language" => &mut self.language,
            "preferred_channel" => &mut self.preferred_channel,
            "consent" => {
                self.consent = !value.is_empty();
                return;
            }
            other => {
                if let Some(code) = other.strip_prefix("attr_").filter(|c| !c.is_empty()) {
                    let values = self.attributes.entry(code.to_owned()).or_default();
                    if !value.trim().is_empty() {
                        values.push(value);
                    }
                }
                return;
            }
        };
        *slot = value;
    }

    /// Whether a multiple-choice attribute has `value` selected (to show the form again).
    pub fn has_attribute(&self, code: &str, value: &str) -> bool {
        self.attributes.get(code).is_some_and(|values| values.iter().any(|v| v == value))
    }

    /// A single-valued attribute's answer (to show the form again).
    pub fn attribute(&self, code: &str) -> &str {
        self.attributes.get(code).and_then(|values| values.first()).map(String::as_str).unwrap_or_default()
    }

    /// Checks the photos (by content) and strips their metadata, and the consent; every problem
    /// is listed.
    pub fn photos_and_consent(&self) -> Result<Vec<Photo>, AppError> {
        let mut errors = ValidationErrors::default();
        if !self.consent {
            errors.add("consent", "consent", "the consent to keep the report and contact details is needed");
        }
        if self.photos.len() > MAX_PHOTOS {
            errors.add("photo", "too_many_photos", format!("at most {MAX_PHOTOS} photos can be attached"));
        }
        let mut photos = Vec::new();
        for bytes in self.photos.iter().take(MAX_PHOTOS) {
            match Photo::parse("photo", bytes) {
                Ok(photo) => photos.push(photo),
                Err(error) => errors.push(FieldError::new("photo", error.code(), error.to_string())),
            }
        }
        if errors.0.is_empty() { Ok(photos) } else { Err(errors.into()) }
    }

    /// The report this form describes, of `kind` (report, complaint or inquiry: the service
    /// decides unless the form is the inquiry form).
    pub fn draft(&self, kind: Option<&str>) -> ReportDraft {
        let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        let coordinate = |value: &str| value.trim().parse::<f64>().ok();
        let (lat, lon) = match (coordinate(&self.lat), coordinate(&self.lon)) {
            (Some(lat), Some(lon)) => (Some(lat), Some(lon)),
            _ => (None, None),
        };
        // Without a pin or an address, the chosen district and city are the address.
        let address = text(&self.address).or_else(|| {
            let parts: Vec<&str> = [self.district.trim(), self.city.trim()].into_iter().filter(|p| !p.is_empty()).collect();
            (!parts.is_empty()).then(|| parts.join("، "))
        });
        let attributes = self.attributes.iter().map(|(code, values)| (code.clone(), values.iter().map(|v| datetime_with_offset(v)).collect())).collect();
        ReportDraft {
            kind: kind.map(str::to_owned),
            service_code: text(&self.service_code),
            description: text(&self.description),
            lat,
            lon,
            address,
            city: text(&self.city),
            district: text(&self.district),
            name: text(&self.name),
            phone: text(&self.phone),
            email: text(&self.email),
            language: text(&self.language),
            preferred_channel: text(&self.preferred_channel),
            attributes,
            ..ReportDraft::default()
        }
    }
}

/// Why a multipart form could not be read: over the size limit (photos too large, in practice), or
/// not a readable multipart body at all.
fn unreadable(error: axum::extract::multipart::MultipartError) -> AppError {
    if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return FieldError::new("photo", "photo_too_large", format!("the form is larger than allowed: {}", error.body_text())).into();
    }
    FieldError::new("form", "unreadable_form", format!("the form could not be read: {}", error.body_text())).into()
}

/// A browser's `datetime-local` value (`2026-03-01T10:00`) is Riyadh time; the domain wants an
/// offset. Anything else is passed on as typed.
fn datetime_with_offset(value: &str) -> String {
    let bytes = value.as_bytes();
    let local = bytes.len() == 16 && bytes.get(10) == Some(&b'T') && bytes.get(13) == Some(&b':');
    if local { format!("{value}:00+03:00") } else { value.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_local_time_gets_riyadh_s_offset() {
        assert_eq!(datetime_with_offset("2026-03-01T10:00"), "2026-03-01T10:00:00+03:00");
        assert_eq!(datetime_with_offset("2026-03-01T10:00:00Z"), "2026-03-01T10:00:00Z");
        assert_eq!(datetime_with_offset("five"), "five");
    }

    #[test]
    fn the_draft_takes_both_coordinates_or_neither_and_a_chosen_place_as_its_address() {
        let mut form = ReportForm { lat: "26.4".into(), lon: "".into(), city: " الدمام ".into(), ..ReportForm::default() };
        let draft = form.draft(None);
        assert_eq!((draft.lat, draft.lon, draft.city.as_deref()), (None, None, Some("الدمام")));
        assert_eq!(draft.address.as_deref(), Some("الدمام"), "the city stands for the address");
        form.district = "الفيصلية".into();
        assert_eq!(form.draft(None).address.as_deref(), Some("الفيصلية، الدمام"));
        form.address = "شارع الملك سعود".into();
        assert_eq!(form.draft(None).address.as_deref(), Some("شارع الملك سعود"));
        form.lon = "50.1".into();
        assert_eq!(form.draft(Some("inquiry")).lat, Some(26.4));
        assert_eq!(form.draft(Some("inquiry")).kind.as_deref(), Some("inquiry"));
    }

    #[test]
    fn consent_and_photos_are_checked_together() {
        let form = ReportForm { photos: vec![b"not a photo".to_vec(); 4], ..ReportForm::default() };
        let Err(AppError::Validation(errors)) = form.photos_and_consent() else { panic!("refused") };
        let codes: Vec<&str> = errors.0.iter().map(|e| e.code).collect();
        assert_eq!(codes, ["consent", "too_many_photos", "not_an_image", "not_an_image", "not_an_image"]);
    }
}
