//! graceful-rt with the `axum` feature and without `http2`, as a service
//! that follows axum's default features builds it: its in-process HTTP
//! tests (graceful-rt/tests/http.rs) pass on HTTP/1.1 alone, and an HTTP/2
//! client is closed at its preface with one warning that names the
//! feature to enable.
//!
//! This workspace's own build enables `http2` (the examples serve gRPC),
//! and cargo unifies a package's features across one build, so this build
//! is a cargo run of its own, in the same target directory (artifacts with
//! other features sit beside the others; nothing is rebuilt twice).

mod support;

use std::process::Command;

/// The test of graceful-rt/tests/http.rs that only a build without
/// `http2` has.
const WITHOUT_HTTP2: &str =
    "without_the_http2_feature_an_http2_client_is_closed_and_the_log_says_what_to_enable";

#[test]
fn http_serve_without_the_http2_feature_serves_http1_and_names_the_feature_to_http2_clients() {
    let (stdout, passed) = support::cargo_tests(
        Command::new(env!("CARGO"))
            .args([
                "test",
                "-p",
                "graceful-rt",
                "--no-default-features",
                "--features",
                "axum",
                "--test",
                "http",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        "graceful-rt's tests/http.rs with `--features axum`",
    );
    assert!(
        stdout.contains(&format!("test {WITHOUT_HTTP2} ... ok")),
        "the HTTP/1.1-only test did not run:\n{stdout}"
    );
    assert!(
        passed >= 10,
        "only {passed} tests of tests/http.rs passed:\n{stdout}"
    );
}
