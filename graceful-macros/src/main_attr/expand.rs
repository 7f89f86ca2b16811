//! Writes the code of a checked `#[graceful_main]`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType};

use super::args::{DEFAULT_TIMEOUT, Flavor, MainArgs, Platform, SignalArg};
use super::signature::Signature;
use crate::crate_path;

/// `fn main() { async fn __graceful_main(..) -> .. { body } run(config, ..) }`.
///
/// The user's function is kept as written, inside: its arguments, return
/// type, `?` and `return` mean what they meant, and type errors land on the
/// user's own tokens.
pub(super) fn main(function: &ItemFn, signature: &Signature<'_>, args: &MainArgs) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = function;
    let name = &sig.ident;
    let inputs = &sig.inputs;
    let output = &sig.output;

    let timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let (secs, nanos) = (timeout.as_secs(), timeout.subsec_nanos());
    let delay = args.drain_delay.unwrap_or_default();
    let (delay_secs, delay_nanos) = (delay.as_secs(), delay.subsec_nanos());
    let krate = args.krate.clone().unwrap_or_else(crate_path::default);
    let signals = signals(args, &krate);
    let unsupported = args.signals.iter().flatten().filter_map(unsupported);
    let upgrade = upgrade(args, &krate);
    let flavor = match args.flavor.unwrap_or(Flavor::MultiThread) {
        Flavor::CurrentThread => quote! { CurrentThread },
        Flavor::MultiThread => quote! { MultiThread },
    };
    let worker_threads = match args.worker_threads {
        Some(threads) => quote! { ::core::option::Option::Some(#threads) },
        None => quote! { ::core::option::Option::None },
    };
    let takes_shutdown = signature.shutdown.is_some();
    let convert = convert(sig, signature, &krate);

    quote! {
        #(#attrs)*
        #vis fn #name() {
            #(#unsupported)*
            async fn __graceful_main(#inputs) #output #block
            #krate::__private::run(
                #krate::__private::MainConfig {
                    timeout: ::core::time::Duration::new(#secs, #nanos),
                    drain_delay: ::core::time::Duration::new(#delay_secs, #delay_nanos),
                    signals: #signals,
                    flavor: #krate::__private::Flavor::#flavor,
                    worker_threads: #worker_threads,
                    main_takes_shutdown: #takes_shutdown,
                    upgrade: #upgrade,
                },
                |__graceful_shutdown: #krate::__private::Shutdown| async move { #convert },
            )
        }
    }
}

/// The signals that start the shutdown: those listed, or the default.
fn signals(args: &MainArgs, krate: &syn::Path) -> TokenStream {
    match &args.signals {
        Some(signals) => {
            let variants = signals.iter().map(|signal| {
                let variant = syn::Ident::new(signal.variant, signal.span);
                quote! { #krate::__private::Signal::#variant }
            });
            quote! { &[#(#variants),*] }
        }
        None => quote! { #krate::__private::Signal::DEFAULT },
    }
}

/// A signal the target cannot deliver is a compile error there: the macro
/// runs on the machine that builds, so the check is a `cfg`.
fn unsupported(signal: &SignalArg) -> Option<TokenStream> {
    let (condition, message) = match signal.platform {
        Platform::Any => return None,
        Platform::Unix => (
            quote! { not(unix) },
            format!(
                "`{}` is a Unix signal, and this build is not for Unix: Windows sends console events \
                 instead, CTRL_C, CTRL_BREAK, CTRL_CLOSE and CTRL_SHUTDOWN (the default there). \
                 For both, write `#[cfg_attr(unix, graceful_main(signals = [...]))]` and \
                 `#[cfg_attr(windows, graceful_main)]`",
                signal.name
            ),
        ),
        Platform::Windows => (
            quote! { not(windows) },
            format!(
                "`{}` is a Windows console event, and this build is not for Windows: on Unix, \
                 list signals (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2). For both, \
                 write `#[cfg_attr(windows, graceful_main(signals = [...]))]` and \
                 `#[cfg_attr(unix, graceful_main)]`",
                signal.name
            ),
        ),
    };
    Some(quote_spanned! {signal.span=>
        #[cfg(#condition)]
        ::core::compile_error!(#message);
    })
}

/// The upgrade's signal: the default, none, or the one written (Unix only,
/// checked by a `cfg` as for the signals).
fn upgrade(args: &MainArgs, krate: &syn::Path) -> TokenStream {
    match &args.upgrade {
        None => quote! { #krate::__private::DEFAULT_UPGRADE },
        Some(None) => quote! { ::core::option::Option::None },
        Some(Some(signal)) => {
            let variant = syn::Ident::new(signal.variant, signal.span);
            let message = format!(
                "`upgrade = {}`: an upgrade by hand-off needs Unix, and this build is not for Unix. \
                 For both, write `#[cfg_attr(unix, graceful_main(upgrade = {}))]` and \
                 `#[cfg_attr(windows, graceful_main)]`",
                signal.name, signal.name
            );
            quote_spanned! {signal.span=>
                {
                    #[cfg(not(unix))]
                    ::core::compile_error!(#message);
                    ::core::option::Option::Some(#krate::__private::Signal::#variant)
                }
            }
        }
    }
}

/// The call of the user's function, and what it returned converted for the
/// cleanup by a call that carries the span of the return type: an
/// unsupported type is reported there.
fn convert(sig: &syn::Signature, signature: &Signature<'_>, krate: &syn::Path) -> TokenStream {
    let (span, convert) = match &sig.output {
        ReturnType::Default => (Span::call_site(), quote! { into_state }),
        ReturnType::Type(_, ty) if is_result(ty) => (ty.span(), quote! { result_into_state }),
        ReturnType::Type(_, ty) => (ty.span(), quote! { into_state }),
    };
    let argument = signature.shutdown.map(|_| quote! { __graceful_shutdown });
    quote_spanned! {span=>
        #krate::__private::#convert(__graceful_main(#argument).await)
    }
}

/// Whether `ty` is written `Result<S, E>` (any path ending in `Result`
/// with two type arguments).
fn is_result(ty: &syn::Type) -> bool {
    let syn::Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    match &last.arguments {
        syn::PathArguments::AngleBracketed(arguments) => {
            last.ident == "Result" && arguments.args.len() == 2
        }
        _ => false,
    }
}

/// What stands in for a function that cannot be expanded: the errors say
/// why, and no second wave of errors follows from a missing `main` or from
/// imports that only its signature used.
pub(super) fn stub(function: &ItemFn) -> TokenStream {
    let ItemFn {
        attrs, vis, sig, ..
    } = function;
    let attrs = attrs.iter().filter(|attr| {
        let last = attr
            .path()
            .segments
            .last()
            .map(|segment| segment.ident.to_string());
        !matches!(last.as_deref(), Some("main" | "graceful_main"))
    });
    let name = &sig.ident;
    let types = sig.inputs.iter().filter_map(|input| match input {
        syn::FnArg::Typed(typed) => match &*typed.ty {
            syn::Type::Reference(reference) => Some(&*reference.elem),
            ty => Some(ty),
        },
        syn::FnArg::Receiver(_) => None,
    });
    let types = types.filter(|ty| matches!(ty, syn::Type::Path(_)));
    quote! {
        #(#attrs)*
        #vis fn #name() {
            let _ = ::core::marker::PhantomData::<(#(#types,)*)>;
        }
    }
}
