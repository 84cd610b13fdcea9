//! Dates as the beneficiary reads them: Gregorian and Hijri (Umm al-Qura), in Riyadh time, in the
//! language's words and digits, and ticket numbers read digit by digit for text-to-speech.
//!
//! Month names come from the Fluent files (no CLDR date-formatting data is compiled in); the Hijri
//! arithmetic is `icu_calendar`'s Umm al-Qura calendar, whose table is compiled into the crate.

use crate::bundle::{localize_digits, negotiate, text};
use icu_calendar::Date;
use icu_calendar::cal::Hijri;
use jiff::Timestamp;
use jiff::tz::Offset;

/// Riyadh's offset from UTC. Saudi Arabia keeps UTC+3 all year (no daylight saving time), so a fixed
/// offset gives the same answer as the `Asia/Riyadh` zone for every date Balagh handles, without
/// reading a time zone database.
pub const RIYADH: Offset = jiff::tz::offset(3);

/// The calendar day in Riyadh at `at`.
pub fn riyadh_date(at: Timestamp) -> jiff::civil::Date {
    RIYADH.to_datetime(at).date()
}

/// The Gregorian date in Riyadh: "5 December 2026", Arabic "٥ ديسمبر ٢٠٢٦".
pub fn gregorian_date(at: Timestamp, language: &str) -> String {
    let language = negotiate(language);
    let date = riyadh_date(at);
    let month = text(language, &format!("month-gregorian-{}", date.month()), &[]);
    text(
        language,
        "date-gregorian",
        &[
            ("day", localize_digits(&date.day().to_string(), language).into()),
            ("month", month.into()),
            ("year", localize_digits(&date.year().to_string(), language).into()),
        ],
    )
}

/// The time of day in Riyadh on the 24-hour clock, in the language's digits: "14:30", "١٤:٣٠".
pub fn localize_time(at: Timestamp, language: &str) -> String {
    let time = RIYADH.to_datetime(at).time();
    localize_digits(&format!("{:02}:{:02}", time.hour(), time.minute()), negotiate(language))
}

/// The day, month (1–12) and year of the Umm al-Qura calendar for the Riyadh day at `at`.
pub fn hijri_day_month_year(at: Timestamp) -> Option<(u8, u8, i32)> {
    let date = riyadh_date(at);
    let iso = Date::try_new_iso(i32::from(date.year()), u8::try_from(date.month()).ok()?, u8::try_from(date.day()).ok()?).ok()?;
    let hijri = iso.to_calendar(Hijri::new_umm_al_qura());
    Some((hijri.day_of_month().0, hijri.month().number(), hijri.era_year().year))
}

/// The Hijri (Umm al-Qura) date in Riyadh: "25 Jumada al-Akhirah 1448 AH", Arabic
/// "٢٥ جمادى الآخرة ١٤٤٨هـ". Empty for an instant the calendar cannot express.
pub fn hijri_date(at: Timestamp, language: &str) -> String {
    let language = negotiate(language);
    let Some((day, month, year)) = hijri_day_month_year(at) else { return String::new() };
    let month = text(language, &format!("month-hijri-{month}"), &[]);
    text(
        language,
        "date-hijri",
        &[("day", localize_digits(&day.to_string(), language).into()), ("month", month.into()), ("year", localize_digits(&year.to_string(), language).into())],
    )
}

/// Both calendars in one line: Arabic "٥ ديسمبر ٢٠٢٦م الموافق ٢٥ جمادى الآخرة ١٤٤٨هـ", English
/// "5 December 2026 (25 Jumada al-Akhirah 1448 AH)".
pub fn date_line(at: Timestamp, language: &str) -> String {
    let gregorian = gregorian_date(at, language);
    let hijri = hijri_date(at, language);
    if hijri.is_empty() {
        return gregorian;
    }
    text(language, "date-line", &[("gregorian", gregorian.into()), ("hijri", hijri.into())])
}

/// A number read digit by digit for text-to-speech, so "10000047" is not read as ten million forty
/// seven: "1, 0, 0, 0, 0, 0, 4, 7"; Arabic "واحد، صفر، …، سبعة". Arabic-Indic and Persian digits are
/// read like ASCII ones; spaces and dashes are dropped; any other character is kept as it is.
pub fn digits_spoken(number: &str, language: &str) -> String {
    let language = negotiate(language);
    let separator = text(language, "digit-separator", &[]);
    let spoken: Vec<String> = number
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.' | '/' | '\u{2010}'..='\u{2015}'))
        .map(|c| match decimal_digit(c) {
            Some(digit) => text(language, &format!("digit-{digit}"), &[]),
            None => c.to_string(),
        })
        .collect();
    spoken.join(&separator)
}

