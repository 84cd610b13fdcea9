//! The business calendar that SLA deadlines are counted in: when a department works, so that "resolve
//! within 2 working days" means what the municipality means by it.
//!
//! The model. All civil times are in Asia/Riyadh, which is UTC+3 all year (Saudi Arabia has no
//! daylight saving time), so the calendar uses that fixed offset and never consults a time-zone
//! database. A calendar is either open around the clock (`always_open`, for emergency services) or
//! weekly:
//!
//! - a set of working weekdays (Sunday to Thursday by default);
//! - one or more shifts per working day (07:30-14:30 by default), each a half-open interval
//!   `[start, end)` within one civil day, non-overlapping, so split shifts are allowed;
//! - public holidays, each an inclusive range of civil dates with an Arabic and an English name,
//!   on which there is no working time at all;
//! - hours overrides (Ramadan hours), each an inclusive range of civil dates whose shifts replace
//!   the regular shifts on the working days inside it (holidays and weekends stay closed).
//!
//! Instants are `jiff::Timestamp`s. Working time is the union of the shifts' half-open intervals, so
//! `is_working_time` is true at a shift's start and false at its end. A deadline produced by
//! `add_business_minutes` with minutes > 0 is the exact instant its last working minute completes,
//! which is why it may equal a shift's end: a deadline `d` "falls inside working time" when
//! `start < d <= end` for some shift, which is the same as `is_working_time(d - 1 ns)`.
//!
//! Every calendar is validated when it is built, so the arithmetic cannot fail or loop forever: a
//! weekly calendar has at least one working weekday with at least one non-empty shift, overrides
//! always carry shifts, and holidays together with weekends may close it for at most
//! [`LONGEST_CLOSURE_DAYS`] days in a row. The arithmetic walks day by day over shifts (never
//! minute by minute) and jumps over whole ordinary weeks, so it costs O(days) at worst.
//!
//! Calendars are loaded from a TOML file with several named calendars and shared public holidays
//! (see `catalogue/calendar-eastern-province.toml` and [`calendars_from_toml`]).

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Asia/Riyadh's offset from UTC, in hours. It has had no daylight saving time since 1970.
pub const RIYADH_UTC_OFFSET_HOURS: i8 = 3;

/// The longest run of consecutive days a weekly calendar may have without any working time
/// (weekends and holidays together). A longer closure is almost certainly a typo in a holiday's
/// dates, and the bound keeps the search for the next working instant short.
pub const LONGEST_CLOSURE_DAYS: i64 = 60;

/// The working weekdays of a calendar that does not list its own: Sunday to Thursday.
pub const DEFAULT_WORKING_DAYS: [Weekday; 5] = [Weekday::Sunday, Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday];

/// The working hours of a calendar that does not list its own: 07:30 to 14:30.
pub const DEFAULT_WORKING_HOURS: Shift = Shift { start: jiff::civil::time(7, 30, 0, 0), end: jiff::civil::time(14, 30, 0, 0) };

/// Asia/Riyadh as a fixed UTC+3 time zone, for turning the calendar's civil times into instants.
pub fn riyadh_time_zone() -> TimeZone {
    TimeZone::fixed(jiff::tz::offset(RIYADH_UTC_OFFSET_HOURS))
}

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_MINUTE: i128 = 60 * NANOS_PER_SECOND;
const NANOS_PER_DAY: i128 = 86_400 * NANOS_PER_SECOND;
const UTC_OFFSET_NANOS: i128 = RIYADH_UTC_OFFSET_HOURS as i128 * 3_600 * NANOS_PER_SECOND;
/// Day 0 of the calendar's day numbers, 1970-01-01, was a Thursday (3 days after a Monday).
const WEEKDAY_OF_DAY_ZERO: i128 = 3;
const WEEKDAY_NAMES: [(&str, Weekday); 7] = [
    ("sunday", Weekday::Sunday),
    ("monday", Weekday::Monday),
    ("tuesday", Weekday::Tuesday),
    ("wednesday", Weekday::Wednesday),
    ("thursday", Weekday::Thursday),
    ("friday", Weekday::Friday),
    ("saturday", Weekday::Saturday),
];

/// One working interval of a day, `[start, end)` in Riyadh civil time. Written `"07:30-14:30"` in
/// the TOML form. A shift lies within one civil day: it cannot run past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Shift {
    pub start: Time,
    pub end: Time,
}

/// A shift that is not written as `HH:MM-HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shift '{0}' is not written as HH:MM-HH:MM, such as \"07:30-14:30\"")]
pub struct ShiftFormatError(pub String);

impl FromStr for Shift {
    type Err = ShiftFormatError;

    fn from_str(text: &str) -> Result<Shift, ShiftFormatError> {
        let malformed = || ShiftFormatError(text.to_owned());
        let (start, end) = text.split_once('-').ok_or_else(malformed)?;
        let start = start.trim().parse::<Time>().map_err(|_| malformed())?;
        let end = end.trim().parse::<Time>().map_err(|_| malformed())?;
        Ok(Shift { start, end })
    }
}

impl TryFrom<String> for Shift {
    type Error = ShiftFormatError;

    fn try_from(text: String) -> Result<Shift, ShiftFormatError> {
        text.parse()
    }
}

impl fmt::Display for Shift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_time(f, self.start)?;
        f.write_str("-")?;
        write_time(f, self.end)
    }
}

/// Writes `HH:MM`, or `HH:MM:SS` when the time has seconds, as shifts are written in the TOML form.
fn write_time(f: &mut fmt::Formatter<'_>, time: Time) -> fmt::Result {
    write!(f, "{:02}:{:02}", time.hour(), time.minute())?;
    if time.second() != 0 || time.subsec_nanosecond() != 0 {
        write!(f, ":{:02}", time.second())?;
    }
    Ok(())
}

/// Reads a civil date written as a TOML date (`first = 2026-09-23`) or as a string
/// (`"2026-09-23"`). jiff's own `Deserialize` takes only strings, and TOML hands its date values
/// over as a one-entry map holding the date's text.
mod civil_date {
    use jiff::civil::Date;
    use serde::de::{self, Deserializer, MapAccess, Visitor};
    use std::fmt;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        deserializer.deserialize_any(DateVisitor)
    }

    struct DateVisitor;

    impl<'de> Visitor<'de> for DateVisitor {
        type Value = Date;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a date such as 2026-09-23")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Date, E> {
            if text.contains(':') {
                return Err(E::custom(format!("'{text}' has a time of day; expected a date such as 2026-09-23")));
            }
            text.parse().map_err(|_| E::custom(format!("'{text}' is not a date such as 2026-09-23")))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Date, A::Error> {
            match map.next_entry::<String, String>()? {
                Some((_, text)) => self.visit_str(&text),
                None => Err(de::Error::custom("expected a date such as 2026-09-23")),
            }
        }
    }
}

