// Accepted: `after = "db"` starts a close once the `db` close has ended.
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
    db: Step,
    #[cleanup(after = "db")]
    cache: Step,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let app = App {
        db: Step {
            name: "db",
            ms: 30,
            order: Arc::clone(&order),
        },
        cache: Step {
            name: "cache",
            ms: 1,
            order: Arc::clone(&order),
        },
    };
    let report = app.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(*order.lock().unwrap(), ["db", "cache"]);
    assert!(report.get("cache").unwrap().started() >= Duration::from_millis(30));
}
