//! Settings: built-in defaults, then an optional TOML file, then `BALAGH_…` environment variables,
//! then command-line flags, each overriding the one before. An unknown key in the file or an unknown
//! `BALAGH_` variable is an error that names it. `Debug` never shows secrets. The notification
//! settings (providers, staff directory, quiet hours) are checked together by
//! `Settings::notifications`, at the start of the command that sends.

use anyhow::{Context, bail};
use balagh_app::{AppError, DeliverySettings, SlaSettings};
use balagh_domain::Catalogue;
use balagh_domain::contact::{Email, PhoneNumber};
use balagh_domain::quiet_hours::QuietHours;
use balagh_ivr::IvrSettings;
use balagh_notify::Medium;
use balagh_notify::email::{EmailConfig, EmailSecurity};
use balagh_notify::twilio::TwilioConfig;
use balagh_notify::webhook::WebhookConfig;
use balagh_notify::whatsapp::WhatsappConfig;
use balagh_voice::markup::Markup;
use balagh_web::voice::VoiceConfig;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Where the embedded database (and later, media and outbox logs) live.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; by default an SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// The Open311 jurisdiction this server answers for.
    pub jurisdiction_id: Option<String>,
    /// How clients reach this server (for links and discovery); by default `http://{listen}`.
    pub public_base_url: Option<String>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Maximum database connections.
    pub max_connections: u32,
    /// Log filter, e.g. `info` or `balagh=debug,info`.
    pub log: String,
    /// The business calendars to use instead of the shipped `catalogue/calendar-eastern-province.toml`.
    pub calendars_file: Option<PathBuf>,
    /// The SLA policies to use instead of the shipped `catalogue/sla-policies.toml`.
    pub sla_policies_file: Option<PathBuf>,
    /// The escalation chains to use instead of the shipped `catalogue/escalation-chains.toml`.
    pub escalation_chains_file: Option<PathBuf>,

    /// The nightly window without automated calls to beneficiaries, Riyadh time (`22:00-08:00`).
    pub quiet_hours: String,
    /// Minutes to wait before calling again after no answer or busy; after the last, a text.
    pub call_retry_minutes: Vec<i64>,
    /// A TOML table from staff addresses (`"team_lead@roads"`, `"*"`) to where their
    /// notifications go (`"email:lead@roads.example.sa"`, `"webhook:staff"`).
    pub staff_directory_file: Option<PathBuf>,
    /// The language of staff notifications: `ar` or `en`.
    pub staff_language: String,
    /// How many notification dispatcher tasks `serve` runs.
    pub dispatchers: usize,

    /// Twilio (or a compatible service) for SMS and automated calls: the account (`AC…`).
    pub twilio_account_sid: Option<String>,
    /// The account's auth token: the API password and the key that signs Twilio's webhooks.
    pub twilio_auth_token: Option<String>,
    /// The sending number, in E.164 (calls always come from it).
    pub twilio_from: Option<String>,
    /// `MG…`: send SMS through this Messaging Service instead of from `twilio_from`.
    pub twilio_messaging_service_sid: Option<String>,
    /// A Twilio-compatible API address instead of `https://api.twilio.com`.
    pub twilio_base_url: Option<String>,
    /// The queue callers who ask for an agent wait in (`<Enqueue>`).
    pub voice_agent_queue: String,
    /// A number or SIP address to dial for an agent instead of queueing.
    pub voice_agent_number: Option<String>,
    /// The provider's voice for Arabic speech (`Polly.Zeina`), else the platform's default.
    pub voice_voice_ar: Option<String>,
    /// The provider's voice for English speech (`Polly.Joanna`), else the platform's default.
    pub voice_voice_en: Option<String>,
    /// What the IVR answers its voice platform in: `twiml` (Twilio and compatibles) or
    /// `voicexml` (VoiceXML 2.1 browsers on premises).
    pub ivr_markup: String,
    /// How many times an IVR prompt is asked before the caller is put through to an agent.
    pub ivr_max_attempts: u8,
    /// How many hours a report opened by phone waits for the caller to mark its place on a map
    /// from the link in a text message, before it goes on without it.
    pub ivr_place_wait_hours: u16,
    /// The portal's map tiles (`{z}/{x}/{y}`), loaded by visitors' browsers.
    pub portal_tile_url: String,
    /// The attribution the tile provider asks for (HTML).
    pub portal_tile_attribution: String,
    /// Balagh runs behind a reverse proxy that appends the client's address to
    /// `X-Forwarded-For` (the portal's rate limits count by that address).
    pub trust_forwarded_for: bool,

    /// The WhatsApp Business Cloud API: the business phone number's id.
    pub whatsapp_phone_number_id: Option<String>,
    /// A system user's access token.
    pub whatsapp_access_token: Option<String>,
    /// A Graph-compatible API address instead of `https://graph.facebook.com`.
    pub whatsapp_base_url: Option<String>,

    /// The SMTP relay email goes through.
    pub smtp_host: Option<String>,
    /// By default 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub smtp_port: Option<u16>,
    /// `starttls` (required), `tls` (implicit) or `none` (only for a relay on the same host).
    pub smtp_security: String,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    /// The sender mailbox, `Balagh 940 <noreply@balagh.example.sa>`.
    pub smtp_from: Option<String>,
    /// A PEM file of roots trusted besides the built-in web roots (a private CA).
    pub smtp_ca_file: Option<PathBuf>,

    /// Signed webhook endpoints by name, the address of `webhook:<name>` recipients. Only in the
    /// file, as `[webhooks.<name>]` tables.
    pub webhooks: BTreeMap<String, WebhookSettings>,
}