/// A public holiday: no working time on any day from `first` to `last`, both included.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    #[serde(deserialize_with = "civil_date::deserialize")]
    pub first: Date,
    #[serde(deserialize_with = "civil_date::deserialize")]
    pub last: Date,
    pub name_ar: String,
    pub name_en: String,
}

impl Holiday {
    /// Whether `date` is one of the holiday's days.
    pub fn contains(&self, date: Date) -> bool {
        self.first <= date && date <= self.last
    }
}

/// Different working hours (Ramadan hours) on the working days from `first` to `last`, both
/// included. Its shifts replace the regular ones; weekends and holidays inside it stay closed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursOverride {
    #[serde(deserialize_with = "civil_date::deserialize")]
    pub first: Date,
    #[serde(deserialize_with = "civil_date::deserialize")]
    pub last: Date,
    pub name_ar: String,
    pub name_en: String,
    pub working_hours: Vec<Shift>,
}

/// A calendar as written in configuration, not yet validated. Turn it into a [`BusinessCalendar`]
/// with [`BusinessCalendar::new`], which refuses it with a message naming the setting at fault.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// The calendar's name, used in error messages. In a file it is the table's key
    /// (`[calendars.NAME]`), so it is not written inside the table.
    #[serde(skip)]
    pub name: String,
    /// Open every minute of every day (emergency services). Such a calendar sets nothing else.
    #[serde(default)]
    pub always_open: bool,
    /// English weekday names, any case (`"sunday"`). `None` means Sunday to Thursday.
    #[serde(default)]
    pub working_days: Option<Vec<String>>,
    /// The regular shifts of each working day. `None` means 07:30-14:30.
    #[serde(default)]
    pub working_hours: Option<Vec<Shift>>,
    /// Whether the file's shared `[[holidays]]` apply to this calendar. Only [`calendars_from_toml`]
    /// reads it; a spec built in code lists its holidays in `holidays`.
    #[serde(default = "observes_public_holidays_by_default")]
    pub observes_public_holidays: bool,
    /// Holidays of this calendar alone, on top of the shared ones.
    #[serde(default)]
    pub holidays: Vec<Holiday>,
    /// Dated ranges with other working hours, such as Ramadan's.
    #[serde(default)]
    pub hours_overrides: Vec<HoursOverride>,
}

fn observes_public_holidays_by_default() -> bool {
    true
}

impl CalendarSpec {
    /// The default weekly calendar: Sunday to Thursday, 07:30-14:30, no holidays, no overrides.
    pub fn new(name: impl Into<String>) -> CalendarSpec {
        CalendarSpec {
            name: name.into(),
            always_open: false,
            working_days: None,
            working_hours: None,
            observes_public_holidays: true,
            holidays: Vec::new(),
            hours_overrides: Vec::new(),
        }
    }
}

/// Why a calendar or a calendar file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The text is not a calendar file: bad TOML, an unknown key, a malformed shift or date.
    #[error("calendar file does not parse: {0}")]
    Parse(String),
    /// A setting is wrong. `setting` names it as written in the file (`working_days`,
    /// `hours override 'Ramadan 1447'`, ...) and `problem` says what is wrong with it.
    #[error("calendar '{calendar}': {setting}: {problem}")]
    Invalid { calendar: String, setting: String, problem: String },
}

/// A validated business calendar. Hold one and the arithmetic on it cannot fail or loop forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    name: String,
    schedule: Schedule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Schedule {
    AlwaysOpen,
    Weekly(WeeklySchedule),
}

