//! Small readers of attribute syntax shared by both macros.

use proc_macro2::TokenStream;
use syn::Expr;
use syn::meta::ParseNestedMeta;

/// `a::b::c` as written.
pub(crate) fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// Consumes whatever follows an unusable key up to the next comma, so the
/// keys after it are still read.
pub(crate) fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}
