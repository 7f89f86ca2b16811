// Accepted: returns the state behind an `Arc`, as shared with handlers.
use std::sync::Arc;

use graceful_rt::{graceful_main, Cleanup, CleanupPlan, Shutdown};

struct State;

impl Cleanup for State {
    fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
        plan.close("db", async { Ok::<(), std::io::Error>(()) });
    }
}

#[graceful_main]
async fn main(shutdown: Shutdown) -> Arc<State> {
    let state = Arc::new(State);
    let handler = Arc::clone(&state);
    drop(handler);
    assert!(!shutdown.is_requested());
    state
}
