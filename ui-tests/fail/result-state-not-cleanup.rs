// Mistake: main returns `Result<State, E>` where the state does not implement `graceful_rt::Cleanup`.
use graceful_rt::graceful_main;

struct App;

#[graceful_main]
async fn main() -> Result<App, std::io::Error> {
    Ok(App)
}