/// One `[webhooks.<name>]` table.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: Option<String>,
    /// The signing key shared with the receiver.
    pub secret: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8940)),
            data_dir: PathBuf::from("balagh-data"),
            database_url: None,
            jurisdiction_id: None,
            public_base_url: None,
            max_body_bytes: 64 * 1024,
            max_connections: 16,
            log: "info".into(),
            calendars_file: None,
            sla_policies_file: None,
            escalation_chains_file: None,
            quiet_hours: "22:00-08:00".into(),
            call_retry_minutes: vec![10, 30],
            staff_directory_file: None,
            staff_language: "ar".into(),
            dispatchers: 2,
            twilio_account_sid: None,
            twilio_auth_token: None,
            twilio_from: None,
            twilio_messaging_service_sid: None,
            twilio_base_url: None,
            voice_agent_queue: "940-agents".into(),
            voice_agent_number: None,
            voice_voice_ar: None,
            voice_voice_en: None,
            ivr_markup: "twiml".into(),
            ivr_max_attempts: 3,
            ivr_place_wait_hours: 24,
            portal_tile_url: balagh_web::portal::PortalConfig::default().tile_url,
            portal_tile_attribution: balagh_web::portal::PortalConfig::default().tile_attribution,
            trust_forwarded_for: false,
            whatsapp_phone_number_id: None,
            whatsapp_access_token: None,
            whatsapp_base_url: None,
            smtp_host: None,
            smtp_port: None,
            smtp_security: "starttls".into(),
            smtp_username: None,
            smtp_password: None,
            smtp_from: None,
            smtp_ca_file: None,
            webhooks: BTreeMap::new(),
        }
    }
}

/// Keys settable from the environment as `BALAGH_<KEY>` (upper case).
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "jurisdiction_id",
    "public_base_url",
    "max_body_bytes",
    "max_connections",
    "log",
    "calendars_file",
    "sla_policies_file",
    "escalation_chains_file",
    "quiet_hours",
    "call_retry_minutes",
    "staff_directory_file",
    "staff_language",
    "dispatchers",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_from",
    "twilio_messaging_service_sid",
    "twilio_base_url",
    "voice_agent_queue",
    "voice_agent_number",
    "voice_voice_ar",
    "voice_voice_en",
    "ivr_markup",
    "ivr_max_attempts",
    "ivr_place_wait_hours",
    "portal_tile_url",
    "portal_tile_attribution",
    "trust_forwarded_for",
    "whatsapp_phone_number_id",
    "whatsapp_access_token",
    "whatsapp_base_url",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "smtp_password",
    "smtp_from",
    "smtp_ca_file",
];
/// Keys settable only in the file: tables.
const FILE_ONLY_KEYS: &[&str] = &["webhooks"];
/// Keys whose environment value is taken as written, never as a TOML number or boolean (a phone
/// number such as `+966…`, a numeric id or password stays text).
const TEXT_KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "jurisdiction_id",
    "public_base_url",
    "log",
    "calendars_file",
    "sla_policies_file",
    "escalation_chains_file",
    "quiet_hours",
    "staff_directory_file",
    "staff_language",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_from",
    "twilio_messaging_service_sid",
    "twilio_base_url",
    "voice_agent_queue",
    "voice_agent_number",
    "voice_voice_ar",
    "voice_voice_en",
    "ivr_markup",
    "portal_tile_url",
    "portal_tile_attribution",
    "whatsapp_phone_number_id",
    "whatsapp_access_token",
    "whatsapp_base_url",
    "smtp_host",
    "smtp_security",
    "smtp_username",
    "smtp_password",
    "smtp_from",
    "smtp_ca_file",
];
/// Keys whose environment value is a comma-separated list (`10,30`).
const LIST_KEYS: &[&str] = &["call_retry_minutes"];
/// `BALAGH_` variables that are not settings but are read elsewhere.
const OTHER_VARIABLES: &[&str] = &["BALAGH_CONFIG", "BALAGH_BENCH_API_KEY", "BALAGH_TEST_DATABASE_URL"];

