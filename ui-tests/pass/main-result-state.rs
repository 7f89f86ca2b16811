// Accepted: returns `Result<State, E>` where the state implements `Cleanup`.
use graceful_rt::{graceful_main, Cleanup, CleanupPlan, Shutdown};

struct Db;

impl Db {
    async fn close(&self) -> Result<(), std::io::Error> {
        Ok(())
    }
}

struct App {
    db: Db,
}

impl Cleanup for App {
    fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
        plan.close("db", self.db.close());
    }
}

#[graceful_main(timeout = "15s")]
async fn main(shutdown: Shutdown) -> Result<App, std::io::Error> {
    assert!(!shutdown.is_requested());
    Ok(App { db: Db })
}
