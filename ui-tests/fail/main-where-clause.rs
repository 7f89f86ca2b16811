// Mistake: main has a `where` clause.
use graceful_rt::graceful_main;

#[graceful_main]
async fn main()
where
    String: Clone,
{
}
