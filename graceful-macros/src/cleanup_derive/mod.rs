//! `#[derive(Cleanup)]`: read the `#[cleanup(...)]` options of each field,
//! check them together (names, `after`, cycles), then emit the `Cleanup`
//! and `Close` impls that plan one close per tagged field.

mod check;
mod expand;
mod fields;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::crate_path;
use crate::errors::Errors;

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    let mut errors = Errors::default();
    let krate = fields::krate(&input, &mut errors).unwrap_or_else(crate_path::default);
    let tagged = fields::parse(&input, &mut errors);
    if let Some(tagged) = &tagged {
        check::check(&input, tagged, &mut errors);
    }
    let expanded = match (&tagged, errors.is_empty()) {
        (Some(tagged), true) => expand::impls(&input, tagged, &krate),
        // A stub beside the errors: no second wave of "Cleanup is not
        // implemented" errors where the type is used.
        _ => expand::stub(&input, &krate),
    };
    let errors = errors.into_compile_errors();
    quote! { #errors #expanded }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive_str(input: &str) -> String {
        derive(input.parse().unwrap()).to_string()
    }

    #[test]
    fn plans_each_tagged_field() {
        let out = derive_str(
            r#"struct App {
                #[cleanup] db: Pool,
                #[cleanup(name = "jobs", after = "db", timeout = "2s")] scheduler: Tracker,
                #[cleanup(with = flush)] metrics: Metrics,
                config: Config,
            }"#,
        );
        assert!(out.contains("\"db\""), "{out}");
        assert!(out.contains("\"jobs\""), "{out}");
        assert!(
            out.contains("CloseWith :: plan (flush , \"metrics\" , & self . metrics"),
            "{out}"
        );
        assert!(!out.contains("config"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn reports_every_mistake_with_a_stub() {
        let out = derive_str(
            r#"struct App {
                #[cleanup(timout = "2s")] db: Pool,
                #[cleanup(after = "nowhere")] cache: Cache,
            }"#,
        );
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(out.contains("plan_cleanup"), "{out}");
    }
}
