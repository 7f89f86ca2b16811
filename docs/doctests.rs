//! The README's and the guides' code, compiled as doc tests: `cargo test
//! --workspace` runs them with this package's dependencies, the clients
//! the README's example uses. Nothing else lives here.

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

#[cfg(doctest)]
#[doc = include_str!("deploying.md")]
struct Deploying;

#[cfg(doctest)]
#[doc = include_str!("failure-modes.md")]
struct FailureModes;
