//! The crate docs (lib.rs) are the one reference for the environment
//! variables and the features: these tests fail when the code reads a
//! variable, or Cargo.toml declares a feature, that the reference does not
//! list, or when the reference lists one that no longer exists. (The
//! macros' arguments are checked by graceful-macros' own tests, the exit
//! codes and the report's outcomes by `exit::report`'s.)

use std::collections::BTreeSet;
use std::path::Path;

/// The rows of the crate docs' table under `# {heading}`: the first cell
/// of each, with its backquoted names split out.
fn table(heading: &str) -> BTreeSet<String> {
    let docs = include_str!("lib.rs");
    let start = docs
        .find(&format!("//! # {heading}\n"))
        .unwrap_or_else(|| panic!("no `# {heading}` section in the crate docs"));
    let section = &docs[start..];
    let end = section[4..]
        .find("//! # ")
        .map_or(section.len(), |end| end + 4);
    section[..end]
        .lines()
        .filter_map(|line| line.strip_prefix("//! | "))
        .filter(|row| !row.starts_with("---"))
        .filter_map(|row| row.split(" | ").next())
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every environment variable named in the crate's sources: string
/// literals of the namespaces the crate reads (its own, systemd's).
fn variables_in_code() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|extension| extension != "rs")
                || path.ends_with("reference.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for literal in text.split('"').skip(1).step_by(2) {
                let is_variable = ["GRACEFUL_", "LISTEN_", "NOTIFY_", "WATCHDOG_"]
                    .iter()
                    .any(|prefix| literal.starts_with(prefix))
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if is_variable {
                    found.insert(literal.to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn every_variable_the_code_reads_is_in_the_reference_and_no_other() {
    let code = variables_in_code();
    let reference = table("Environment");
    assert!(code.contains("GRACEFUL_TIMEOUT"), "the scan found {code:?}");
    let missing: Vec<_> = code.difference(&reference).collect();
    assert!(
        missing.is_empty(),
        "read by the code, missing from the crate docs' Environment table: {missing:?}"
    );
    let stale: Vec<_> = reference.difference(&code).collect();
    assert!(
        stale.is_empty(),
        "in the Environment table, but read nowhere in the code: {stale:?}"
    );
}

#[test]
fn every_feature_is_in_the_reference_and_no_other() {
    let manifest = include_str!("../Cargo.toml");
    let features = &manifest[manifest.find("\n[features]\n").expect("[features]")..];
    let features = &features[11..features[11..]
        .find("\n[")
        .map_or(features.len(), |end| end + 11)];
    let declared: BTreeSet<String> = features
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with(' ') && !line.starts_with(']'))
        .filter_map(|line| line.split_once(" = "))
        .map(|(name, _)| name.trim().to_owned())
        .filter(|name| name != "default")
        .collect();
    assert!(declared.contains("axum"), "the scan found {declared:?}");
    let reference = table("Features");
    assert_eq!(
        declared, reference,
        "Cargo.toml's features (left) and the crate docs' Features table (right) differ"
    );
}
