//! Checks that the annotated function can be a graceful main.

use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, Type};

use crate::errors::Errors;

/// What the expansion needs to know of a valid signature.
pub(crate) struct Signature<'a> {
    /// The `Shutdown` argument, if main takes one: its pattern and type.
    pub(crate) shutdown: Option<(&'a Pat, &'a Type)>,
}

/// Checks `function`; `None` (with errors pushed) if it cannot be expanded.
pub(crate) fn check<'a>(function: &'a ItemFn, errors: &mut Errors) -> Option<Signature<'a>> {
    let mut ok = true;
    let mut fail = |errors: &mut Errors, span, message: &str| {
        errors.at(span, message);
        ok = false;
    };
    let sig = &function.sig;
    for attr in &function.attrs {
        let path = attr.path();
        let last = path
            .segments
            .last()
            .map(|segment| segment.ident.to_string());
        let first = path
            .segments
            .first()
            .map(|segment| segment.ident.to_string());
        if last.as_deref() == Some("main") && first.as_deref() == Some("tokio") {
            fail(
                errors,
                attr.span(),
                "remove `#[tokio::main]`: `#[graceful_main]` builds the tokio runtime itself \
                 (use its `flavor` and `worker_threads` arguments)",
            );
        } else if last.as_deref() == Some("graceful_main") {
            fail(
                errors,
                attr.span(),
                "`#[graceful_main]` is applied twice: remove one",
            );
        }
    }
    if sig.asyncness.is_none() {
        fail(
            errors,
            sig.fn_token.span,
            "`#[graceful_main]` needs an async function: write `async fn main()` \
             (and remove `#[tokio::main]` if it is there too)",
        );
    }
    if let Some(constness) = &sig.constness {
        fail(
            errors,
            constness.span,
            "main cannot be `const`: write `async fn main()`",
        );
    }
    if let syn::Safety::Unsafe(unsafety) = &sig.safety {
        fail(
            errors,
            unsafety.span,
            "main cannot be `unsafe`: write `async fn main()`",
        );
    }
    if let Some(abi) = &sig.abi {
        fail(
            errors,
            abi.span(),
            "main cannot declare an ABI: write `async fn main()`",
        );
    }
    if !sig.generics.params.is_empty() {
        fail(
            errors,
            sig.generics.span(),
            "main cannot be generic: remove the generic parameters",
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        fail(
            errors,
            where_clause.span(),
            "main cannot have a `where` clause: remove it",
        );
    }
    if let Some(variadic) = &sig.variadic {
        fail(
            errors,
            variadic.span(),
            "main cannot be variadic: remove `...`",
        );
    }
    let mut shutdown = None;
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => fail(
                errors,
                receiver.span(),
                "main cannot take `self`: `#[graceful_main]` goes on a free function, \
                 `async fn main(shutdown: Shutdown)`",
            ),
            FnArg::Typed(_) if index > 0 => fail(
                errors,
                input.span(),
                "main takes at most one argument, the `Shutdown` handle: write \
                 `async fn main(shutdown: Shutdown)` and reach everything else through it or the environment",
            ),
            FnArg::Typed(typed) => shutdown = Some((&*typed.pat, &*typed.ty)),
        }
    }
    ok.then_some(Signature { shutdown })
}
