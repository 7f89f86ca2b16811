// Accepted: a doc comment and lint attributes on main are kept.
#![deny(unused_variables)]

use graceful_rt::graceful_main;

/// The service's entry point.
#[graceful_main]
#[allow(unused_variables)]
async fn main() {
    let unused = 1;
}
