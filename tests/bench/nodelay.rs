//! Figure 13: what `TCP_NODELAY` (set by `http::serve` on every
//! connection, `Serve::tcp_nodelay`) changes, on the same app
//! (`tests/fixtures/same_app_graceful.rs`) served with it and without it
//! (`SAME_APP_NODELAY=0`), in interleaved runs (with, without, with, ...):
//!
//! 1. the GOAWAY after SIGTERM on an idle HTTP/2 connection whose client
//!    has just had its PING answered: Nagle's algorithm holds the GOAWAY
//!    while the PING's answer is unacknowledged, until the client's delayed
//!    ACK (about 40 ms);
//! 2. the latency of `GET /` over HTTP/2, 8 streams at a time on each of 4
//!    connections: median and p99.

use std::time::{Duration, Instant};

use super::h2::{Connection, Pings};
use super::{Contender, Spread};

/// One server, with or without `TCP_NODELAY`.
fn contender(base: &Contender, nodelay: bool) -> Contender {
    let mut contender = base.clone();
    contender.env.push((
        "SAME_APP_NODELAY".to_owned(),
        if nodelay { "1" } else { "0" }.to_owned(),
    ));
    contender
}

/// Milliseconds from SIGTERM to the GOAWAY, right after a PING's answer.
fn goaway_after_ping(contender: &Contender) -> f64 {
    let running = contender.start();
    let mut client = Connection::open(running.address, Pings::Answer).expect("connect");
    client.request("GET", "/").unwrap();
    assert!(client.wait(Duration::from_secs(5), |seen| seen.finished == 1));
    client.ping().unwrap();
    assert!(client.wait(Duration::from_secs(5), |seen| seen.ping_acks.len() == 1));
    let sent = running.sigterm();
    assert!(
        client.wait(Duration::from_secs(5), |seen| !seen.goaways.is_empty()),
        "no GOAWAY"
    );
    let at = client.look(|seen| seen.goaways[0].at);
    drop(client);
    // A repeated SIGTERM changes nothing; this one waits for the exit.
    running.terminate();
    super::ms(at - sent)
}

/// Per-stream latencies (ms) of `GET /`, 8 streams at a time on each of 4
/// connections, for `rounds` rounds.
fn latencies(contender: &Contender, rounds: usize) -> Vec<f64> {
    let running = contender.start();
    let address = running.address;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut client = Connection::open(address, Pings::Answer).expect("connect");
                let mut ids = Vec::new();
                for _ in 0..rounds {
                    let batch: Vec<u32> = (0..8)
                        .map(|_| client.request("GET", "/").unwrap())
                        .collect();
                    let done = client.wait(Duration::from_secs(5), |seen| {
                        batch.iter().all(|id| seen.streams[id].ended.is_some())
                    });
                    assert!(done, "a stream was not answered");
                    ids.extend(batch);
                }
                client.look(|seen| {
                    ids.iter()
                        .map(|id| {
                            let stream = &seen.streams[id];
                            super::ms(stream.ended.unwrap() - stream.sent)
                        })
                        .collect::<Vec<f64>>()
                })
            })
        })
        .collect();
    let all = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    running.terminate();
    all
}

fn percentile(mut values: Vec<f64>, fraction: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * fraction).round() as usize]
}

/// Measures both parts, `runs` times each, interleaved; returns the
/// markdown table.
pub(crate) fn figure(same_app: &Contender, runs: usize) -> String {
    let with = contender(same_app, true);
    let without = contender(same_app, false);
    let (mut goaway, mut medians, mut p99s) =
        ([vec![], vec![]], [vec![], vec![]], [vec![], vec![]]);
    let began = Instant::now();
    for _ in 0..runs {
        for (index, contender) in [&with, &without].into_iter().enumerate() {
            goaway[index].push(goaway_after_ping(contender));
            let values = latencies(contender, 250);
            medians[index].push(percentile(values.clone(), 0.5));
            p99s[index].push(percentile(values, 0.99));
        }
    }
    eprintln!("nodelay figure: {runs} runs in {:?}", began.elapsed());
    let count_late = |values: &[f64]| values.iter().filter(|&&ms| ms > 20.0).count();
    let mut md = String::from(
        "| `TCP_NODELAY` | with (the default) | without (`tcp_nodelay(false)`) |\n|---|---|---|\n",
    );
    md.push_str(&format!(
        "| GOAWAY after SIGTERM, right after a PING's answer (ms; runs over 20 ms) | {} ({} of {runs}) | {} ({} of {runs}) |\n",
        Spread::of(goaway[0].clone()).text(1),
        count_late(&goaway[0]),
        Spread::of(goaway[1].clone()).text(1),
        count_late(&goaway[1]),
    ));
    md.push_str(&format!(
        "| `GET /` over HTTP/2, 4 connections × 8 streams at a time: median latency (ms) | {} | {} |\n",
        Spread::of(medians[0].clone()).text(2),
        Spread::of(medians[1].clone()).text(2),
    ));
    md.push_str(&format!(
        "| the same: p99 latency (ms) | {} | {} |\n",
        Spread::of(p99s[0].clone()).text(2),
        Spread::of(p99s[1].clone()).text(2),
    ));
    md
}
