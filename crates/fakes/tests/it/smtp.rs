//! The email provider against the fake SMTP relay, over real TCP and TLS on 127.0.0.1.

use balagh_fakes::smtp::{CloseAt, FakeSmtp, FakeSmtpOptions};
use balagh_notify::email::{EmailConfig, EmailProvider, EmailSecurity};
use balagh_notify::{Content, Medium, Notification, Provider, SendError};
use std::time::Duration;

const USERNAME: &str = "balagh";
const PASSWORD: &str = "correct horse battery staple";

async fn relay() -> FakeSmtp {
    FakeSmtp::start(FakeSmtpOptions::default().with_credentials(USERNAME, PASSWORD).requiring_tls()).await
}

fn config(server: &FakeSmtp) -> EmailConfig {
    let mut config = EmailConfig::new(server.host(), "Balagh 940 <noreply@balagh.example>");
    config.port = server.port();
    config.username = Some(USERNAME.to_owned());
    config.password = Some(PASSWORD.to_owned());
    config.timeout = Duration::from_secs(10);
    config.extra_root_certificate_pem = Some(server.certificate_pem().to_owned());
    config
}

fn provider(server: &FakeSmtp) -> EmailProvider {
    EmailProvider::new(config(server)).expect("valid email configuration")
}

fn arabic() -> Content {
    Content {
        language: "ar".to_owned(),
        rtl: true,
        subject: "تم استلام بلاغك رقم 940-000123".to_owned(),
        text: "شكراً لتواصلك مع أمانة المنطقة.\nرقم البلاغ: 940-000123\n\nسنبلغك عند معالجته.".to_owned(),
        html: None,
        ..Content::default()
    }
}

fn english() -> Content {
    Content {
        language: "en".to_owned(),
        rtl: false,
        subject: "We received your report 940-000124".to_owned(),
        text: "Thank you. Your report number is 940-000124.".to_owned(),
        html: Some("<p>Thank you. Your report number is <strong>940-000124</strong>.</p>".to_owned()),
        ..Content::default()
    }
}

fn notification(id: i64, address: &str, content: Content) -> Notification {
    Notification {
        id,
        topic: "report.received".to_owned(),
        recipient: format!("email:{address}"),
        medium: Medium::Email,
        address: address.to_owned(),
        payload: serde_json::json!({ "ticket": "940-000123" }),
        content,
        attempt: 1,
    }
}

#[track_caller]
fn expect_permanent(result: Result<balagh_notify::Delivery, SendError>, needle: &str) -> String {
    match result {
        Err(SendError::Permanent { reason }) => {
            assert!(reason.contains(needle), "the reason {reason:?} should name {needle:?}");
            reason
        }
        other => panic!("expected a permanent failure naming {needle:?}, got {other:?}"),
    }
}

