// Mistake: main's error type does not implement `Debug`.
use graceful_rt::graceful_main;

struct MyError;

#[graceful_main]
async fn main() -> Result<(), MyError> {
    Ok(())
}
