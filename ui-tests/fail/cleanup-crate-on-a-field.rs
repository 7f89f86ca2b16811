// Mistake: `crate = "..."` on a field; it goes on the struct.
use graceful_rt::Cleanup;

#[derive(Cleanup)]
struct App {
    #[cleanup(crate = "graceful_rt")]
    tasks: tokio_util::task::TaskTracker,
}

fn main() {}
