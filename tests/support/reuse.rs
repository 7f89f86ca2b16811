//! Kept-alive clients that reuse a pooled connection without checking it
//! (`tests/python/keepalive_clients.py`: Python's `http.client`), across a
//! SIGTERM: what they lost, and the exit.

use std::time::Duration;

use super::python::Script;
use super::{Service, Signal};

const STARTED: Duration = Duration::from_secs(10);
const EXIT_BOUND: Duration = Duration::from_secs(15);

/// What the clients saw: `answered`, `lost` (one line per request sent
/// and not answered), `refused`, `clients_that_lost`.
pub struct Tally {
    pub json: serde_json::Value,
    /// From SIGTERM to the exit.
    pub exit: Duration,
    pub exit_code: Option<i32>,
    /// The server's log.
    pub stderr: String,
}

impl Tally {
    /// How many clients lost a request.
    pub fn clients_that_lost(&self) -> u64 {
        self.json["clients_that_lost"].as_u64().unwrap()
    }

    /// Prints the tally under `what`, and fails unless the process exited
    /// 0 and no request was lost.
    pub fn assert_nothing_lost(&self, what: &str) {
        self.assert_nothing_lost_or_tell(what, "");
    }

    /// [`assert_nothing_lost`](Self::assert_nothing_lost), with `more`
    /// (what the test measured beside the tally) in the failure's message,
    /// after the server's log.
    pub fn assert_nothing_lost_or_tell(&self, what: &str, more: &str) {
        eprintln!("{what}: {}; exit {:?} after SIGTERM", self.json, self.exit);
        let told = format!(
            "{what}: {}\n{more}\nthe server's log:\n{}",
            self.json, self.stderr
        );
        assert_eq!(self.exit_code, Some(0), "{told}");
        assert_eq!(self.json["lost"], serde_json::json!([]), "{told}");
    }
}

/// `clients` clients (`GET /` every 0–200 ms, no retries) on `service`;
/// SIGTERM once each has had 3 answers; waits for the exit and for the
/// clients, which end at their first refused connect.
pub fn across_sigterm(service: Service, clients: usize) -> Tally {
    let host = service.address.ip().to_string();
    let port = service.address.port().to_string();
    let count = clients.to_string();
    let mut script = Script::start("keepalive_clients.py", &[], &[&host, &port, &count]);
    script.wait_for("started", STARTED);
    let sent = service.process.signal(Signal::SIGTERM);
    let exit = service.process.wait_exit(EXIT_BOUND);
    let json = script
        .finish()
        .into_iter()
        .find(|line| line.json["event"] == "done")
        .map(|line| line.json)
        .expect("the clients' tally");
    Tally {
        json,
        exit: exit.at - sent,
        exit_code: exit.code(),
        stderr: exit.stderr_text(),
    }
}