/// The value of an ASCII, Arabic-Indic or Extended Arabic-Indic (Persian, Urdu) digit.
fn decimal_digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        '\u{0660}'..='\u{0669}' => Some(u32::from(c) - 0x0660),
        '\u{06F0}'..='\u{06F9}' => Some(u32::from(c) - 0x06F0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Noon in Riyadh on the given Gregorian day.
    fn noon(date: &str) -> Timestamp {
        format!("{date}T12:00:00+03:00").parse().unwrap()
    }

    #[test]
    fn hijri_dates_follow_umm_al_qura() {
        // Cross-checked against the official Umm al-Qura tables (the `hijridate` package).
        fn check(gregorian: &str, expected: (u8, u8, i32)) {
            assert_eq!(hijri_day_month_year(noon(gregorian)), Some(expected), "{gregorian}");
        }
        check("2026-02-18", (1, 9, 1447)); // 1 Ramadan 1447
        check("2026-03-19", (30, 9, 1447)); // 30 Ramadan 1447: Umm al-Qura's Ramadan has 30 days
        check("2026-03-20", (1, 10, 1447)); // 1 Shawwal 1447, Eid al-Fitr
        check("2026-05-27", (10, 12, 1447)); // 10 Dhu al-Hijjah 1447, Eid al-Adha
        check("2026-06-16", (1, 1, 1448)); // 1 Muharram 1448, the new Hijri year
        check("2026-12-05", (25, 6, 1448)); // 25 Jumada al-Akhirah 1448
        check("2025-11-30", (9, 6, 1447));
        check("2024-01-01", (19, 6, 1445));
    }

    #[test]
    fn dates_are_those_of_riyadh_not_utc() {
        // 22:30 UTC on 19 March 2026 is already 01:30 on 20 March in Riyadh.
        let late: Timestamp = "2026-03-19T22:30:00Z".parse().unwrap();
        assert_eq!(gregorian_date(late, "en"), "20 March 2026");
        assert_eq!(hijri_date(late, "en"), "1 Shawwal 1447 AH");
    }

    #[test]
    fn formats_dates_in_each_language() {
        fn check(function: fn(Timestamp, &str) -> String, date: &str, language: &str, expected: &str) {
            assert_eq!(function(noon(date), language), expected, "{date} {language}");
        }
        check(gregorian_date, "2026-12-05", "en", "5 December 2026");
        check(gregorian_date, "2026-12-05", "ar", "٥ ديسمبر ٢٠٢٦");
        check(gregorian_date, "2026-12-05", "ar-SA", "٥ ديسمبر ٢٠٢٦");
        check(hijri_date, "2026-12-05", "en", "25 Jumada al-Akhirah 1448 AH");
        check(hijri_date, "2026-12-05", "ar", "٢٥ جمادى الآخرة ١٤٤٨هـ");
        check(hijri_date, "2026-02-18", "ar", "١ رمضان ١٤٤٧هـ");
        check(date_line, "2026-12-05", "en", "5 December 2026 (25 Jumada al-Akhirah 1448 AH)");
        check(date_line, "2026-12-05", "ar", "٥ ديسمبر ٢٠٢٦م الموافق ٢٥ جمادى الآخرة ١٤٤٨هـ");
    }

    #[test]
    fn times_are_riyadh_times() {
        let at: Timestamp = "2026-12-05T11:30:00Z".parse().unwrap();
        assert_eq!(localize_time(at, "en"), "14:30");
        assert_eq!(localize_time(at, "ar"), "١٤:٣٠");
    }

    #[test]
    fn reads_numbers_digit_by_digit() {
        fn check(number: &str, language: &str, expected: &str) {
            assert_eq!(digits_spoken(number, language), expected, "{number} {language}");
        }
        check("10000047", "en", "1, 0, 0, 0, 0, 0, 4, 7");
        check("10000047", "ar", "واحد، صفر، صفر، صفر، صفر، صفر، أربعة، سبعة");
        check("١٠٤٧", "en", "1, 0, 4, 7");
        check("۱۲", "ar", "واحد، اثنان");
        check("100-47", "en", "1, 0, 0, 4, 7");
        check("A12", "en", "A, 1, 2");
        check("", "en", "");
    }
}
