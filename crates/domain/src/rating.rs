//! The beneficiary's ratings the brief names: per contact, the agent's service and the quality of
//! the answer; on closure, the quality and the speed of the closure.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};

/// A score from 1 (worst) to 5 (best), as typed on a keypad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Score(u8);

impl Score {
    pub fn new(field: &str, value: i64) -> Result<Self, FieldError> {
        match u8::try_from(value) {
            Ok(v @ 1..=5) => Ok(Self(v)),
            _ => Err(FieldError::new(field, "score_out_of_range", format!("{field} must be a whole number from 1 to 5, got {value}"))),
        }
    }

    pub fn value(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Score {
    type Error = FieldError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Score::new("score", i64::from(value))
    }
}

impl From<Score> for u8 {
    fn from(score: Score) -> Self {
        score.0
    }
}

/// The beneficiary's rating of one contact with the center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionRating {
    pub agent_service: Score,
    pub answer_quality: Score,
    /// The agent who handled the contact, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// The beneficiary's rating of how a report was closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosureRating {
    pub quality: Score,
    pub speed: Score,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The beneficiary says the problem is still there.
    #[serde(default)]
    pub not_fixed: bool,
}

/// A closure quality of this or lower means the beneficiary does not accept the fix.
pub const REOPENING_QUALITY: u8 = 2;

impl ClosureRating {
    /// Whether this rating sends the report back to work: an explicit "not fixed", or a closure
    /// quality of 2 or less. A low speed score alone does not reopen: the work is done, it was
    /// slow, and that is measured rather than redone.
    pub fn reopens(&self) -> bool {
        self.not_fixed || self.quality.value() <= REOPENING_QUALITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closure(quality: u8, speed: u8, not_fixed: bool) -> ClosureRating {
        ClosureRating { quality: Score(quality), speed: Score(speed), comment: None, not_fixed }
    }

    #[test]
    fn scores_are_one_to_five() {
        assert!(Score::new("quality", 0).is_err());
        assert!(Score::new("quality", 6).is_err());
        assert!(Score::new("quality", -1).is_err());
        assert_eq!(Score::new("quality", 5).unwrap().value(), 5);
    }

    #[test]
    fn low_quality_or_not_fixed_reopens() {
        assert!(closure(2, 5, false).reopens());
        assert!(closure(1, 5, false).reopens());
        assert!(closure(5, 5, true).reopens());
        assert!(!closure(3, 1, false).reopens());
        assert!(!closure(5, 5, false).reopens());
    }
}
