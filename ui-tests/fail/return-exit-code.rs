// Mistake: main returns a `std::process::ExitCode`, as a plain main may.
use std::process::ExitCode;

use graceful_rt::graceful_main;

#[graceful_main]
async fn main() -> ExitCode {
    ExitCode::SUCCESS
}
