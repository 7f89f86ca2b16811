// Accepted: `after = ["http", "jobs"]` starts a close once both have ended.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use graceful_rt::{BoxError, Cleanup, Close};

struct Step {
    name: &'static str,
    ms: u64,
    order: Arc<Mutex<Vec<&'static str>>>,
}

impl Close for Step {
    async fn close(&self) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        self.order.lock().unwrap().push(self.name);
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup]
    http: Step,
    #[cleanup(name = "jobs")]
    scheduler: Step,
    #[cleanup(after = ["http", "jobs"])]
    db: Step,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let step = |name, ms| Step {
        name,
        ms,
        order: Arc::clone(&order),
    };
    let app = App {
        http: step("http", 20),
        scheduler: step("jobs", 40),
        db: step("db", 1),
    };
    let report = app.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(*order.lock().unwrap(), ["http", "jobs", "db"]);
    assert!(report.get("db").unwrap().started() >= Duration::from_millis(40));
}
