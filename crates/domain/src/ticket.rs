//! Public ticket numbers: digits only, so they can be typed on a phone keypad and read out by the
//! IVR, ending in a Damm check digit that catches every single-digit error and every swap of two
//! adjacent digits.

use crate::digits::to_ascii_digits;
use crate::error::FieldError;
use crate::report::ReportId;
use std::fmt;

/// Damm's quasigroup of order 10 (weakly totally anti-symmetric), as published by H. Michael Damm.
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm interim digit of an ASCII digit string; a valid number (with its check digit) gives 0.
fn damm(digits: &[u8]) -> u8 {
    digits.iter().fold(0u8, |interim, d| DAMM[interim as usize][(d - b'0') as usize])
}

/// Width of the number part before the check digit; shorter ids are zero-padded.
const MIN_BODY_DIGITS: usize = 7;
/// Longest ticket accepted: an i64 id has at most 19 digits, plus the check digit.
const MAX_DIGITS: usize = 20;

/// A report's public number: the report id, zero-padded to seven digits, followed by a check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketNumber(ReportId);

impl TicketNumber {
    pub fn for_report(id: ReportId) -> Self {
        Self(id)
    }

    pub fn report_id(self) -> ReportId {
        self.0
    }

    /// Parses what a person typed or said: ASCII or Arabic-Indic digits, spaces and dashes ignored.
    pub fn parse(input: &str) -> Result<Self, TicketError> {
        let normalised: String = to_ascii_digits(input).chars().filter(|c| !matches!(c, ' ' | '-' | '\u{a0}')).collect();
        if normalised.is_empty() {
            return Err(TicketError::Empty);
        }
        if !normalised.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TicketError::NotDigits);
        }
        if normalised.len() < MIN_BODY_DIGITS + 1 || normalised.len() > MAX_DIGITS {
            return Err(TicketError::Length);
        }
        if damm(normalised.as_bytes()) != 0 {
            return Err(TicketError::CheckDigit);
        }
        let body = &normalised[..normalised.len() - 1];
        let id: i64 = body.parse().map_err(|_| TicketError::Length)?;
        if id <= 0 {
            return Err(TicketError::Length);
        }
        Ok(Self(ReportId(id)))
    }

    /// The digits, for reading out one by one.
    pub fn digits(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = format!("{:0width$}", self.0.0, width = MIN_BODY_DIGITS);
        // With Damm's table the check digit is the interim digit itself: row r has 0 in column r.
        write!(f, "{body}{}", damm(body.as_bytes()))
    }
}

/// Why a ticket number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("ticket number is empty")]
    Empty,
    #[error("ticket number must contain digits only")]
    NotDigits,
    #[error("ticket number must have between 8 and 20 digits")]
    Length,
    #[error("ticket number's check digit does not match: please check the number")]
    CheckDigit,
}

impl TicketError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Empty => "ticket_empty",
            Self::NotDigits => "ticket_not_digits",
            Self::Length => "ticket_length",
            Self::CheckDigit => "ticket_check_digit",
        }
    }

    pub fn field(self, field: &str) -> FieldError {
        FieldError::new(field, self.code(), self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_with_padding_and_damm_check_digit() {
        // 572 -> Damm check digit 4 (the classic worked example).
        assert_eq!(damm(b"5724"), 0);
        let ticket = TicketNumber::for_report(ReportId(572));
        assert_eq!(ticket.to_string().len(), 8);
        assert_eq!(TicketNumber::parse(&ticket.to_string()), Ok(ticket));
    }

    #[test]
    fn accepts_arabic_digits_spaces_and_dashes() {
        let ticket = TicketNumber::for_report(ReportId(1234567));
        let text = ticket.to_string();
        let arabic: String = text.chars().map(|c| char::from_u32(0x0660 + c.to_digit(10).unwrap()).unwrap()).collect();
        assert_eq!(TicketNumber::parse(&arabic), Ok(ticket));
        let spaced = format!("{} {}-{}", &text[..3], &text[3..6], &text[6..]);
        assert_eq!(TicketNumber::parse(&spaced), Ok(ticket));
    }

    #[test]
    fn refuses_bad_input_with_a_named_reason() {
        assert_eq!(TicketNumber::parse(""), Err(TicketError::Empty));
        assert_eq!(TicketNumber::parse("12a45678"), Err(TicketError::NotDigits));
        assert_eq!(TicketNumber::parse("1234"), Err(TicketError::Length));
        assert_eq!(TicketNumber::parse("000000000"), Err(TicketError::Length));
        assert_eq!(TicketNumber::parse("99999999999999999999"), Err(TicketError::CheckDigit));
    }

    proptest! {
        #[test]
        fn every_single_digit_error_is_caught(id in 1i64..10_000_000_000, pos in 0usize..20, delta in 1u8..10) {
            let text = TicketNumber::for_report(ReportId(id)).to_string();
            let pos = pos % text.len();
            let mut bytes = text.clone().into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(TicketNumber::parse(&typo).is_err());
        }

        #[test]
        fn every_adjacent_swap_is_caught(id in 1i64..10_000_000_000, pos in 0usize..19) {
            let text = TicketNumber::for_report(ReportId(id)).to_string();
            let pos = pos % (text.len() - 1);
            let mut bytes = text.clone().into_bytes();
            prop_assume!(bytes[pos] != bytes[pos + 1]);
            bytes.swap(pos, pos + 1);
            let swapped = String::from_utf8(bytes).unwrap();
            prop_assert!(TicketNumber::parse(&swapped).is_err());
        }

        #[test]
        fn round_trips(id in 1i64..i64::MAX / 10) {
            let ticket = TicketNumber::for_report(ReportId(id));
            prop_assert_eq!(TicketNumber::parse(&ticket.to_string()), Ok(ticket));
        }
    }
}
