//! The arguments of `#[graceful_main(...)]`.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit};

use crate::duration;
use crate::errors::Errors;
use crate::suggest;

const TIMEOUT: &str = "timeout";
const SIGNALS: &str = "signals";
const FLAVOR: &str = "flavor";
const WORKER_THREADS: &str = "worker_threads";
const KEYS: &[&str] = &[TIMEOUT, SIGNALS, FLAVOR, WORKER_THREADS];

/// The signals that can start a shutdown, as written in `signals = [...]`,
/// with the name of their `graceful_rt::Signal` variant.
pub(crate) const SIGNAL_NAMES: &[(&str, &str)] = &[
    ("SIGTERM", "Terminate"),
    ("SIGINT", "Interrupt"),
    ("SIGHUP", "Hangup"),
    ("SIGQUIT", "Quit"),
    ("SIGUSR1", "User1"),
    ("SIGUSR2", "User2"),
];

#[derive(Default)]
pub(crate) struct MainArgs {
    pub(crate) timeout: Option<Duration>,
    /// Variant names of `graceful_rt::Signal`, with the span they were written at.
    pub(crate) signals: Option<Vec<(&'static str, Span)>>,
    pub(crate) flavor: Option<Flavor>,
    pub(crate) worker_threads: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    CurrentThread,
    MultiThread,
}

/// Parses the arguments; what is wrong is pushed to `errors` and left at
/// its default.
pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> MainArgs {
    let mut args = MainArgs::default();
    let mut seen: Vec<String> = Vec::new();
    let mut worker_threads_span = None;
    let parser = syn::meta::parser(|meta| {
        let Some(key) = meta.path.get_ident().cloned() else {
            errors.at(meta.path.span(), unknown_key(&path_text(&meta.path)));
            return skip_value(&meta);
        };
        let name = key.to_string();
        if !KEYS.contains(&name.as_str()) {
            errors.at(key.span(), unknown_key(&name));
            return skip_value(&meta);
        }
        let Some(value) = value_of(&meta, &key, errors)? else {
            return Ok(());
        };
        if seen.contains(&name) {
            errors.at(key.span(), format!("`{name}` is set twice: keep one"));
            return Ok(());
        }
        seen.push(name.clone());
        match name.as_str() {
            TIMEOUT => args.timeout = timeout(&value, errors),
            SIGNALS => args.signals = signals(&value, errors),
            FLAVOR => args.flavor = flavor(&value, errors),
            _ => {
                worker_threads_span = Some(key.span());
                args.worker_threads = worker_threads(&value, errors);
            }
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    if args.flavor == Some(Flavor::CurrentThread) {
        if let Some(span) = worker_threads_span {
            errors.at(
                span,
                "`worker_threads` needs the multi-threaded runtime: remove it, or write \
                 `flavor = \"multi_thread\"`",
            );
            args.worker_threads = None;
        }
    }
    args
}

fn unknown_key(name: &str) -> String {
    let valid = KEYS
        .iter()
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match suggest::closest(name, KEYS) {
        Some(close) => format!(
            "unknown argument `{name}` for `#[graceful_main]`: did you mean `{close}`? The arguments are {valid}"
        ),
        None => {
            format!("unknown argument `{name}` for `#[graceful_main]`: the arguments are {valid}")
        }
    }
}

fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// The value after `key =`, or `None` (with an error) when there is none.
fn value_of(
    meta: &ParseNestedMeta<'_>,
    key: &Ident,
    errors: &mut Errors,
) -> syn::Result<Option<Expr>> {
    let example = match key.to_string().as_str() {
        TIMEOUT => "timeout = \"15s\"",
        SIGNALS => "signals = [SIGTERM, SIGINT]",
        FLAVOR => "flavor = \"multi_thread\"",
        _ => "worker_threads = 4",
    };
    if meta.input.peek(syn::Token![=]) {
        return meta.value()?.parse().map(Some);
    }
    errors.at(
        key.span(),
        format!("`{key}` needs a value: write `{example}`"),
    );
    skip_value(meta)?;
    Ok(None)
}

/// Consumes whatever follows an unusable key up to the next comma.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

fn timeout(value: &Expr, errors: &mut Errors) -> Option<Duration> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => match duration::parse(TIMEOUT, &text.value()) {
            Ok(duration) => Some(duration),
            Err(message) => {
                errors.at(text.span(), message);
                None
            }
        },
        Expr::Lit(ExprLit {
            lit: Lit::Int(number),
            ..
        }) => {
            errors.at(
                number.span(),
                format!(
                    "`timeout` is a string with a unit: write `timeout = \"{}s\"`",
                    number.base10_digits()
                ),
            );
            None
        }
        other => {
            errors.at(
                other.span(),
                "`timeout` is a duration string: write `timeout = \"15s\"` (or \"500ms\", \"1m30s\")",
            );
            None
        }
    }
}

fn signals(value: &Expr, errors: &mut Errors) -> Option<Vec<(&'static str, Span)>> {
    let Expr::Array(array) = value else {
        let hint = match value {
            Expr::Path(path) => format!("signals = [{}]", path_text(&path.path)),
            _ => "signals = [SIGTERM, SIGINT]".to_owned(),
        };
        errors.at(value.span(), format!("`signals` is a list: write `{hint}`"));
        return None;
    };
    if array.elems.is_empty() {
        errors.at(
            array.span(),
            "`signals` is empty, so nothing could start the shutdown: list at least one signal, \
             or remove `signals` for the default `[SIGTERM, SIGINT]`",
        );
        return None;
    }
    let mut listed: Vec<(&'static str, Span)> = Vec::new();
    let mut ok = true;
    for element in &array.elems {
        match signal(element) {
            Ok((variant, name)) => {
                if listed.iter().any(|(seen, _)| *seen == variant) {
                    errors.at(
                        element.span(),
                        format!("`{name}` is listed twice: keep one"),
                    );
                    ok = false;
                } else {
                    listed.push((variant, element.span()));
                }
            }
            Err(message) => {
                errors.at(element.span(), message);
                ok = false;
            }
        }
    }
    ok.then_some(listed)
}

/// One element of `signals = [...]`: its `Signal` variant and its name.
fn signal(element: &Expr) -> Result<(&'static str, &'static str), String> {
    let names = SIGNAL_NAMES
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>();
    let valid = names.join(", ");
    let written = match element {
        Expr::Path(path) if path.path.get_ident().is_some() => path_text(&path.path),
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => {
            return Err(format!(
                "write the signal without quotes: `{}`",
                text.value()
            ));
        }
        _ => return Err(format!("expected a signal name, one of {valid}")),
    };
    if let Some((name, variant)) = SIGNAL_NAMES.iter().find(|(name, _)| *name == written) {
        return Ok((variant, name));
    }
    let upper = written.to_ascii_uppercase();
    let canonical = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    if canonical == "SIGKILL" || canonical == "SIGSTOP" {
        return Err(format!(
            "`{written}` cannot be caught by any process, so it cannot start a graceful shutdown; \
             the signals that can are {valid}"
        ));
    }
    if names.contains(&canonical.as_str()) {
        return Err(format!("unknown signal `{written}`: write `{canonical}`"));
    }
    Err(format!(
        "unknown signal `{written}`: the signals that can start a shutdown are {valid}"
    ))
}

fn flavor(value: &Expr, errors: &mut Errors) -> Option<Flavor> {
    const EXPECTED: &str = "write `flavor = \"multi_thread\"` or `flavor = \"current_thread\"`";
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => match text.value().as_str() {
            "multi_thread" => Some(Flavor::MultiThread),
            "current_thread" => Some(Flavor::CurrentThread),
            other => {
                errors.at(
                    text.span(),
                    format!("unknown runtime flavor {other:?}: {EXPECTED}"),
                );
                None
            }
        },
        other => {
            errors.at(other.span(), format!("`flavor` is a string: {EXPECTED}"));
            None
        }
    }
}

fn worker_threads(value: &Expr, errors: &mut Errors) -> Option<usize> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(number),
            ..
        }) => match number.base10_parse::<usize>() {
            Ok(0) => {
                errors.at(number.span(), "`worker_threads` must be at least 1");
                None
            }
            Ok(threads) => Some(threads),
            Err(error) => {
                errors.push(error);
                None
            }
        },
        other => {
            errors.at(
                other.span(),
                "`worker_threads` is a positive number: write `worker_threads = 4`",
            );
            None
        }
    }
}