/// The weekly calendar in the form the arithmetic uses: days are numbered from 1970-01-01 in
/// Riyadh, and times of day are nanoseconds since local midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WeeklySchedule {
    /// Indexed by `Weekday::to_monday_zero_offset`.
    working_days: [bool; 7],
    /// Sorted by start, non-overlapping, non-empty.
    regular_shifts: Vec<Interval>,
    /// As configured, for display.
    holidays: Vec<Holiday>,
    /// The holidays' days, merged into sorted, disjoint, non-adjacent ranges.
    closed_days: Vec<DayRange>,
    /// Sorted by first day and disjoint.
    overrides: Vec<OverrideDays>,
    /// Working time in an ordinary week (one without holidays or overrides).
    nanos_per_ordinary_week: i128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interval {
    start: i128,
    end: i128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DayRange {
    first: i128,
    last: i128,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OverrideDays {
    days: DayRange,
    shifts: Vec<Interval>,
}

/// Something with a day range, so holidays and overrides share one binary search.
trait HasDays {
    fn day_range(&self) -> DayRange;
}

impl HasDays for DayRange {
    fn day_range(&self) -> DayRange {
        *self
    }
}

impl HasDays for OverrideDays {
    fn day_range(&self) -> DayRange {
        self.days
    }
}

/// The first range (of sorted, disjoint ranges) that ends on or after `day`.
fn first_range_ending_from<T: HasDays>(ranges: &[T], day: i128) -> Option<&T> {
    ranges.get(ranges.partition_point(|range| range.day_range().last < day))
}

/// The range that contains `day`, if any.
fn range_containing<T: HasDays>(ranges: &[T], day: i128) -> Option<&T> {
    first_range_ending_from(ranges, day).filter(|range| range.day_range().first <= day)
}

impl WeeklySchedule {
    /// The working intervals of one day, sorted by start; empty on weekends and holidays.
    fn intervals_on(&self, day: i128) -> &[Interval] {
        if !self.working_days[weekday_index(day)] || range_containing(&self.closed_days, day).is_some() {
            return &[];
        }
        match range_containing(&self.overrides, day) {
            Some(override_days) => &override_days.shifts,
            None => &self.regular_shifts,
        }
    }

    /// How many whole weeks starting at `day` contain no holiday and no override day, so that each
    /// holds exactly `nanos_per_ordinary_week` of working time.
    fn ordinary_weeks_from(&self, day: i128) -> i128 {
        let next_special_day =
            [first_range_ending_from(&self.closed_days, day).map(|r| r.first), first_range_ending_from(&self.overrides, day).map(|o| o.days.first)]
                .into_iter()
                .flatten()
                .min();
        match next_special_day {
            Some(special) => (special - day).max(0) / 7,
            None => i128::MAX,
        }
    }

    fn add_working_nanos(&self, from: i128, mut remaining: i128) -> i128 {
        let (mut day, mut time_of_day) = split_local_nanos(from);
        loop {
            if time_of_day == 0 && remaining > self.nanos_per_ordinary_week {
                // Keep at least one nanosecond for the walk, so the result is found inside a shift.
                let weeks = ((remaining - 1) / self.nanos_per_ordinary_week).min(self.ordinary_weeks_from(day));
                day += 7 * weeks;
                remaining -= weeks * self.nanos_per_ordinary_week;
            }
            for interval in self.intervals_on(day) {
                if time_of_day >= interval.end {
                    continue;
                }
                let start = time_of_day.max(interval.start);
                let available = interval.end - start;
                if remaining <= available {
                    return day * NANOS_PER_DAY + start + remaining;
                }
                remaining -= available;
            }
            day += 1;
            time_of_day = 0;
        }
    }

    fn working_nanos_between(&self, from: i128, to: i128) -> i128 {
        let (mut day, mut time_of_day) = split_local_nanos(from);
        let (to_day, to_time_of_day) = split_local_nanos(to);
        let mut total = 0;
        loop {
            if time_of_day == 0 {
                let weeks = ((to_day - day) / 7).min(self.ordinary_weeks_from(day));
                day += 7 * weeks;
                total += weeks * self.nanos_per_ordinary_week;
            }
            let limit = if day == to_day { to_time_of_day } else { NANOS_PER_DAY };
            for interval in self.intervals_on(day) {
                let start = interval.start.max(time_of_day);
                let end = interval.end.min(limit);
                if end > start {
                    total += end - start;
                }
            }
            if day >= to_day {
                return total;
            }
            day += 1;
            time_of_day = 0;
        }
    }

    fn next_working(&self, at: i128) -> i128 {
        let (mut day, mut time_of_day) = split_local_nanos(at);
        loop {
            if let Some(interval) = self.intervals_on(day).iter().find(|interval| time_of_day < interval.end) {
                return day * NANOS_PER_DAY + time_of_day.max(interval.start);
            }
            day += 1;
            time_of_day = 0;
        }
    }
}

impl BusinessCalendar {
    /// Validates `spec`. The error names the setting at fault, such as
    /// `calendar 'roads': hours override 'Ramadan 1447': shift 2 07:00-09:00 overlaps shift 1 08:00-10:00`.
    pub fn new(spec: CalendarSpec) -> Result<BusinessCalendar, CalendarError> {
        let name = spec.name;
        let invalid = |setting: &str, problem: String| CalendarError::Invalid { calendar: name.clone(), setting: setting.to_owned(), problem };

        if spec.always_open {
            let conflicting = [
                ("working_days", spec.working_days.is_some()),
                ("working_hours", spec.working_hours.is_some()),
                ("holidays", !spec.holidays.is_empty()),
                ("hours_overrides", !spec.hours_overrides.is_empty()),
            ];
            if let Some((setting, _)) = conflicting.iter().find(|(_, is_set)| *is_set) {
                return Err(invalid(setting, "an always-open calendar works every minute; remove this setting or always_open".to_owned()));
            }
            return Ok(BusinessCalendar { name, schedule: Schedule::AlwaysOpen });
        }

        let working_days = parse_working_days(spec.working_days.as_deref()).map_err(|problem| invalid("working_days", problem))?;
        let regular_shifts =
            intervals_of(spec.working_hours.as_deref().unwrap_or(&[DEFAULT_WORKING_HOURS])).map_err(|problem| invalid("working_hours", problem))?;

        let mut holiday_days = Vec::with_capacity(spec.holidays.len());
        for holiday in &spec.holidays {
            let setting = dated_setting("holiday", &holiday.name_en, holiday.first);
            let days = day_range_of(&holiday.name_ar, &holiday.name_en, holiday.first, holiday.last).map_err(|problem| invalid(&setting, problem))?;
            holiday_days.push(days);
        }
        let closed_days = merge(holiday_days);

        let mut overrides: Vec<(String, OverrideDays)> = Vec::with_capacity(spec.hours_overrides.len());
        for hours_override in &spec.hours_overrides {
            let setting = dated_setting("hours override", &hours_override.name_en, hours_override.first);
            let days = day_range_of(&hours_override.name_ar, &hours_override.name_en, hours_override.first, hours_override.last)
                .map_err(|problem| invalid(&setting, problem))?;
            let shifts = intervals_of(&hours_override.working_hours).map_err(|problem| invalid(&setting, problem))?;
            overrides.push((setting, OverrideDays { days, shifts }));
        }
        overrides.sort_by_key(|(_, o)| o.days.first);
        for pair in overrides.windows(2) {
            let ((earlier_setting, earlier), (later_setting, later)) = (&pair[0], &pair[1]);
            if later.days.first <= earlier.days.last {
                return Err(invalid(later_setting, format!("its dates overlap those of {earlier_setting}")));
            }
        }
        let overrides: Vec<OverrideDays> = overrides.into_iter().map(|(_, o)| o).collect();

        if let Some((first_day, length)) = longest_closure(&working_days, &closed_days).filter(|(_, length)| *length > i128::from(LONGEST_CLOSURE_DAYS)) {
            return Err(invalid(
                "holidays",
                format!(
                    "with the weekends they close the calendar for {length} days in a row, from {} to {}; at most {LONGEST_CLOSURE_DAYS} are allowed",
                    describe_day(first_day),
                    describe_day(first_day + length - 1)
                ),
            ));
        }

        let working_days_per_week: i128 = working_days.iter().map(|&works| i128::from(works)).sum();
        let nanos_per_shift_day: i128 = regular_shifts.iter().map(|interval| interval.end - interval.start).sum();
        Ok(BusinessCalendar {
            name,
            schedule: Schedule::Weekly(WeeklySchedule {
                working_days,
                regular_shifts,
                holidays: spec.holidays,
                closed_days,
                overrides,
                nanos_per_ordinary_week: working_days_per_week * nanos_per_shift_day,
            }),
        })
    }

    /// A calendar open every minute of every day, for emergency services: business minutes are
    /// wall-clock minutes.
    pub fn always_open(name: impl Into<String>) -> BusinessCalendar {
        BusinessCalendar { name: name.into(), schedule: Schedule::AlwaysOpen }
    }

    /// The calendar's name, as given in its spec or file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether every instant is working time.
    pub fn is_always_open(&self) -> bool {
        matches!(self.schedule, Schedule::AlwaysOpen)
    }

    /// The holidays the calendar observes, as configured (none for an always-open calendar).
    pub fn holidays(&self) -> &[Holiday] {
        match &self.schedule {
            Schedule::AlwaysOpen => &[],
            Schedule::Weekly(weekly) => &weekly.holidays,
        }
    }

    /// Whether `at` is working time: it lies in `[start, end)` of a shift of its day.
    pub fn is_working_time(&self, at: Timestamp) -> bool {
        match &self.schedule {
            Schedule::AlwaysOpen => true,
            Schedule::Weekly(weekly) => {
                let (day, time_of_day) = split_local_nanos(local_nanos(at));
                weekly.intervals_on(day).iter().any(|interval| interval.start <= time_of_day && time_of_day < interval.end)
            }
        }
    }

    /// The first working instant at or after `at`: `at` itself during working time, otherwise the
    /// start of the next shift.
    pub fn next_working_instant(&self, at: Timestamp) -> Timestamp {
        match &self.schedule {
            Schedule::AlwaysOpen => at,
            Schedule::Weekly(weekly) => to_timestamp(weekly.next_working(local_nanos(at))),
        }
    }

    /// The instant at which `minutes` working minutes have elapsed after `from`: the deadline of a
    /// target of `minutes` business minutes.
    ///
    /// Counting starts at `from`, or at the next working instant when `from` is outside working
    /// time. The result is the exact instant the last minute completes, so for `minutes > 0` it
    /// lies in `(start, end]` of some shift: it may equal a shift's end, and it is never inside a
    /// weekend or a holiday. `minutes <= 0` gives `from` unchanged. Adding is additive:
    /// `add(add(t, a), b) == add(t, a + b)`. A deadline beyond jiff's range (year 9999) is
    /// `Timestamp::MAX`.
    pub fn add_business_minutes(&self, from: Timestamp, minutes: i64) -> Timestamp {
        if minutes <= 0 {
            return from;
        }
        let nanos = i128::from(minutes) * NANOS_PER_MINUTE;
        match &self.schedule {
            Schedule::AlwaysOpen => to_timestamp(local_nanos(from) + nanos),
            Schedule::Weekly(weekly) => to_timestamp(weekly.add_working_nanos(local_nanos(from), nanos)),
        }
    }

    /// The working time in `[from, to)`, in whole minutes rounded down; 0 when `to <= from`. For
    /// every `n >= 0`, `business_minutes_between(t, add_business_minutes(t, n)) == n`.
    pub fn business_minutes_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to <= from {
            return 0;
        }
        let (from, to) = (local_nanos(from), local_nanos(to));
        let nanos = match &self.schedule {
            Schedule::AlwaysOpen => to - from,
            Schedule::Weekly(weekly) => weekly.working_nanos_between(from, to),
        };
        i64::try_from(nanos / NANOS_PER_MINUTE).unwrap_or(i64::MAX)
    }
}

/// The calendars of a TOML calendar file, by name. The file holds shared public holidays, which
/// every weekly calendar observes unless it sets `observes_public_holidays = false`, and named
/// calendars:
///
/// ```toml
/// [[holidays]]
/// first = 2026-09-23
/// last = 2026-09-23
/// name_ar = "اليوم الوطني"
/// name_en = "National Day"
///
/// [calendars.default]
/// working_days = ["sunday", "monday", "tuesday", "wednesday", "thursday"]
/// working_hours = ["07:30-14:30"]
///
/// [[calendars.default.hours_overrides]]
/// first = 2026-02-18
/// last = 2026-03-19
/// name_ar = "رمضان ١٤٤٧"
/// name_en = "Ramadan 1447"
/// working_hours = ["10:00-15:00"]
///
/// [calendars.emergency]
/// always_open = true
/// ```
pub fn calendars_from_toml(text: &str) -> Result<BTreeMap<String, BusinessCalendar>, CalendarError> {
    let file: CalendarFile = toml::from_str(text).map_err(|error| CalendarError::Parse(error.to_string()))?;
    if file.calendars.is_empty() {
        return Err(CalendarError::Parse("the file has no calendars; add a [calendars.NAME] table".to_owned()));
    }
    let shared_holidays = file.holidays;
    file.calendars
        .into_iter()
        .map(|(name, mut spec)| {
            spec.name.clone_from(&name);
            if spec.observes_public_holidays && !spec.always_open {
                spec.holidays.splice(0..0, shared_holidays.iter().cloned());
            }
            Ok((name, BusinessCalendar::new(spec)?))
        })
        .collect()
}

/// The TOML form of a calendar file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[serde(default)]
    holidays: Vec<Holiday>,
    #[serde(default)]
    calendars: BTreeMap<String, CalendarSpec>,
}

