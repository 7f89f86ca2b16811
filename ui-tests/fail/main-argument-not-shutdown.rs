// Mistake: main's one argument is not a `Shutdown`.
use graceful_rt::graceful_main;

#[graceful_main]
async fn main(port: u16) {
    let _ = port;
}
