// Mistake: a tagged field's type implements `Cleanup` by hand, which does not make it `Close`.
use graceful_rt::{Cleanup, CleanupPlan};

struct Storage;

impl Cleanup for Storage {
    fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
        plan.close("files", async { Ok::<(), std::io::Error>(()) });
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup]
    storage: Storage,
}

fn main() {}
