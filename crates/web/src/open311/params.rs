//! Reading Open311 parameters: query strings and form bodies as ordered pairs (so repeated keys such
//! as `attribute[x][]` survive), the spec's rule that an empty parameter is an absent one,
//! `jurisdiction_id`, comma lists, W3C datetimes and the 90-day search window.

use super::error::Open311Error;
use jiff::tz::{self, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// Parameters in the order they were sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    #[cfg(test)]
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// Parses `a=1&b=2` (a query string or a form body); malformed input is a 400.
    pub fn parse(encoded: &[u8]) -> Result<Self, Open311Error> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(encoded)
            .map(Self)
            .map_err(|e| Open311Error::bad_request(format!("the parameters cannot be read as application/x-www-form-urlencoded: {e}")))
    }

    /// The value of `name`, or `None` when it is absent or blank; the last one wins when repeated.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(key, value)| key == name && !value.trim().is_empty()).map(|(_, value)| value.as_str())
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// The non-blank values of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(key, value)| key == name && !value.trim().is_empty()).map(|(_, value)| value.as_str())
    }

    /// The items of a comma list such as `service_code=a,b` (also given as repeated parameters),
    /// trimmed, blanks dropped.
    pub fn comma_list<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        self.all(name).flat_map(|value| value.split(',')).map(str::trim).filter(|item| !item.is_empty()).collect()
    }
}

/// Refuses a `jurisdiction_id` other than the one this server answers for. Without a configured
/// jurisdiction every value is accepted, as the spec allows for single-jurisdiction servers.
pub fn check_jurisdiction(configured: Option<&str>, given: Option<&str>) -> Result<(), Open311Error> {
    match (configured, given.map(str::trim)) {
        (Some(ours), Some(theirs)) if theirs != ours => {
            Err(Open311Error::not_found(format!("unknown jurisdiction_id '{theirs}': this server answers for '{ours}'")))
        }
        _ => Ok(()),
    }
}

/// Riyadh's offset from UTC; Saudi Arabia keeps no daylight saving time.
const RIYADH: jiff::tz::Offset = tz::offset(3);

/// An instant in W3C format in Riyadh time, e.g. `2026-03-01T10:00:00+03:00`.
pub fn w3c(at: Timestamp) -> String {
    at.to_zoned(TimeZone::fixed(RIYADH)).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Parses a W3C datetime that names its offset (`Z` or `±HH:MM`). A `+` sent unencoded in a query
/// string arrives as a space; that is accepted too.
pub fn parse_w3c(field: &str, text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    let refused = || format!("{field}: '{text}' is not a W3C datetime with a timezone, such as 2026-03-01T10:00:00+03:00 or 2026-03-01T07:00:00Z");
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    match text.rfind(' ') {
        Some(space) if space >= 10 => format!("{}+{}", &text[..space], &text[space + 1..]).parse::<Timestamp>().map_err(|_| refused()),
        _ => Err(refused()),
    }
}

/// The longest span a search may cover, and the default span ending now.
pub const MAX_WINDOW_DAYS: i64 = 90;

/// A search window `[from, to]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Timestamp,
    pub to: Timestamp,
}