fn parse_working_days(names: Option<&[String]>) -> Result<[bool; 7], String> {
    let mut working_days = [false; 7];
    let Some(names) = names else {
        for weekday in DEFAULT_WORKING_DAYS {
            working_days[weekday_offset(weekday)] = true;
        }
        return Ok(working_days);
    };
    if names.is_empty() {
        return Err("no working days; list at least one weekday, or set always_open = true".to_owned());
    }
    for name in names {
        let weekday = WEEKDAY_NAMES.iter().find(|(known, _)| known.eq_ignore_ascii_case(name.trim())).map(|&(_, weekday)| weekday).ok_or_else(|| {
            let known: Vec<&str> = WEEKDAY_NAMES.iter().map(|(known, _)| *known).collect();
            format!("unknown weekday '{name}'; expected one of {}", known.join(", "))
        })?;
        let slot = &mut working_days[weekday_offset(weekday)];
        if *slot {
            return Err(format!("weekday '{name}' is listed twice"));
        }
        *slot = true;
    }
    Ok(working_days)
}

/// Checks shifts (at least one, each starting before it ends, none overlapping another) and turns
/// them into intervals sorted by start. Shifts are numbered from 1 in the order written.
fn intervals_of(shifts: &[Shift]) -> Result<Vec<Interval>, String> {
    if shifts.is_empty() {
        return Err("no shifts; list at least one, such as \"07:30-14:30\"".to_owned());
    }
    for (index, shift) in shifts.iter().enumerate() {
        if shift.start >= shift.end {
            return Err(format!("shift {} {shift} does not start before it ends (a shift lies within one day)", index + 1));
        }
    }
    for (index, shift) in shifts.iter().enumerate() {
        if let Some((other_index, other)) = shifts[..index].iter().enumerate().find(|(_, other)| shift.start < other.end && other.start < shift.end) {
            return Err(format!("shift {} {shift} overlaps shift {} {other}", index + 1, other_index + 1));
        }
    }
    let mut intervals: Vec<Interval> = shifts.iter().map(|shift| Interval { start: nanos_of_day(shift.start), end: nanos_of_day(shift.end) }).collect();
    intervals.sort_by_key(|interval| interval.start);
    Ok(intervals)
}