impl Settings {
    /// Loads settings from `file` (if given) and the environment `vars`.
    pub fn load(file: Option<&Path>, vars: impl Iterator<Item = (String, String)>) -> anyhow::Result<Settings> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
                text.parse::<toml::Table>().with_context(|| format!("config file {} is not valid TOML", path.display()))?
            }
            None => toml::Table::new(),
        };
        if let Some(unknown) = table.keys().find(|k| !KEYS.contains(&k.as_str()) && !FILE_ONLY_KEYS.contains(&k.as_str())) {
            bail!(
                "unknown setting '{unknown}' in {}; known settings: {}, {}",
                file.map(|p| p.display().to_string()).unwrap_or_default(),
                KEYS.join(", "),
                FILE_ONLY_KEYS.join(", ")
            );
        }
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("BALAGH_") else { continue };
            if OTHER_VARIABLES.contains(&name.as_str()) {
                continue;
            }
            let key = key.to_ascii_lowercase();
            if FILE_ONLY_KEYS.contains(&key.as_str()) {
                bail!("{name} cannot be set from the environment: write [{key}.<name>] tables in the config file");
            }
            if !KEYS.contains(&key.as_str()) {
                bail!(
                    "unknown environment variable {name}; known: {}",
                    KEYS.iter().map(|k| format!("BALAGH_{}", k.to_ascii_uppercase())).collect::<Vec<_>>().join(", ")
                );
            }
            let value = if TEXT_KEYS.contains(&key.as_str()) {
                toml::Value::String(value)
            } else if LIST_KEYS.contains(&key.as_str()) {
                env_list(&value)
            } else {
                env_value(&value)
            };
            table.insert(key, value);
        }
        Settings::deserialize(toml::Value::Table(table.clone())).map_err(|error| {
            // Name the setting at fault: the first that does not deserialize on its own.
            let culprit = table.iter().find(|(key, value)| {
                let alone = toml::Table::from_iter([((*key).clone(), (*value).clone())]);
                Settings::deserialize(toml::Value::Table(alone)).is_err()
            });
            match culprit {
                Some((key, _)) => anyhow::anyhow!("invalid settings: {}: {error}", setting_name(key)),
                None => anyhow::anyhow!("invalid settings: {error}"),
            }
        })
    }

    /// The database to use: the configured URL, or an SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("balagh.db").display()))
    }

    pub fn public_base_url(&self) -> String {
        self.public_base_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_owned()
    }

    /// The business calendars, SLA policies and escalation chains in force: each from the file its
    /// setting names, or the shipped one when unset, checked against each other and `catalogue`.
    /// A file that cannot be read or is invalid is an error naming the setting, the file and the
    /// problem (the domain's message names the calendar, rule, chain or level at fault).
    pub fn sla_settings(&self, catalogue: &Catalogue) -> anyhow::Result<SlaSettings> {
        let files = [
            SlaFile { setting: "calendars_file", field: "calendars", what: "business calendars", path: self.calendars_file.as_deref() },
            SlaFile { setting: "sla_policies_file", field: "sla_policies", what: "SLA policies", path: self.sla_policies_file.as_deref() },
            SlaFile { setting: "escalation_chains_file", field: "escalation_chains", what: "escalation chains", path: self.escalation_chains_file.as_deref() },
        ];
        let shipped = [balagh_app::sla::DEFAULT_CALENDARS, balagh_app::sla::DEFAULT_POLICIES, balagh_app::sla::DEFAULT_CHAINS];
        let mut texts = Vec::with_capacity(files.len());
        for (file, shipped) in files.iter().zip(shipped) {
            texts.push(match file.path {
                Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {} {}", file.setting, path.display()))?,
                None => shipped.to_owned(),
            });
        }
        SlaSettings::from_toml(&texts[0], &texts[1], &texts[2], catalogue).map_err(|error| {
            let (field, problem) = match error {
                AppError::Invalid(field_error) => (field_error.field, field_error.message),
                other => (String::new(), other.to_string()),
            };
            match files.iter().find(|file| file.field == field) {
                Some(SlaFile { setting, path: Some(path), .. }) => anyhow::anyhow!("invalid {setting} {}: {problem}", path.display()),
                Some(SlaFile { setting, what, path: None, .. }) => {
                    anyhow::anyhow!("the shipped {what} (used because {setting} is not set) do not fit this catalogue or the other files: {problem}")
                }
                None => anyhow::anyhow!("invalid SLA settings: {problem}"),
            }
        })
    }
}

/// A setting as a message names it: `quiet_hours (BALAGH_QUIET_HOURS)`.
fn setting_name(key: &str) -> String {
    if KEYS.contains(&key) { format!("{key} (BALAGH_{})", key.to_ascii_uppercase()) } else { key.to_owned() }
}

/// The longest wait before calling again, in minutes (a day).
const MAX_CALL_RETRY_MINUTES: i64 = 24 * 60;
/// The most dispatcher tasks one process runs.
const MAX_DISPATCHERS: usize = 64;

/// The notification settings, checked together: the providers to build, the application's
/// delivery settings and the voice webhooks' configuration. Once held, every part is valid.
#[derive(Debug)]
pub struct Notifications {
    /// Twilio SMS and calls, when configured.
    pub twilio: Option<TwilioConfig>,
    pub whatsapp: Option<WhatsappConfig>,
    pub email: Option<EmailConfig>,
    /// No endpoints when no `[webhooks.<name>]` is configured.
    pub webhooks: WebhookConfig,
    pub delivery: DeliverySettings,
    pub voice: VoiceConfig,
    pub dispatchers: usize,
}

