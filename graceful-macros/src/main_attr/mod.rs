//! `#[graceful_main]`: parse the arguments and the function, check both,
//! then emit a plain `fn main()` that hands the user's async body to
//! `graceful_rt::__private::run`.

mod args;
mod expand;
mod signature;

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                "`#[graceful_main]` goes on the program's `async fn main`",
            );
            let error = error.into_compile_error();
            return quote! { #error #item };
        }
    };
    let mut errors = Errors::default();
    let args = args::parse(args, &mut errors);
    let checked = signature::check(&function, &mut errors);
    match checked {
        // Arguments alone were wrong: expand with the defaults beside the
        // errors, so the body is still checked and the IDE keeps working.
        Some(signature) => {
            let main = expand::main(&function, &signature, &args);
            let errors = errors.into_compile_errors();
            quote! { #errors #main }
        }
        None => {
            let stub = expand::stub(&function);
            let errors = errors.into_compile_errors();
            quote! { #errors #stub }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: &str, item: &str) -> String {
        expand(args.parse().unwrap(), item.parse().unwrap()).to_string()
    }

    #[test]
    fn expands_to_a_call_of_the_runtime() {
        let out = expand_str(
            "timeout = \"15s\"",
            "async fn main(shutdown: Shutdown) -> Result<(), E> { Ok(()) }",
        );
        assert!(out.contains(":: graceful_rt :: __private :: run"), "{out}");
        assert!(out.contains("Duration :: new (15u64 , 0u32)"), "{out}");
        assert!(out.contains("main_takes_shutdown : true"), "{out}");
        assert!(out.contains("result_into_state"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn collects_every_mistake() {
        let out = expand_str("timeout = \"0s\", colour = 1", "fn main() {}");
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
    }
}
