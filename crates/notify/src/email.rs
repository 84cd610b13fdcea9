//! The `email` provider: sends a notification as a multipart (plain text and HTML) message through
//! an SMTP relay with lettre, over STARTTLS, implicit TLS, or (only for a relay on the same host or
//! a trusted local network) plain SMTP.
//!
//! # What a retry can and cannot promise
//!
//! SMTP has no idempotency key: a relay cannot recognise a message it already accepted. Delivery
//! to the relay is therefore at-least-once: when the connection fails after the relay took the
//! message but before its `250` reached us, the dispatcher retries and the relay receives the
//! message a second time. Every attempt for one outbox row carries the same
//! `Message-ID: <balagh-outbox-{id}@{from domain}>`, so receiving systems and mail clients that
//! collapse messages by Message-ID recognise the repeat and show it once; Balagh promises nothing
//! more than that stable identity.
//!
//! # How failures are classified
//!
//! * 4xx replies, connection refused or reset, timeouts, and TLS failures (including a certificate
//!   the client does not trust: the relay's certificate or our trust configuration gets fixed
//!   without touching the message, and the dispatcher's bounded retries keep the message until
//!   then) are [`SendError::Temporary`].
//! * 5xx replies (550 mailbox unavailable, 553, 554, 535 authentication refused, 530 TLS or
//!   authentication required) and a recipient address that does not parse are
//!   [`SendError::Permanent`].
//!
//! * A relay that cannot serve this configuration (no `STARTTLS` offered while it is required, no
//!   common AUTH mechanism) is temporary too: it is fixed on the relay's side or in settings.
//!
//! Every reason names the relay and, for a reply, the server's code and text.
//!
//! # What else to know
//!
//! * [`Delivery::provider_ref`] is the relay's queue id when its `250` names one (`queued as …`,
//!   `id=…`), so the message can be traced in the relay's logs; otherwise the Message-ID.
//! * `Content::html` is taken as a body fragment already rendered and escaped by Balagh's templates;
//!   the provider wraps it (or, without one, the escaped plain text) in a document whose `lang` and
//!   `dir` follow the content's language.
//! * Certificates are checked against the built-in web roots (webpki-roots) plus
//!   [`EmailConfig::extra_root_certificate_pem`]; the system trust store is not read.

use crate::http::error_chain;
use crate::{Delivery, Medium, Notification, Provider, SendError, SendFuture};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::response::Response;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailSecurity {
    /// Connect in plain text and require `STARTTLS` before anything else is sent (submission,
    /// port 587). A relay that does not offer `STARTTLS` is refused.
    #[default]
    Starttls,
    /// TLS from the first byte (implicit TLS, "SMTPS", port 465).
    Tls,
    /// No encryption at all. Only for a relay on the same host or a trusted local network (a
    /// local Postfix that forwards over TLS itself): credentials and messages cross the network
    /// readable by anyone on the path.
    None,
}

impl EmailSecurity {
    /// The conventional port: 587 for `STARTTLS`, 465 for implicit TLS, 25 for plain SMTP.
    pub fn default_port(self) -> u16 {
        match self {
            EmailSecurity::Starttls => 587,
            EmailSecurity::Tls => 465,
            EmailSecurity::None => 25,
        }
    }
}

/// Where and how the email provider reaches its SMTP relay.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// The relay's host name (also the name its TLS certificate must carry) or IP address.
    pub host: String,
    pub port: u16,
    pub security: EmailSecurity,
    /// Sign in with these when both are given.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender mailbox, `Balagh 940 <noreply@balagh.example>`; its domain also ends every
    /// Message-ID.
    pub from: String,
    /// How long one network step (connecting, the TLS handshake, each reply) may take.
    pub timeout: Duration,
    /// A PEM certificate (or several) trusted as a root besides the built-in web roots: a
    /// private CA, or a test relay's self-signed certificate.
    pub extra_root_certificate_pem: Option<String>,
}

impl EmailConfig {
    /// A `STARTTLS` relay on port 587 without credentials and with a 30-second timeout.
    pub fn new(host: impl Into<String>, from: impl Into<String>) -> EmailConfig {
        EmailConfig {
            host: host.into(),
            port: EmailSecurity::Starttls.default_port(),
            security: EmailSecurity::Starttls,
            username: None,
            password: None,
            from: from.into(),
            timeout: Duration::from_secs(30),
            extra_root_certificate_pem: None,
        }
    }
}

