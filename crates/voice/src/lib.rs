//! Voice documents: `dialog` is what the caller hears and what input is asked of him, independent
//! of markup; `twiml` and `voicexml` render it for Twilio-compatible platforms and for VoiceXML 2.1
//! browsers, and parse it back; `markup` picks one per deployment.

pub mod dialog;
pub mod markup;
pub mod twiml;
pub mod voicexml;
