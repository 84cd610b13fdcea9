//! What a deployment configures about its IVR: the markup its voice platform reads, the agents'
//! queue, voices per language, retries, the cities and districts callers choose from, and where
//! the provider's recordings live.

use balagh_voice::markup::Markup;
use std::collections::HashMap;

/// A city callers can choose, with its districts (Arabic and English names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct City {
    pub name_ar: String,
    pub name_en: String,
    pub districts: Vec<(String, String)>,
}

/// The IVR's settings.
#[derive(Debug, Clone)]
pub struct IvrSettings {
    /// TwiML for Twilio-compatible platforms, VoiceXML for on-premises browsers.
    pub markup: Markup,
    /// The queue callers wait in for an agent (`<Enqueue>`).
    pub agent_queue: String,
    /// A number or SIP address to dial instead of queueing.
    pub agent_number: Option<String>,
    /// The provider's voice per language (`ar` -> `Polly.Zeina`), else the platform's default.
    pub voices: HashMap<String, String>,
    /// How many times a prompt is asked before the caller is put through to an agent.
    pub max_attempts: u8,
    /// Seconds a menu waits for a key.
    pub gather_timeout_seconds: u32,
    /// The longest description recording, in seconds.
    pub max_recording_seconds: u32,
    /// Recording URLs must start with one of these (the provider's API), or they are refused.
    pub recording_prefixes: Vec<String>,
    pub cities: Vec<City>,
}

impl Default for IvrSettings {
    fn default() -> Self {
        Self {
            markup: Markup::Twiml,
            agent_queue: "940-agents".into(),
            agent_number: None,
            voices: HashMap::new(),
            max_attempts: 3,
            gather_timeout_seconds: 6,
            max_recording_seconds: 120,
            recording_prefixes: vec!["https://api.twilio.com/".into()],
            cities: Vec::new(),
        }
    }
}
