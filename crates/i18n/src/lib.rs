//! Every user-facing string Balagh says or writes, in every language it serves: Fluent bundles,
//! language negotiation, Gregorian and Hijri (Umm al-Qura) dates, notification texts for every
//! medium, administrators' template overrides and SMS segment counting.
//!
//! Pure: the texts are compiled in, nothing is read from disk or the network, and the clock is a
//! parameter (`Request::now`).

mod bundle;
mod dates;
mod overrides;
mod render;
pub mod sms;

pub use bundle::{Arg, DEFAULT_LANGUAGE, FALLBACK_LANGUAGE, LANGUAGES, has_message, is_rtl, localize_digits, negotiate, status_name, text};
pub use dates::{RIYADH, date_line, digits_spoken, gregorian_date, hijri_date, localize_time};
pub use overrides::{MAX_OVERRIDE_CHARS, check_override};
pub use render::{MAX_SMS_SEGMENTS, MEDIA, Rendered, Request, TOPICS, escape_html, render};
