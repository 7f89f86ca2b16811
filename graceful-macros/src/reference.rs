//! graceful-rt's crate docs are the one reference for the macros'
//! arguments: the tests of `main_attr::args` and `cleanup_derive::fields`
//! read their tables from there and fail when the parser accepts a key the
//! reference does not list, or the reference lists one the parser rejects.

use std::collections::BTreeSet;

/// graceful-rt's lib.rs, read from the workspace.
fn crate_docs() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../graceful-rt/src/lib.rs");
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

/// The section under `//! # {heading}` of graceful-rt's crate docs.
pub(crate) fn section(heading: &str) -> String {
    let docs = crate_docs();
    let start = docs
        .find(&format!("//! # {heading}\n"))
        .unwrap_or_else(|| panic!("no `# {heading}` section in graceful-rt's crate docs"));
    let section = &docs[start..];
    let end = section[4..]
        .find("//! # ")
        .map_or(section.len(), |end| end + 4);
    section[..end].to_owned()
}

/// The keys of the section's table: the name before ` =` in each first
/// cell's backquoted text (`timeout = "15s"` gives `timeout`).
pub(crate) fn keys(heading: &str) -> BTreeSet<String> {
    section(heading)
        .lines()
        .filter_map(|line| line.strip_prefix("//! | "))
        .filter(|row| !row.starts_with("---"))
        .filter_map(|row| row.split(" | ").next())
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .filter_map(|code| code.split_once(" =").map(|(key, _)| key.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}
