//! The `#[cleanup(...)]` options of each field.

use std::time::Duration;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, ExprLit, Lit, Member};

use crate::crate_path;
use crate::duration::{self, Zero};
use crate::errors::Errors;
use crate::suggest;
use crate::syntax;

const ATTRIBUTE: &str = "cleanup";
const TIMEOUT: &str = "timeout";
const NAME: &str = "name";
const WITH: &str = "with";
const AFTER: &str = "after";
const OPTIONS: &[&str] = &[TIMEOUT, NAME, WITH, AFTER];

/// What a zero timeout would do, for the message that rejects it.
const ZERO_TIMEOUT: &str =
    "a zero timeout cuts the close before it starts; to skip a field, leave it untagged";

/// A field tagged `#[cleanup]`.
pub(crate) struct Tagged {
    pub(crate) member: Member,
    pub(crate) ty: syn::Type,
    /// The name in logs and the report, and its span (the `name = "..."`
    /// literal, or the field).
    pub(crate) name: String,
    pub(crate) name_span: Span,
    pub(crate) timeout: Option<Duration>,
    pub(crate) after: Vec<(String, Span)>,
    pub(crate) with: Option<syn::Path>,
}

/// The struct's own `#[cleanup(crate = "...")]`: the path of graceful-rt,
/// if the struct gives one.
pub(crate) fn krate(input: &DeriveInput, errors: &mut Errors) -> Option<syn::Path> {
    const ON_THE_STRUCT: &str = "on the struct, `#[cleanup(...)]` takes only `crate = \"...\"`, the path \
        of graceful-rt; `#[cleanup]` and its options (`timeout`, `name`, `with`, `after`) go on \
        the fields to close";
    let mut krate = None;
    let mut seen = false;
    for attr in input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident(ATTRIBUTE))
    {
        if !matches!(attr.meta, syn::Meta::List(_)) {
            errors.spanned(attr, ON_THE_STRUCT);
            continue;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident(crate_path::KEY) {
                errors.spanned(&meta.path, ON_THE_STRUCT);
                return syntax::skip_value(&meta);
            }
            let value: Expr = meta.value()?.parse()?;
            if seen {
                errors.spanned(&meta.path, "`crate` is set twice: keep one");
            } else {
                seen = true;
                krate = crate_path::argument(&value, errors);
            }
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    krate
}

/// The tagged fields, or `None` when the input is not a struct.
pub(crate) fn parse(input: &DeriveInput, errors: &mut Errors) -> Option<Vec<Tagged>> {
    let fields = match &input.data {
        Data::Struct(data) => &data.fields,
        Data::Enum(data) => {
            errors.at(
                data.enum_token.span,
                "`#[derive(Cleanup)]` works on structs: an enum holds one variant's resources at a time; \
                 implement `graceful_rt::Cleanup` by hand, or derive it on a struct per variant",
            );
            return None;
        }
        Data::Union(data) => {
            errors.at(
                data.union_token.span,
                "`#[derive(Cleanup)]` works on structs, not unions",
            );
            return None;
        }
    };
    let mut tagged = Vec::new();
    for (index, field) in fields.iter().enumerate() {
        let mut attrs = field
            .attrs
            .iter()
            .filter(|attr| attr.path().is_ident(ATTRIBUTE));
        let Some(attr) = attrs.next() else {
            continue;
        };
        for repeated in attrs {
            errors.spanned(
                repeated,
                "`#[cleanup]` is applied twice to this field: merge the options into one `#[cleanup(...)]`",
            );
        }
        let member = match &field.ident {
            Some(ident) => Member::Named(ident.clone()),
            None => Member::Unnamed(syn::Index::from(index)),
        };
        let default_name = match &field.ident {
            Some(ident) => ident.to_string().trim_start_matches("r#").to_owned(),
            None => index.to_string(),
        };
        let mut field_tag = Tagged {
            member,
            ty: field.ty.clone(),
            name: default_name,
            name_span: field
                .ident
                .as_ref()
                .map_or_else(|| field.ty.span(), |ident| ident.span()),
            timeout: None,
            after: Vec::new(),
            with: None,
        };
        match &attr.meta {
            syn::Meta::Path(_) => {}
            syn::Meta::List(_) => options(attr, &mut field_tag, errors),
            syn::Meta::NameValue(meta) => errors.spanned(
                meta,
                "`#[cleanup]` takes its options in parentheses: write `#[cleanup(name = \"db\")]`",
            ),
        }
        tagged.push(field_tag);
    }
    Some(tagged)
}

fn options(attr: &syn::Attribute, field: &mut Tagged, errors: &mut Errors) {
    let mut seen: Vec<String> = Vec::new();
    let parsed = attr.parse_nested_meta(|meta| {
        let Some(key) = meta.path.get_ident().map(ToString::to_string) else {
            errors.at(
                meta.path.span(),
                suggest::unknown(
                    "option",
                    "#[cleanup]",
                    OPTIONS,
                    &syntax::path_text(&meta.path),
                ),
            );
            return syntax::skip_value(&meta);
        };
        if key == crate_path::KEY {
            errors.at(
                meta.path.span(),
                "`crate` goes on the struct, once for all its fields: \
                 `#[cleanup(crate = \"...\")]` above `struct`",
            );
            return syntax::skip_value(&meta);
        }
        if !OPTIONS.contains(&key.as_str()) {
            errors.at(
                meta.path.span(),
                suggest::unknown("option", "#[cleanup]", OPTIONS, &key),
            );
            return syntax::skip_value(&meta);
        }
        if !meta.input.peek(syn::Token![=]) {
            errors.at(
                meta.path.span(),
                format!("`{key}` needs a value: write `{}`", example(&key)),
            );
            return syntax::skip_value(&meta);
        }
        let value: Expr = meta.value()?.parse()?;
        if seen.contains(&key) {
            errors.at(meta.path.span(), format!("`{key}` is set twice: keep one"));
            return Ok(());
        }
        seen.push(key.clone());
        match key.as_str() {
            TIMEOUT => {
                field.timeout =
                    duration::argument(TIMEOUT, "2s", Zero::Rejected(ZERO_TIMEOUT), &value, errors);
            }
            NAME => name(&value, field, errors),
            WITH => field.with = with(&value, errors),
            _ => field.after = after(&value, errors),
        }
        Ok(())
    });
    if let Err(error) = parsed {
        errors.push(error);
    }
}

fn example(key: &str) -> &'static str {
    match key {
        TIMEOUT => "timeout = \"2s\"",
        NAME => "name = \"db\"",
        WITH => "with = path::to::close_fn",
        _ => "after = \"db\"` or `after = [\"db\", \"cache\"]",
    }
}

