//! Reading and writing durations the way users write them: "500ms", "15s", "1m30s".
//!
//! The rules match the ones `#[graceful_main]` applies at compile time
//! (graceful-macros/src/duration.rs), so an attribute and its environment
//! override accept exactly the same text.

use std::fmt;
use std::time::Duration;

/// The forms a duration may take, for error messages.
pub(crate) const ACCEPTED_FORMS: &str = "a positive duration with a unit, such as \"500ms\", \"15s\", \"1m30s\" or \"1.5s\" (units: ms, s, m, h)";

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

/// Formats a duration compactly for log lines: "850us", "12ms", "1.5s", "15s", "1m30s".
pub(crate) fn display(duration: Duration) -> Display {
    Display(duration)
}

/// See [`display`].
pub(crate) struct Display(Duration);

impl fmt::Display for Display {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.is_zero() {
            return f.write_str("0s");
        }
        if d < Duration::from_millis(1) {
            return write!(f, "{}us", d.as_micros());
        }
        if d < Duration::from_secs(1) {
            let ms = d.as_secs_f64() * 1e3;
            return if ms < 10.0 {
                write!(f, "{}ms", trim(format!("{ms:.1}")))
            } else {
                write!(f, "{}ms", ms.round())
            };
        }
        let minutes = d.as_secs() / 60;
        let seconds = d.as_secs_f64() - (minutes * 60) as f64;
        if minutes > 0 {
            write!(f, "{minutes}m")?;
            if seconds < 0.0005 {
                return Ok(());
            }
        }
        write!(f, "{}s", trim(format!("{seconds:.3}")))
    }
}

/// "1.500" -> "1.5", "15.000" -> "15".
fn trim(mut number: String) -> String {
    if number.contains('.') {
        while number.ends_with('0') {
            number.pop();
        }
        if number.ends_with('.') {
            number.pop();
        }
    }
    number
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse(" 2h "), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn rejects_what_is_not_a_positive_duration() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert_eq!(parse("15"), Err(DurationError::MissingUnit));
        assert_eq!(parse("15x"), Err(DurationError::UnknownUnit("x".into())));
        assert_eq!(parse("-1s"), Err(DurationError::Negative));
        assert_eq!(parse("0s"), Err(DurationError::Zero));
        assert_eq!(parse("1ns"), Err(DurationError::TooShort));
        assert_eq!(parse("999us"), Err(DurationError::TooShort));
        assert_eq!(parse("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse("banana"), Err(DurationError::Unreadable));
        assert_eq!(parse("99999999999999999999h"), Err(DurationError::Overflow));
    }

    #[test]
    fn a_delay_may_be_zero() {
        assert_eq!(parse_delay("0"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_delay("-1s"), Err(DurationError::Negative));
        assert_eq!(parse_delay("5"), Err(DurationError::MissingUnit));
    }

    #[test]
    fn displays_compactly() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_micros(850), "850us"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_millis(12), "12ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(15), "15s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_millis(2001), "2.001s"),
        ];
        for (duration, text) in cases {
            assert_eq!(display(duration).to_string(), text, "{duration:?}");
        }
    }
}
