//! The notification providers `serve` sends through, built from the checked settings: the `log`
//! provider (files under `data_dir/outbox`) takes every medium nothing else is configured for;
//! Twilio takes SMS and calls, the SMTP relay email, the Cloud API WhatsApp, and the signed
//! webhooks `webhook:<name>` recipients, each when configured.

use crate::settings::{Notifications, Settings};
use anyhow::Context;
use balagh_app::DeliverySettings;
use balagh_notify::email::{EmailConfigError, EmailProvider};
use balagh_notify::twilio::{TwilioSms, TwilioVoice};
use balagh_notify::webhook::WebhookProvider;
use balagh_notify::whatsapp::WhatsappProvider;
use balagh_notify::{LogProvider, Medium, Router};
use balagh_web::voice::VoiceConfig;
use std::path::PathBuf;
use std::sync::Arc;

/// What `serve` wires from the notification settings.
pub struct Providers {
    /// The provider of each medium, shared by every dispatcher.
    pub router: Arc<Router>,
    /// For `App::with_delivery`: public address, quiet hours, call retries, staff directory.
    pub delivery: DeliverySettings,
    /// For the voice and delivery-status webhooks: the signing token and agent routing.
    pub voice: VoiceConfig,
    /// How many dispatcher tasks to run.
    pub dispatchers: usize,
    /// Where the `log` provider files what it takes.
    pub outbox_dir: PathBuf,
}

impl Providers {
    /// Checks the notification settings and builds the providers they name. Connects to nothing:
    /// a provider that cannot be reached fails its messages (and they are retried), not the start.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Providers> {
        Providers::build(settings.notifications()?, settings.data_dir.join("outbox"))
    }

    /// Builds the router from checked settings, with the `log` provider filing under `outbox_dir`
    /// as the fallback.
    pub fn build(notifications: Notifications, outbox_dir: PathBuf) -> anyhow::Result<Providers> {
        let Notifications { twilio, whatsapp, email, webhooks, delivery, voice, dispatchers } = notifications;
        let mut router = Router::new(Arc::new(LogProvider::new(Some(outbox_dir.clone()))));
        if let Some(twilio) = twilio {
            let sms = TwilioSms::new(twilio.clone()).context("cannot set up Twilio SMS")?;
            let calls = TwilioVoice::new(twilio).context("cannot set up Twilio calls")?;
            router = router.with(Medium::Sms, Arc::new(sms)).with(Medium::Call, Arc::new(calls));
        }
        if let Some(email) = email {
            let provider = EmailProvider::new(email).map_err(|error| match error {
                EmailConfigError::InvalidFrom { .. } => anyhow::anyhow!("invalid smtp_from (BALAGH_SMTP_FROM): {error}"),
                EmailConfigError::InvalidRootCertificate { .. } => anyhow::anyhow!("invalid smtp_ca_file (BALAGH_SMTP_CA_FILE): {error}"),
                EmailConfigError::IncompleteCredentials => anyhow::anyhow!("invalid smtp_username and smtp_password: {error}"),
                EmailConfigError::Tls { .. } => anyhow::anyhow!("invalid SMTP settings (smtp_host, smtp_security, smtp_ca_file): {error}"),
            })?;
            router = router.with(Medium::Email, Arc::new(provider));
        }
        if let Some(whatsapp) = whatsapp {
            router = router.with(Medium::Whatsapp, Arc::new(WhatsappProvider::new(whatsapp).context("cannot set up WhatsApp")?));
        }
        if !webhooks.endpoints.is_empty() {
            router = router.with(Medium::Webhook, Arc::new(WebhookProvider::new(webhooks).context("cannot set up the webhooks")?));
        }
        // Staff addresses are resolved through the directory before routing; what it leaves
        // unresolved goes to the fallback.
        let mut routes: Vec<(&String, &String)> = delivery.staff_directory.iter().collect();
        routes.sort();
        for (staff, route) in routes {
            let (medium, _) = Medium::split(route);
            if router.provider(medium).name() == "log" {
                tracing::warn!(
                    "the staff directory sends '{staff}' to {route}, but no {} provider is configured: these notifications go to the log provider",
                    medium.as_str()
                );
            }
        }
        Ok(Providers { router: Arc::new(router), delivery, voice, dispatchers, outbox_dir })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn with_no_configuration_the_log_provider_takes_every_medium() {
        let settings = Settings::load(None, vars(&[])).unwrap();
        let providers = Providers::from_settings(&settings).unwrap();
        assert_eq!(providers.router.describe(), "sms=log call=log email=log whatsapp=log webhook=log staff=log");
        assert_eq!(providers.outbox_dir, PathBuf::from("balagh-data/outbox"));
        assert_eq!(providers.dispatchers, 2);
        assert_eq!(providers.delivery.public_base_url, None, "the listen address is not a public address");
        assert_eq!(providers.delivery.call_retries, vec![jiff::SignedDuration::from_mins(10), jiff::SignedDuration::from_mins(30)]);
        assert_eq!(providers.voice.auth_token, None);
        assert_eq!(providers.voice.ivr.agent_queue, "940-agents");
    }

    #[tokio::test]
    async fn each_configured_provider_takes_its_medium() {
        let dir = tempfile::tempdir().unwrap();
        let (config, directory) = (dir.path().join("balagh.toml"), dir.path().join("staff.toml"));
        std::fs::write(&directory, "\"team_lead@roads\" = \"email:lead@roads.example.sa\"\n\"*\" = \"webhook:staff\"\n").unwrap();
        let text = format!(
            "public_base_url = \"https://940.example.gov.sa/\"\nstaff_directory_file = {:?}\nstaff_language = \"en\"\ndispatchers = 3\n\
             twilio_account_sid = \"AC123\"\ntwilio_auth_token = \"tw-token\"\ntwilio_from = \"+966138000000\"\n\
             voice_voice_ar = \"Polly.Zeina\"\n\
             whatsapp_phone_number_id = \"1234567890\"\nwhatsapp_access_token = \"wa-token\"\n\
             smtp_host = \"smtp.example.sa\"\nsmtp_from = \"Balagh 940 <noreply@balagh.example.sa>\"\nsmtp_security = \"tls\"\n\
             [webhooks.staff]\nurl = \"https://ops.example.sa/balagh\"\nsecret = \"wh-secret\"\n",
            directory.display().to_string()
        );
        std::fs::write(&config, text).unwrap();
        let settings = Settings::load(Some(&config), vars(&[])).unwrap();
        let providers = Providers::from_settings(&settings).unwrap();
        assert_eq!(providers.router.describe(), "sms=twilio-sms call=twilio-voice email=email whatsapp=whatsapp webhook=webhook staff=log");
        assert_eq!(providers.dispatchers, 3);
        assert_eq!(providers.delivery.public_base_url.as_deref(), Some("https://940.example.gov.sa"));
        assert_eq!(providers.delivery.staff_language, "en");
        assert_eq!(providers.delivery.staff_directory.get("*").map(String::as_str), Some("webhook:staff"));
        assert_eq!(providers.voice.auth_token.as_deref(), Some("tw-token"));
        assert_eq!(providers.voice.ivr.voices.get("ar").map(String::as_str), Some("Polly.Zeina"));
    }
}
