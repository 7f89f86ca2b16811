// Mistake: main returns a state that does not implement `graceful_rt::Cleanup`.
use graceful_rt::graceful_main;

struct App;

#[graceful_main]
async fn main() -> App {
    App
}
