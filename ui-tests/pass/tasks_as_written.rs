// The shape of `Tasks` in use, as issue 14 writes it: a task is spawned
// with its name, and the set is closed as a field of the state.
use graceful_rt::{Cleanup, Shutdown, Tasks, graceful_main};

#[derive(Cleanup)]
struct App {
    #[cleanup]
    tasks: Tasks,
}

async fn mailer(shutdown: Shutdown) -> Result<(), std::io::Error> {
    shutdown.requested().await;
    Ok(())
}

#[graceful_main(timeout = "5s")]
async fn main(shutdown: Shutdown) -> App {
    let tasks = Tasks::new(shutdown.clone());
    tasks.spawn("mailer", mailer(shutdown.clone())); // async fn mailer(Shutdown) -> Result<(), std::io::Error>
    shutdown.trigger();
    shutdown.requested().await;
    App { tasks }
}
