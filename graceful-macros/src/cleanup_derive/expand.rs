//! Writes the `Cleanup` and `Close` impls of a checked struct.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, GenericParam, Path, Type, WherePredicate};

use super::fields::Tagged;

/// `impl Cleanup` (one close per tagged field) and `impl Close` (the struct
/// closes as one group, and nests as a group inside another struct).
/// Every path goes through `krate`'s `__private` module.
pub(crate) fn impls(input: &DeriveInput, tagged: &[Tagged], krate: &Path) -> TokenStream {
    let closes = tagged.iter().map(|field| close(field, krate));
    let plan = quote! { #(#closes)* };
    wrap(input, &bounds(input, tagged, krate), plan, krate)
}

/// An impl with an empty plan, emitted beside errors.
pub(crate) fn stub(input: &DeriveInput, krate: &Path) -> TokenStream {
    wrap(input, &[], quote! { let _ = __graceful_plan; }, krate)
}

fn wrap(
    input: &DeriveInput,
    bounds: &[WherePredicate],
    plan: TokenStream,
    krate: &Path,
) -> TokenStream {
    let ident = &input.ident;
    let mut generics = input.generics.clone();
    generics
        .make_where_clause()
        .predicates
        .extend(bounds.iter().cloned());
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::__private::Cleanup for #ident #ty_generics #where_clause {
                fn plan_cleanup<'__graceful_a>(
                    &'__graceful_a self,
                    __graceful_plan: &mut #krate::__private::CleanupPlan<'__graceful_a>,
                ) {
                    #plan
                }
            }

            #[automatically_derived]
            impl #impl_generics #krate::__private::Close for #ident #ty_generics #where_clause {
                fn close(
                    &self,
                ) -> impl ::core::future::Future<
                    Output = ::core::result::Result<(), #krate::__private::BoxError>,
                > + ::core::marker::Send {
                    #krate::__private::close_cleanup(self)
                }

                fn plan_close<'__graceful_p, '__graceful_a>(
                    &'__graceful_a self,
                    __graceful_name: &str,
                    __graceful_plan: &'__graceful_p mut #krate::__private::CleanupPlan<'__graceful_a>,
                ) -> #krate::__private::PlanOptions<'__graceful_p, '__graceful_a> {
                    __graceful_plan.group(__graceful_name, self)
                }
            }
        };
    }
}

/// The plan entry of one field.
fn close(field: &Tagged, krate: &Path) -> TokenStream {
    let member = &field.member;
    let name = &field.name;
    let ty = &field.ty;
    let add = match &field.with {
        // The path and the field carry the span of the path, so a function
        // of the wrong shape is reported there, with `CloseWith`'s message.
        Some(path) => {
            let member = respan(member, path.span());
            let krate = respan_tokens(krate, path.span());
            quote_spanned! {path.span()=>
                #krate::__private::CloseWith::plan(#path, #name, &self.#member, __graceful_plan)
            }
        }
        // The call carries the span of the field's type, so a type that is
        // not `Close` is reported there, with Close's on_unimplemented note.
        None => quote_spanned! {ty.span()=>
            <#ty as #krate::__private::Close>::plan_close(&self.#member, #name, __graceful_plan)
        },
    };
    let timeout = field.timeout.map(|timeout| {
        let (secs, nanos) = (timeout.as_secs(), timeout.subsec_nanos());
        quote! { .timeout(::core::time::Duration::new(#secs, #nanos)) }
    });
    let after = (!field.after.is_empty()).then(|| {
        let names = field.after.iter().map(|(name, _)| name);
        quote! { .after([#(#names),*]) }
    });
    quote! { #add #timeout #after; }
}

/// `tokens` with another span, so that the call they start is reported at
/// `span` as a whole.
fn respan_tokens(tokens: &impl ToTokens, span: proc_macro2::Span) -> TokenStream {
    tokens
        .to_token_stream()
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// `member` with another span.
fn respan(member: &syn::Member, span: proc_macro2::Span) -> syn::Member {
    match member {
        syn::Member::Named(ident) => syn::Member::Named(syn::Ident::new(&ident.to_string(), span)),
        syn::Member::Unnamed(index) => syn::Member::Unnamed(syn::Index {
            index: index.index,
            span,
        }),
    }
}

/// `FieldType: Close` for each tagged field (without `with`) whose type
/// mentions a type parameter of the struct.
fn bounds(input: &DeriveInput, tagged: &[Tagged], krate: &Path) -> Vec<WherePredicate> {
    let params: Vec<&syn::Ident> = input
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(param) => Some(&param.ident),
            _ => None,
        })
        .collect();
    if params.is_empty() {
        return Vec::new();
    }
    tagged
        .iter()
        .filter(|field| field.with.is_none() && mentions(&field.ty, &params))
        .map(|field| {
            let ty = &field.ty;
            syn::parse_quote! { #ty: #krate::__private::Close }
        })
        .collect()
}

/// Whether `ty` mentions one of `params`, anywhere.
fn mentions(ty: &Type, params: &[&syn::Ident]) -> bool {
    fn walk(tokens: TokenStream, params: &[&syn::Ident]) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => params.iter().any(|param| ident == **param),
            proc_macro2::TokenTree::Group(group) => walk(group.stream(), params),
            _ => false,
        })
    }
    walk(quote! { #ty }, params)
}
