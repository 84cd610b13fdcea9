//! One voice document, independent of markup: what the caller hears and what input is asked of
//! him next. The call flow builds `Dialog`s; `twiml` and `voicexml` render them, and parse them
//! back (the terminal caller plays either, and tests check that both renderings say the same).

use serde::{Deserialize, Serialize};

/// A voice document: verbs run in order, as TwiML runs them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dialog {
    /// The document's main language as a BCP 47 tag the voice platform knows (`ar-SA`).
    pub language: String,
    /// Values every request of this call carries back (`CallSid`, `From`). Twilio adds them to its
    /// requests itself; VoiceXML declares them as variables and submits them with every input.
    pub session: Vec<(String, String)>,
    pub verbs: Vec<Verb>,
}

/// One step of a voice document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verb {
    /// Speaks `text` in `language` (a platform code such as `ar-SA`), with a named voice if set.
    Say {
        language: String,
        voice: Option<String>,
        text: String,
    },
    /// Collects keypad digits and posts them as `Digits` to `action`, playing `prompts` meanwhile.
    /// With `num_digits` it stops after that many keys; with `finish_on_key` when that key is
    /// pressed. On no input the document goes on with the next verb.
    Gather {
        action: String,
        num_digits: Option<u32>,
        finish_on_key: Option<char>,
        timeout_seconds: u32,
        prompts: Vec<Verb>,
    },
    /// Records the caller after a beep and posts `RecordingUrl` and `RecordingDuration` to
    /// `action`; the provider posts the transcription to `transcribe_callback` later.
    Record {
        action: String,
        max_length_seconds: u32,
        timeout_seconds: u32,
        finish_on_key: char,
        transcribe_callback: Option<String>,
    },
    /// Silence, in seconds.
    Pause(u32),
    /// Fetches the next document from this URL.
    Redirect(String),
    /// Puts the caller in an agents' queue; `wait_url` plays while he waits, and `action` is asked
    /// for the next document when he leaves the queue (after the agent hangs up).
    Enqueue {
        queue: String,
        wait_url: Option<String>,
        action: Option<String>,
    },
    /// Connects the caller to a number or SIP address; `action` is asked for the next document
    /// when that call ends.
    Dial {
        number: String,
        action: Option<String>,
    },
    Hangup,
}

impl Dialog {
    pub fn new(language: impl Into<String>, verbs: Vec<Verb>) -> Self {
        Self { language: language.into(), session: Vec::new(), verbs }
    }

    /// Everything the caller hears, in order (prompts inside gathers included).
    pub fn spoken(&self) -> Vec<&str> {
        fn walk<'a>(verbs: &'a [Verb], out: &mut Vec<&'a str>) {
            for verb in verbs {
                match verb {
                    Verb::Say { text, .. } => out.push(text),
                    Verb::Gather { prompts, .. } => walk(prompts, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.verbs, &mut out);
        out
    }
}
