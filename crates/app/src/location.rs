//! Reports whose place the beneficiary marks on a map. A caller who cannot name the place by the
//! IVR's menus asks for a text message with a link: the report is opened at once (he hears its
//! ticket) and waits as `awaiting_citizen` for the pin, for a configured time. The link carries a
//! secret token (only its SHA-256 is stored); the pin puts the report back to `new` with its place,
//! and when the wait runs out the escalation worker puts it back to `new` without one (the caller's
//! recorded description says where) and tells him so. The SLA clocks are paused while it waits.

use crate::reports::StoredWith;
use crate::updates::beneficiary_text;
use crate::{App, AppError, Opened};
use balagh_domain::Coordinates;
use balagh_domain::event::Actor;
use balagh_domain::lifecycle::{self, Command, TransitionError};
use balagh_domain::report::{Report, ReportDraft, ReportId};
use balagh_domain::vocabulary::{Channel, Status};
use balagh_store::{Acknowledgement, LocationOutcome, LocationRequest, NewLocationRequest, ReportChange, StatusHistory, TimerKind};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How long a report waits for its place unless configured otherwise.
pub const DEFAULT_PLACE_WAIT: SignedDuration = SignedDuration::from_hours(24);

/// Random bytes in a link's token (128 bits; 22 characters in the link).
const TOKEN_BYTES: usize = 16;

/// A report that waits for its place, as the link shows it.
#[derive(Debug, Clone)]
pub struct PlaceWait {
    pub report: Report,
    pub expires_at: Timestamp,
}

/// The path of the page where a link's token marks the place, in a portal language.
pub fn place_path(language: &str, token: &str) -> String {
    format!("/{}/place/{token}", balagh_i18n::negotiate(language))
}

fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The error for a link that is not (or no longer) one.
fn unknown_link() -> AppError {
    AppError::not_found("place link")
}

impl App {
    /// The same application with reports waiting `wait` for their place.
    pub fn with_place_wait(mut self, wait: SignedDuration) -> Self {
        self.place_wait = wait;
        self
    }

    /// How long a report waits for its place.
    pub fn place_wait(&self) -> SignedDuration {
        self.place_wait
    }

    /// Whether a link to mark a place can be sent: Balagh has a public address.
    pub fn can_send_place_links(&self) -> bool {
        self.delivery().public_base_url.is_some()
    }

