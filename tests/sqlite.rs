//! The example service's SQLite database across a shutdown: every write
//! the client saw acknowledged is in the database after the process exits,
//! and the write-ahead log has been checkpointed away.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use support::http::{self, Outcome};
use support::{Service, Signal};

#[test]
fn every_acknowledged_insert_survives_a_shutdown_in_the_middle() {
    const WRITERS: usize = 200;
    let service = Service::start("sqlite-writes", &[]);
    let address = service.address;
    let start = Arc::new(Barrier::new(WRITERS + 1));
    let writers: Vec<_> = (0..WRITERS)
        .map(|index| {
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                // Spread the requests over ~100 ms, across the signal.
                thread::sleep(Duration::from_micros(500 * index as u64));
                match http::connect(address) {
                    Err(_) => None,
                    Ok(mut stream) => Some(http::request(
                        &mut stream,
                        "POST",
                        "/items",
                        Duration::from_secs(10),
                    )),
                }
            })
        })
        .collect();
    start.wait();
    thread::sleep(Duration::from_millis(50));
    service.process.signal(Signal::SIGTERM);
    let outcomes: Vec<Option<Outcome>> = writers
        .into_iter()
        .map(|writer| writer.join().unwrap())
        .collect();
    let exit = service.process.wait_exit(Duration::from_secs(20));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());

    let mut acknowledged = BTreeSet::new();
    let (mut refused, mut unavailable, mut reset) = (0, 0, 0);
    for outcome in &outcomes {
        match outcome {
            None => refused += 1,
            Some(Outcome::Answered(response)) if response.status == 503 => unavailable += 1,
            Some(Outcome::Answered(response)) => {
                assert_eq!(response.status, 200, "{}", response.text());
                let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
                acknowledged.insert(body["id"].as_i64().expect("an id"));
            }
            // A connection whose handshake the kernel completed in the
            // microseconds between the last accept and the listener's close
            // is reset with it: its request never reached the service, was
            // never acknowledged, and a client may retry it.
            Some(Outcome::Reset | Outcome::Closed { partial: false }) => reset += 1,
            Some(lost) => panic!("a write was lost in transit: {lost:?}"),
        }
    }
    eprintln!(
        "sqlite: {} acknowledged, {unavailable} answered 503, {refused} refused, {reset} reset at the listener's close",
        acknowledged.len()
    );
    assert!(
        !acknowledged.is_empty(),
        "nothing was written before the signal"
    );

    let wal = service.database.with_extension("db-wal");
    let shm = service.database.with_extension("db-shm");
    assert!(
        !wal.exists(),
        "{} remains: the WAL was not checkpointed",
        wal.display()
    );
    assert!(!shm.exists(), "{} remains", shm.display());

    let stored: BTreeSet<i64> = support::stored_ids(&service.database);
    let missing: Vec<&i64> = acknowledged.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
}
