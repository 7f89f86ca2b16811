//! Every mistake a user can make with the macros (`#[graceful_main]`, and
//! `#[derive(Cleanup)]` in the `cleanup-*` cases), and the message they get.
//!
//! - `fail/`: one mistake per file, named for it; the `.stderr` beside it is
//!   the exact message, reviewed as a new user would read it.
//! - `pass/`: every accepted form; each is compiled and run.
//!
//! After an intended change of a message, regenerate the `.stderr` files
//! with `TRYBUILD=overwrite cargo test -p graceful-ui-tests` and review the
//! diff. The messages are those of the toolchain in README.md.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("fail/*.rs");
    cases.pass("pass/*.rs");
}

/// The duration grammar is one file in both crates (a proc-macro crate
/// cannot share a module with its runtime): the two copies must not drift.
#[test]
fn the_duration_grammar_is_the_same_file_in_both_crates() {
    let read = |crate_dir: &str| {
        let path = format!(
            "{}/../{crate_dir}/src/duration/grammar.rs",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    };
    assert!(
        read("graceful-rt") == read("graceful-macros"),
        "graceful-rt/src/duration/grammar.rs and graceful-macros/src/duration/grammar.rs differ: \
         change one, then copy it over the other"
    );
}
