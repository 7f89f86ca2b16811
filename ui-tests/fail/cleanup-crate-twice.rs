// Mistake: `crate` set twice on the struct.
use graceful_rt::Cleanup;

#[derive(Cleanup)]
#[cleanup(crate = "graceful_rt")]
#[cleanup(crate = "graceful_rt")]
struct App {
    #[cleanup]
    tasks: tokio_util::task::TaskTracker,
}

fn main() {}