impl Settings {
    /// The notification settings, checked: a partial provider configuration, Twilio without a
    /// public address, a bad URL, bad quiet hours or call retries, or a staff directory entry that
    /// is not an address (or names a webhook not configured) is an error naming the setting and
    /// the entry. Reads the staff directory and the SMTP CA files.
    pub fn notifications(&self) -> anyhow::Result<Notifications> {
        let public_base_url = self.public_base_url.as_deref().map(|url| checked_url("public_base_url", url, UrlKind::Base)).transpose()?;
        let quiet_hours =
            QuietHours::parse(&self.quiet_hours).map_err(|e| anyhow::anyhow!("invalid {} '{}': {e}", setting_name("quiet_hours"), self.quiet_hours))?;
        let call_retries = self
            .call_retry_minutes
            .iter()
            .map(|&minutes| {
                if (1..=MAX_CALL_RETRY_MINUTES).contains(&minutes) {
                    Ok(jiff::SignedDuration::from_mins(minutes))
                } else {
                    Err(anyhow::anyhow!("invalid {}: {minutes} is not a wait of 1 to {MAX_CALL_RETRY_MINUTES} minutes", setting_name("call_retry_minutes")))
                }
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let staff_language = self.staff_language.trim();
        if !matches!(staff_language, "ar" | "en") {
            bail!("invalid {} '{staff_language}': staff notifications are written in ar or en", setting_name("staff_language"));
        }
        if !(1..=MAX_DISPATCHERS).contains(&self.dispatchers) {
            bail!("invalid {} {}: run 1 to {MAX_DISPATCHERS} dispatcher tasks", setting_name("dispatchers"), self.dispatchers);
        }
        let twilio = self.twilio(public_base_url.is_some())?;
        let whatsapp = self.whatsapp()?;
        let email = self.email()?;
        let webhooks = self.webhook_config()?;
        let staff_directory = match &self.staff_directory_file {
            Some(path) => staff_directory(path, &webhooks)?,
            None => HashMap::new(),
        };
        let voice_agent_queue = self.voice_agent_queue.trim();
        if voice_agent_queue.is_empty() {
            bail!("{} is empty: callers who ask for an agent need a queue to wait in", setting_name("voice_agent_queue"));
        }
        let voices = [("ar", &self.voice_voice_ar), ("en", &self.voice_voice_en)]
            .into_iter()
            .filter_map(|(language, voice)| given(voice).map(|voice| (language.to_owned(), voice.to_owned())))
            .collect();
        let markup: Markup = self.ivr_markup.parse().map_err(|e| anyhow::anyhow!("invalid {}: {e}", setting_name("ivr_markup")))?;
        if !(1..=9).contains(&self.ivr_max_attempts) {
            bail!("invalid {} {}: ask 1 to 9 times", setting_name("ivr_max_attempts"), self.ivr_max_attempts);
        }
        self.place_wait()?;
        let recordings = twilio.as_ref().map(|t| t.base_url.clone()).unwrap_or_else(|| "https://api.twilio.com".into());
        let ivr = IvrSettings {
            markup,
            agent_queue: voice_agent_queue.to_owned(),
            agent_number: given(&self.voice_agent_number).map(str::to_owned),
            voices,
            max_attempts: self.ivr_max_attempts,
            recording_prefixes: vec![format!("{}/", recordings.trim_end_matches('/'))],
            cities: crate::eastern_province::cities(),
            ..IvrSettings::default()
        };
        let voice = VoiceConfig { auth_token: twilio.as_ref().map(|twilio| twilio.auth_token.clone()), ivr: std::sync::Arc::new(ivr) };
        let delivery = DeliverySettings { public_base_url, quiet_hours, call_retries, staff_directory, staff_language: staff_language.to_owned() };
        Ok(Notifications { twilio, whatsapp, email, webhooks, delivery, voice, dispatchers: self.dispatchers })
    }

    /// How long a report opened by phone waits for its place: 1 hour to 7 days.
    pub fn place_wait(&self) -> anyhow::Result<jiff::SignedDuration> {
        if !(1..=168).contains(&self.ivr_place_wait_hours) {
            bail!("invalid {} {}: wait 1 to 168 hours", setting_name("ivr_place_wait_hours"), self.ivr_place_wait_hours);
        }
        Ok(jiff::SignedDuration::from_hours(i64::from(self.ivr_place_wait_hours)))
    }

    /// The citizen portal's settings.
    pub fn portal(&self) -> anyhow::Result<balagh_web::portal::PortalConfig> {
        let tile_url = self.portal_tile_url.trim();
        if !(tile_url.contains("{z}") && tile_url.contains("{x}") && tile_url.contains("{y}")) {
            bail!("invalid {} '{tile_url}': a tile URL template needs {{z}}, {{x}} and {{y}}", setting_name("portal_tile_url"));
        }
        Ok(balagh_web::portal::PortalConfig {
            tile_url: tile_url.to_owned(),
            tile_attribution: self.portal_tile_attribution.clone(),
            cities: crate::eastern_province::cities(),
            trust_forwarded_for: self.trust_forwarded_for,
            ..balagh_web::portal::PortalConfig::default()
        })
    }

    /// Twilio, when any of its settings is given: the account, token and sender are all needed,
    /// and a public address for the TwiML and status callbacks of calls.
    fn twilio(&self, has_public_base_url: bool) -> anyhow::Result<Option<TwilioConfig>> {
        let (sid, token, from) = (given(&self.twilio_account_sid), secret(&self.twilio_auth_token), given(&self.twilio_from));
        let (service, base_url) = (given(&self.twilio_messaging_service_sid), given(&self.twilio_base_url));
        let given_settings = [
            ("twilio_account_sid", sid.is_some()),
            ("twilio_auth_token", token.is_some()),
            ("twilio_from", from.is_some()),
            ("twilio_messaging_service_sid", service.is_some()),
            ("twilio_base_url", base_url.is_some()),
        ];
        let (Some(sid), Some(token), Some(from)) = (sid, token, from) else {
            return match incomplete("Twilio", &given_settings, &["twilio_account_sid", "twilio_auth_token", "twilio_from"]) {
                Some(error) => Err(error),
                None => Ok(None),
            };
        };
        let from = PhoneNumber::parse("twilio_from", from).map_err(|e| anyhow::anyhow!("invalid {}: {}", setting_name("twilio_from"), e.message))?;
        let mut config = TwilioConfig::new(sid, token, from.as_str());
        config.messaging_service_sid = service.map(str::to_owned);
        if let Some(base_url) = base_url {
            config.base_url = checked_url("twilio_base_url", base_url, UrlKind::Base)?;
        }
        if !has_public_base_url {
            bail!(
                "Twilio is configured (twilio_account_sid) but {} is not set: calls fetch their TwiML from it and Twilio reports each message's \
                 status to it; set it to the address Twilio reaches this server at, such as https://940.example.gov.sa",
                setting_name("public_base_url")
            );
        }
        Ok(Some(config))
    }

    /// The WhatsApp Cloud API, when any of its settings is given: the phone number id and the
    /// access token are both needed.
    fn whatsapp(&self) -> anyhow::Result<Option<WhatsappConfig>> {
        let (phone_number_id, token, base_url) = (given(&self.whatsapp_phone_number_id), secret(&self.whatsapp_access_token), given(&self.whatsapp_base_url));
        let given_settings =
            [("whatsapp_phone_number_id", phone_number_id.is_some()), ("whatsapp_access_token", token.is_some()), ("whatsapp_base_url", base_url.is_some())];
        let (Some(phone_number_id), Some(token)) = (phone_number_id, token) else {
            return match incomplete("WhatsApp", &given_settings, &["whatsapp_phone_number_id", "whatsapp_access_token"]) {
                Some(error) => Err(error),
                None => Ok(None),
            };
        };
        let mut config = WhatsappConfig::new(phone_number_id, token);
        if let Some(base_url) = base_url {
            config.base_url = checked_url("whatsapp_base_url", base_url, UrlKind::Base)?;
        }
        Ok(Some(config))
    }

    /// The SMTP relay, when any of its settings is given: the host and the sender are needed,
    /// a user name and a password go together.
    fn email(&self) -> anyhow::Result<Option<EmailConfig>> {
        let (host, from) = (given(&self.smtp_host), given(&self.smtp_from));
        let (username, password) = (given(&self.smtp_username), secret(&self.smtp_password));
        let given_settings = [
            ("smtp_host", host.is_some()),
            ("smtp_from", from.is_some()),
            ("smtp_port", self.smtp_port.is_some()),
            ("smtp_username", username.is_some()),
            ("smtp_password", password.is_some()),
            ("smtp_ca_file", self.smtp_ca_file.is_some()),
        ];
        let (Some(host), Some(from)) = (host, from) else {
            return match incomplete("SMTP", &given_settings, &["smtp_host", "smtp_from"]) {
                Some(error) => Err(error),
                None => Ok(None),
            };
        };
        if host.contains(['/', ' ']) {
            bail!("invalid {} '{host}': write the relay's host name or IP address, not a URL", setting_name("smtp_host"));
        }
        let security = match self.smtp_security.trim().to_ascii_lowercase().as_str() {
            "starttls" => EmailSecurity::Starttls,
            "tls" => EmailSecurity::Tls,
            "none" => EmailSecurity::None,
            _ => bail!("invalid {} '{}': use starttls, tls or none", setting_name("smtp_security"), self.smtp_security),
        };
        let (username, password) = match (username, password) {
            (Some(username), Some(password)) => (Some(username.to_owned()), Some(password.to_owned())),
            (None, None) => (None, None),
            (Some(_), None) => bail!("smtp_username is set but {} is not: sign-in needs both", setting_name("smtp_password")),
            (None, Some(_)) => bail!("smtp_password is set but {} is not: sign-in needs both", setting_name("smtp_username")),
        };
        let port = self.smtp_port.unwrap_or(security.default_port());
        if port == 0 {
            bail!("invalid {} 0", setting_name("smtp_port"));
        }
        let extra_root_certificate_pem = match &self.smtp_ca_file {
            Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("cannot read smtp_ca_file {}", path.display()))?),
            None => None,
        };
        let mut config = EmailConfig::new(host, from);
        config.security = security;
        config.port = port;
        config.username = username;
        config.password = password;
        config.extra_root_certificate_pem = extra_root_certificate_pem;
        Ok(Some(config))
    }

