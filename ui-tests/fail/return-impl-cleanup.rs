// Mistake?: main returns `impl Cleanup` rather than a named state type.
use graceful_rt::{graceful_main, Cleanup, CleanupPlan};

struct App;

impl Cleanup for App {
    fn plan_cleanup<'a>(&'a self, _plan: &mut CleanupPlan<'a>) {}
}

#[graceful_main]
async fn main() -> impl Cleanup {
    App
}