    /// Opens the report a caller confirmed without its place, once per call: it waits for the pin,
    /// and the text message with its ticket and the link is queued in the same transaction.
    pub async fn open_report_by_call_awaiting_place(&self, draft: &ReportDraft, call_sid: &str) -> Result<Opened, AppError> {
        if !self.can_send_place_links() {
            return Err(AppError::Conflict {
                code: "no_public_address",
                message: "a link to mark the place needs Balagh's public address (public_base_url)".into(),
            });
        }
        let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; TOKEN_BYTES]>());
        let expires_at = self.now().checked_add(self.place_wait).map_err(|e| AppError::Conflict { code: "place_wait", message: e.to_string() })?;
        let language = draft.language.clone().unwrap_or_else(|| balagh_i18n::DEFAULT_LANGUAGE.to_owned());
        let url = self.delivery().url(&place_path(&language, &token)).unwrap_or_default();
        let acknowledge = Acknowledgement(Arc::new(move |report: &Report| {
            let extra = serde_json::json!({ "place_url": url, "place_until": expires_at.to_string() });
            let extra = extra.as_object().cloned().unwrap_or_default();
            beneficiary_text(report, "place_requested", extra, report.created_at).into_iter().collect()
        }));
        let with = StoredWith {
            acknowledge: Some(acknowledge),
            location_request: Some(NewLocationRequest { token_sha256: token_sha256(&token), expires_at }),
            ..StoredWith::default()
        };
        let draft = ReportDraft { location_pending: true, ..draft.clone() };
        let opened = self.open_report_with(&draft, Channel::Ivr, &Actor::beneficiary(), Some(&format!("ivr:{call_sid}")), with).await?;
        if !opened.replayed {
            metrics::counter!("balagh_place_links_total").increment(1);
        }
        Ok(opened)
    }

    /// The report a link's token is for, while it waits for its place.
    pub async fn place_wait_for(&self, token: &str) -> Result<PlaceWait, AppError> {
        let well_formed = token.len() <= 64 && !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(unknown_link());
        }
        let wait = self.store.db.location_request_by_token(&token_sha256(token)).await?.ok_or_else(unknown_link)?;
        self.open_wait(wait).await
    }

    async fn open_wait(&self, wait: LocationRequest) -> Result<PlaceWait, AppError> {
        let ticket = wait.report_id.ticket();
        match wait.answered {
            Some((_, LocationOutcome::Placed)) => {
                return Err(AppError::Conflict { code: "place_already_marked", message: format!("the place of report {ticket} was already marked") });
            }
            Some(_) => return Err(link_expired(wait.report_id)),
            None if self.now() >= wait.expires_at => return Err(link_expired(wait.report_id)),
            None => {}
        }
        let report = self.report_by_id(wait.report_id).await?;
        Ok(PlaceWait { report, expires_at: wait.expires_at })
    }

    /// The beneficiary marked the place on the map: the report gets it and goes on as new.
    pub async fn place_pin(&self, token: &str, coordinates: Coordinates) -> Result<Report, AppError> {
        let wait = self.place_wait_for(token).await?;
        let now = self.now();
        let placed = self
            .change(wait.report.ticket(), now, |report, _| {
                let transition = lifecycle::apply(report, Command::PlaceLocation { coordinates }, &Actor::beneficiary(), Channel::Web, now)
                    // The wait ended (or staff moved the report on) since the link was read.
                    .map_err(|error| if matches!(error, TransitionError::Illegal { .. }) { link_expired(report.id) } else { error.into() })?;
                let mut change = ReportChange::new(transition.applied_to(report), transition.events);
                change.location_answered = Some((LocationOutcome::Placed, now));
                Ok(change)
            })
            .await?;
        metrics::counter!("balagh_places_marked_total").increment(1);
        Ok(placed)
    }

    /// Ends the waits whose `location` timers `owner` claimed and still holds: each report still
    /// waiting goes on as new without its place, and its beneficiary is told. Returns how many
    /// waits ended.
    pub async fn end_location_waits(&self, owner: &str, ids: &[ReportId], now: Timestamp) -> Result<usize, AppError> {
        let ended = self
            .store
            .db
            .fire_claimed(TimerKind::Location, owner, ids, |report, history: &StatusHistory| {
                let mut change = if report.status == Status::AwaitingCitizen {
                    let transition = lifecycle::apply(report, Command::LocationExpired, &Actor::system(), Channel::System, now)?;
                    let next = transition.applied_to(report);
                    let mut change = ReportChange::new(next, transition.events);
                    change.outbox.extend(beneficiary_text(&change.report, "place_expired", serde_json::Map::new(), now));
                    self.settle(change, &crate::sla::from_stored(history), now)
                } else {
                    // Moved on already (staff assigned it): the wait just ends.
                    ReportChange::new(report.clone(), vec![])
                };
                change.location_answered = Some((LocationOutcome::Expired, now));
                Ok::<_, AppError>(Some(change))
            })
            .await??;
        if ended > 0 {
            metrics::counter!("balagh_place_waits_expired_total").increment(ended as u64);
            self.outbox_signal().notify_waiters();
        }
        Ok(ended)
    }

    /// The open wait for the place of a report, if it has one.
    pub(crate) async fn open_place_wait(&self, report: ReportId) -> Result<Option<LocationRequest>, AppError> {
        Ok(self.store.db.location_request(report).await?.filter(|wait| wait.answered.is_none()))
    }
}

fn link_expired(report: ReportId) -> AppError {
    AppError::Conflict {
        code: "place_link_expired",
        message: format!("the link to mark the place of report {} has expired; the report went on with its description", report.ticket()),
    }
}