/// The window named by `start_date` and `end_date`: both given, at most 90 days apart; one given,
/// 90 days from it (or up to it); neither given, the 90 days ending `now`. Every problem is listed.
pub fn window(params: &Params, now: Timestamp) -> Result<Window, Vec<String>> {
    let span = SignedDuration::from_hours(24 * MAX_WINDOW_DAYS);
    let start = params.get("start_date").map(|t| parse_w3c("start_date", t)).transpose();
    let end = params.get("end_date").map(|t| parse_w3c("end_date", t)).transpose();
    let (start, end) = match (start, end) {
        (Ok(start), Ok(end)) => (start, end),
        (start, end) => return Err([start.err(), end.err()].into_iter().flatten().collect()),
    };
    let shift = |at: Timestamp, by: SignedDuration| at.checked_add(by).map_err(|_| vec![format!("the search window around {} is out of range", w3c(at))]);
    let (from, to) = match (start, end) {
        (Some(from), Some(to)) => (from, to),
        (Some(from), None) => (from, shift(from, span)?),
        (None, Some(to)) => (shift(to, -span)?, to),
        (None, None) => (shift(now, -span)?, now),
    };
    if to < from {
        return Err(vec![format!("end_date {} is before start_date {}", w3c(to), w3c(from))]);
    }
    if to.duration_since(from) > span {
        let days = to.duration_since(from).as_secs() as f64 / 86_400.0;
        return Err(vec![format!("the window from start_date to end_date spans {days:.1} days; at most {MAX_WINDOW_DAYS} days may be searched at once")]);
    }
    Ok(Window { from, to })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn empty_parameters_count_as_absent_and_the_last_repeat_wins() {
        let given = params(&[("a", "1"), ("a", "2"), ("b", " "), ("c", "x, ,y"), ("c", "z")]);
        assert_eq!(given.get("a"), Some("2"));
        assert_eq!(given.get("b"), None);
        assert_eq!(given.comma_list("c"), vec!["x", "y", "z"]);
    }

    #[test]
    fn datetimes_are_written_in_riyadh_time_with_the_offset() {
        assert_eq!(w3c(at("2026-03-01T07:00:00Z")), "2026-03-01T10:00:00+03:00");
    }

    #[test]
    fn datetimes_need_a_timezone() {
        assert_eq!(parse_w3c("start_date", "2026-03-01T10:00:00+03:00"), Ok(at("2026-03-01T07:00:00Z")));
        assert_eq!(parse_w3c("start_date", "2026-03-01T10:00:00 03:00"), Ok(at("2026-03-01T07:00:00Z")));
        assert_eq!(parse_w3c("end_date", "2026-03-01T07:00Z"), Ok(at("2026-03-01T07:00:00Z")));
        assert!(parse_w3c("start_date", "2026-03-01T10:00:00").unwrap_err().starts_with("start_date: "));
        assert!(parse_w3c("start_date", "2026-03-01").is_err());
        assert!(parse_w3c("start_date", "yesterday").is_err());
    }

    #[test]
    fn the_window_defaults_to_the_last_90_days_and_may_not_be_longer() {
        let now = at("2026-06-01T00:00:00Z");
        assert_eq!(window(&params(&[]), now), Ok(Window { from: at("2026-03-03T00:00:00Z"), to: now }));
        let from_start = window(&params(&[("start_date", "2026-01-01T00:00:00Z")]), now).unwrap();
        assert_eq!(from_start.to, at("2026-04-01T00:00:00Z"));
        let up_to_end = window(&params(&[("end_date", "2026-04-01T00:00:00Z")]), now).unwrap();
        assert_eq!(up_to_end.from, at("2026-01-01T00:00:00Z"));
        let too_long = window(&params(&[("start_date", "2026-01-01T00:00:00Z"), ("end_date", "2026-04-02T00:00:00Z")]), now).unwrap_err();
        assert!(too_long[0].contains("91.0 days"), "{too_long:?}");
        let backwards = window(&params(&[("start_date", "2026-02-01T00:00:00Z"), ("end_date", "2026-01-01T00:00:00Z")]), now).unwrap_err();
        assert!(backwards[0].contains("before start_date"), "{backwards:?}");
        let both_bad = window(&params(&[("start_date", "soon"), ("end_date", "later")]), now).unwrap_err();
        assert_eq!(both_bad.len(), 2);
    }

    #[test]
    fn a_different_jurisdiction_is_unknown() {
        assert!(check_jurisdiction(None, Some("anything.gov")).is_ok());
        assert!(check_jurisdiction(Some("eamana.gov.sa"), None).is_ok());
        assert!(check_jurisdiction(Some("eamana.gov.sa"), Some("eamana.gov.sa")).is_ok());
        let other = check_jurisdiction(Some("eamana.gov.sa"), Some("riyadh.gov.sa")).unwrap_err();
        assert_eq!(other.status, axum::http::StatusCode::NOT_FOUND);
        assert!(other.errors[0].description.starts_with("unknown jurisdiction_id"));
    }
}
