// Mistakes: a misspelled key, a zero timeout, a lowercase signal and a non-async main, all reported in one build.
use graceful_rt::graceful_main;

#[graceful_main(timout = "15s", timeout = "0s", signals = [sigterm])]
fn main() {}
