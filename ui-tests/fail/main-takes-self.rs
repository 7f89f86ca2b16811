// Mistake: main takes `self`, as if it were a method.
use graceful_rt::graceful_main;

#[graceful_main]
async fn main(self) {}
