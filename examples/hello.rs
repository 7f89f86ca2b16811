//! The smallest graceful service: waits for Ctrl-C or SIGTERM, then stops.
//!
//! ```sh
//! cargo run --example hello   # then press Ctrl-C
//! ```

use graceful_rt::{Shutdown, graceful_main};

#[graceful_main(timeout = "5s")]
async fn main(shutdown: Shutdown) {
    eprintln!("running; press Ctrl-C to stop");
    shutdown.requested().await;
}
