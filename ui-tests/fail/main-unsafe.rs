// Mistake: main is `unsafe`.
use graceful_rt::graceful_main;

#[graceful_main]
async unsafe fn main() {}