impl fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .field("extra_root_certificate_pem", &self.extra_root_certificate_pem.as_ref().map(|_| "[certificate]"))
            .finish()
    }
}

/// Why an [`EmailConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailConfigError {
    #[error("the sender {from:?} is not a mailbox: {reason}")]
    InvalidFrom { from: String, reason: String },
    #[error("a username is configured without a password (or a password without a username)")]
    IncompleteCredentials,
    #[error("the extra root certificate cannot be used: {reason}")]
    InvalidRootCertificate { reason: String },
    #[error("the TLS settings for {host} cannot be used: {reason}")]
    Tls { host: String, reason: String },
}

/// Sends email through one SMTP relay, reusing connections between messages.
pub struct EmailProvider {
    config: EmailConfig,
    from: Mailbox,
    message_id_domain: String,
    tls: Tls,
    credentials: Option<Credentials>,
    /// Built on first use: lettre's connection pool starts a task on the current Tokio runtime,
    /// so it cannot be made before one runs.
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
}

impl fmt::Debug for EmailProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailProvider").field("config", &self.config).finish_non_exhaustive()
    }
}

impl EmailProvider {
    /// Checks the configuration (sender, credentials, certificates) so a mistake shows at start,
    /// not at the first message. Connects to nothing.
    pub fn new(config: EmailConfig) -> Result<EmailProvider, EmailConfigError> {
        let from: Mailbox = config.from.parse().map_err(|e| EmailConfigError::InvalidFrom { from: config.from.clone(), reason: format!("{e}") })?;
        let domain = from.email.domain();
        let message_id_domain = if domain.is_ascii() { domain.to_ascii_lowercase() } else { "balagh.invalid".to_owned() };
        let credentials = match (&config.username, &config.password) {
            (Some(username), Some(password)) => Some(Credentials::new(username.clone(), password.clone())),
            (None, None) => None,
            _ => return Err(EmailConfigError::IncompleteCredentials),
        };
        let tls = match config.security {
            EmailSecurity::None => Tls::None,
            EmailSecurity::Starttls => Tls::Required(tls_parameters(&config)?),
            EmailSecurity::Tls => Tls::Wrapper(tls_parameters(&config)?),
        };
        Ok(EmailProvider { config, from, message_id_domain, tls, credentials, transport: OnceLock::new() })
    }

    /// The configuration this provider was made with.
    pub fn config(&self) -> &EmailConfig {
        &self.config
    }

    /// The Message-ID every attempt of this notification carries: `<balagh-outbox-{id}@{domain}>`.
    pub fn message_id(&self, notification: &Notification) -> String {
        format!("<{}@{}>", notification.idempotency_key(), self.message_id_domain)
    }

    /// The message as it goes to the relay, for a notification whose address is an email address.
    fn message(&self, notification: &Notification) -> Result<Message, SendError> {
        if notification.medium != Medium::Email {
            return Err(SendError::Permanent { reason: format!("the email provider cannot send to a {} recipient", notification.medium.as_str()) });
        }
        let to: Address = notification
            .address
            .trim()
            .parse()
            .map_err(|e| SendError::Permanent { reason: format!("the recipient address {:?} is not an email address: {e}", notification.address) })?;
        let content = &notification.content;
        let subject: String = content.subject.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let html = html_document(&content.language, content.rtl, &subject, content.html.as_deref(), &content.text);
        let mut builder =
            Message::builder().from(self.from.clone()).to(Mailbox::new(None, to)).subject(subject).message_id(Some(self.message_id(notification))).date_now();
        if let Some(language) = language_tag(&content.language) {
            builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Content-Language"), language.to_owned()));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(content.text.clone(), html))
            .map_err(|e| SendError::Permanent { reason: format!("cannot build the message for {}: {e}", notification.address) })
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport.get_or_init(|| {
            let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.config.host.clone())
                .port(self.config.port)
                .tls(self.tls.clone())
                .timeout(Some(self.config.timeout));
            if let Some(credentials) = &self.credentials {
                builder = builder.credentials(credentials.clone());
            }
            builder.build()
        })
    }

