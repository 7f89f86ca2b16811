// Mistake: a Windows console event listed for a build that is not for
// Windows (these tests build for Unix).
use graceful_rt::graceful_main;

#[graceful_main(signals = [SIGTERM, CTRL_BREAK])]
async fn main() {}
