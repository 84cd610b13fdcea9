//! Routes each notification to the provider of its medium: texts to the SMS provider, calls to the
//! voice provider, and so on. A medium with no provider configured goes to the fallback (the `log`
//! provider in the embedded mode), which records what would have been sent.

use crate::{Medium, Notification, Provider, SendFuture};
use std::collections::HashMap;
use std::sync::Arc;

/// A provider per medium, and a fallback for the rest.
#[derive(Clone)]
pub struct Router {
    providers: HashMap<Medium, Arc<dyn Provider>>,
    fallback: Arc<dyn Provider>,
}

impl Router {
    pub fn new(fallback: Arc<dyn Provider>) -> Router {
        Router { providers: HashMap::new(), fallback }
    }

    /// Sends `medium` through `provider`.
    pub fn with(mut self, medium: Medium, provider: Arc<dyn Provider>) -> Router {
        self.providers.insert(medium, provider);
        self
    }

    /// The provider that takes `medium`.
    pub fn provider(&self, medium: Medium) -> &Arc<dyn Provider> {
        self.providers.get(&medium).unwrap_or(&self.fallback)
    }

    /// Which provider takes each medium, for the start-up log.
    pub fn describe(&self) -> String {
        let media = [Medium::Sms, Medium::Call, Medium::Email, Medium::Whatsapp, Medium::Webhook, Medium::Staff];
        media.iter().map(|medium| format!("{}={}", medium.as_str(), self.provider(*medium).name())).collect::<Vec<_>>().join(" ")
    }
}

impl Provider for Router {
    fn name(&self) -> &'static str {
        "router"
    }

    fn provider_name(&self, notification: &Notification) -> &'static str {
        self.provider(notification.medium).name()
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        self.provider(notification.medium).send(notification)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Delivery, SendError};

    struct Named(&'static str);

    impl Provider for Named {
        fn name(&self) -> &'static str {
            self.0
        }

        fn send<'a>(&'a self, _: &'a Notification) -> SendFuture<'a> {
            let name = self.0;
            Box::pin(async move {
                if name == "broken" { Err(SendError::Permanent { reason: "broken".into() }) } else { Ok(Delivery { provider_ref: Some(name.to_owned()) }) }
            })
        }
    }

    #[tokio::test]
    async fn each_medium_goes_to_its_provider_and_the_rest_to_the_fallback() {
        let router = Router::new(Arc::new(Named("log"))).with(Medium::Sms, Arc::new(Named("twilio-sms"))).with(Medium::Email, Arc::new(Named("broken")));
        let notification = |recipient: &str| {
            let (medium, address) = Medium::split(recipient);
            Notification {
                id: 1,
                topic: "status_changed".into(),
                recipient: recipient.into(),
                medium,
                address: address.into(),
                payload: serde_json::Value::Null,
                content: Default::default(),
                attempt: 1,
            }
        };
        assert_eq!(router.send(&notification("sms:+966512345678")).await.unwrap().provider_ref.as_deref(), Some("twilio-sms"));
        assert_eq!(router.send(&notification("call:+966512345678")).await.unwrap().provider_ref.as_deref(), Some("log"));
        assert_eq!(router.provider_name(&notification("team_lead@roads")), "log");
        assert!(router.send(&notification("email:a@b.sa")).await.is_err());
        assert_eq!(router.describe(), "sms=twilio-sms call=log email=broken whatsapp=log webhook=log staff=log");
    }
}