fn string(value: &Expr) -> Option<&syn::LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Some(text),
        _ => None,
    }
}

fn name(value: &Expr, field: &mut Tagged, errors: &mut Errors) {
    let Some(text) = string(value) else {
        errors.spanned(value, "`name` is a string: write `name = \"db\"`");
        return;
    };
    let name = text.value();
    if name.trim().is_empty() {
        errors.at(
            text.span(),
            "`name` is empty: write the name logs and the report should use",
        );
    } else if name.contains('.') {
        errors.at(
            text.span(),
            "`name` cannot contain `.`, which separates the names of nested groups (`outer.inner`)",
        );
    } else {
        field.name = name;
        field.name_span = text.span();
    }
}

fn with(value: &Expr, errors: &mut Errors) -> Option<syn::Path> {
    match value {
        Expr::Path(path) if path.qself.is_none() => Some(path.path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => {
            errors.at(
                text.span(),
                format!(
                    "`with` takes a path, not a string: write `with = {}`",
                    text.value()
                ),
            );
            None
        }
        Expr::Call(call) => {
            let hint = match &*call.func {
                Expr::Path(path) => format!("write `with = {}`", syntax::path_text(&path.path)),
                _ => "write `with = close_fn`".to_owned(),
            };
            errors.spanned(
                call,
                format!("`with` takes the function's path, not a call: {hint}; it is called with `&field`"),
            );
            None
        }
        Expr::Closure(closure) => {
            errors.spanned(
                closure,
                "`with` takes the path of a function, not a closure: move the body into \
                 `async fn close_fn(field: &FieldType) -> Result<(), E>` and write `with = close_fn`",
            );
            None
        }
        other => {
            errors.spanned(
                other,
                "`with` takes the path of an async fn that closes the field, such as `with = flush_metrics`, \
                 where `async fn flush_metrics(field: &FieldType) -> Result<(), E>`",
            );
            None
        }
    }
}

fn after(value: &Expr, errors: &mut Errors) -> Vec<(String, Span)> {
    let elements: Vec<&Expr> = match value {
        Expr::Array(array) => {
            if array.elems.is_empty() {
                errors.spanned(
                    array,
                    "`after` is empty: name at least one field, or remove `after`",
                );
            }
            array.elems.iter().collect()
        }
        other => vec![other],
    };
    let mut names: Vec<(String, Span)> = Vec::new();
    for element in elements {
        match string(element) {
            Some(text) if names.iter().any(|(seen, _)| *seen == text.value()) => {
                errors.at(text.span(), format!("`{}` is listed twice in `after`: keep one", text.value()));
            }
            Some(text) => names.push((text.value(), text.span())),
            None => errors.spanned(
                element,
                "`after` names fields as strings: write `after = \"db\"` or `after = [\"db\", \"cache\"]`",
            ),
        }
    }
    names
}

#[cfg(test)]
mod reference_tests {
    use std::collections::BTreeSet;

    use super::OPTIONS;
    use crate::crate_path;
    use crate::reference;

    /// The field options the derive accepts, and `crate` on the struct, are
    /// the reference's, no more, no less.
    #[test]
    fn the_reference_lists_every_option_and_no_other() {
        let reference = reference::keys("`#[derive(Cleanup)]`");
        let parser: BTreeSet<String> = OPTIONS
            .iter()
            .chain([&crate_path::KEY])
            .map(|&key| key.to_owned())
            .collect();
        assert_eq!(
            parser, reference,
            "the derive's options (left) and graceful-rt's reference table (right) differ"
        );
    }
}
