// Mistake: derives `Cleanup` and also implements it by hand.
use graceful_rt::{BoxError, Cleanup, CleanupPlan, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup]
    db: Db,
}

impl Cleanup for App {
    fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
        plan.close("db", self.db.close());
    }
}

fn main() {}