    /// The `[webhooks.<name>]` endpoints, each with an http(s) URL and a secret.
    fn webhook_config(&self) -> anyhow::Result<WebhookConfig> {
        let mut config = WebhookConfig::default();
        for (name, webhook) in &self.webhooks {
            if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c.is_control()) {
                bail!("invalid webhook name {name:?} in [webhooks]: a name has no spaces (it is written webhook:<name>)");
            }
            let Some(url) = given(&webhook.url) else { bail!("webhooks.{name}.url is not set: each webhook endpoint needs the address it posts to") };
            let url = checked_url(&format!("webhooks.{name}.url"), url, UrlKind::Endpoint)?;
            let Some(secret) = secret(&webhook.secret) else {
                bail!("webhooks.{name}.secret is not set: each webhook endpoint needs the secret its requests are signed with")
            };
            config = config.with_endpoint(name, url, secret);
        }
        Ok(config)
    }
}

/// A text setting with something in it, trimmed.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|value| !value.is_empty())
}

/// A secret with something in it, as written (spaces may be part of it).
fn secret(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.trim().is_empty())
}

/// The error for a provider configured in part: which of its settings are given and which of
/// the `required` ones are not. `None` when none is given (the provider is simply not used).
fn incomplete(provider: &str, given_settings: &[(&str, bool)], required: &[&str]) -> Option<anyhow::Error> {
    let given: Vec<&str> = given_settings.iter().filter(|(_, given)| *given).map(|(key, _)| *key).collect();
    if given.is_empty() {
        return None;
    }
    let missing: Vec<String> = required.iter().filter(|key| !given.contains(key)).map(|key| setting_name(key)).collect();
    Some(anyhow::anyhow!(
        "incomplete {provider} settings: {} {} set but {} {} not; {provider} needs {}",
        given.join(", "),
        if given.len() == 1 { "is" } else { "are" },
        missing.join(" and "),
        if missing.len() == 1 { "is" } else { "are" },
        required.join(", ")
    ))
}

/// What a URL setting is for: a base address (no query or fragment; the trailing slash dropped)
/// or an endpoint posted to as written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UrlKind {
    Base,
    Endpoint,
}

/// An http or https URL, or an error naming the setting.
fn checked_url(setting: &str, text: &str, kind: UrlKind) -> anyhow::Result<String> {
    let text = text.trim();
    let setting = setting_name(setting);
    let url =
        reqwest::Url::parse(text).map_err(|e| anyhow::anyhow!("invalid {setting} '{text}': {e} (write a full address such as https://balagh.example.sa)"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        bail!("invalid {setting} '{text}': not an http or https address with a host");
    }
    if kind == UrlKind::Base && (url.query().is_some() || url.fragment().is_some()) {
        bail!("invalid {setting} '{text}': a base address has no query or fragment");
    }
    Ok(match kind {
        UrlKind::Base => text.trim_end_matches('/').to_owned(),
        UrlKind::Endpoint => text.to_owned(),
    })
}

/// Reads the staff directory: each entry a staff address (or `*`) to an `sms:`, `call:`,
/// `whatsapp:` (E.164 numbers, normalised), `email:` or `webhook:<configured name>` address.
fn staff_directory(path: &Path, webhooks: &WebhookConfig) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read staff_directory_file {}", path.display()))?;
    let table: toml::Table = text.parse().with_context(|| format!("staff_directory_file {} is not valid TOML", path.display()))?;
    let mut directory = HashMap::with_capacity(table.len());
    for (key, value) in table {
        let invalid = |problem: String| anyhow::anyhow!("invalid staff_directory_file {}: entry \"{key}\" {problem}", path.display());
        if key.trim().is_empty() {
            return Err(invalid("has no staff address".into()));
        }
        let Some(route) = value.as_str() else {
            return Err(invalid(format!("is not an address in quotes (write \"{key}\" = \"email:…\"), but {value}")));
        };
        let (medium, address) = Medium::split(route.trim());
        let address = address.trim();
        let address = match medium {
            Medium::Sms | Medium::Call | Medium::Whatsapp => {
                PhoneNumber::parse(&key, address).map_err(|e| invalid(format!("= {route:?}: {}", e.message)))?.as_str().to_owned()
            }
            Medium::Email => Email::parse(&key, address).map_err(|e| invalid(format!("= {route:?}: {}", e.message)))?.as_str().to_owned(),
            Medium::Webhook => {
                if !webhooks.endpoints.contains_key(address) {
                    let configured: Vec<&str> = webhooks.endpoints.keys().map(String::as_str).collect();
                    return Err(invalid(format!(
                        "= {route:?} names webhook '{address}', but no [webhooks.{address}] is configured (configured: {})",
                        if configured.is_empty() { "none".to_owned() } else { configured.join(", ") }
                    )));
                }
                address.to_owned()
            }
            Medium::Staff => {
                return Err(invalid(format!(
                    "= {route:?} is not an address: write sms:+9665…, call:+9665…, whatsapp:+9665…, email:name@example.sa or webhook:<name>"
                )));
            }
        };
        directory.insert(key, format!("{}:{address}", medium.as_str()));
    }
    Ok(directory)
}

