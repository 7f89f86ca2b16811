//! A closed-loop HTTP/1.1 load on the example service (or the baseline
//! with its routes): half the clients on keep-alive connections, half on a
//! new connection per request; `GET /`, and one request in
//! [`WRITE_EVERY`] a `POST /items`. Every way a request ends is counted,
//! with its time, the way tests/http_drain.rs tells them apart: a keep-alive
//! connection the server closes cleanly while idle, before a request was
//! written on it, is no loss (the client reconnects); a request written and
//! then answered with nothing is. Shared by tests/upgrade.rs and the
//! restart figure of the benchmarks, so both load the same way.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::http::{self, Outcome, Response};

/// One request in this many is a `POST /items`, the others `GET /`.
pub const WRITE_EVERY: usize = 3;
/// How long a client waits for a response before counting it failed.
pub const ANSWER: Duration = Duration::from_secs(5);
/// How long a client waits after a refused (or failed) connect before
/// trying again: the count of refused connects depends on it.
pub const REFUSED_PAUSE: Duration = Duration::from_millis(5);

/// Something a client saw go wrong.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: Instant,
    pub client: usize,
    /// Whether the client keeps its connection alive (or opens one per
    /// request).
    pub keep_alive: bool,
    pub what: String,
}

impl Event {
    /// The client, as `client N (keep-alive)` or `client N (new connection)`.
    pub fn client(&self) -> String {
        let kind = if self.keep_alive {
            "keep-alive"
        } else {
            "new connection"
        };
        format!("client {} ({kind})", self.client)
    }
}

/// What the clients saw.
#[derive(Debug)]
pub struct Tally {
    /// When the load started.
    pub start: Instant,
    /// Requests written on keep-alive connections, and on new ones.
    pub keep_alive: usize,
    pub fresh: usize,
    /// When each 2xx response (with an id, for a `POST`) was complete.
    pub answered: Vec<Instant>,
    /// Requests written and not answered with a 2xx: no or an incomplete
    /// response, another status, a `POST` acknowledged without an id; and
    /// connects that failed otherwise than refused.
    pub failed: Vec<Event>,
    /// Connects refused (`ECONNREFUSED`).
    pub refused: Vec<Event>,
    /// Connections reset (`ECONNRESET`, `EPIPE`) with a request in flight,
    /// or reset while idle (a drain closes idle connections with a clean
    /// FIN).
    pub reset: Vec<Event>,
    /// Ids of the writes acknowledged.
    pub acknowledged: Vec<i64>,
}

impl Tally {
    fn new(start: Instant) -> Tally {
        Tally {
            start,
            keep_alive: 0,
            fresh: 0,
            answered: Vec::new(),
            failed: Vec::new(),
            refused: Vec::new(),
            reset: Vec::new(),
            acknowledged: Vec::new(),
        }
    }

    fn merge(&mut self, other: Tally) {
        self.keep_alive += other.keep_alive;
        self.fresh += other.fresh;
        self.answered.extend(other.answered);
        self.failed.extend(other.failed);
        self.refused.extend(other.refused);
        self.reset.extend(other.reset);
        self.acknowledged.extend(other.acknowledged);
    }

    /// Nothing failed, refused or reset.
    pub fn clean(&self) -> bool {
        self.failed.is_empty() && self.refused.is_empty() && self.reset.is_empty()
    }

    /// The counts, in one line.
    pub fn counts(&self) -> String {
        format!(
            "{} requests ({} on keep-alive connections, {} on new ones), {} answered 2xx, \
             {} writes acknowledged; failed {}, refused {}, reset {}",
            self.keep_alive + self.fresh,
            self.keep_alive,
            self.fresh,
            self.answered.len(),
            self.acknowledged.len(),
            self.failed.len(),
            self.refused.len(),
            self.reset.len()
        )
    }

    /// The first 20 events of each kind, a line each, with their time from
    /// the start of the load.
    pub fn details(&self) -> String {
        let mut text = String::new();
        for (kind, events) in [
            ("failed", &self.failed),
            ("refused", &self.refused),
            ("reset", &self.reset),
        ] {
            for event in events.iter().take(20) {
                text += &format!(
                    "  {kind} at {:?} ({}): {}\n",
                    event.at.saturating_duration_since(self.start),
                    event.client(),
                    event.what
                );
            }
        }
        text
    }
}

