//! Administrators' own notification texts: a minijinja template per topic, medium and language
//! that replaces the built-in Fluent text without a rebuild. A template is checked (compiled and
//! rendered in the sandbox against sample reports) before it is stored, so a broken one is refused
//! with the problem named; if one still fails on a real message, the built-in text goes out and the
//! failure is kept on the outbox row.

use crate::{App, AppError, only_administrators};
use balagh_domain::FieldError;
use balagh_domain::event::Actor;
use balagh_store::StoredTemplate;

/// The topics a template may be written for.
pub const TOPICS: &[&str] = &[
    "received",
    "place_requested",
    "place_expired",
    "status_changed",
    "public_comment",
    "closure_survey",
    "escalated",
    "follow_up_received",
    "call_fallback",
    "assigned",
    "escalation",
    "follow_up",
];

/// The media a template may be written for.
pub const MEDIA: &[&str] = &["sms", "call", "email", "whatsapp", "webhook", "staff"];

/// The longest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 8 * 1024;

impl App {
    /// Every template override (administrators only).
    pub async fn templates(&self, viewer: &Actor) -> Result<Vec<StoredTemplate>, AppError> {
        only_administrators(viewer, "manage notification templates")?;
        Ok(self.store.db.templates().await?)
    }

    /// Sets the override of `topic`, `medium` and `language` after checking it renders.
    pub async fn set_template(&self, viewer: &Actor, topic: &str, medium: &str, language: &str, source: &str) -> Result<StoredTemplate, AppError> {
        only_administrators(viewer, "manage notification templates")?;
        check_key(topic, medium, language)?;
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(FieldError::new(
                "source",
                "too_long",
                format!("a template may have at most {MAX_TEMPLATE_BYTES} bytes, this one has {}", source.len()),
            )
            .into());
        }
        if source.trim().is_empty() {
            return Err(FieldError::new("source", "required", "the template is empty").into());
        }
        balagh_i18n::check_override(source)
            .map_err(|problem| FieldError::new("source", "template_error", format!("the template does not render: {problem}")))?;
        let template = StoredTemplate {
            topic: topic.to_owned(),
            medium: medium.to_owned(),
            language: language.to_owned(),
            source: source.to_owned(),
            updated_at: self.now().as_microsecond(),
            updated_by: viewer.id.clone(),
        };
        self.store.db.set_template(&template).await?;
        Ok(template)
    }

    /// Removes an override: the built-in text is used again.
    pub async fn delete_template(&self, viewer: &Actor, topic: &str, medium: &str, language: &str) -> Result<(), AppError> {
        only_administrators(viewer, "manage notification templates")?;
        if self.store.db.delete_template(topic, medium, language).await? {
            Ok(())
        } else {
            Err(AppError::not_found(format!("template override for {topic}/{medium}/{language}")))
        }
    }
}

fn check_key(topic: &str, medium: &str, language: &str) -> Result<(), AppError> {
    let unknown = |field: &'static str, value: &str, allowed: &[&str]| {
        AppError::from(FieldError::new(field, "unknown", format!("'{value}' is not one of {}", allowed.join(", "))))
    };
    if !TOPICS.contains(&topic) {
        return Err(unknown("topic", topic, TOPICS));
    }
    if !MEDIA.contains(&medium) {
        return Err(unknown("medium", medium, MEDIA));
    }
    if !balagh_i18n::LANGUAGES.contains(&language) {
        return Err(unknown("language", language, balagh_i18n::LANGUAGES));
    }
    Ok(())
}