/// Checks a dated range's names and order and returns its day numbers.
fn day_range_of(name_ar: &str, name_en: &str, first: Date, last: Date) -> Result<DayRange, String> {
    if name_ar.trim().is_empty() || name_en.trim().is_empty() {
        return Err("needs both name_ar and name_en".to_owned());
    }
    if last < first {
        return Err(format!("last {last} is before first {first}"));
    }
    Ok(DayRange { first: day_number(first), last: day_number(last) })
}

/// Names a holiday or an override in an error: by its English name, or by its first day when it
/// has none.
fn dated_setting(kind: &str, name_en: &str, first: Date) -> String {
    if name_en.trim().is_empty() { format!("{kind} starting {first}") } else { format!("{kind} '{name_en}'") }
}

/// Sorts day ranges and merges those that overlap or touch.
fn merge(mut ranges: Vec<DayRange>) -> Vec<DayRange> {
    ranges.sort_by_key(|range| range.first);
    let mut merged: Vec<DayRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(previous) if range.first <= previous.last + 1 => previous.last = previous.last.max(range.last),
            _ => merged.push(range),
        }
    }
    merged
}

/// The longest run of consecutive days without working time, as (first day, length), for a
/// calendar whose every working day has shifts. Only runs that touch a holiday can be longer than
/// six days, so the walk starts a week before the first holiday, ends a week after the last, and
/// jumps over long stretches between holidays (which always contain a working day).
fn longest_closure(working_days: &[bool; 7], closed_days: &[DayRange]) -> Option<(i128, i128)> {
    let (first, last) = (closed_days.first()?, closed_days.last()?);
    let end = last.last + 7;
    let mut day = first.first - 7;
    let mut next_range = 0;
    let (mut run_first, mut run_length) = (day, 0);
    let mut longest = (day, 0);
    while day <= end {
        match closed_days.get(next_range) {
            Some(range) if range.first <= day => {
                if run_length == 0 {
                    run_first = day;
                }
                run_length += range.last - day + 1;
                day = range.last + 1;
                next_range += 1;
            }
            upcoming => {
                let next_closed = upcoming.map_or(end + 1, |range| range.first);
                if next_closed - day >= 14 {
                    run_length = 0;
                    day = next_closed - 7;
                    continue;
                }
                if working_days[weekday_index(day)] {
                    run_length = 0;
                } else {
                    if run_length == 0 {
                        run_first = day;
                    }
                    run_length += 1;
                }
                day += 1;
            }
        }
        if run_length > longest.1 {
            longest = (run_first, run_length);
        }
    }
    Some(longest)
}

fn weekday_offset(weekday: Weekday) -> usize {
    usize::from(weekday.to_monday_zero_offset().unsigned_abs())
}

/// The weekday of a day number, as `Weekday::to_monday_zero_offset`.
fn weekday_index(day: i128) -> usize {
    // rem_euclid(7) is in 0..7, so the conversion cannot fail.
    usize::try_from((day + WEEKDAY_OF_DAY_ZERO).rem_euclid(7)).unwrap_or(0)
}

const DAY_ZERO: Date = jiff::civil::date(1970, 1, 1);

/// Days since 1970-01-01 (negative before it).
fn day_number(date: Date) -> i128 {
    i128::from(date.duration_since(DAY_ZERO).as_secs()) / 86_400
}

/// A day number as a date, for messages.
fn describe_day(day: i128) -> String {
    i64::try_from(day * 24)
        .ok()
        .and_then(|hours| DAY_ZERO.checked_add(SignedDuration::from_hours(hours)).ok())
        .map_or_else(|| format!("day {day}"), |date| date.to_string())
}

fn nanos_of_day(time: Time) -> i128 {
    time.duration_since(Time::midnight()).as_nanos()
}

/// Nanoseconds since 1970-01-01T00:00 in Riyadh civil time.
fn local_nanos(at: Timestamp) -> i128 {
    at.as_nanosecond() + UTC_OFFSET_NANOS
}

/// (day number, nanoseconds since that day's midnight) of a local instant.
fn split_local_nanos(local: i128) -> (i128, i128) {
    (local.div_euclid(NANOS_PER_DAY), local.rem_euclid(NANOS_PER_DAY))
}

