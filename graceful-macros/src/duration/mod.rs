//! Duration literals, checked at compile time.
//!
//! The grammar (`grammar.rs`) is the one graceful-rt applies to
//! `GRACEFUL_TIMEOUT` at run time, so the attribute and its override accept
//! exactly the same text; here each rejection says how to fix the literal.

mod grammar;

use grammar::DurationError;

use std::time::Duration;

use syn::{Expr, ExprLit, Lit};

use crate::errors::Errors;

/// Whether an argument may be zero.
#[derive(Clone, Copy)]
pub(crate) enum Zero {
    /// Zero means "none" (a delay).
    Allowed,
    /// Rejected; the text says what a zero value would do.
    Rejected(&'static str),
}

/// The value of a duration argument, `key = "15s"`: the duration, or
/// `None` with the mistake reported at its token. `example` is a value to
/// suggest, such as `"15s"`.
pub(crate) fn argument(
    key: &str,
    example: &str,
    zero: Zero,
    value: &Expr,
    errors: &mut Errors,
) -> Option<Duration> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => {
            let parsed = match zero {
                Zero::Allowed => parse_delay(key, &text.value()),
                Zero::Rejected(reason) => parse(key, &text.value(), reason),
            };
            parsed
                .map_err(|message| errors.at(text.span(), message))
                .ok()
        }
        Expr::Lit(ExprLit {
            lit: Lit::Int(number),
            ..
        }) => {
            // `15s` without quotes lexes as the integer 15 with suffix `s`.
            let written = if number.suffix().is_empty() {
                format!("{}s", number.base10_digits())
            } else {
                number.to_string()
            };
            errors.at(
                number.span(),
                format!("`{key}` is a string with a unit: write `{key} = \"{written}\"`"),
            );
            None
        }
        other => {
            errors.spanned(
                other,
                format!("`{key}` is a duration string: write `{key} = \"{example}\"` (or \"500ms\", \"1m30s\")"),
            );
            None
        }
    }
}

/// Parses `text`, the value of the argument `key`, as a strictly positive
/// duration, or explains what to write instead. `zero` says what a zero
/// value would do, for the message that rejects it.
pub(crate) fn parse(key: &str, text: &str, zero: &str) -> Result<Duration, String> {
    grammar::parse(text).map_err(|error| message(key, text, &error, zero))
}

/// Parses a delay: like [`parse`], but zero (`"0s"`, or a bare `"0"`)
/// is allowed and means none.
pub(crate) fn parse_delay(key: &str, text: &str) -> Result<Duration, String> {
    grammar::parse_delay(text).map_err(|error| message(key, text, &error, ""))
}

/// What to write instead of `text`, rejected for `error`.
fn message(key: &str, text: &str, error: &DurationError, zero: &str) -> String {
    const FORMS: &str = "such as \"500ms\", \"15s\" or \"1m30s\"";
    let trimmed = text.trim();
    match error {
        DurationError::Empty => format!("`{key}` is empty: write a duration {FORMS}"),
        DurationError::Negative => {
            format!("`{key}` must be positive, not {text:?}: write a duration {FORMS}")
        }
        DurationError::Zero => {
            format!("`{key}` must be greater than zero: {zero}; write a duration {FORMS}")
        }
        DurationError::TooShort => {
            format!("`{key}` must be at least 1ms, not {text:?}: write a duration {FORMS}")
        }
        DurationError::MissingUnit => format!(
            "{text:?} has no unit: write \"{trimmed}s\" for seconds or \"{trimmed}ms\" for milliseconds"
        ),
        DurationError::UnknownUnit(unit) => format!(
            "`{unit}` is not a unit of time: write a duration {FORMS} (units such as ms, s, m, h)"
        ),
        DurationError::Overflow => {
            format!("{text:?} is too large for `{key}`: write a duration {FORMS}")
        }
        DurationError::Unreadable => {
            format!("{text:?} is not a duration: write a duration {FORMS}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_the_runtime_accepts() {
        assert_eq!(
            parse("timeout", "500ms", ""),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(parse("timeout", "1m30s", ""), Ok(Duration::from_secs(90)));
        assert_eq!(
            parse("timeout", "1.5s", ""),
            Ok(Duration::from_millis(1500))
        );
    }

    #[test]
    fn a_delay_may_be_zero() {
        assert_eq!(parse_delay("drain_delay", "0"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("drain_delay", "0s"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("drain_delay", "5s"), Ok(Duration::from_secs(5)));
        assert!(parse_delay("drain_delay", "5").is_err());
    }

    #[test]
    fn every_rejection_says_what_to_write() {
        for bad in [
            "",
            "15",
            "15x",
            "-1s",
            "0s",
            "1ns",
            "banana",
            "99999999999999999999h",
        ] {
            let message = parse("timeout", bad, "").unwrap_err();
            assert!(message.contains("write"), "{bad:?}: {message}");
        }
        assert_eq!(
            parse("timeout", "15", "").unwrap_err(),
            "\"15\" has no unit: write \"15s\" for seconds or \"15ms\" for milliseconds"
        );
    }
}