/// How one request on an open connection ended.
enum Exchange {
    Answered(Response),
    Failed(String),
    Reset(String),
}

fn exchange(stream: &mut TcpStream, method: &str, path: &str) -> Exchange {
    if let Err(error) = http::send(stream, method, path) {
        return match error.kind() {
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
                Exchange::Reset(format!("writing the request: {error}"))
            }
            _ => Exchange::Failed(format!("writing the request: {error}")),
        };
    }
    match http::receive(stream, ANSWER) {
        Outcome::Answered(response) => Exchange::Answered(response),
        Outcome::Reset => Exchange::Reset("reset after the request was written".to_owned()),
        outcome => Exchange::Failed(format!("{outcome:?} after the request was written")),
    }
}

/// One closed-loop client, until `stop`: on a keep-alive connection
/// (reopened when the server closes it: while idle, or after a response
/// with `Connection: close`) or on a new connection per request.
fn client(
    index: usize,
    address: SocketAddr,
    keep_alive: bool,
    start: Instant,
    stop: &AtomicBool,
) -> Tally {
    let mut tally = Tally::new(start);
    let mut open: Option<TcpStream> = None;
    let mut sequence = index;
    let event = |what: String| Event {
        at: Instant::now(),
        client: index,
        keep_alive,
        what,
    };
    while !stop.load(Ordering::Relaxed) {
        match open.as_ref().and_then(http::peer_closed) {
            // Closed while idle, before a request was written: no loss.
            Some(Ok(())) => open = None,
            Some(Err(error)) => {
                tally
                    .reset
                    .push(event(format!("an idle keep-alive connection: {error}")));
                open = None;
            }
            None => {}
        }
        let mut stream = match open.take() {
            Some(stream) => stream,
            None => match http::connect(address) {
                Ok(stream) => stream,
                Err(error) => {
                    let kind = if error.kind() == ErrorKind::ConnectionRefused {
                        &mut tally.refused
                    } else {
                        &mut tally.failed
                    };
                    kind.push(event(format!("connect: {error}")));
                    thread::sleep(REFUSED_PAUSE);
                    continue;
                }
            },
        };
        let (method, path) = if sequence % WRITE_EVERY == 0 {
            ("POST", "/items")
        } else {
            ("GET", "/")
        };
        sequence += 1;
        if keep_alive {
            tally.keep_alive += 1;
        } else {
            tally.fresh += 1;
        }
        let response = match exchange(&mut stream, method, path) {
            Exchange::Answered(response) => response,
            Exchange::Failed(what) => {
                tally.failed.push(event(format!("{method} {path}: {what}")));
                continue;
            }
            Exchange::Reset(what) => {
                tally.reset.push(event(format!("{method} {path}: {what}")));
                continue;
            }
        };
        if !(200..300).contains(&response.status) {
            tally.failed.push(event(format!(
                "{method} {path}: answered {}: {}",
                response.status,
                response.text().trim()
            )));
        } else if method == "POST" {
            let id = serde_json::from_slice::<serde_json::Value>(&response.body)
                .ok()
                .and_then(|body| body["id"].as_i64());
            match id {
                Some(id) => {
                    tally.answered.push(response.at);
                    tally.acknowledged.push(id);
                }
                None => tally.failed.push(event(format!(
                    "{method} {path}: {} without an id: {}",
                    response.status,
                    response.text()
                ))),
            }
        } else {
            tally.answered.push(response.at);
        }
        if keep_alive && !response.closes() {
            open = Some(stream);
        }
    }
    tally
}

/// Closed-loop clients on one address, running until finished (or
/// dropped).
pub struct Load {
    start: Instant,
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Tally>>,
}

impl Load {
    /// Starts `clients` clients: the even ones on keep-alive connections,
    /// the odd ones on a new connection per request.
    pub fn start(address: SocketAddr, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let clients = (0..clients)
            .map(|index| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || client(index, address, index % 2 == 0, start, &stop))
            })
            .collect();
        Load {
            start,
            stop,
            clients,
        }
    }

    /// Stops the clients (each finishes the request it is in, at most
    /// [`ANSWER`]) and adds up what they saw.
    pub fn finish(mut self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::new(self.start);
        for client in self.clients.drain(..) {
            tally.merge(client.join().expect("a load client panicked"));
        }
        tally.answered.sort();
        tally
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
