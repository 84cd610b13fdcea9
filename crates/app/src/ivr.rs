//! The use cases behind the voice channel: keeping IVR calls (their flow state between webhook
//! requests), opening a report from a call with the text that carries its ticket, taking the
//! provider's transcription as the description, ending a call with its timeline event, and the
//! caller's ratings of the agent and the answer.

use crate::reports::StoredWith;
use crate::{App, AppError, Opened};
use balagh_domain::event::{Actor, Event, EventKind};
use balagh_domain::rating::InteractionRating;
use balagh_domain::report::{Description, ReportDraft, ReportId};
use balagh_domain::vocabulary::Channel;
use balagh_store::IvrCall;

/// What rating a call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRated {
    /// On the call and on the report it was about (the caller is its beneficiary).
    CallAndReport,
    /// On the call only: it was about no report, or the caller is not the report's beneficiary.
    CallOnly,
}

impl App {
    /// The IVR call with this provider call id.
    pub async fn ivr_call(&self, call_sid: &str) -> Result<Option<IvrCall>, AppError> {
        Ok(self.store.db.ivr_call(call_sid).await?)
    }

    /// Stores a new call; false when it exists already (the provider retried its first request).
    pub async fn start_ivr_call(&self, call: &IvrCall) -> Result<bool, AppError> {
        metrics::counter!("balagh_ivr_calls_total").increment(1);
        Ok(self.store.db.insert_ivr_call(call).await?)
    }

    /// Saves the call's next state if nobody moved it on since step `from_step`.
    pub async fn save_ivr_call(&self, call: &IvrCall, from_step: i64) -> Result<bool, AppError> {
        Ok(self.store.db.save_ivr_call(call, from_step).await?)
    }

    /// Opens the report a caller confirmed, once per call however often the step is replayed, with
    /// the text message that carries its ticket number queued in the same transaction.
    pub async fn open_report_by_call(&self, draft: &ReportDraft, call_sid: &str) -> Result<Opened, AppError> {
        let with = StoredWith { acknowledge: Some(crate::updates::receipt()), ..StoredWith::default() };
        self.open_report_with(draft, Channel::Ivr, &Actor::beneficiary(), Some(&format!("ivr:{call_sid}")), with).await
    }

    /// The provider's transcription of the caller's recording becomes the description of the report
    /// the call opened, unless it has one already. True when it did.
    pub async fn transcribed(&self, report: ReportId, call_sid: &str, text: &str) -> Result<bool, AppError> {
        let text = Description::parse("TranscriptionText", text.trim())?;
        if text.as_str().is_empty() {
            return Ok(false);
        }
        let now = self.now();
        let mut described = false;
        self.change(report.ticket(), now, |report, _| {
            let mut next = report.clone();
            described = report.description.as_str().is_empty();
            let mut events = Vec::new();
            if described {
                next.description = text.clone();
                next.updated_at = now;
                events.push(Event {
                    at: now,
                    actor: Actor::beneficiary(),
                    channel: Channel::Ivr,
                    public: false,
                    kind: EventKind::DescriptionTranscribed { call: call_sid.to_owned() },
                    note: Some(text.as_str().to_owned()),
                });
            }
            Ok(balagh_store::ReportChange::new(next, events))
        })
        .await?;
        Ok(described)
    }

    /// Ends a call once, and puts it on the timeline of the report it was about. A later status
    /// callback only fills in the provider's duration. True for the request that ended it.
    pub async fn end_ivr_call(&self, call_sid: &str, duration_seconds: Option<i64>) -> Result<bool, AppError> {
        let Some(call) = self.ivr_call(call_sid).await? else { return Err(AppError::not_found(format!("call '{call_sid}'"))) };
        let now = self.now();
        let duration = duration_seconds.or_else(|| Some(now.duration_since(call.started_at).as_secs().max(0)));
        let event = Event {
            at: now,
            actor: Actor::beneficiary(),
            channel: Channel::Ivr,
            public: false,
            kind: EventKind::IvrCall {
                call: call.call_sid.clone(),
                duration_seconds: duration,
                path: call.path.split('>').filter(|p| !p.is_empty()).map(str::to_owned).collect(),
                agent_service: call.agent_service,
                answer_quality: call.answer_quality,
            },
            note: None,
        };
        let timeline = call.report_id.map(|report| (report, &event));
        if !self.store.db.end_ivr_call(call_sid, now, duration, timeline).await? {
            return Ok(false);
        }
        metrics::histogram!("balagh_ivr_call_seconds").record(duration.unwrap_or(0) as f64);
        Ok(true)
    }

    /// The caller's post-call survey: kept on the call, and on the report the call was about when
    /// the caller is its beneficiary.
    pub async fn rate_ivr_call(&self, call: &IvrCall, rating: InteractionRating) -> Result<CallRated, AppError> {
        metrics::counter!("balagh_ivr_surveys_total").increment(1);
        let (Some(report), Some(caller)) = (call.report_id, call.caller.as_deref()) else { return Ok(CallRated::CallOnly) };
        match self.rate_interaction(report.ticket(), caller, rating, Channel::Ivr).await {
            Ok(_) => Ok(CallRated::CallAndReport),
            Err(AppError::Forbidden { .. } | AppError::Invalid(_)) => Ok(CallRated::CallOnly),
            Err(error) => Err(error),
        }
    }
}
