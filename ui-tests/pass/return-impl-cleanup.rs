// main returns `impl Cleanup`: any state type that implements `Cleanup` is accepted.
use graceful_rt::{graceful_main, Cleanup, CleanupPlan};

struct App;

impl Cleanup for App {
    fn plan_cleanup<'a>(&'a self, _plan: &mut CleanupPlan<'a>) {}
}

#[graceful_main]
async fn main() -> impl Cleanup {
    App
}
