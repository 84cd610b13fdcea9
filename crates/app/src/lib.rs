//! Balagh's application services: the use cases that every channel (JSON API, Open311, pages, IVR,
//! messaging, staff console) calls. Each takes validated or raw input, asks the domain to decide,
//! and has the store persist the outcome in one transaction. No HTTP here, and no SQL.

pub mod calls;
pub mod clock;
pub mod delivery;
pub mod dispatch;
pub mod error;
pub mod escalation;
pub mod ivr;
pub mod keys;
pub mod location;
pub mod portal;
pub mod reports;
pub mod sla;
pub mod templates;
pub mod updates;
pub mod worker;

pub use balagh_store::IvrCall;
pub use balagh_store::outbox::Outcome as OutboxOutcome;
pub use balagh_store::{
    BoundingBox, Cursor, EscalationFilter, LocationOutcome, OutboxFilter, OutboxState, ReportFilter, StoreError, StoredEscalation, StoredEvent, StoredOutbox,
    StoredTemplate, TimerKind,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use delivery::DeliverySettings;
pub use dispatch::{Dispatched, Dispatcher, RetryPolicy};
pub use error::AppError;
pub use escalation::{EscalationQuery, FollowUpMeasures, TimerSignal};
pub use location::PlaceWait;
pub use reports::{Opened, ReportQuery};
pub use sla::SlaSettings;
pub use worker::{EscalationWorker, Outcome};

use balagh_domain::Catalogue;
use balagh_store::Store;
use std::sync::Arc;

/// The application: the store, the catalogue in force and the clock. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    catalogue: Arc<Catalogue>,
    sla: Arc<SlaSettings>,
    clock: Arc<dyn Clock>,
    timers: Arc<TimerSignal>,
    delivery: Arc<DeliverySettings>,
    outbox: Arc<tokio::sync::Notify>,
    /// How long a report waits for its place to be marked from a link.
    place_wait: jiff::SignedDuration,
}

impl App {
    pub fn new(store: Store, catalogue: Catalogue, sla: SlaSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            catalogue: Arc::new(catalogue),
            sla: Arc::new(sla),
            clock,
            timers: Arc::new(TimerSignal::default()),
            delivery: Arc::new(DeliverySettings::default()),
            outbox: Arc::new(tokio::sync::Notify::new()),
            place_wait: location::DEFAULT_PLACE_WAIT,
        }
    }

    /// The same application with these notification settings.
    pub fn with_delivery(mut self, delivery: DeliverySettings) -> Self {
        self.delivery = Arc::new(delivery);
        self
    }

    /// The notification settings in force.
    pub fn delivery(&self) -> &DeliverySettings {
        &self.delivery
    }

    /// How changes that write outbox rows wake this process's dispatchers.
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }

    /// How changes wake the escalation worker.
    pub fn timer_signal(&self) -> Arc<TimerSignal> {
        self.timers.clone()
    }

    /// The SLA calendars and policies in force.
    pub fn sla(&self) -> &SlaSettings {
        &self.sla
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The clock's time, truncated to the microsecond precision the store keeps, so what a use case
    /// returns equals what a later read returns.
    pub fn now(&self) -> jiff::Timestamp {
        let now = self.clock.now();
        jiff::Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now)
    }

    /// The database answers and its schema is current.
    pub async fn is_ready(&self) -> bool {
        matches!(self.store.is_ready().await, Ok(true))
    }
}

/// Refuses anyone but an administrator, naming what he may not do.
pub(crate) fn only_administrators(viewer: &balagh_domain::Actor, what: &str) -> Result<(), AppError> {
    if viewer.role == balagh_domain::Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden { code: "forbidden", message: format!("only administrators may {what}") })
    }
}

/// The catalogue in force: the newest stored version, or `default_toml` stored as the first version
/// when the database has none (first start).
pub async fn load_catalogue(store: &Store, default_toml: &str, now: jiff::Timestamp) -> Result<Catalogue, AppError> {
    if let Some(document) = store.db.latest_catalogue().await? {
        return Catalogue::from_toml(&document).map_err(|e| AppError::Invalid(e.into()));
    }
    let catalogue = Catalogue::from_toml(default_toml).map_err(|e| AppError::Invalid(e.into()))?;
    store.db.save_catalogue(default_toml, now).await?;
    Ok(catalogue)
}

/// Validates and stores a catalogue document as the one in force (used by `catalogue import`).
pub async fn import_catalogue(store: &Store, document: &str, now: jiff::Timestamp) -> Result<Catalogue, AppError> {
    let catalogue = Catalogue::from_toml(document).map_err(|e| AppError::Invalid(e.into()))?;
    store.db.save_catalogue(document, now).await?;
    Ok(catalogue)
}