/// One of the SLA files: its setting, the field the application's errors name it by, and the
/// file the setting names, if any.
struct SlaFile<'a> {
    setting: &'static str,
    field: &'static str,
    what: &'static str,
    path: Option<&'a Path>,
}

/// An environment value as TOML would read it (numbers, booleans), else as a string.
fn env_value(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table() && !v.is_array())
        .unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

/// A comma-separated environment list (`10,30`; empty for none) as a TOML array, each item a
/// number when it reads as one.
fn env_list(text: &str) -> toml::Value {
    let text = text.trim();
    if text.starts_with('[')
        && let Some(array) = format!("v = {text}").parse::<toml::Table>().ok().and_then(|mut table| table.remove("v"))
    {
        return array;
    }
    let items = text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(env_value).collect();
    toml::Value::Array(items)
}

/// A database URL with its password replaced, safe to print.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("jurisdiction_id", &self.jurisdiction_id)
            .field("public_base_url", &self.public_base_url)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_connections", &self.max_connections)
            .field("log", &self.log)
            .field("calendars_file", &self.calendars_file)
            .field("sla_policies_file", &self.sla_policies_file)
            .field("escalation_chains_file", &self.escalation_chains_file)
            .field("quiet_hours", &self.quiet_hours)
            .field("call_retry_minutes", &self.call_retry_minutes)
            .field("staff_directory_file", &self.staff_directory_file)
            .field("staff_language", &self.staff_language)
            .field("dispatchers", &self.dispatchers)
            .field("twilio_account_sid", &self.twilio_account_sid)
            .field("twilio_auth_token", &redacted(&self.twilio_auth_token))
            .field("twilio_from", &self.twilio_from)
            .field("twilio_messaging_service_sid", &self.twilio_messaging_service_sid)
            .field("twilio_base_url", &self.twilio_base_url)
            .field("voice_agent_queue", &self.voice_agent_queue)
            .field("voice_agent_number", &self.voice_agent_number)
            .field("voice_voice_ar", &self.voice_voice_ar)
            .field("voice_voice_en", &self.voice_voice_en)
            .field("ivr_markup", &self.ivr_markup)
            .field("ivr_max_attempts", &self.ivr_max_attempts)
            .field("ivr_place_wait_hours", &self.ivr_place_wait_hours)
            .field("portal_tile_url", &self.portal_tile_url)
            .field("portal_tile_attribution", &self.portal_tile_attribution)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("whatsapp_phone_number_id", &self.whatsapp_phone_number_id)
            .field("whatsapp_access_token", &redacted(&self.whatsapp_access_token))
            .field("whatsapp_base_url", &self.whatsapp_base_url)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &redacted(&self.smtp_password))
            .field("smtp_from", &self.smtp_from)
            .field("smtp_ca_file", &self.smtp_ca_file)
            .field("webhooks", &self.webhooks)
            .finish()
    }
}

impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings").field("url", &self.url).field("secret", &redacted(&self.secret)).finish()
    }
}

