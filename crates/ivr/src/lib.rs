//! Balagh's IVR: a caller opens a report, hears a report's status, follows one up, hears answers to
//! common questions, or is put through to an agent and rates him afterwards, all by keypad, in his
//! language. `settings` is what a deployment configures; `menu` pages long lists into keypad menus;
//! `flow` is the call flow, a state machine kept in the store between webhook requests, whose every
//! decision about reports is an application command. Its answers are `balagh_voice::Dialog`s,
//! rendered as TwiML or VoiceXML.

pub mod flow;
pub mod menu;
pub mod settings;

pub use flow::{Input, Ivr, IvrError, Reply, Request, Step, Transcribed};
pub use settings::{City, IvrSettings};
