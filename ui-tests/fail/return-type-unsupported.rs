// Mistake: main returns an `i32`.
use graceful_rt::graceful_main;

#[graceful_main]
async fn main() -> i32 {
    0
}