    fn relay(&self) -> String {
        format!("{}:{}", self.config.host, self.config.port)
    }
}

impl Provider for EmailProvider {
    fn name(&self) -> &'static str {
        "email"
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        Box::pin(async move {
            let message = self.message(notification)?;
            let message_id = self.message_id(notification);
            match self.transport().send(message).await {
                Ok(response) => {
                    let provider_ref = queue_id(&response).unwrap_or(message_id);
                    Ok(Delivery { provider_ref: Some(provider_ref) })
                }
                Err(error) => Err(classify(&error, &self.relay())),
            }
        })
    }
}

fn tls_parameters(config: &EmailConfig) -> Result<TlsParameters, EmailConfigError> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(pem) = &config.extra_root_certificate_pem {
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(EmailConfigError::InvalidRootCertificate { reason: "no PEM certificate found".to_owned() });
        }
        let certificate = Certificate::from_pem(pem.as_bytes()).map_err(|e| EmailConfigError::InvalidRootCertificate { reason: error_chain(&e) })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|e| EmailConfigError::Tls { host: config.host.clone(), reason: error_chain(&e) })
}

/// Sorts a lettre error into temporary and permanent, naming the relay and the server's reply.
fn classify(error: &lettre::transport::smtp::Error, relay: &str) -> SendError {
    if let Some(code) = error.status() {
        let code = u16::from(code);
        let text = std::error::Error::source(error).map(|source| source.to_string()).unwrap_or_default();
        let reason = format!("{relay} answered {code} {}", text.trim()).trim_end().to_owned();
        return if error.is_permanent() { SendError::Permanent { reason } } else { SendError::Temporary { reason, retry_after: None } };
    }
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_tls() || is_tls_refusal(error) {
        "TLS failed"
    } else if error.is_response() {
        "gave an unreadable or incomplete reply"
    } else if error.is_client() {
        "cannot be used as configured"
    } else {
        "connection failed"
    };
    SendError::Temporary { reason: format!("{relay} {what}: {}", error_chain(error)), retry_after: None }
}

/// A TLS handshake that failed on its merits (a certificate not trusted, expired, or for another
/// name; no common protocol) rather than because the network dropped it: lettre reports those as
/// connection errors wrapping rustls' error in an `io::Error`.
fn is_tls_refusal(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref())
            && inner.is::<rustls::Error>()
        {
            return true;
        }
        current = error.source();
    }
    false
}

/// The relay's queue id from its `250` reply, when it names one (`queued as 4Fz1Lq`, `id=1abc-00`).
fn queue_id(response: &Response) -> Option<String> {
    let text = response.message().collect::<Vec<_>>().join(" ");
    let after = if let Some(index) = text.find("queued as ") {
        &text[index + "queued as ".len()..]
    } else if let Some(index) = text.find("id=") {
        &text[index + "id=".len()..]
    } else {
        return None;
    };
    let id: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '@' | '<' | '>')).collect();
    (!id.is_empty()).then_some(id)
}

/// The language tag when it looks like BCP 47 (letters, digits and hyphens), else nothing.
fn language_tag(language: &str) -> Option<&str> {
    let language = language.trim();
    let valid = !language.is_empty() && language.len() <= 35 && language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    valid.then_some(language)
}

/// The HTML part: `body_html` (a fragment rendered and escaped by Balagh's templates) or, without
/// one, the plain text escaped into paragraphs, inside a document whose `lang` and `dir` follow the
/// content's language.
pub fn html_document(language: &str, rtl: bool, subject: &str, body_html: Option<&str>, text: &str) -> String {
    let direction = if rtl { "rtl" } else { "ltr" };
    let align = if rtl { "right" } else { "left" };
    let lang = language_tag(language).map(|tag| format!(" lang=\"{}\"", escape_html(tag))).unwrap_or_default();
    let body = match body_html {
        Some(fragment) => fragment.to_owned(),
        None => text_to_html(text),
    };
    let title = escape_html(subject);
    format!(
        "<!DOCTYPE html>\n<html{lang} dir=\"{direction}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n</head>\n\
         <body dir=\"{direction}\" style=\"margin:0;padding:0\">\n\
         <div dir=\"{direction}\" style=\"direction:{direction};text-align:{align};font-family:Tahoma,Arial,sans-serif;font-size:16px;line-height:1.6;padding:16px\">\n\
         {body}\n</div>\n</body>\n</html>\n"
    )
}