#[track_caller]
fn expect_temporary(result: Result<balagh_notify::Delivery, SendError>, needle: &str) -> String {
    match result {
        Err(SendError::Temporary { reason, .. }) => {
            assert!(reason.contains(needle), "the reason {reason:?} should name {needle:?}");
            reason
        }
        other => panic!("expected a temporary failure naming {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn an_arabic_message_arrives_over_starttls_with_auth_as_right_to_left_multipart() {
    let server = relay().await;
    let provider = provider(&server);
    let notification = notification(7, "citizen@example.sa", arabic());

    let delivery = provider.send(&notification).await.expect("delivered");

    assert_eq!(delivery.provider_ref.as_deref(), Some("FAKE00000001"), "the relay's queue id is kept");
    let received = server.received();
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert!(mail.over_tls, "the message must only travel after STARTTLS");
    assert_eq!(mail.authenticated_as.as_deref(), Some(USERNAME));
    assert_eq!(mail.from, "noreply@balagh.example");
    assert_eq!(mail.to, vec!["citizen@example.sa".to_owned()]);
    assert_eq!(mail.subject().as_deref(), Some("تم استلام بلاغك رقم 940-000123"));
    assert_eq!(mail.message_id().as_deref(), Some("<balagh-outbox-7@balagh.example>"));
    assert_eq!(mail.header("Content-Language").as_deref(), Some("ar"));
    assert_eq!(mail.content_type().as_deref(), Some("multipart/alternative"));
    let text = mail.text().expect("a text/plain part");
    assert_eq!(text.replace("\r\n", "\n").trim_end(), arabic().text);
    let html = mail.html().expect("a text/html part");
    assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"), "{html}");
    assert!(html.contains("<body dir=\"rtl\""), "{html}");
    assert!(html.contains("<div dir=\"rtl\""), "{html}");
    assert!(html.contains("رقم البلاغ: 940-000123"), "{html}");

    provider.send(&notification).await.expect("delivered again");
    let received = server.received();
    assert_eq!(received.len(), 2, "SMTP has no idempotency key: a second send is a second message");
    assert_eq!(received[1].message_id(), received[0].message_id(), "every attempt carries the same Message-ID");
}

#[tokio::test]
async fn an_english_message_is_left_to_right_with_its_own_html() {
    let server = relay().await;
    let provider = provider(&server);

    provider.send(&notification(8, "resident@example.com", english())).await.expect("delivered");

    let mail = &server.received()[0];
    assert_eq!(mail.subject().as_deref(), Some("We received your report 940-000124"));
    assert_eq!(mail.header("Content-Language").as_deref(), Some("en"));
    let html = mail.html().expect("a text/html part");
    assert!(html.contains("<html lang=\"en\" dir=\"ltr\">"), "{html}");
    assert!(html.contains("<body dir=\"ltr\""), "{html}");
    assert!(html.contains("<strong>940-000124</strong>"), "{html}");
    assert!(!html.contains("rtl"), "{html}");
}

#[tokio::test]
async fn implicit_tls_from_the_first_byte_delivers_too() {
    let server = FakeSmtp::start(FakeSmtpOptions::default().with_credentials(USERNAME, PASSWORD).with_implicit_tls()).await;
    let mut config = config(&server);
    config.security = EmailSecurity::Tls;

    EmailProvider::new(config).unwrap().send(&notification(9, "citizen@example.sa", arabic())).await.expect("delivered");

    assert!(server.received()[0].over_tls);
}

#[tokio::test]
async fn a_wrong_password_is_permanent_and_names_535() {
    let server = relay().await;
    let mut config = config(&server);
    config.password = Some("wrong".to_owned());

    let result = EmailProvider::new(config).unwrap().send(&notification(10, "citizen@example.sa", arabic())).await;

    expect_permanent(result, "535");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_rejected_recipient_is_permanent_and_names_550_and_the_address() {
    let server = relay().await;
    server.reject_recipient("gone@example.sa");

    let result = provider(&server).send(&notification(11, "gone@example.sa", arabic())).await;

    let reason = expect_permanent(result, "550");
    assert!(reason.contains("gone@example.sa"), "{reason}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_451_reply_is_temporary_and_the_retry_is_delivered() {
    let server = relay().await;
    server.fail_next_messages_temporarily(1);
    let provider = provider(&server);
    let mut notification = notification(12, "citizen@example.sa", arabic());

    expect_temporary(provider.send(&notification).await, "451");
    assert!(server.received().is_empty());

    notification.attempt = 2;
    provider.send(&notification).await.expect("the retry is delivered");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_connection_dropped_after_the_data_is_temporary_and_the_repeat_carries_the_same_message_id() {
    let server = relay().await;
    server.close_next_connections(1, CloseAt::AfterData);
    let provider = provider(&server);
    let notification = notification(13, "citizen@example.sa", arabic());

    let reason = expect_temporary(provider.send(&notification).await, "127.0.0.1");
    provider.send(&notification).await.expect("the retry is delivered");

    let received = server.received();
    assert_eq!(received.len(), 2, "at-least-once: the relay had the first copy already ({reason})");
    assert_eq!(received[0].message_id().as_deref(), Some("<balagh-outbox-13@balagh.example>"));
    assert_eq!(received[1].message_id(), received[0].message_id());
}

#[tokio::test]
async fn a_relay_that_is_down_is_temporary() {
    let server = relay().await;
    let provider = provider(&server);
    server.stop().await;

    let reason = expect_temporary(provider.send(&notification(14, "citizen@example.sa", arabic())).await, "connection failed");
    assert!(reason.to_ascii_lowercase().contains("refused"), "{reason}");
}

#[tokio::test]
async fn a_relay_requiring_tls_refuses_a_plain_connection() {
    let server = FakeSmtp::start(FakeSmtpOptions::default().requiring_tls()).await;
    let mut config = config(&server);
    config.security = EmailSecurity::None;
    config.username = None;
    config.password = None;

    let result = EmailProvider::new(config).unwrap().send(&notification(15, "citizen@example.sa", arabic())).await;

    expect_permanent(result, "530 5.7.0 Must issue a STARTTLS command first");
    assert!(server.received().is_empty());
}

/// An untrusted certificate is classified as temporary: the message is fine, and what is wrong
/// (the relay's certificate, or the trust configuration) is fixed without touching it, so the
/// dispatcher's bounded retries keep the message until then instead of dropping it at once.
#[tokio::test]
async fn an_untrusted_certificate_is_a_temporary_tls_failure_and_nothing_is_sent() {
    let server = relay().await;
    let mut config = config(&server);
    config.extra_root_certificate_pem = None;

    let result = EmailProvider::new(config).unwrap().send(&notification(16, "citizen@example.sa", arabic())).await;

    let reason = expect_temporary(result, "TLS failed");
    assert!(reason.to_ascii_lowercase().contains("certificate"), "{reason}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn an_invalid_recipient_address_is_permanent_without_connecting() {
    let server = relay().await;

    let result = provider(&server).send(&notification(17, "not an address", arabic())).await;

    expect_permanent(result, "not an address");
    assert_eq!(server.accepted_connections(), 0);
}

#[tokio::test]
async fn a_line_starting_with_a_dot_arrives_unstuffed() {
    let server = relay().await;
    let mut content = english();
    content.text = "First line.\n.hidden line\n..two dots\n.".to_owned();

    provider(&server).send(&notification(18, "resident@example.com", content)).await.expect("delivered");

    let text = server.received()[0].text().expect("a text/plain part");
    assert_eq!(text.replace("\r\n", "\n").trim_end(), "First line.\n.hidden line\n..two dots\n.");
}

/// lettre signs in with AUTH PLAIN; this drives AUTH LOGIN by hand over STARTTLS.
#[tokio::test]
async fn auth_login_is_checked_after_starttls() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use std::sync::Arc;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, pki_types::CertificateDer, pki_types::ServerName, pki_types::pem::PemObject};

    async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: &mut BufReader<S>, line: Option<&str>) -> String {
        if let Some(line) = line {
            stream.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
            stream.get_mut().flush().await.unwrap();
        }
        let mut reply = String::new();
        loop {
            let mut next = String::new();
            stream.read_line(&mut next).await.unwrap();
            reply.push_str(&next);
            if next.len() < 4 || next.as_bytes()[3] == b' ' {
                return reply;
            }
        }
    }

    let server = relay().await;
    let mut plain = BufReader::new(tokio::net::TcpStream::connect(server.address()).await.unwrap());
    assert!(exchange(&mut plain, None).await.starts_with("220 "));
    let ehlo = exchange(&mut plain, Some("EHLO client.example")).await;
    assert!(ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"), "{ehlo}");
    assert!(exchange(&mut plain, Some("AUTH LOGIN")).await.starts_with("538 "), "no AUTH in plain text");
    assert!(exchange(&mut plain, Some("MAIL FROM:<a@example.com>")).await.starts_with("530 5.7.0 Must issue a STARTTLS command first"));
    assert!(exchange(&mut plain, Some("STARTTLS")).await.starts_with("220 "));

    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(server.certificate_pem().as_bytes()).unwrap()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config =
        ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap().with_root_certificates(roots).with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tls = connector.connect(ServerName::try_from("localhost").unwrap(), plain.into_inner()).await.unwrap();
    let mut tls = BufReader::new(tls);

    let ehlo = exchange(&mut tls, Some("EHLO client.example")).await;
    assert!(ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"), "{ehlo}");
    assert_eq!(exchange(&mut tls, Some("AUTH LOGIN")).await.trim_end(), format!("334 {}", BASE64.encode("Username:")));
    assert_eq!(exchange(&mut tls, Some(&BASE64.encode(USERNAME))).await.trim_end(), format!("334 {}", BASE64.encode("Password:")));
    assert!(exchange(&mut tls, Some(&BASE64.encode("wrong"))).await.starts_with("535 "));
    assert!(exchange(&mut tls, Some("MAIL FROM:<a@example.com>")).await.starts_with("530 5.7.0 Authentication required"));
    assert!(exchange(&mut tls, Some(&format!("AUTH LOGIN {}", BASE64.encode(USERNAME)))).await.starts_with("334 "));
    assert!(exchange(&mut tls, Some(&BASE64.encode(PASSWORD))).await.starts_with("235 "));
    assert!(exchange(&mut tls, Some("MAIL FROM:<a@example.com>")).await.starts_with("250 "));
    assert!(exchange(&mut tls, Some("RCPT TO:<b@example.com>")).await.starts_with("250 "));
    assert!(exchange(&mut tls, Some("RSET")).await.starts_with("250 "));
    assert!(exchange(&mut tls, Some("DATA")).await.starts_with("503 "), "RSET ended the transaction");
    assert!(exchange(&mut tls, Some("NOOP")).await.starts_with("250 "));
    assert!(exchange(&mut tls, Some("QUIT")).await.starts_with("221 "));
    assert!(server.received().is_empty());
}