/// A secret as `Debug` shows it: whether it is set, never what it is.
fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "[redacted]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("balagh.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nmax_body_bytes = 1000\njurisdiction_id = \"eastern\"\n").unwrap();
        let settings = Settings::load(Some(&file), vars(&[("BALAGH_MAX_BODY_BYTES", "2000"), ("PATH", "/bin")])).unwrap();
        assert_eq!(settings.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(settings.max_body_bytes, 2000);
        assert_eq!(settings.jurisdiction_id.as_deref(), Some("eastern"));
        assert_eq!(settings.database_url(), "sqlite://balagh-data/balagh.db");
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("balagh.toml");
        std::fs::write(&file, "colour = \"red\"\n").unwrap();
        let error = Settings::load(Some(&file), vars(&[])).unwrap_err().to_string();
        assert!(error.contains("unknown setting 'colour'"), "{error}");
        let error = Settings::load(None, vars(&[("BALAGH_LISTN", "1")])).unwrap_err().to_string();
        assert!(error.contains("BALAGH_LISTN"), "{error}");
        let error = Settings::load(None, vars(&[("BALAGH_LISTEN", "not an address")])).unwrap_err().to_string();
        assert!(error.contains("invalid settings"), "{error}");
    }

    #[test]
    fn debug_never_shows_the_database_password() {
        let settings = Settings::load(None, vars(&[("BALAGH_DATABASE_URL", "postgres://balagh:s3cret@db.example:5432/balagh")])).unwrap();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://balagh:***@db.example:5432/balagh"), "{shown}");
    }

    #[test]
    fn sla_files_come_from_the_file_or_the_environment_and_a_bad_one_names_its_setting_and_problem() {
        let catalogue = Catalogue::from_toml(include_str!("../../../catalogue/eastern-province.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (config, chains, broken) = (dir.path().join("balagh.toml"), dir.path().join("chains.toml"), dir.path().join("broken.toml"));
        std::fs::write(&chains, balagh_app::sla::DEFAULT_CHAINS.replace("follow_up_idle_hours = 14", "follow_up_idle_hours = 3")).unwrap();
        std::fs::write(&broken, balagh_app::sla::DEFAULT_CHAINS.replace("targets = [\"mayors_office\"]", "targets = [\"night_watchman\"]")).unwrap();
        std::fs::write(&config, format!("escalation_chains_file = {:?}\n", broken.display().to_string())).unwrap();

        let shipped = Settings::load(None, vars(&[])).unwrap().sla_settings(&catalogue).unwrap();
        assert_eq!(shipped.chains.follow_up_idle_minutes(), 14 * 60);
        let from_file = Settings::load(Some(&config), vars(&[])).unwrap();
        let error = format!("{:#}", from_file.sla_settings(&catalogue).unwrap_err());
        assert!(error.contains("invalid escalation_chains_file") && error.contains("broken.toml"), "{error}");
        assert!(error.contains("unknown target 'night_watchman'"), "{error}");
        let chains_env = chains.display().to_string();
        let from_env = Settings::load(Some(&config), vars(&[("BALAGH_ESCALATION_CHAINS_FILE", &chains_env)])).unwrap();
        assert_eq!(from_env.sla_settings(&catalogue).unwrap().chains.follow_up_idle_minutes(), 3 * 60, "the environment beats the file");

        let missing = Settings::load(None, vars(&[("BALAGH_CALENDARS_FILE", "/nonexistent/calendars.toml")])).unwrap();
        let error = format!("{:#}", missing.sla_settings(&catalogue).unwrap_err());
        assert!(error.contains("cannot read calendars_file /nonexistent/calendars.toml"), "{error}");
    }

    #[test]
    fn environment_lists_are_comma_separated_and_text_settings_stay_text() {
        let settings = Settings::load(
            None,
            vars(&[
                ("BALAGH_CALL_RETRY_MINUTES", "5, 15,45"),
                ("BALAGH_TWILIO_FROM", "+966138000000"),
                ("BALAGH_WHATSAPP_PHONE_NUMBER_ID", "1234567890"),
                ("BALAGH_SMTP_PASSWORD", "1234"),
                ("BALAGH_SMTP_PORT", "2525"),
                ("BALAGH_DISPATCHERS", "4"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.call_retry_minutes, vec![5, 15, 45]);
        assert_eq!(settings.twilio_from.as_deref(), Some("+966138000000"));
        assert_eq!(settings.whatsapp_phone_number_id.as_deref(), Some("1234567890"));
        assert_eq!(settings.smtp_password.as_deref(), Some("1234"));
        assert_eq!((settings.smtp_port, settings.dispatchers), (Some(2525), 4));
        let none = Settings::load(None, vars(&[("BALAGH_CALL_RETRY_MINUTES", "")])).unwrap();
        assert!(none.call_retry_minutes.is_empty(), "an empty list: no second call, a text at once");
        let error = Settings::load(None, vars(&[("BALAGH_DISPATCHERS", "two")])).unwrap_err().to_string();
        assert!(error.contains("invalid settings: dispatchers (BALAGH_DISPATCHERS)"), "{error}");
        let error = Settings::load(None, vars(&[("BALAGH_WEBHOOKS", "x")])).unwrap_err().to_string();
        assert!(error.contains("BALAGH_WEBHOOKS cannot be set from the environment"), "{error}");
    }

    #[test]
    fn debug_never_shows_provider_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("balagh.toml");
        std::fs::write(&file, "[webhooks.gis]\nurl = \"https://gis.example.sa/hook\"\nsecret = \"wh-s3cret\"\n").unwrap();
        let secrets = [
            ("BALAGH_TWILIO_ACCOUNT_SID", "AC123"),
            ("BALAGH_TWILIO_AUTH_TOKEN", "tw-s3cret"),
            ("BALAGH_TWILIO_FROM", "+966138000000"),
            ("BALAGH_WHATSAPP_PHONE_NUMBER_ID", "1234567890"),
            ("BALAGH_WHATSAPP_ACCESS_TOKEN", "wa-s3cret"),
            ("BALAGH_SMTP_HOST", "smtp.example.sa"),
            ("BALAGH_SMTP_FROM", "noreply@balagh.example.sa"),
            ("BALAGH_SMTP_USERNAME", "balagh"),
            ("BALAGH_SMTP_PASSWORD", "smtp-s3cret"),
        ];
        let settings = Settings::load(Some(&file), vars(&secrets)).unwrap();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("twilio_auth_token: Some(\"[redacted]\")") && shown.contains("https://gis.example.sa/hook"), "{shown}");
        let settings = Settings { public_base_url: Some("https://940.example.gov.sa".into()), ..settings };
        let shown = format!("{:?}", settings.notifications().unwrap());
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    /// The error of `Settings::notifications` for a config file (and a staff directory file).
    fn notifications_error(config: &str, staff_directory: Option<&str>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        if let Some(entries) = staff_directory {
            let path = dir.path().join("staff.toml");
            std::fs::write(&path, entries).unwrap();
            text.push_str(&format!("staff_directory_file = {:?}\n", path.display().to_string()));
        }
        text.push_str(config);
        let file = dir.path().join("balagh.toml");
        std::fs::write(&file, text).unwrap();
        let settings = Settings::load(Some(&file), vars(&[])).unwrap();
        match settings.notifications() {
            Ok(notifications) => panic!("accepted {config:?} {staff_directory:?}: {notifications:?}"),
            Err(error) => format!("{error:#}"),
        }
    }

    #[test]
    fn notification_settings_are_refused_with_a_message_naming_the_setting() {
        let check = |config: &str, expected: &str| {
            let error = notifications_error(config, None);
            assert!(error.contains(expected), "{config:?}: {error}");
        };
        let twilio = "twilio_account_sid = \"AC123\"\ntwilio_auth_token = \"token\"\ntwilio_from = \"+966138000000\"\n";
        check("twilio_account_sid = \"AC123\"\n", "incomplete Twilio settings: twilio_account_sid is set but twilio_auth_token (BALAGH_TWILIO_AUTH_TOKEN)");
        check("twilio_auth_token = \"token\"\n", "twilio_account_sid (BALAGH_TWILIO_ACCOUNT_SID) and twilio_from (BALAGH_TWILIO_FROM) are not");
        check(twilio, "Twilio is configured (twilio_account_sid) but public_base_url (BALAGH_PUBLIC_BASE_URL) is not set");
        check(&format!("public_base_url = \"https://940.example.gov.sa\"\n{twilio}twilio_base_url = \"api.example\"\n"), "invalid twilio_base_url");
        check(&twilio.replace("+966138000000", "12"), "invalid twilio_from (BALAGH_TWILIO_FROM): '12' is not a valid phone number");
        check("public_base_url = \"940.example.gov.sa\"\n", "invalid public_base_url (BALAGH_PUBLIC_BASE_URL) '940.example.gov.sa'");
        check("public_base_url = \"ftp://940.example.gov.sa\"\n", "not an http or https address");
        check("quiet_hours = \"25:00-08:00\"\n", "invalid quiet_hours (BALAGH_QUIET_HOURS) '25:00-08:00': '25:00' is not a time of day");
        check("quiet_hours = \"late\"\n", "are not written as HH:MM-HH:MM");
        check("call_retry_minutes = [10, 0]\n", "invalid call_retry_minutes (BALAGH_CALL_RETRY_MINUTES): 0 is not a wait");
        check("staff_language = \"fr\"\n", "invalid staff_language (BALAGH_STAFF_LANGUAGE) 'fr'");
        check("dispatchers = 0\n", "invalid dispatchers (BALAGH_DISPATCHERS) 0");
        check("whatsapp_access_token = \"t\"\n", "incomplete WhatsApp settings: whatsapp_access_token is set but whatsapp_phone_number_id");
        check("smtp_host = \"smtp.example.sa\"\n", "incomplete SMTP settings: smtp_host is set but smtp_from (BALAGH_SMTP_FROM) is not");
        let smtp = "smtp_host = \"smtp.example.sa\"\nsmtp_from = \"noreply@balagh.example.sa\"\n";
        check(&format!("{smtp}smtp_security = \"ssl\"\n"), "invalid smtp_security (BALAGH_SMTP_SECURITY) 'ssl': use starttls, tls or none");
        check(&format!("{smtp}smtp_username = \"balagh\"\n"), "smtp_username is set but smtp_password (BALAGH_SMTP_PASSWORD) is not");
        check(&format!("{smtp}smtp_ca_file = \"/nonexistent/ca.pem\"\n"), "cannot read smtp_ca_file /nonexistent/ca.pem");
        check(&smtp.replace("smtp.example.sa", "smtp://smtp.example.sa"), "invalid smtp_host");
        check("[webhooks.gis]\nurl = \"gis.example.sa/hook\"\nsecret = \"s\"\n", "invalid webhooks.gis.url 'gis.example.sa/hook'");
        check("[webhooks.gis]\nurl = \"https://gis.example.sa/hook\"\n", "webhooks.gis.secret is not set");
    }

    #[test]
    fn each_staff_directory_entry_must_be_an_address_and_is_refused_naming_its_key() {
        let check = |config: &str, entries: &str, expected: &str| {
            let error = notifications_error(config, Some(entries));
            assert!(error.contains("invalid staff_directory_file") && error.contains(expected), "{entries:?}: {error}");
        };
        let webhook = "[webhooks.staff]\nurl = \"https://ops.example.sa/hook\"\nsecret = \"s\"\n";
        check("", "\"team_lead@roads\" = \"lead@roads.example.sa\"\n", "entry \"team_lead@roads\" = \"lead@roads.example.sa\" is not an address");
        check("", "\"team_lead@roads\" = \"fax:+966138000000\"\n", "entry \"team_lead@roads\"");
        check("", "mayors_office = \"sms:12\"\n", "entry \"mayors_office\" = \"sms:12\": '12' is not a valid phone number");
        check("", "mayors_office = \"email:mayor\"\n", "entry \"mayors_office\" = \"email:mayor\": 'mayor' is not a valid email address");
        check(
            "",
            "\"*\" = \"webhook:staff\"\n",
            "entry \"*\" = \"webhook:staff\" names webhook 'staff', but no [webhooks.staff] is configured (configured: none)",
        );
        check(webhook, "\"*\" = \"webhook:ops\"\n", "no [webhooks.ops] is configured (configured: staff)");
        check("", "mayors_office = 966\n", "entry \"mayors_office\" is not an address in quotes");

        let dir = tempfile::tempdir().unwrap();
        let (config, directory) = (dir.path().join("balagh.toml"), dir.path().join("staff.toml"));
        std::fs::write(&directory, "\"team_lead@roads\" = \"email:lead@roads.example.sa\"\nmayors_office = \"call:0512345678\"\n\"*\" = \"webhook:staff\"\n")
            .unwrap();
        std::fs::write(&config, format!("staff_directory_file = {:?}\n{webhook}", directory.display().to_string())).unwrap();
        let settings = Settings::load(Some(&config), vars(&[])).unwrap().notifications().unwrap();
        let directory = settings.delivery.staff_directory;
        assert_eq!(directory.get("team_lead@roads").map(String::as_str), Some("email:lead@roads.example.sa"));
        assert_eq!(directory.get("mayors_office").map(String::as_str), Some("call:+966512345678"), "numbers are normalised to E.164");
        assert_eq!(directory.get("*").map(String::as_str), Some("webhook:staff"));
    }
}
