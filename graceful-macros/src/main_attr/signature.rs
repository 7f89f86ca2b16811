//! Checks that the annotated function can be a graceful main.

use syn::{FnArg, ItemFn, Type};

use crate::errors::Errors;

/// What the expansion needs to know of a valid signature.
pub(crate) struct Signature<'a> {
    /// The type of the `Shutdown` argument, if main takes one.
    pub(crate) shutdown: Option<&'a Type>,
}

/// Checks `function`; `None` (with errors pushed) if it cannot be expanded.
pub(crate) fn check<'a>(function: &'a ItemFn, errors: &mut Errors) -> Option<Signature<'a>> {
    let mut ok = true;
    let mut fail = |errors: &mut Errors, error: syn::Error| {
        errors.push(error);
        ok = false;
    };
    let sig = &function.sig;
    for attr in &function.attrs {
        let path = attr.path();
        let first = path
            .segments
            .first()
            .map(|segment| segment.ident.to_string());
        let last = path
            .segments
            .last()
            .map(|segment| segment.ident.to_string());
        if first.as_deref() == Some("tokio") && last.as_deref() == Some("main") {
            fail(errors, syn::Error::new_spanned(attr, REMOVE_TOKIO_MAIN));
        } else if last.as_deref() == Some("graceful_main") {
            fail(
                errors,
                syn::Error::new_spanned(attr, "`#[graceful_main]` is applied twice: remove one"),
            );
        }
    }
    if sig.ident != "main" {
        fail(
            errors,
            syn::Error::new(
                sig.ident.span(),
                format!(
                    "`#[graceful_main]` goes on the program's `main`, since it ends the process when the \
                     shutdown is done: rename `{}` to `main`",
                    sig.ident
                ),
            ),
        );
    }
    if sig.asyncness.is_none() {
        // `#[tokio::main]` above this attribute has already turned `async fn`
        // into a plain `fn` whose body calls `block_on`.
        let message = if mentions_block_on(&function.block) {
            REMOVE_TOKIO_MAIN
        } else {
            "`#[graceful_main]` needs an async function: write `async fn main()`"
        };
        fail(errors, syn::Error::new(sig.fn_token.span, message));
    }
    if let Some(constness) = &sig.constness {
        fail(
            errors,
            syn::Error::new(constness.span, "main cannot be `const`: remove `const`"),
        );
    }
    if let syn::Safety::Unsafe(unsafety) = &sig.safety {
        fail(
            errors,
            syn::Error::new(unsafety.span, "main cannot be `unsafe`: remove `unsafe`"),
        );
    }
    if let Some(abi) = &sig.abi {
        fail(
            errors,
            syn::Error::new_spanned(abi, "main cannot declare an ABI: remove it"),
        );
    }
    if !sig.generics.params.is_empty() {
        fail(
            errors,
            syn::Error::new_spanned(
                &sig.generics,
                "main cannot be generic: remove the generic parameters",
            ),
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        fail(
            errors,
            syn::Error::new_spanned(where_clause, "main cannot have a `where` clause: remove it"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        fail(
            errors,
            syn::Error::new_spanned(variadic, "main cannot be variadic: remove `...`"),
        );
    }
    let mut shutdown = None;
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => fail(
                errors,
                syn::Error::new_spanned(
                    receiver,
                    "main cannot take `self`: `#[graceful_main]` goes on a free function, \
                     `async fn main(shutdown: Shutdown)`",
                ),
            ),
            FnArg::Typed(_) if index > 0 => fail(
                errors,
                syn::Error::new_spanned(
                    input,
                    "main takes at most one argument, the `Shutdown` handle: write \
                     `async fn main(shutdown: Shutdown)` and read configuration from the environment",
                ),
            ),
            FnArg::Typed(typed) => match shutdown_type(&typed.ty) {
                Ok(()) => shutdown = Some(&*typed.ty),
                Err(message) => fail(errors, syn::Error::new_spanned(&typed.ty, message)),
            },
        }
    }
    ok.then_some(Signature { shutdown })
}

const REMOVE_TOKIO_MAIN: &str = "remove `#[tokio::main]`: `#[graceful_main]` builds the tokio runtime itself \
                                 (use its `flavor` and `worker_threads` arguments)";

/// The argument must be the `Shutdown` handle, by value.
fn shutdown_type(ty: &Type) -> Result<(), String> {
    match ty {
        Type::Path(path)
            if path
                .path
                .segments
                .last()
                .is_some_and(|last| last.ident == "Shutdown") =>
        {
            Ok(())
        }
        Type::Reference(_) => Err(
            "take the `Shutdown` by value (it is a cheap clone of a shared handle): \
                                   write `shutdown: Shutdown`"
                .to_owned(),
        ),
        other => Err(format!(
            "main's argument is the `Shutdown` handle, not `{}`: write `async fn main(shutdown: Shutdown)`",
            quote::quote!(#other).to_string().replace(' ', "")
        )),
    }
}

fn mentions_block_on(block: &syn::Block) -> bool {
    fn walk(tokens: proc_macro2::TokenStream) -> bool {
        tokens.into_iter().any(|tree| match tree {
            proc_macro2::TokenTree::Ident(ident) => ident == "block_on",
            proc_macro2::TokenTree::Group(group) => walk(group.stream()),
            _ => false,
        })
    }
    walk(quote::quote!(#block))
}
