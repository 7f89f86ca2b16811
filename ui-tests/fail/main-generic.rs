// Mistake: main has a generic parameter.
use graceful_rt::graceful_main;

#[graceful_main]
async fn main<T>() {}
