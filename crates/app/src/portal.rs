//! The citizen portal's use cases: opening a report with photos from the web, and everything a
//! beneficiary does on his report without an account, proven by its ticket and the last four
//! digits of his phone: tracking it, following it up, rating its closure. Also the public list
//! of open reports, which carries nothing personal.

use crate::reports::{FollowedUp, StoredWith};
use crate::{App, AppError, Opened};
use balagh_domain::TicketNumber;
use balagh_domain::error::FieldError;
use balagh_domain::event::Actor;
use balagh_domain::photo::Photo;
use balagh_domain::rating::ClosureRating;
use balagh_domain::report::{Report, ReportDraft};
use balagh_domain::sla::SlaState;
use balagh_domain::vocabulary::{Channel, Status};
use balagh_store::{NewMedia, ReportFilter, StoredEvent, StoredMedia};
use sha2::{Digest, Sha256};

/// How many digits of his phone a beneficiary gives to see his report.
pub const PROOF_DIGITS: usize = 4;

/// What a beneficiary sees of his report.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub report: Report,
    /// The public timeline, oldest first.
    pub timeline: Vec<StoredEvent>,
    pub sla: SlaState,
    /// Resolved or closed and not yet rated since it was resolved.
    pub closure_rateable: bool,
}

/// The last digits of a phone number as a beneficiary typed them (Arabic-Indic digits too).
fn proof_digits(input: &str) -> Result<String, AppError> {
    let digits = balagh_domain::digits::to_ascii_digits(input.trim());
    if digits.len() != PROOF_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new("last4", "invalid_last_digits", format!("give the last {PROOF_DIGITS} digits of the phone number on the report")).into());
    }
    Ok(digits)
}

impl App {
    /// Opens a report typed on the portal, with its photos (already checked and stripped of
    /// metadata) stored in the same transaction, and queues its receipt. `idempotency` is the
    /// form's own key, so a form sent twice (a double click, an offline draft sent on
    /// reconnection) opens one report.
    pub async fn open_report_online(&self, draft: &ReportDraft, photos: &[Photo], idempotency: &str) -> Result<Opened, AppError> {
        let media: Vec<NewMedia> = photos
            .iter()
            .map(|photo| NewMedia {
                sha256: hex::encode(Sha256::digest(photo.bytes())),
                content_type: photo.format().mime().to_owned(),
                bytes: photo.bytes().to_vec(),
            })
            .collect();
        let mut draft = draft.clone();
        draft.media_urls.extend(media.iter().map(NewMedia::reference));
        draft.media_urls.dedup();
        let key = format!("portal:{idempotency}");
        let with = StoredWith { acknowledge: Some(crate::updates::receipt()), media, ..StoredWith::default() };
        self.open_report_with(&draft, Channel::Web, &Actor::beneficiary(), Some(&key), with).await
    }

    /// The report `ticket`, for the beneficiary who knows the last four digits of its phone.
    pub async fn proven_report(&self, ticket: TicketNumber, last_digits: &str) -> Result<Report, AppError> {
        let digits = proof_digits(last_digits)?;
        let report = self.report(ticket).await?;
        match &report.contact.phone {
            Some(phone) if phone.last_digits(PROOF_DIGITS) == digits => Ok(report),
            Some(_) => Err(AppError::Forbidden {
                code: "phone_mismatch",
                message: format!("the last {PROOF_DIGITS} digits do not match the phone number of this report"),
            }),
            None => {
                Err(AppError::Forbidden { code: "no_phone_on_file", message: "this report has no phone number to verify you with; please call 940".into() })
            }
        }
    }

    /// The phone on file of the report the beneficiary proved, which the commands every channel
    /// shares (follow-up, ratings) check him by.
    async fn proven_phone(&self, ticket: TicketNumber, last_digits: &str) -> Result<String, AppError> {
        let report = self.proven_report(ticket, last_digits).await?;
        Ok(report.contact.phone.map(|p| p.as_str().to_owned()).unwrap_or_default())
    }

    /// Everything the beneficiary may see of his report: status, public timeline, SLA, and
    /// whether he can rate its closure.
    pub async fn track(&self, ticket: TicketNumber, last_digits: &str) -> Result<Tracked, AppError> {
        let report = self.proven_report(ticket, last_digits).await?;
        let timeline = self.store.db.events(report.id, false).await?;
        let sla = self.sla_state(&report).await?;
        let closure_rateable = matches!(report.status, Status::Resolved | Status::Closed) && {
            let resolved_at = report.resolved_at.unwrap_or(report.created_at);
            self.store.db.last_closure_rating_at(report.id).await?.is_none_or(|at| at < resolved_at)
        };
        metrics::counter!("balagh_portal_tracks_total").increment(1);
        Ok(Tracked { report, timeline, sla, closure_rateable })
    }

    /// "I feel my report is being ignored", from the portal: the same command as every channel's.
    pub async fn follow_up_online(&self, ticket: TicketNumber, last_digits: &str, text: Option<&str>) -> Result<FollowedUp, AppError> {
        let phone = self.proven_phone(ticket, last_digits).await?;
        self.follow_up(ticket, &phone, text, Channel::Web).await
    }

    /// The closure survey, from the portal.
    pub async fn rate_closure_online(&self, ticket: TicketNumber, last_digits: &str, rating: ClosureRating) -> Result<Report, AppError> {
        let phone = self.proven_phone(ticket, last_digits).await?;
        self.rate_closure(ticket, &phone, rating, Channel::Web).await
    }

    /// A photo of a report, for staff who may see the report (their department's, unless their
    /// role says otherwise). Never for the public: photos may show people and places.
    pub async fn report_photo(&self, ticket: TicketNumber, sha256: &str, viewer: &Actor) -> Result<StoredMedia, AppError> {
        if !viewer.role.is_staff_side() {
            return Err(AppError::Forbidden { code: "staff_only", message: "a report's photos are shown to staff only".into() });
        }
        let report = self.report(ticket).await?;
        balagh_domain::lifecycle::check_department(&report, viewer)?;
        let reference = format!("media:photo:{sha256}");
        if !report.media.contains(&reference) {
            return Err(AppError::not_found(format!("photo '{sha256}' of report {ticket}")));
        }
        self.store.db.media(report.id, sha256).await?.ok_or_else(|| AppError::not_found(format!("photo '{sha256}' of report {ticket}")))
    }

    /// Open reports, newest first, for the public map and list: optionally one service's or one
    /// district's. Callers show only their public fields.
    pub async fn public_reports(&self, service: Option<&str>, district: Option<&str>, limit: u64) -> Result<Vec<Report>, AppError> {
        let filter = ReportFilter {
            statuses: Status::ALL.iter().copied().filter(|s| !s.is_terminal()).collect(),
            service_codes: service.map(|s| vec![s.to_owned()]).unwrap_or_default(),
            districts: district.map(|d| vec![d.to_owned()]).unwrap_or_default(),
            limit,
            ..ReportFilter::default()
        };
        Ok(self.store.db.reports(&filter).await?)
    }
}
