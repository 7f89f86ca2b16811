//! Writes the code of a checked `#[graceful_main]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType};

use super::args::{Flavor, MainArgs};
use super::signature::Signature;

/// The timeout when the attribute gives none: what Docker waits between
/// SIGTERM and SIGKILL. Documented in graceful-rt's crate docs.
const DEFAULT_TIMEOUT_SECS: u64 = 10;

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

    let timeout = args
        .timeout
        .unwrap_or(std::time::Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    let (secs, nanos) = (timeout.as_secs(), timeout.subsec_nanos());
    let signals = match &args.signals {
        Some(signals) => {
            let variants = signals.iter().map(|(variant, span)| {
                let variant = syn::Ident::new(variant, *span);
                quote! { ::graceful_rt::__private::Signal::#variant }
            });
            quote! { &[#(#variants),*] }
        }
        None => quote! { ::graceful_rt::__private::Signal::DEFAULT },
    };
    let flavor = match args.flavor.unwrap_or(Flavor::MultiThread) {
        Flavor::CurrentThread => quote! { CurrentThread },
        Flavor::MultiThread => quote! { MultiThread },
    };
    let worker_threads = match args.worker_threads {
        Some(threads) => quote! { ::core::option::Option::Some(#threads) },
        None => quote! { ::core::option::Option::None },
    };
    let takes_shutdown = signature.shutdown.is_some();
    let call = match signature.shutdown {
        // The argument carries the span of the user's type, so a wrong type
        // is reported there: "expected `u32`, found `Shutdown`".
        Some((_, ty)) => {
            let argument = quote_spanned! {ty.span()=> __graceful_shutdown };
            quote! { __graceful_main(#argument) }
        }
        None => quote! { __graceful_main() },
    };
    let output_check = match output {
        ReturnType::Default => quote! {},
        ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
            const _: () = ::graceful_rt::__private::assert_main_output::<#ty>();
        },
    };

    quote! {
        #(#attrs)*
        #vis fn #name() {
            async fn __graceful_main(#inputs) #output #block
            #output_check
            ::graceful_rt::__private::run(
                ::graceful_rt::__private::MainConfig {
                    timeout: ::core::time::Duration::new(#secs, #nanos),
                    signals: #signals,
                    flavor: ::graceful_rt::__private::Flavor::#flavor,
                    worker_threads: #worker_threads,
                    main_takes_shutdown: #takes_shutdown,
                },
                |__graceful_shutdown: ::graceful_rt::Shutdown| #call,
            )
        }
    }
}

/// What stands in for a function that cannot be expanded: the errors say
/// why, and no second wave of errors follows from a missing `main`.
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
    quote! {
        #(#attrs)*
        #vis fn #name() {}
    }
}
