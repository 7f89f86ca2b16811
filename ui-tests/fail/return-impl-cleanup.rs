// Rejected today though the docs allow any `S: Cleanup`: main returns `impl Cleanup` (move to pass/ once accepted).
use graceful_rt::{graceful_main, Cleanup, CleanupPlan};

struct App;

impl Cleanup for App {
    fn plan_cleanup<'a>(&'a self, _plan: &mut CleanupPlan<'a>) {}
}

#[graceful_main]
async fn main() -> impl Cleanup {
    App
}
