// Accepted: returns a state that implements `Cleanup` by hand.
use graceful_rt::{graceful_main, Cleanup, CleanupPlan, Shutdown};

struct App;

impl Cleanup for App {
    fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
        plan.close("db", async { Ok::<(), std::io::Error>(()) });
    }
}

#[graceful_main]
async fn main(shutdown: Shutdown) -> App {
    assert!(!shutdown.is_requested());
    App
}
