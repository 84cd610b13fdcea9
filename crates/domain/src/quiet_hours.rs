//! Quiet hours: the nightly window (22:00–08:00 Asia/Riyadh by default) in which Balagh places no
//! automated calls to beneficiaries. A call that falls due inside it waits for the window's end;
//! texts are not held. Emergency notifications to staff ignore the window (the caller decides).

use crate::calendar::riyadh_time_zone;
use jiff::Timestamp;
use jiff::civil::Time;

/// A nightly window `[start, end)` in Riyadh civil time; it may wrap past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: Time,
    pub end: Time,
}

impl Default for QuietHours {
    fn default() -> Self {
        QuietHours { start: Time::constant(22, 0, 0, 0), end: Time::constant(8, 0, 0, 0) }
    }
}

impl QuietHours {
    /// Parses `"22:00-08:00"`; equal ends mean no quiet hours at all.
    pub fn parse(text: &str) -> Result<QuietHours, String> {
        let (start, end) = text.split_once('-').ok_or_else(|| format!("quiet hours '{text}' are not written as HH:MM-HH:MM"))?;
        let time = |part: &str| -> Result<Time, String> {
            let part = part.trim();
            let (hour, minute) = part.split_once(':').ok_or_else(|| format!("'{part}' is not a time of day (HH:MM)"))?;
            let hour: i8 = hour.parse().map_err(|_| format!("'{part}' has no valid hour"))?;
            let minute: i8 = minute.parse().map_err(|_| format!("'{part}' has no valid minute"))?;
            Time::new(hour, minute, 0, 0).map_err(|_| format!("'{part}' is not a time of day (00:00 to 23:59)"))
        };
        Ok(QuietHours { start: time(start)?, end: time(end)? })
    }

    /// Whether `at` falls inside the window.
    pub fn contains(&self, at: Timestamp) -> bool {
        let time = at.to_zoned(riyadh_time_zone()).time();
        if self.start == self.end {
            false
        } else if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }

    /// `None` when a call may be placed at `at`; otherwise the instant the window ends.
    pub fn next_allowed(&self, at: Timestamp) -> Option<Timestamp> {
        if !self.contains(at) {
            return None;
        }
        let local = at.to_zoned(riyadh_time_zone());
        let today_end = local.date().to_datetime(self.end);
        let end = if local.time() < self.end { today_end } else { today_end.checked_add(jiff::Span::new().days(1)).ok()? };
        end.to_zoned(riyadh_time_zone()).ok().map(|zoned| zoned.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn calls_wait_for_the_morning_and_texts_of_the_day_pass() {
        let quiet = QuietHours::default();
        let check = |now: &str, expected: Option<&str>| assert_eq!(quiet.next_allowed(at(now)), expected.map(at), "{now}");
        // Riyadh is UTC+3: 22:00 local is 19:00Z, 08:00 local is 05:00Z.
        check("2026-03-01T18:59:59Z", None);
        check("2026-03-01T19:00:00Z", Some("2026-03-02T05:00:00Z"));
        check("2026-03-01T23:30:00Z", Some("2026-03-02T05:00:00Z"));
        check("2026-03-02T04:59:00Z", Some("2026-03-02T05:00:00Z"));
        check("2026-03-02T05:00:00Z", None);
    }

    #[test]
    fn windows_parse_wrap_or_vanish() {
        assert_eq!(QuietHours::parse("22:00-08:00").unwrap(), QuietHours::default());
        let afternoon = QuietHours::parse("13:00-15:30").unwrap();
        assert!(afternoon.contains(at("2026-03-01T10:00:00Z")));
        assert!(!afternoon.contains(at("2026-03-01T12:30:00Z")));
        assert_eq!(QuietHours::parse("00:00-00:00").unwrap().next_allowed(at("2026-03-01T21:00:00Z")), None);
        for bad in ["22:00", "25:00-08:00", "22:00-8", "ten-eight"] {
            assert!(QuietHours::parse(bad).is_err(), "{bad}");
        }
    }
}
