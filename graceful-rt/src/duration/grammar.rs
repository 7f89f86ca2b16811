//! The one grammar of durations, for `#[graceful_main(timeout = "15s")]`
//! at compile time and `GRACEFUL_TIMEOUT=15s` at run time: humantime's
//! forms ("500ms", "15s", "1m30s", "1.5s"), strictly positive and at least
//! 1ms, or zero for a delay.
//!
//! This file is in both crates, byte for byte: graceful-macros (a
//! proc-macro crate, whose items no other crate can use) and graceful-rt
//! (which depends on it) cannot share a module, and each must build on its
//! own from crates.io. `ui-tests/ui.rs` fails when the two copies differ,
//! and the table of cases below runs in each crate's own tests, so the
//! attribute and its environment override accept and reject the same text.
//! A third crate holding it (nested in one of the two folders) was weighed
//! and not taken: one more crate to publish in lockstep with the two, and
//! one more name on crates.io, for about 110 lines that rarely change,
//! where the guarded copy costs one test.

use std::fmt;
use std::time::Duration;

/// The shortest duration accepted: below it a budget is a typo, not a plan.
pub(crate) const MINIMUM: Duration = Duration::from_millis(1);

/// Why a duration text was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DurationError {
    Empty,
    MissingUnit,
    UnknownUnit(String),
    Negative,
    Zero,
    TooShort,
    Overflow,
    Unreadable,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => f.write_str("it is empty"),
            DurationError::MissingUnit => f.write_str("it has no unit"),
            DurationError::UnknownUnit(unit) => write!(f, "`{unit}` is not a unit"),
            DurationError::Negative => f.write_str("it is negative"),
            DurationError::Zero => f.write_str("it is zero"),
            DurationError::TooShort => f.write_str("it is shorter than 1ms"),
            DurationError::Overflow => f.write_str("it is too large"),
            DurationError::Unreadable => f.write_str("it is not a duration"),
        }
    }
}

/// Parses a strictly positive duration.
pub(crate) fn parse(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    if trimmed.starts_with('-') {
        return Err(DurationError::Negative);
    }
    match humantime::parse_duration(trimmed) {
        Ok(duration) if duration.is_zero() => Err(DurationError::Zero),
        Ok(duration) if duration < MINIMUM => Err(DurationError::TooShort),
        Ok(duration) => Ok(duration),
        Err(humantime::DurationError::UnknownUnit { unit, .. }) if unit.is_empty() => {
            Err(DurationError::MissingUnit)
        }
        Err(humantime::DurationError::UnknownUnit { unit, .. }) => {
            Err(DurationError::UnknownUnit(unit))
        }
        Err(humantime::DurationError::NumberOverflow) => Err(DurationError::Overflow),
        Err(_) => Err(DurationError::Unreadable),
    }
}

/// Parses a delay: like [`parse`], but zero (`"0s"`, or a bare `"0"`) is
/// allowed and means none.
pub(crate) fn parse_delay(text: &str) -> Result<Duration, DurationError> {
    match text.trim() {
        "0" => Ok(Duration::ZERO),
        _ => match parse(text) {
            Err(DurationError::Zero) => Ok(Duration::ZERO),
            other => other,
        },
    }
}

#[cfg(test)]
mod cases {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    /// What `parse` or `parse_delay` gives.
    type Parsed = Result<Duration, DurationError>;

    /// Text, what `parse` gives, what `parse_delay` gives.
    fn table() -> Vec<(&'static str, Parsed, Parsed)> {
        use DurationError::*;
        vec![
            ("500ms", Ok(MS(500)), Ok(MS(500))),
            ("15s", Ok(MS(15_000)), Ok(MS(15_000))),
            (" 15s ", Ok(MS(15_000)), Ok(MS(15_000))),
            ("1m30s", Ok(MS(90_000)), Ok(MS(90_000))),
            ("1m 30s", Ok(MS(90_000)), Ok(MS(90_000))),
            ("1.5s", Ok(MS(1_500)), Ok(MS(1_500))),
            ("2h", Ok(MS(7_200_000)), Ok(MS(7_200_000))),
            ("1ms", Ok(MS(1)), Ok(MS(1))),
            ("0s", Err(Zero), Ok(Duration::ZERO)),
            ("0", Err(Zero), Ok(Duration::ZERO)),
            ("", Err(Empty), Err(Empty)),
            ("15", Err(MissingUnit), Err(MissingUnit)),
            (
                "15x",
                Err(UnknownUnit("x".into())),
                Err(UnknownUnit("x".into())),
            ),
            ("-1s", Err(Negative), Err(Negative)),
            ("1ns", Err(TooShort), Err(TooShort)),
            ("banana", Err(Unreadable), Err(Unreadable)),
            ("99999999999999999999h", Err(Overflow), Err(Overflow)),
        ]
    }

    #[test]
    fn the_table_of_cases() {
        for (text, positive, delay) in table() {
            assert_eq!(parse(text), positive, "parse({text:?})");
            assert_eq!(parse_delay(text), delay, "parse_delay({text:?})");
        }
    }
}