/// Plain text as HTML: blank lines separate paragraphs, single line breaks stay line breaks.
fn text_to_html(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n");
    normalized
        .split("\n\n")
        .map(str::trim)
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| format!("<p>{}</p>", paragraph.lines().map(escape_html).collect::<Vec<_>>().join("<br>\n")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Escapes text for HTML element content and quoted attribute values.
pub use balagh_i18n::escape_html;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Content;

    fn provider() -> EmailProvider {
        EmailProvider::new(EmailConfig::new("mail.example", "Balagh 940 <noreply@balagh.example>")).unwrap()
    }

    fn notification(address: &str) -> Notification {
        Notification {
            id: 7,
            topic: "report.received".into(),
            recipient: format!("email:{address}"),
            medium: Medium::Email,
            address: address.into(),
            payload: serde_json::json!({}),
            content: Content {
                language: "ar".into(),
                rtl: true,
                subject: "تم استلام بلاغك".into(),
                text: "رقم البلاغ <940-1>\n\nشكراً".into(),
                ..Content::default()
            },
            attempt: 1,
        }
    }

    #[test]
    fn message_id_is_the_outbox_key_at_the_sender_domain() {
        assert_eq!(provider().message_id(&notification("a@example.com")), "<balagh-outbox-7@balagh.example>");
    }

    #[test]
    fn a_recipient_that_is_not_an_address_is_permanent_and_named() {
        let error = provider().message(&notification("not an address")).unwrap_err();
        match error {
            SendError::Permanent { reason } => assert!(reason.contains("not an address"), "{reason}"),
            other => panic!("expected permanent, got {other:?}"),
        }
    }

    #[test]
    fn html_made_from_text_is_escaped_and_right_to_left() {
        let html = html_document("ar", true, "a <b>", None, "رقم <940-1> & \"x\"\nسطر\n\nفقرة");
        assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"), "{html}");
        assert!(html.contains("<body dir=\"rtl\""), "{html}");
        assert!(html.contains("<title>a &lt;b&gt;</title>"), "{html}");
        assert!(html.contains("<p>رقم &lt;940-1&gt; &amp; &quot;x&quot;<br>\nسطر</p>\n<p>فقرة</p>"), "{html}");
    }

    #[test]
    fn html_for_english_is_left_to_right_around_the_given_fragment() {
        let html = html_document("en", false, "s", Some("<p>Hi</p>"), "Hi");
        assert!(html.contains("<html lang=\"en\" dir=\"ltr\">"), "{html}");
        assert!(html.contains("<body dir=\"ltr\""), "{html}");
        assert!(html.contains("<p>Hi</p>"), "{html}");
    }

    #[test]
    fn a_language_tag_that_is_not_bcp_47_is_left_out() {
        let html = html_document("en\"><script>", false, "s", None, "Hi");
        assert!(html.contains("<html dir=\"ltr\">"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn queue_ids_are_read_from_common_replies() {
        use lettre::transport::smtp::response::{Category, Code, Detail, Severity};
        let ok = |text: &str| Response::new(Code::new(Severity::PositiveCompletion, Category::MailSystem, Detail::Zero), vec![text.to_owned()]);
        assert_eq!(queue_id(&ok("2.0.0 Ok: queued as 4Fz1Lq0Xyz")), Some("4Fz1Lq0Xyz".to_owned()));
        assert_eq!(queue_id(&ok("OK id=1abcDE-000123-AB")), Some("1abcDE-000123-AB".to_owned()));
        assert_eq!(queue_id(&ok("2.0.0 OK")), None);
    }

    #[test]
    fn debug_redacts_the_password() {
        let mut config = EmailConfig::new("mail.example", "noreply@balagh.example");
        config.username = Some("balagh".into());
        config.password = Some("s3cret".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn a_username_without_a_password_is_refused() {
        let mut config = EmailConfig::new("mail.example", "noreply@balagh.example");
        config.username = Some("balagh".into());
        assert_eq!(EmailProvider::new(config).unwrap_err(), EmailConfigError::IncompleteCredentials);
    }
}
