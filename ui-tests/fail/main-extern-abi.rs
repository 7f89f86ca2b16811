// Mistake: main declares an ABI.
use graceful_rt::graceful_main;

#[graceful_main]
async extern "C" fn main() {}
