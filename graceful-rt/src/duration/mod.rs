//! Reading and writing durations the way users write them: "500ms", "15s", "1m30s".
//!
//! Reading follows the one grammar (`grammar.rs`) that `#[graceful_main]`
//! applies at compile time, so an attribute and its environment override
//! accept exactly the same text.

mod grammar;

pub(crate) use grammar::{DurationError, parse, parse_delay};

use std::fmt;
use std::time::{Duration, Instant};

/// The forms a duration may take, for error messages.
pub(crate) const ACCEPTED_FORMS: &str = "a positive duration with a unit, such as \"500ms\", \"15s\", \"1m30s\" or \"1.5s\" (units: ms, s, m, h)";

/// `start + duration`, saturating: a budget too large for the clock (such
/// as `Duration::MAX`, "no deadline") gives an instant far in the future
/// instead of an overflow panic.
pub(crate) fn after(start: Instant, duration: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    start
        .checked_add(duration)
        .or_else(|| start.checked_add(YEAR * 100))
        .or_else(|| start.checked_add(YEAR))
        .unwrap_or(start)
}

/// `duration` in milliseconds, rounded to the microsecond (more is noise):
/// how the report writes every duration.
pub(crate) fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
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

#[cfg(test)]
mod saturating_tests {
    use super::*;

    #[test]
    fn a_budget_too_large_for_the_clock_saturates() {
        let now = Instant::now();
        let far = after(now, Duration::MAX);
        assert!(far > now + Duration::from_secs(365 * 24 * 3600));
        assert_eq!(
            after(now, Duration::from_secs(3)),
            now + Duration::from_secs(3)
        );
    }
}
