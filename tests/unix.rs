//! HTTP over a Unix socket, through examples/unix.rs: drained like TCP
//! across a real SIGTERM (an in-flight request finishes, an idle keep-alive
//! connection closes at once), handlers see the peer's credentials, and the
//! socket file is handled as a restarting service needs: left in place at
//! exit and refused, replaced when stale, kept when another instance serves.
#![cfg(unix)]

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{Process, Signal};

/// How long a client waits for any answer before calling it a hang.
const ANSWER: Duration = Duration::from_secs(5);
/// "At once", on a loaded machine.
const PROMPT: Duration = Duration::from_millis(500);
/// graceful-rt's default `Serve::keep_alive_hold`, which the example
/// serves with.
const KEEP_ALIVE_HOLD: Duration = Duration::from_millis(500);

/// A fresh socket path for `test`, under the target directory.
fn socket_path(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("unix-sockets");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{test}.sock"));
    let _ = std::fs::remove_file(&path);
    path
}

fn start(path: &Path) -> Process {
    let mut process = Process::start("unix", &[("SOCKET_PATH", path.to_str().unwrap())]);
    process.wait_for_stderr("listening on ", Duration::from_secs(20));
    process
}

fn connect(path: &Path) -> UnixStream {
    let stream = UnixStream::connect(path)
        .unwrap_or_else(|error| panic!("connect to {}: {error}", path.display()));
    stream.set_read_timeout(Some(ANSWER)).unwrap();
    stream
}

/// A response read off a keep-alive connection: its head, and a body of
/// `Content-Length` bytes.
#[derive(Debug)]
struct Response {
    head: String,
    body: String,
}

impl Response {
    fn closes(&self) -> bool {
        self.head
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n")
    }
}

fn get(stream: &mut UnixStream, path: &str) -> Response {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    while !received.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => received.push(byte[0]),
            other => panic!("GET {path}: the head ended with {other:?} after {received:?}"),
        }
    }
    let head = String::from_utf8(received).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("GET {path}: no Content-Length in {head:?}"));
    let mut body = vec![0u8; length];
    stream
        .read_exact(&mut body)
        .unwrap_or_else(|error| panic!("GET {path}: the body: {error}"));
    Response {
        head,
        body: String::from_utf8(body).unwrap(),
    }
}

/// Waits until the server closes `stream` (EOF), within `bound`.
fn wait_closed(stream: &mut UnixStream, bound: Duration) -> Result<(), String> {
    stream.set_read_timeout(Some(bound)).unwrap();
    let mut buffer = [0u8; 64];
    match stream.read(&mut buffer) {
        Ok(0) => Ok(()),
        Ok(read) => Err(format!("{read} unexpected bytes")),
        Err(error) => Err(format!("not closed: {error}")),
    }
}

#[test]
fn an_in_flight_request_over_a_unix_socket_finishes_across_sigterm() {
    let path = socket_path("in-flight");
    let process = start(&path);
    let mut idle = connect(&path);
    let hello = get(&mut idle, "/");
    assert!(hello.head.starts_with("HTTP/1.1 200"), "{hello:?}");
    assert!(
        hello.body.starts_with("hello, uid "),
        "the handler saw the peer's credentials: {hello:?}"
    );

    let slow = std::thread::spawn({
        let path = path.clone();
        move || {
            let mut stream = connect(&path);
            let response = get(&mut stream, "/slow?ms=800");
            (response, wait_closed(&mut stream, ANSWER), Instant::now())
        }
    });
    // Let the slow request arrive, and the idle connection go quiet for
    // longer than the grace of a recently used one.
    std::thread::sleep(Duration::from_millis(300));
    let sent = process.signal(Signal::SIGTERM);

    // Held for a next request (the keep-alive hold), then closed.
    wait_closed(&mut idle, KEEP_ALIVE_HOLD + PROMPT)
        .expect("the idle keep-alive connection closes when the hold ends");
    let (response, closed, answered) = slow.join().unwrap();
    assert!(response.head.starts_with("HTTP/1.1 200"), "{response:?}");
    assert_eq!(response.body, "slept 800 ms\n");
    assert!(response.closes(), "told to reconnect: {response:?}");
    closed.expect("the connection closes after its response");
    let exit = process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(
        exit.at >= answered,
        "exited before the in-flight response was read"
    );
    eprintln!(
        "in-flight: answered {:?} after SIGTERM, exited {:?} after",
        answered - sent,
        exit.at - sent
    );
}

#[test]
fn the_socket_file_is_refused_after_exit_replaced_when_stale_and_kept_while_served() {
    let path = socket_path("file");
    let first = start(&path);
    first.signal(Signal::SIGTERM);
    let exit = first.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());

    // Left in place, as a closed TCP port is: refused, not hanging.
    assert!(path.exists(), "the socket file stays at exit");
    let refused = UnixStream::connect(&path).expect_err("nobody accepts any more");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    // The next start replaces the stale file and serves.
    let mut second = Process::start("unix", &[("SOCKET_PATH", path.to_str().unwrap())]);
    second.wait_for_stderr("replacing the stale socket file", Duration::from_secs(20));
    second.wait_for_stderr("listening on ", Duration::from_secs(20));
    let mut stream = connect(&path);
    assert!(get(&mut stream, "/").head.starts_with("HTTP/1.1 200"));

    // A third, while the second serves, leaves the file alone and fails.
    let third = Process::start("unix", &[("SOCKET_PATH", path.to_str().unwrap())]);
    let exit = third.wait_exit(Duration::from_secs(10));
    assert_ne!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(
        exit.stderr_text().contains("accepts connections on"),
        "the error says why: {}",
        exit.stderr_text()
    );
    let mut stream = connect(&path);
    assert!(
        get(&mut stream, "/").head.starts_with("HTTP/1.1 200"),
        "the second still serves on its file"
    );
    drop(stream);

    second.signal(Signal::SIGTERM);
    let exit = second.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}
