// Mistake: main takes a second argument besides the `Shutdown` handle.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main]
async fn main(shutdown: Shutdown, port: u16) {
    let _ = (shutdown, port);
}
