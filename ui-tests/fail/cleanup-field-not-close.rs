// Mistake: a field tagged `#[cleanup]` has a type that does not implement `graceful_rt::Close`.
use graceful_rt::Cleanup;

struct Pool;

#[derive(Cleanup)]
struct App {
    #[cleanup]
    db: Pool,
}

fn main() {}
