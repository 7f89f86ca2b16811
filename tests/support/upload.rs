//! Uploads to the example service's `POST /upload` (which reads the body
//! frame by frame and answers `{"bytes": N}`, or at once, before reading,
//! with `?early=1`), by a client that sends its whole request before it
//! reads, as many do (hyper #3078, Rocket #3004).

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use super::http::{self, Outcome};

/// The head of an upload of `length` bytes.
pub fn head(query: &str, length: usize) -> String {
    format!("POST /upload{query} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {length}\r\n\r\n")
}

/// The `bytes` of an upload's answer (`null` for an early one).
pub fn uploaded(outcome: &Outcome) -> Option<serde_json::Value> {
    let response = outcome.response()?;
    let json: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
    Some(json["bytes"].clone())
}

/// The head and `length` bytes of body, all written (on a thread, so a
/// server that does not read cannot stall the test; 64 KB every `pace`
/// when given), then the answer, awaited for at most `bound`.
pub fn send_all_then_read(
    address: SocketAddr,
    query: &str,
    length: usize,
    pace: Option<Duration>,
    bound: Duration,
) -> Outcome {
    let mut stream = http::connect(address).expect("connect");
    let mut writer = stream.try_clone().unwrap();
    let head = head(query, length);
    let written = std::thread::spawn(move || {
        writer.write_all(head.as_bytes())?;
        let body = vec![b'x'; length];
        match pace {
            None => writer.write_all(&body),
            Some(pace) => body.chunks(64 << 10).try_for_each(|piece| {
                std::thread::sleep(pace);
                writer.write_all(piece)
            }),
        }
    });
    // What a client that reads only once it has sent all sees; its write
    // may fail first, when the server closed on it.
    let _ = written.join().unwrap();
    http::receive(&mut stream, bound)
}

/// Early answers (`?early=1`, before the body is read) to a client that
/// sends its whole body first: three runs of each of the bodies of
/// `fast_lengths` sent at once, then of 64 KB and 1 MB sent 64 KB every
/// 10 ms, each printed as it ends. Returns those whose answer was lost.
pub fn early_answers(
    address: SocketAddr,
    fast_lengths: [usize; 3],
    bound: Duration,
) -> Vec<(usize, Option<Duration>, Outcome)> {
    let fast = fast_lengths.map(|length| (length, None));
    let slow = [64 << 10, 1 << 20].map(|length| (length, Some(Duration::from_millis(10))));
    let mut lost = Vec::new();
    for (length, pace) in fast.into_iter().chain(slow) {
        for run in 0..3 {
            let began = std::time::Instant::now();
            let outcome = send_all_then_read(address, "?early=1", length, pace, bound);
            let answered = uploaded(&outcome) == Some(serde_json::Value::Null);
            eprintln!(
                "early answer, {length} bytes sent first ({}), run {run}: {} in {:?}",
                if pace.is_some() { "slowly" } else { "fast" },
                if answered {
                    "answered".to_owned()
                } else {
                    format!("LOST ({outcome:?})")
                },
                began.elapsed()
            );
            if !answered {
                lost.push((length, pace, outcome));
            }
        }
    }
    lost
}
