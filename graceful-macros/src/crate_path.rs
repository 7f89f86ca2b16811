//! `crate = "path"`: where the generated code finds graceful-rt, for a
//! crate that renamed the dependency in its Cargo.toml
//! (`shutdown_kit = { package = "graceful-rt", .. }`), or reaches it
//! through a re-export. The same option, and the same message, for both
//! macros; tokio's `crate = "..."` and serde's `#[serde(crate = "...")]`
//! work the same way.

use syn::{Expr, ExprLit, Lit, Path};

use crate::errors::Errors;

/// The option's key.
pub(crate) const KEY: &str = "crate";

/// The path when no `crate = "..."` is given.
pub(crate) fn default() -> Path {
    syn::parse_quote! { ::graceful_rt }
}

/// Reads the value of `crate = "..."`: a path in a string literal.
pub(crate) fn argument(value: &Expr, errors: &mut Errors) -> Option<Path> {
    let Expr::Lit(ExprLit {
        lit: Lit::Str(literal),
        ..
    }) = value
    else {
        errors.spanned(
            value,
            "`crate` is the path of graceful-rt in quotes, as your Cargo.toml names it: \
             write `crate = \"graceful_rt\"`, or the name you renamed it to",
        );
        return None;
    };
    match literal.parse::<Path>() {
        Ok(path) => Some(path),
        Err(_) => {
            errors.spanned(
                literal,
                format!(
                    "`{}` is not a path: write the name of the dependency as your code uses it, \
                     such as `crate = \"shutdown_kit\"` or `crate = \"::my_app::graceful\"`",
                    literal.value()
                ),
            );
            None
        }
    }
}
