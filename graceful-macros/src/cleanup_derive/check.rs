//! Checks that need every field at once: unique names, `after` naming a
//! field that exists, no cycles.

use syn::DeriveInput;
use syn::spanned::Spanned;

use super::fields::Tagged;
use crate::errors::Errors;
use crate::suggest;

pub(crate) fn check(input: &DeriveInput, tagged: &[Tagged], errors: &mut Errors) {
    if tagged.is_empty() {
        errors.at(
            input.ident.span(),
            format!(
                "`{}` derives `Cleanup` but no field is tagged `#[cleanup]`: tag the fields to close, \
                 such as `#[cleanup] db: Pool`",
                input.ident
            ),
        );
        return;
    }
    for (index, field) in tagged.iter().enumerate() {
        if tagged[..index]
            .iter()
            .any(|earlier| earlier.name == field.name)
        {
            errors.at(
                field.name_span,
                format!(
                    "two fields are named `{}` in logs and the report: give one of them another name, \
                     with `#[cleanup(name = \"...\")]`",
                    field.name
                ),
            );
        }
    }
    let names: Vec<&str> = tagged.iter().map(|field| field.name.as_str()).collect();
    let mut known = true;
    for field in tagged {
        for (after, span) in &field.after {
            if *after == field.name {
                errors.at(
                    *span,
                    format!("`{after}` cannot start after itself: remove it from `after`"),
                );
                known = false;
            } else if !names.contains(&after.as_str()) {
                errors.at(*span, unknown_after(after, input, tagged));
                known = false;
            }
        }
    }
    if known {
        if let Some(cycle) = find_cycle(tagged) {
            let path = cycle
                .iter()
                .map(|&index| format!("`{}`", tagged[index].name))
                .collect::<Vec<_>>()
                .join(", which waits for ");
            let last = &tagged[cycle[cycle.len() - 2]];
            let closing = &tagged[cycle[cycle.len() - 1]].name;
            let span = last
                .after
                .iter()
                .find(|(name, _)| name == closing)
                .map_or_else(|| input.span(), |(_, span)| *span);
            errors.at(
                span,
                format!("`after` forms a cycle, so none of these could ever start: {path}; remove one of these `after`s"),
            );
        }
    }
}

/// Why `after` names no close, and what to write instead.
fn unknown_after(after: &str, input: &DeriveInput, tagged: &[Tagged]) -> String {
    let renamed = tagged
        .iter()
        .find(|field| matches!(&field.member, syn::Member::Named(ident) if ident == after));
    if let Some(field) = renamed {
        return format!(
            "`{after}` is named `{}` here: write `after = \"{}\"`",
            field.name, field.name
        );
    }
    let untagged = match &input.data {
        syn::Data::Struct(data) => data
            .fields
            .iter()
            .any(|field| field.ident.as_ref().is_some_and(|ident| ident == after)),
        _ => false,
    };
    if untagged {
        return format!(
            "`{after}` is not tagged `#[cleanup]`, so it is never closed: tag it, or remove it from `after`"
        );
    }
    let names: Vec<&str> = tagged.iter().map(|field| field.name.as_str()).collect();
    let listed = names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match suggest::closest(after, &names) {
        Some(close) => format!(
            "`after` names `{after}`, but no `#[cleanup]` field has that name: did you mean `{close}`? The names are {listed}"
        ),
        None => format!(
            "`after` names `{after}`, but no `#[cleanup]` field has that name: the names are {listed}"
        ),
    }
}

/// A cycle in `after`, as field indices from a field back to itself.
fn find_cycle(tagged: &[Tagged]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        index: usize,
        tagged: &[Tagged],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        marks[index] = Mark::Open;
        path.push(index);
        for (after, _) in &tagged[index].after {
            let Some(next) = tagged.iter().position(|field| field.name == *after) else {
                continue;
            };
            match marks[next] {
                Mark::Open => {
                    let start = path.iter().position(|&seen| seen == next).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, tagged, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[index] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; tagged.len()];
    (0..tagged.len()).find_map(|index| {
        if marks[index] == Mark::New {
            visit(index, tagged, &mut marks, &mut Vec::new())
        } else {
            None
        }
    })
}
