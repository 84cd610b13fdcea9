//! How an outbox row becomes a message: where it goes (a staff address through the staff
//! directory), whether it may go now (no automated calls to beneficiaries in quiet hours), and what
//! it says (the built-in text in the recipient's language, or an administrator's override), with
//! the addresses a provider calls back (the update call's TwiML, the delivery status callback).

use balagh_domain::Catalogue;
use balagh_domain::quiet_hours::QuietHours;
use balagh_notify::{CallContent, Content, Medium, Notification, WhatsappTemplate};
use balagh_store::{StoredOutbox, StoredTemplate};
use balagh_voice::dialog::{Dialog, Verb};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;

/// Notification settings of a deployment.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Balagh's public address (`https://940.example.gov.sa`), from which providers fetch call
    /// TwiML and to which they post status callbacks; without it calls only speak and no status is
    /// reported.
    pub public_base_url: Option<String>,
    pub quiet_hours: QuietHours,
    /// Waits before calling again after no answer or busy; after the last, a text instead.
    pub call_retries: Vec<SignedDuration>,
    /// Staff addresses (`team_lead@roads`, `user:u-17`, `mayors_office`) to a medium and address
    /// (`email:…`, `sms:+966…`, `call:+966…`, `webhook:name`); `*` is the fallback. Without an
    /// entry a staff notification goes to the log provider.
    pub staff_directory: HashMap<String, String>,
    /// The language of staff notifications.
    pub staff_language: String,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            public_base_url: None,
            quiet_hours: QuietHours::default(),
            call_retries: vec![SignedDuration::from_mins(10), SignedDuration::from_mins(30)],
            staff_directory: HashMap::new(),
            staff_language: "ar".into(),
        }
    }
}

impl DeliverySettings {
    /// The URL of one of Balagh's provider-facing endpoints.
    pub fn url(&self, path: &str) -> Option<String> {
        self.public_base_url.as_ref().map(|base| format!("{}{path}", base.trim_end_matches('/')))
    }

    /// Where the update call of outbox row `id` fetches its TwiML.
    pub fn update_call_path(id: i64) -> String {
        format!("/voice/updates/{id}")
    }

    /// Where the provider reports the delivery of outbox row `id`.
    pub fn status_callback_path(id: i64) -> String {
        format!("/notify/twilio/status/{id}")
    }
}

/// An outbox row ready for a provider, or held.
pub enum Prepared {
    Send {
        notification: Box<Notification>,
        segments: Option<u32>,
        note: Option<String>,
    },
    /// A call in quiet hours: try again at this instant.
    Hold(Timestamp),
}

/// Everything a pass needs to render rows: the settings, the catalogue and the overrides in force.
pub struct Renderer<'a> {
    pub settings: &'a DeliverySettings,
    pub catalogue: &'a Catalogue,
    pub overrides: HashMap<(String, String, String), String>,
}

impl<'a> Renderer<'a> {
    pub fn new(settings: &'a DeliverySettings, catalogue: &'a Catalogue, templates: Vec<StoredTemplate>) -> Self {
        let overrides = templates.into_iter().map(|t| ((t.topic, t.medium, t.language), t.source)).collect();
        Renderer { settings, catalogue, overrides }
    }

    /// Routes, checks quiet hours and renders one claimed row at `now`.
    pub fn prepare(&self, row: &StoredOutbox, now: Timestamp) -> Prepared {
        let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap_or_else(|_| serde_json::Value::String(row.payload.clone()));
        let (written_medium, written_address) = Medium::split(&row.recipient);
        let to_staff = written_medium == Medium::Staff;
        let (medium, address) = if to_staff { self.staff_route(written_address) } else { (written_medium, written_address.to_owned()) };
        let emergency = payload.get("priority").and_then(|p| p.as_str()) == Some("emergency");
        if medium == Medium::Call
            && !(to_staff && emergency)
            && let Some(until) = self.settings.quiet_hours.next_allowed(now)
        {
            return Prepared::Hold(until);
        }
        let language = if to_staff {
            self.settings.staff_language.clone()
        } else {
            balagh_i18n::negotiate(payload.get("language").and_then(|l| l.as_str()).unwrap_or("ar")).to_owned()
        };
        let service_name = payload
            .get("service_code")
            .and_then(|c| c.as_str())
            .and_then(|code| self.catalogue.service(code))
            .map(|service| if language == "ar" { service.name_ar.clone() } else { service.name_en.clone() });
        let key = (row.topic.clone(), medium.as_str().to_owned(), language.clone());
        let rendered = balagh_i18n::render(&balagh_i18n::Request {
            topic: &row.topic,
            medium: medium.as_str(),
            language: &language,
            payload: &payload,
            service_name: service_name.as_deref(),
            portal_url: None,
            now,
            override_source: self.overrides.get(&key).map(String::as_str),
        });
        let note = rendered.override_error.as_ref().map(|error| format!("the template override failed, so the built-in text was sent: {error}"));
        let call = (medium == Medium::Call).then(|| match self.settings.url(&DeliverySettings::update_call_path(row.id)) {
            Some(url) => CallContent::Url(url),
            None => CallContent::Twiml(speech_only_twiml(rendered.speech.as_deref().unwrap_or(&rendered.text), &language)),
        });
        let content = Content {
            language: language.clone(),
            rtl: rendered.rtl,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            call,
            whatsapp_template: rendered.whatsapp_template.map(|(name, parameters)| WhatsappTemplate { name, language: language.clone(), parameters }),
            whatsapp_session_open: false,
            status_callback: self.settings.url(&DeliverySettings::status_callback_path(row.id)),
        };
        let attempt = u32::try_from(row.attempts).unwrap_or(u32::MAX).saturating_add(1);
        let notification = Notification { id: row.id, topic: row.topic.clone(), recipient: row.recipient.clone(), medium, address, payload, content, attempt };
        Prepared::Send { notification: Box::new(notification), segments: rendered.segments.map(|s| s.count), note }
    }

    /// A staff address's medium and address from the directory (exact entry, then `*`), or the
    /// address itself for the log provider.
    fn staff_route(&self, address: &str) -> (Medium, String) {
        match self.settings.staff_directory.get(address).or_else(|| self.settings.staff_directory.get("*")) {
            Some(route) => {
                let (medium, to) = Medium::split(route);
                (medium, to.to_owned())
            }
            None => (Medium::Staff, address.to_owned()),
        }
    }
}

/// A call that only speaks (no keypad menu: without a public address the provider cannot call
/// Balagh back).
fn speech_only_twiml(speech: &str, language: &str) -> String {
    let say = Verb::Say { language: say_language(language).to_owned(), voice: None, text: speech.to_owned() };
    balagh_voice::twiml::render(&Dialog::new(say_language(language), vec![say]))
}

/// The `<Say language>` code for a Balagh language.
pub fn say_language(language: &str) -> &'static str {
    match language {
        "ar" => "ar-SA",
        "en" => "en-US",
        "fr" => "fr-FR",
        "es" => "es-ES",
        "ru" => "ru-RU",
        "zh" => "cmn-CN",
        "ur" => "ur-PK",
        "hi" => "hi-IN",
        "bn" => "bn-IN",
        "id" => "id-ID",
        "tl" => "fil-PH",
        _ => "ar-SA",
    }
}
