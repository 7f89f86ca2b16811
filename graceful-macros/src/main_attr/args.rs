//! The arguments of `#[graceful_main(...)]`.

use std::time::Duration;

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit};

use crate::crate_path;
use crate::duration::{self, Zero};
use crate::errors::Errors;
use crate::suggest;
use crate::syntax;

const TIMEOUT: &str = "timeout";
const SIGNALS: &str = "signals";
const FLAVOR: &str = "flavor";
const WORKER_THREADS: &str = "worker_threads";
const DRAIN_DELAY: &str = "drain_delay";
const UPGRADE: &str = "upgrade";
const CRATE: &str = crate_path::KEY;
const KEYS: &[&str] = &[
    TIMEOUT,
    DRAIN_DELAY,
    SIGNALS,
    UPGRADE,
    FLAVOR,
    WORKER_THREADS,
    CRATE,
];

/// What `upgrade = none` is written with.
const NONE: &str = "none";

/// The timeout when the attribute gives none: a second under the 10 s
/// Docker waits between SIGTERM and SIGKILL. Documented in graceful-rt's
/// crate docs.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(9);

/// What a zero timeout would do, for the message that rejects it.
const ZERO_BUDGET: &str = "a zero budget ends the process at the first signal";

const MULTI_THREAD: &str = "multi_thread";
const CURRENT_THREAD: &str = "current_thread";

/// The signals that can start a shutdown, as written in `signals = [...]`,
/// with the name of their `graceful_rt::Signal` variant and the platforms
/// that deliver them.
const SIGNAL_NAMES: &[(&str, &str, Platform)] = &[
    ("SIGTERM", "Terminate", Platform::Unix),
    ("SIGINT", "Interrupt", Platform::Any),
    ("SIGHUP", "Hangup", Platform::Unix),
    ("SIGQUIT", "Quit", Platform::Unix),
    ("SIGUSR1", "User1", Platform::Unix),
    ("SIGUSR2", "User2", Platform::Unix),
    ("CTRL_C", "Interrupt", Platform::Any),
    ("CTRL_BREAK", "CtrlBreak", Platform::Windows),
    ("CTRL_CLOSE", "CtrlClose", Platform::Windows),
    ("CTRL_SHUTDOWN", "CtrlShutdown", Platform::Windows),
];

/// Where a signal can be received. The macro runs on the machine that
/// builds, so the check for the target is a `cfg` in the expansion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Platform {
    /// Both: SIGINT is Ctrl-C on Windows too.
    Any,
    Unix,
    Windows,
}

/// One signal of `signals = [...]`, as the user wrote it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignalArg {
    /// The `graceful_rt::Signal` variant.
    pub(crate) variant: &'static str,
    /// The name written: `SIGTERM`, `CTRL_BREAK`.
    pub(crate) name: &'static str,
    pub(crate) platform: Platform,
    pub(crate) span: Span,
}

#[derive(Default)]
pub(crate) struct MainArgs {
    pub(crate) timeout: Option<Duration>,
    pub(crate) drain_delay: Option<Duration>,
    /// The signals listed, in order.
    pub(crate) signals: Option<Vec<SignalArg>>,
    /// `upgrade = SIGHUP` (`Some(Some(..))`) or `upgrade = none`
    /// (`Some(None)`); `None` when not given.
    pub(crate) upgrade: Option<Option<SignalArg>>,
    pub(crate) flavor: Option<Flavor>,
    pub(crate) worker_threads: Option<usize>,
    /// `crate = "..."`: the path of graceful-rt.
    pub(crate) krate: Option<syn::Path>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    CurrentThread,
    MultiThread,
}

/// Parses the arguments; what is wrong is pushed to `errors` and left at
/// its default. Each argument is read on its own first, then the rules
/// between them are checked, as tokio-macros builds its config.
pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> MainArgs {
    let (mut args, written) = read(tokens, errors);
    validate(&mut args, &written, errors);
    args
}

/// Where the arguments a rule between arguments points at were written.
#[derive(Default)]
struct Written {
    drain_delay: Option<Expr>,
    worker_threads: Option<syn::Ident>,
}