/// The instant of a local time, saturating at jiff's limits.
fn to_timestamp(local: i128) -> Timestamp {
    let utc = local - UTC_OFFSET_NANOS;
    Timestamp::from_nanosecond(utc).unwrap_or(if utc < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::DateTime;
    use proptest::prelude::*;

    const SHIPPED: &str = include_str!("../../../catalogue/calendar-eastern-province.toml");

    /// An instant from a Riyadh civil time such as "2026-01-08T14:00".
    fn at(civil: &str) -> Timestamp {
        let datetime: DateTime = civil.parse().unwrap();
        riyadh_time_zone().to_timestamp(datetime).unwrap()
    }

    fn civil(at: Timestamp) -> DateTime {
        riyadh_time_zone().to_datetime(at)
    }

    fn shift(text: &str) -> Shift {
        text.parse().unwrap()
    }

    fn holiday(first: &str, last: &str, name_en: &str) -> Holiday {
        Holiday { first: first.parse().unwrap(), last: last.parse().unwrap(), name_ar: "عطلة".to_owned(), name_en: name_en.to_owned() }
    }

    fn hours_override(first: &str, last: &str, name_en: &str, shifts: &[&str]) -> HoursOverride {
        HoursOverride {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
            name_ar: "رمضان".to_owned(),
            name_en: name_en.to_owned(),
            working_hours: shifts.iter().map(|text| shift(text)).collect(),
        }
    }

    /// Sunday to Thursday 07:30-14:30, National Day 2026 off, Ramadan 1447 at 10:00-15:00.
    fn office() -> BusinessCalendar {
        let mut spec = CalendarSpec::new("office");
        spec.holidays.push(holiday("2026-09-23", "2026-09-23", "National Day"));
        spec.hours_overrides.push(hours_override("2026-02-18", "2026-03-19", "Ramadan 1447", &["10:00-15:00"]));
        BusinessCalendar::new(spec).unwrap()
    }

    /// Sunday to Thursday 08:00-12:00 and 16:00-20:00.
    fn split_shifts() -> BusinessCalendar {
        let mut spec = CalendarSpec::new("split");
        spec.working_hours = Some(vec![shift("16:00-20:00"), shift("08:00-12:00")]);
        BusinessCalendar::new(spec).unwrap()
    }

    fn shipped() -> BTreeMap<String, BusinessCalendar> {
        calendars_from_toml(SHIPPED).unwrap()
    }

    fn check(calendar: &BusinessCalendar, from: &str, minutes: i64, expected: &str) {
        let deadline = calendar.add_business_minutes(at(from), minutes);
        assert_eq!(civil(deadline), expected.parse::<DateTime>().unwrap(), "{}: {from} + {minutes} min", calendar.name());
    }

    #[test]
    fn adding_business_minutes_lands_where_the_office_would_say() {
        let office = office();
        // 2026-01-08 is a Thursday; 2026-01-11 a Sunday.
        check(&office, "2026-01-08T14:00", 60, "2026-01-11T08:00");
        check(&office, "2026-01-09T10:00", 30, "2026-01-11T08:00"); // from a Friday
        check(&office, "2026-01-10T23:00", 420, "2026-01-11T14:30"); // from a Saturday night, a whole day
        check(&office, "2026-01-05T06:00", 30, "2026-01-05T08:00"); // before opening
        check(&office, "2026-01-05T10:00", 30, "2026-01-05T10:30"); // during a shift
        check(&office, "2026-01-05T14:29", 1, "2026-01-05T14:30"); // the last minute ends at the shift's end
        check(&office, "2026-01-05T14:30", 1, "2026-01-06T07:31"); // at a shift's end
        check(&office, "2026-01-05T20:00", 0, "2026-01-05T20:00"); // zero minutes change nothing
        check(&office, "2026-01-05T20:00", -5, "2026-01-05T20:00");
        check(&office, "2026-01-04T07:30", 10 * 420, "2026-01-15T14:30"); // ten working days
        check(&office, "2026-01-04T07:30:20", 1, "2026-01-04T07:31:20"); // seconds are kept
        check(&office, "2026-09-22T14:00", 60, "2026-09-24T08:00"); // National Day skipped
        check(&office, "2026-12-31T14:00", 60, "2027-01-03T08:00"); // year boundary, Thursday to Sunday
        check(&office, "2026-03-01T09:00", 60, "2026-03-01T11:00"); // Ramadan hours start at 10:00
        check(&office, "2026-03-01T14:30", 60, "2026-03-02T10:30"); // and end at 15:00
        check(&office, "2026-03-19T14:30", 60, "2026-03-22T08:00"); // the last Ramadan day into ordinary hours
        check(&office, "2026-02-17T14:00", 60, "2026-02-18T10:30"); // the eve of Ramadan into Ramadan
        let split = split_shifts();
        check(&split, "2026-01-05T11:30", 60, "2026-01-05T16:30");
        check(&split, "2026-01-05T13:00", 240, "2026-01-05T20:00");
        check(&split, "2026-01-05T12:00", 1, "2026-01-05T16:01");
        check(&split, "2026-01-05T19:30", 60, "2026-01-06T08:30");
        check(&split, "2026-01-08T19:30", 60, "2026-01-11T08:30");
        let emergency = BusinessCalendar::always_open("emergency");
        check(&emergency, "2026-01-09T02:00", 90, "2026-01-09T03:30"); // a Friday night
        check(&emergency, "2026-12-31T23:30", 60, "2027-01-01T00:30");
    }

    #[test]
    fn working_time_is_half_open_and_skips_weekends_holidays_and_closed_hours() {
        let office = office();
        let cases = [
            ("2026-01-05T07:29:59", false),
            ("2026-01-05T07:30", true),
            ("2026-01-05T14:29:59", true),
            ("2026-01-05T14:30", false),
            ("2026-01-09T10:00", false), // Friday
            ("2026-01-10T10:00", false), // Saturday
            ("2026-09-23T10:00", false), // National Day
            ("2026-03-01T09:00", false), // Ramadan: opens at 10:00
            ("2026-03-01T14:45", true),  // Ramadan: closes at 15:00
        ];
        for (instant, expected) in cases {
            assert_eq!(office.is_working_time(at(instant)), expected, "{instant}");
        }
        assert!(BusinessCalendar::always_open("emergency").is_working_time(at("2026-01-09T03:00")));
    }

    #[test]
    fn the_next_working_instant_is_the_next_shift_start_or_now() {
        let office = office();
        let cases = [
            ("2026-01-05T10:00", "2026-01-05T10:00"),
            ("2026-01-05T06:00", "2026-01-05T07:30"),
            ("2026-01-05T14:30", "2026-01-06T07:30"),
            ("2026-01-08T15:00", "2026-01-11T07:30"),
            ("2026-09-22T15:00", "2026-09-24T07:30"),
            ("2026-02-18T08:00", "2026-02-18T10:00"),
        ];
        for (from, expected) in cases {
            assert_eq!(civil(office.next_working_instant(at(from))), expected.parse::<DateTime>().unwrap(), "{from}");
        }
        let split = split_shifts();
        assert_eq!(civil(split.next_working_instant(at("2026-01-05T12:00"))), "2026-01-05T16:00".parse::<DateTime>().unwrap());
    }

    #[test]
    fn business_minutes_between_counts_only_working_time() {
        let office = office();
        let cases = [
            ("2026-01-08T14:00", "2026-01-11T08:00", 60),
            ("2026-01-05T08:00", "2026-01-05T07:00", 0),
            ("2026-01-05T08:00", "2026-01-05T08:00", 0),
            ("2026-01-05T08:00", "2026-01-05T08:00:59", 0), // rounded down
            ("2026-01-09T00:00", "2026-01-11T00:00", 0),
            ("2026-01-04T00:00", "2026-02-01T00:00", 20 * 420),
            ("2026-09-20T00:00", "2026-09-27T00:00", 4 * 420),
            ("2026-03-01T00:00", "2026-03-02T00:00", 300),
            ("2025-12-31T14:00", "2026-01-01T08:00", 60),
        ];
        for (from, to, expected) in cases {
            assert_eq!(office.business_minutes_between(at(from), at(to)), expected, "{from} .. {to}");
        }
        let emergency = BusinessCalendar::always_open("emergency");
        assert_eq!(emergency.business_minutes_between(at("2026-01-09T00:00"), at("2026-01-10T00:00")), 1_440);
    }

    #[test]
    fn huge_targets_and_spans_finish_at_once_and_saturate() {
        let office = office();
        let from = at("2026-01-05T10:00");
        assert_eq!(office.add_business_minutes(from, i64::MAX), Timestamp::MAX);
        assert_eq!(BusinessCalendar::always_open("emergency").add_business_minutes(from, i64::MAX), Timestamp::MAX);
        let minutes = office.business_minutes_between(Timestamp::MIN, Timestamp::MAX);
        // About 20,000 years of five 7-hour days a week.
        assert!((2_100_000_000..2_300_000_000).contains(&minutes), "{minutes}");
        let far = office.add_business_minutes(from, 100_000_000);
        assert_eq!(office.business_minutes_between(from, far), 100_000_000);
    }

    fn refusal(edit: impl FnOnce(&mut CalendarSpec)) -> String {
        let mut spec = CalendarSpec::new("roads");
        edit(&mut spec);
        BusinessCalendar::new(spec).unwrap_err().to_string()
    }

    #[test]
    fn invalid_calendars_are_refused_with_the_setting_named() {
        type Edit = Box<dyn FnOnce(&mut CalendarSpec)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|s| s.working_days = Some(vec![])), "calendar 'roads': working_days: no working days"),
            (Box::new(|s| s.working_days = Some(vec!["sunday".into(), "Moonday".into()])), "calendar 'roads': working_days: unknown weekday 'Moonday'"),
            (Box::new(|s| s.working_days = Some(vec!["sunday".into(), "Sunday".into()])), "working_days: weekday 'Sunday' is listed twice"),
            (Box::new(|s| s.working_hours = Some(vec![])), "calendar 'roads': working_hours: no shifts"),
            (Box::new(|s| s.working_hours = Some(vec![shift("14:30-07:30")])), "working_hours: shift 1 14:30-07:30 does not start before it ends"),
            (Box::new(|s| s.working_hours = Some(vec![shift("08:00-08:00")])), "working_hours: shift 1 08:00-08:00 does not start before it ends"),
            (
                Box::new(|s| s.working_hours = Some(vec![shift("08:00-10:00"), shift("07:00-09:00")])),
                "working_hours: shift 2 07:00-09:00 overlaps shift 1 08:00-10:00",
            ),
            (
                Box::new(|s| s.hours_overrides.push(hours_override("2026-02-18", "2026-03-19", "Ramadan 1447", &["08:00-10:00", "07:00-09:00"]))),
                "calendar 'roads': hours override 'Ramadan 1447': shift 2 07:00-09:00 overlaps shift 1 08:00-10:00",
            ),
            (Box::new(|s| s.hours_overrides.push(hours_override("2026-02-18", "2026-03-19", "Ramadan 1447", &[]))), "hours override 'Ramadan 1447': no shifts"),
            (
                Box::new(|s| s.hours_overrides.push(hours_override("2026-03-19", "2026-02-18", "Ramadan 1447", &["10:00-15:00"]))),
                "hours override 'Ramadan 1447': last 2026-02-18 is before first 2026-03-19",
            ),
            (
                Box::new(|s| {
                    s.hours_overrides.push(hours_override("2026-02-18", "2026-03-19", "Ramadan 1447", &["10:00-15:00"]));
                    s.hours_overrides.push(hours_override("2026-03-01", "2026-03-05", "Audit week", &["09:00-12:00"]));
                }),
                "hours override 'Audit week': its dates overlap those of hours override 'Ramadan 1447'",
            ),
            (
                Box::new(|s| s.holidays.push(holiday("2026-09-23", "2026-09-22", "National Day"))),
                "holiday 'National Day': last 2026-09-22 is before first 2026-09-23",
            ),
            (Box::new(|s| s.holidays.push(holiday("2026-09-23", "2026-09-23", " "))), "holiday starting 2026-09-23: needs both name_ar and name_en"),
            (
                Box::new(|s| s.holidays.push(holiday("2026-01-04", "2026-12-31", "Typo"))),
                "holidays: with the weekends they close the calendar for 366 days in a row, from 2026-01-02 to 2027-01-02",
            ),
            (
                Box::new(|s| {
                    s.always_open = true;
                    s.working_hours = Some(vec![shift("08:00-10:00")]);
                }),
                "calendar 'roads': working_hours: an always-open calendar works every minute",
            ),
        ];
        for (edit, expected) in cases {
            let message = refusal(edit);
            assert!(message.contains(expected), "{message:?} should contain {expected:?}");
        }
    }

    #[test]
    fn closures_up_to_the_limit_are_accepted_across_adjoining_holidays() {
        // 2026-01-04 (Sunday) to 2026-03-01 (Sunday) with the Friday and Saturday before: 59 days.
        let mut spec = CalendarSpec::new("roads");
        spec.holidays.push(holiday("2026-01-04", "2026-02-01", "First"));
        spec.holidays.push(holiday("2026-02-02", "2026-03-01", "Second"));
        let calendar = BusinessCalendar::new(spec.clone()).unwrap();
        assert_eq!(civil(calendar.next_working_instant(at("2026-01-01T15:00"))), "2026-03-02T07:30".parse::<DateTime>().unwrap());
        spec.holidays.push(holiday("2026-03-02", "2026-03-03", "Third"));
        assert!(BusinessCalendar::new(spec).unwrap_err().to_string().contains("61 days in a row, from 2026-01-02 to 2026-03-03"));
    }

    #[test]
    fn calendar_files_are_refused_when_they_do_not_parse() {
        let cases = [
            ("[calendars.default]\ncolour = \"red\"\n", "colour"),
            ("[calendars.default]\nworking_hours = [\"7-14\"]\n", "shift '7-14' is not written as HH:MM-HH:MM"),
            ("holidays = []\n", "no calendars"),
            ("[[holidays]]\nfirst = 2026-09-23T10:00\nlast = 2026-09-23\nname_ar = \"ي\"\nname_en = \"N\"\n[calendars.default]\n", "has a time of day"),
            ("[[holidays]]\nfirst = \"2026-09-31\"\nlast = 2026-09-23\nname_ar = \"ي\"\nname_en = \"N\"\n[calendars.default]\n", "'2026-09-31' is not a date"),
            ("[calendars.default]\nworking_days = [\"sunday\", \"funday\"]\n", "calendar 'default': working_days: unknown weekday 'funday'"),
        ];
        for (text, expected) in cases {
            let message = calendars_from_toml(text).unwrap_err().to_string();
            assert!(message.contains(expected), "{message:?} should contain {expected:?}");
        }
    }

    #[test]
    fn shared_holidays_apply_unless_a_calendar_opts_out() {
        let text = r#"
[[holidays]]
first = 2026-09-23
last = 2026-09-23
name_ar = "اليوم الوطني"
name_en = "National Day"

[calendars.office]

[calendars.cleaning]
working_days = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
working_hours = ["06:00-12:00", "16:00-22:00"]
observes_public_holidays = false

[calendars.emergency]
always_open = true
"#;
        let calendars = calendars_from_toml(text).unwrap();
        let national_day = at("2026-09-23T10:00");
        assert!(!calendars["office"].is_working_time(national_day));
        assert!(calendars["cleaning"].is_working_time(national_day));
        assert!(calendars["emergency"].is_working_time(national_day));
        assert!(calendars["emergency"].holidays().is_empty());
    }

    #[test]
    fn the_shipped_calendars_parse_and_hold_both_years_holidays() {
        let calendars = shipped();
        let default = &calendars["default"];
        assert_eq!(default.name(), "default");
        assert!(calendars["emergency"].is_always_open());
        for year in [2026, 2027] {
            for name in ["Founding Day", "National Day", "Eid al-Fitr", "Eid al-Adha"] {
                assert!(default.holidays().iter().any(|h| h.first.year() == year && h.name_en.starts_with(name)), "{name} {year} is missing");
            }
        }
        let closed = [
            "2026-02-22T10:00",
            "2026-03-23T10:00",
            "2026-05-27T10:00",
            "2026-09-23T10:00",
            "2027-02-22T10:00",
            "2027-03-10T10:00",
            "2027-05-17T10:00",
            "2027-09-23T10:00",
        ];
        for instant in closed {
            assert!(!default.is_working_time(at(instant)), "{instant} should be a holiday");
        }
        // Ramadan hours: 10:00-15:00 on working days.
        assert!(!default.is_working_time(at("2026-03-02T09:00")));
        assert!(default.is_working_time(at("2026-03-02T14:45")));
        assert!(default.is_working_time(at("2027-02-15T14:45")));
        assert!(default.is_working_time(at("2026-03-25T08:00")));
    }

    fn instants() -> impl Strategy<Value = Timestamp> {
        let (first, last) = (at("2026-01-01T00:00").as_second(), at("2028-01-01T00:00").as_second());
        (first..last).prop_map(|second| Timestamp::from_second(second).unwrap())
    }

    fn weekly_calendars() -> impl Strategy<Value = BusinessCalendar> {
        prop_oneof![Just(shipped()["default"].clone()), Just(split_shifts())]
    }

    /// The documented meaning of "a deadline falls inside working time": it lies in `(start, end]`
    /// of a shift, that is, the nanosecond before it is working time.
    fn is_inside_working_time(calendar: &BusinessCalendar, deadline: Timestamp) -> bool {
        calendar.is_working_time(deadline - SignedDuration::from_nanos(1))
    }

    proptest! {
        #[test]
        fn a_deadline_always_falls_inside_working_time(calendar in weekly_calendars(), from in instants(), minutes in 1..20_000i64) {
            let deadline = calendar.add_business_minutes(from, minutes);
            prop_assert!(is_inside_working_time(&calendar, deadline), "{from} + {minutes} = {deadline}");
        }

        #[test]
        fn adding_is_monotonic_in_the_start(calendar in weekly_calendars(), a in instants(), b in instants(), minutes in 0..20_000i64) {
            let (earlier, later) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(calendar.add_business_minutes(earlier, minutes) <= calendar.add_business_minutes(later, minutes));
        }

        #[test]
        fn adding_is_monotonic_in_the_minutes(calendar in weekly_calendars(), from in instants(), a in 0..20_000i64, b in 0..20_000i64) {
            let (fewer, more) = (a.min(b), a.max(b));
            prop_assert!(calendar.add_business_minutes(from, fewer) <= calendar.add_business_minutes(from, more));
        }

        #[test]
        fn measuring_what_was_added_gives_it_back(calendar in weekly_calendars(), from in instants(), minutes in 0..20_000i64) {
            let deadline = calendar.add_business_minutes(from, minutes);
            prop_assert_eq!(calendar.business_minutes_between(from, deadline), minutes);
        }

        #[test]
        fn adding_in_two_steps_equals_adding_at_once(calendar in weekly_calendars(), from in instants(), a in 0..10_000i64, b in 0..10_000i64) {
            let in_two_steps = calendar.add_business_minutes(calendar.add_business_minutes(from, a), b);
            prop_assert_eq!(in_two_steps, calendar.add_business_minutes(from, a + b));
        }

        #[test]
        fn no_deadline_falls_on_a_weekend_or_a_holiday(from in instants(), minutes in 1..20_000i64) {
            let calendar = &shipped()["default"];
            let date = civil(calendar.add_business_minutes(from, minutes)).date();
            prop_assert!(!matches!(date.weekday(), Weekday::Friday | Weekday::Saturday), "{date}");
            prop_assert!(!calendar.holidays().iter().any(|holiday| holiday.contains(date)), "{date}");
        }

        #[test]
        fn the_next_working_instant_is_working_and_nothing_before_it_is(calendar in weekly_calendars(), from in instants()) {
            let next = calendar.next_working_instant(from);
            prop_assert!(calendar.is_working_time(next));
            prop_assert!(next >= from);
            prop_assert_eq!(calendar.business_minutes_between(from, next), 0);
            prop_assert_eq!(calendar.is_working_time(from), next == from);
        }

        #[test]
        fn always_open_adds_wall_clock_minutes(from in instants(), minutes in 0..20_000i64) {
            let calendar = &shipped()["emergency"];
            let deadline = calendar.add_business_minutes(from, minutes);
            prop_assert_eq!(deadline, from + SignedDuration::from_mins(minutes));
            prop_assert_eq!(calendar.business_minutes_between(from, deadline), minutes);
        }
    }
}
