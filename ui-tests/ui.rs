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