/// Each argument on its own: a known key, given once, with a value of its
/// kind.
fn read(tokens: TokenStream, errors: &mut Errors) -> (MainArgs, Written) {
    let mut args = MainArgs::default();
    let mut written = Written::default();
    let mut seen: Vec<String> = Vec::new();
    let tokens = well_formed(tokens, errors);
    let parser = syn::meta::parser(|meta| {
        let Some(key) = meta.path.get_ident().cloned() else {
            errors.spanned(
                &meta.path,
                suggest::unknown(
                    "argument",
                    "#[graceful_main]",
                    KEYS,
                    &syntax::path_text(&meta.path),
                ),
            );
            return syntax::skip_value(&meta);
        };
        let name = key.to_string();
        if !KEYS.contains(&name.as_str()) {
            errors.at(
                key.span(),
                suggest::unknown("argument", "#[graceful_main]", KEYS, &name),
            );
            return syntax::skip_value(&meta);
        }
        if !meta.input.peek(syn::Token![=]) {
            errors.at(
                key.span(),
                format!("`{key}` needs a value: write `{}`", example(&name)),
            );
            return syntax::skip_value(&meta);
        }
        let input = meta.value()?;
        if seen.contains(&name) {
            errors.at(key.span(), format!("`{name}` is set twice: keep one"));
            input.parse::<Expr>()?;
            return Ok(());
        }
        seen.push(name.clone());
        match name.as_str() {
            TIMEOUT => {
                args.timeout = duration::argument(
                    TIMEOUT,
                    "15s",
                    Zero::Rejected(ZERO_BUDGET),
                    &input.parse()?,
                    errors,
                );
            }
            DRAIN_DELAY => {
                let value: Expr = input.parse()?;
                args.drain_delay =
                    duration::argument(DRAIN_DELAY, "5s", Zero::Allowed, &value, errors);
                written.drain_delay = Some(value);
            }
            SIGNALS => args.signals = signals(up_to_comma(input)?, errors),
            UPGRADE => args.upgrade = upgrade(&up_to_comma(input)?, errors),
            FLAVOR => args.flavor = flavor(&input.parse()?, errors),
            CRATE => args.krate = crate_path::argument(&input.parse()?, errors),
            _ => {
                written.worker_threads = Some(key.clone());
                args.worker_threads = worker_threads(&input.parse()?, errors);
            }
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    (args, written)
}

/// The rules between arguments. A value that breaks one is reported, at
/// the argument to change, and dropped.
fn validate(args: &mut MainArgs, written: &Written, errors: &mut Errors) {
    drain_delay_within_timeout(args, written, errors);
    upgrade_is_not_a_stop_signal(args, errors);
    worker_threads_need_multi_thread(args, written, errors);
}

/// The lame duck ends before the deadline, or nothing is left to drain in.
fn drain_delay_within_timeout(args: &mut MainArgs, written: &Written, errors: &mut Errors) {
    if let (Some(delay), Some(literal)) = (args.drain_delay, &written.drain_delay) {
        let timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if delay >= timeout {
            errors.spanned(
                literal,
                format!(
                    "`drain_delay` must be shorter than the timeout ({}), or nothing is left to drain in: \
                     shorten it, or lengthen `timeout`",
                    display(timeout)
                ),
            );
            args.drain_delay = None;
        }
    }
}

/// The upgrade's signal is not one that stops the service.
fn upgrade_is_not_a_stop_signal(args: &mut MainArgs, errors: &mut Errors) {
    if let Some(Some(upgrade)) = args.upgrade {
        let stops = match &args.signals {
            Some(signals) => signals
                .iter()
                .any(|signal| signal.variant == upgrade.variant),
            None => matches!(upgrade.variant, "Terminate" | "Interrupt"),
        };
        if stops {
            let listed = if args.signals.is_some() {
                "it is in `signals`"
            } else {
                "it is one of the default `signals`, SIGTERM and SIGINT"
            };
            let listed_names: Vec<&str> = match &args.signals {
                Some(signals) => signals.iter().map(|signal| signal.name).collect(),
                None => Vec::new(),
            };
            let free = ["SIGUSR2", "SIGHUP", "SIGUSR1"]
                .into_iter()
                .find(|name| !listed_names.contains(name))
                .unwrap_or("SIGQUIT");
            errors.at(
                upgrade.span,
                format!(
                    "`{}` cannot both stop the service and upgrade it ({listed}): write another \
                     signal for `upgrade`, such as `upgrade = {free}`",
                    upgrade.name
                ),
            );
            args.upgrade = None;
        }
    }
}

/// `worker_threads` sizes the multi-threaded runtime only.
fn worker_threads_need_multi_thread(args: &mut MainArgs, written: &Written, errors: &mut Errors) {
    if args.flavor == Some(Flavor::CurrentThread) {
        if let Some(key) = &written.worker_threads {
            errors.at(
                key.span(),
                "`worker_threads` needs the multi-threaded runtime: remove it, or write \
                 `flavor = \"multi_thread\"`",
            );
            args.worker_threads = None;
        }
    }
}

/// The arguments that have the shape `key = value` (or `key`, or
/// `key(...)`, which the parser reports); the others are reported here, so
/// one malformed argument does not hide the mistakes in the rest.
fn well_formed(tokens: TokenStream, errors: &mut Errors) -> TokenStream {
    let mut kept = TokenStream::new();
    for argument in split_commas(tokens) {
        let mut trees = argument.clone().into_iter();
        let (Some(first), second) = (trees.next(), trees.next()) else {
            continue;
        };
        let shaped = match (&first, &second) {
            (TokenTree::Ident(_), None) => true,
            (TokenTree::Ident(_), Some(TokenTree::Punct(punct))) => match punct.as_char() {
                '=' => true,
                ':' if punct.spacing() == proc_macro2::Spacing::Joint => true,
                ':' => {
                    errors.at(
                        punct.span(),
                        format!("write `=` instead of `:`: `{first} = ...`"),
                    );
                    false
                }
                _ => {
                    errors.spanned(&argument, key_value_hint(&argument));
                    false
                }
            },
            (TokenTree::Ident(_), Some(TokenTree::Group(group))) => {
                group.delimiter() == Delimiter::Parenthesis
            }
            _ => {
                errors.spanned(&argument, key_value_hint(&argument));
                false
            }
        };
        if shaped {
            kept.extend(argument);
            kept.extend(quote::quote! { , });
        }
    }
    kept
}

fn key_value_hint(argument: &TokenStream) -> String {
    let text = argument.to_string();
    let unquoted = text.trim_matches('"');
    if duration::parse(TIMEOUT, unquoted, "").is_ok() {
        format!(
            "`#[graceful_main]` takes `key = value` arguments: write `timeout = \"{unquoted}\"`"
        )
    } else {
        "`#[graceful_main]` takes `key = value` arguments, such as `timeout = \"15s\"`".to_owned()
    }
}

/// The tokens of one value: up to the next top-level comma.
fn up_to_comma(input: syn::parse::ParseStream<'_>) -> syn::Result<TokenStream> {
    let mut tokens = TokenStream::new();
    while !input.is_empty() && !input.peek(syn::Token![,]) {
        tokens.extend([input.parse::<TokenTree>()?]);
    }
    Ok(tokens)
}

/// Splits a token stream at its top-level commas.
fn split_commas(tokens: TokenStream) -> Vec<TokenStream> {
    let mut pieces = vec![TokenStream::new()];
    for tree in tokens {
        match &tree {
            TokenTree::Punct(punct) if punct.as_char() == ',' => pieces.push(TokenStream::new()),
            _ => pieces.last_mut().expect("never empty").extend([tree]),
        }
    }
    pieces.retain(|piece| !piece.is_empty());
    pieces
}

fn example(key: &str) -> &'static str {
    match key {
        TIMEOUT => "timeout = \"15s\"",
        DRAIN_DELAY => "drain_delay = \"5s\"",
        SIGNALS => "signals = [SIGTERM, SIGINT]",
        UPGRADE => "upgrade = SIGUSR2",
        FLAVOR => "flavor = \"multi_thread\"",
        CRATE => "crate = \"graceful_rt\"",
        _ => "worker_threads = 4",
    }
}

/// "15s", "1.5s": for messages.
fn display(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis % 1000 == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// `signals = [SIGTERM, SIGINT]`, read token by token so that a missing
/// comma or a `Signal::Terminate` path gets a message of its own.
fn signals(value: TokenStream, errors: &mut Errors) -> Option<Vec<SignalArg>> {
    let mut trees = value.clone().into_iter();
    let list = match (trees.next(), trees.next()) {
        (Some(TokenTree::Group(group)), None) if group.delimiter() == Delimiter::Bracket => group,
        _ => {
            let hint = match syn::parse2::<syn::Path>(value.clone()) {
                Ok(path) => format!("signals = [{}]", syntax::path_text(&path)),
                Err(_) => "signals = [SIGTERM, SIGINT]".to_owned(),
            };
            errors.spanned(
                &value,
                format!("`signals` is a list in brackets: write `{hint}`"),
            );
            return None;
        }
    };
    let elements = split_commas(list.stream());
    if elements.is_empty() {
        errors.at(
            list.span(),
            "`signals` is empty, so nothing could start the shutdown: list at least one signal, \
             or remove `signals` for the default `[SIGTERM, SIGINT]`",
        );
        return None;
    }
    let mut listed: Vec<SignalArg> = Vec::new();
    let mut ok = true;
    for element in elements {
        match signal(&element) {
            Ok((variant, name, platform)) => {
                if let Some(seen) = listed.iter().find(|seen| seen.variant == variant) {
                    let message = if seen.name == name {
                        format!("`{name}` is listed twice: keep one")
                    } else {
                        format!(
                            "`{name}` and `{}` are the same signal (Ctrl-C): keep one",
                            seen.name
                        )
                    };
                    errors.spanned(&element, message);
                    ok = false;
                } else {
                    listed.push(SignalArg {
                        variant,
                        name,
                        platform,
                        span: element.span(),
                    });
                }
            }
            Err(message) => {
                errors.spanned(&element, message);
                ok = false;
            }
        }
    }
    ok.then_some(listed)
}

/// `upgrade = SIGHUP` or `upgrade = none`: the signal that starts an
/// upgrade by hand-off, a Unix signal.
fn upgrade(value: &TokenStream, errors: &mut Errors) -> Option<Option<SignalArg>> {
    const UNIX: &str = "SIGHUP, SIGQUIT, SIGUSR1 or SIGUSR2 (the default)";
    let trees: Vec<TokenTree> = value.clone().into_iter().collect();
    let written = match trees.as_slice() {
        [TokenTree::Ident(ident)] => ident.to_string(),
        [TokenTree::Literal(literal)] => {
            let text = literal.to_string();
            errors.spanned(
                value,
                format!(
                    "write the signal without quotes: `upgrade = {}`",
                    text.trim_matches('"')
                ),
            );
            return None;
        }
        _ => {
            errors.spanned(
                value,
                format!("`upgrade` takes a Unix signal, {UNIX}, or `none` for no upgrade signal"),
            );
            return None;
        }
    };
    if written == NONE {
        return Some(None);
    }
    if written.eq_ignore_ascii_case(NONE) {
        errors.spanned(
            value,
            format!("write `upgrade = none` (lowercase), not `{written}`"),
        );
        return None;
    }
    match signal(value) {
        Ok((_, name, Platform::Windows)) => {
            errors.spanned(
                value,
                format!(
                    "`{name}` is a Windows console event, and an upgrade by hand-off needs Unix (the \
                     new process inherits the listening sockets): write a Unix signal, {UNIX}, or \
                     `upgrade = none`"
                ),
            );
            None
        }
        Ok((variant, name, platform)) => Some(Some(SignalArg {
            variant,
            name,
            platform,
            span: value.span(),
        })),
        Err(_) => {
            let unix = ["SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
            let message = match suggest::closest(&written, &unix) {
                Some(close) => format!(
                    "unknown signal `{written}`: did you mean `{close}`? `upgrade` takes a Unix \
                     signal, {UNIX}, or `none`"
                ),
                None => format!(
                    "unknown signal `{written}`: `upgrade` takes a Unix signal, {UNIX}, or `none`"
                ),
            };
            errors.spanned(value, message);
            None
        }
    }
}

/// One element of `signals = [...]`: its `Signal` variant, its name and
/// its platforms.
fn signal(element: &TokenStream) -> Result<(&'static str, &'static str, Platform), String> {
    let names = SIGNAL_NAMES
        .iter()
        .map(|(name, ..)| *name)
        .collect::<Vec<_>>();
    let listed = |platform: Platform| {
        SIGNAL_NAMES
            .iter()
            .filter(|(_, _, of)| *of == platform || *of == Platform::Any)
            .filter(|(name, ..)| *name != "CTRL_C" || platform == Platform::Windows)
            .filter(|(name, ..)| *name != "SIGINT" || platform == Platform::Unix)
            .map(|(name, ..)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let valid = format!(
        "on Unix, {}; on Windows, {}",
        listed(Platform::Unix),
        listed(Platform::Windows)
    );
    let trees: Vec<TokenTree> = element.clone().into_iter().collect();
    let written = match trees.as_slice() {
        [TokenTree::Ident(ident)] => ident.to_string(),
        [TokenTree::Literal(literal)] => {
            let text = literal.to_string();
            return Err(format!(
                "write the signal without quotes: `{}`",
                text.trim_matches('"')
            ));
        }
        [TokenTree::Ident(first), TokenTree::Ident(second), ..] => {
            return Err(format!(
                "separate the signals with commas: `{first}, {second}`"
            ));
        }
        _ => {
            if let Ok(path) = syn::parse2::<syn::Path>(element.clone()) {
                let last = path
                    .segments
                    .last()
                    .map(|segment| segment.ident.to_string());
                if let Some((name, ..)) = SIGNAL_NAMES
                    .iter()
                    .find(|(_, variant, _)| Some(*variant) == last.as_deref())
                {
                    return Err(format!(
                        "write the signal's name, `{name}`, not `{}`",
                        syntax::path_text(&path)
                    ));
                }
            }
            return Err(format!("expected a signal name: {valid}"));
        }
    };
    if let Some((name, variant, platform)) = SIGNAL_NAMES.iter().find(|(name, ..)| *name == written)
    {
        return Ok((variant, name, *platform));
    }
    let upper = written.to_ascii_uppercase();
    let canonical = if upper.starts_with("SIG") || upper.starts_with("CTRL_") {
        upper
    } else {
        format!("SIG{upper}")
    };
    if canonical == "SIGKILL" || canonical == "SIGSTOP" {
        return Err(format!(
            "`{written}` cannot be caught by any process, so it cannot start a graceful shutdown; \
             the signals that can are, {valid}"
        ));
    }
    if names.contains(&canonical.as_str()) {
        return Err(format!("unknown signal `{written}`: write `{canonical}`"));
    }
    Err(format!(
        "unknown signal `{written}`: the signals that can start a shutdown are, {valid}"
    ))
}

fn flavor(value: &Expr, errors: &mut Errors) -> Option<Flavor> {
    const EXPECTED: &str = "write `flavor = \"multi_thread\"` or `flavor = \"current_thread\"`";
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => match text.value().as_str() {
            MULTI_THREAD => Some(Flavor::MultiThread),
            CURRENT_THREAD => Some(Flavor::CurrentThread),
            other => {
                let message = match suggest::closest(other, &[MULTI_THREAD, CURRENT_THREAD]) {
                    Some(close) => format!(
                        "unknown runtime flavor {other:?}: did you mean \"{close}\"? {EXPECTED}"
                    ),
                    None => format!("unknown runtime flavor {other:?}: {EXPECTED}"),
                };
                errors.at(text.span(), message);
                None
            }
        },
        other => {
            let hint = match other {
                Expr::Path(path) => format!(
                    "write it in quotes: `flavor = \"{}\"`",
                    syntax::path_text(&path.path)
                ),
                _ => EXPECTED.to_owned(),
            };
            errors.spanned(other, format!("`flavor` is a string: {hint}"));
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
                errors.at(
                    number.span(),
                    "`worker_threads` must be at least 1: write a number of threads, or remove it for one per core",
                );
                None
            }
            Ok(threads) => Some(threads),
            Err(error) => {
                errors.push(error);
                None
            }
        },
        other => {
            errors.spanned(
                other.to_token_stream(),
                "`worker_threads` is a positive number: write `worker_threads = 4`, or remove it for one per core",
            );
            None
        }
    }
}

#[cfg(test)]
mod reference_tests {
    use std::collections::BTreeSet;

    use super::{KEYS, SIGNAL_NAMES};
    use crate::reference;

    /// The arguments the parser accepts are the reference's, no more, no
    /// less (issue 23 found `upgrade` missing from it).
    #[test]
    fn the_reference_lists_every_argument_and_no_other() {
        let reference = reference::keys("`#[graceful_main]`");
        let parser: BTreeSet<String> = KEYS.iter().map(|&key| key.to_owned()).collect();
        assert_eq!(
            parser, reference,
            "the parser's arguments (left) and graceful-rt's reference table (right) differ"
        );
    }

    #[test]
    fn the_reference_names_every_signal() {
        let section = reference::section("`#[graceful_main]`");
        for (name, _, _) in SIGNAL_NAMES {
            assert!(
                section.contains(&format!("`{name}`")),
                "{name} is accepted in `signals`, and missing from the reference"
            );
        }
    }
}
