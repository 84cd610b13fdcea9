//! The `log` provider, the default of the embedded mode: it prints each notification readably and
//! appends it to a daily file under the data directory (`outbox/2026-03-01.log`), so a newcomer sees
//! what Balagh would send without configuring any outside service.

use crate::{Delivery, Notification, Provider, SendError, SendFuture};
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// Prints and files notifications.
#[derive(Debug, Clone)]
pub struct LogProvider {
    directory: Option<PathBuf>,
}

impl LogProvider {
    /// Files each notification under `directory` (created on first use), or only prints them when
    /// `None`.
    pub fn new(directory: Option<PathBuf>) -> LogProvider {
        LogProvider { directory }
    }

    /// The line written for a notification.
    pub fn line(notification: &Notification, at: jiff::Timestamp) -> String {
        format!("{at} #{} {} -> {} (attempt {}): {}\n", notification.id, notification.topic, notification.recipient, notification.attempt, notification.payload)
    }

    async fn file(&self, line: &str, at: jiff::Timestamp) -> Result<(), SendError> {
        let Some(directory) = &self.directory else { return Ok(()) };
        let temporary = |e: std::io::Error| SendError::Temporary { reason: format!("cannot write under {}: {e}", directory.display()), retry_after: None };
        tokio::fs::create_dir_all(directory).await.map_err(temporary)?;
        let path = directory.join(format!("{}.log", at.to_zoned(jiff::tz::TimeZone::UTC).date()));
        let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(&path).await.map_err(temporary)?;
        file.write_all(line.as_bytes()).await.map_err(temporary)?;
        file.flush().await.map_err(temporary)
    }
}

impl Provider for LogProvider {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        Box::pin(async move {
            let at = jiff::Timestamp::now();
            let line = LogProvider::line(notification, at);
            tracing::info!(target: "balagh::outbox", "{}", line.trim_end());
            self.file(&line, at).await?;
            Ok(Delivery { provider_ref: Some(notification.idempotency_key()) })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification() -> Notification {
        Notification {
            id: 7,
            topic: "escalation".into(),
            recipient: "department_manager@roads".into(),
            medium: crate::Medium::Staff,
            address: "department_manager@roads".into(),
            content: crate::Content::default(),
            payload: serde_json::json!({ "ticket": "10000004", "level": 2 }),
            attempt: 1,
        }
    }

    #[tokio::test]
    async fn each_notification_is_appended_to_the_days_file() {
        let directory = tempfile::tempdir().unwrap();
        let provider = LogProvider::new(Some(directory.path().join("outbox")));
        let delivered = provider.send(&notification()).await.unwrap();
        assert_eq!(delivered.provider_ref.as_deref(), Some("balagh-outbox-7"));
        provider.send(&Notification { id: 8, ..notification() }).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(directory.path().join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("#7 escalation -> department_manager@roads (attempt 1): {\"level\":2,\"ticket\":\"10000004\"}"), "{text}");
    }

    #[tokio::test]
    async fn a_directory_that_cannot_be_written_is_a_temporary_failure() {
        let directory = tempfile::tempdir().unwrap();
        let blocked = directory.path().join("a-file");
        std::fs::write(&blocked, "not a directory").unwrap();
        let provider = LogProvider::new(Some(blocked.join("outbox")));
        assert!(matches!(provider.send(&notification()).await, Err(SendError::Temporary { .. })));
    }
}
