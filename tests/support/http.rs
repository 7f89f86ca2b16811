//! A small blocking HTTP/1.1 client that tells apart every way a request
//! can end: answered, refused, reset, closed before or after it was sent.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the last byte arrived.
    pub at: Instant,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of the header, for checking it is sent once.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// Whether the server announced it closes the connection.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a request ended, from the client's side.
#[derive(Debug, Clone)]
pub enum Outcome {
    Answered(Response),
    /// The request was written, then the connection was reset: lost.
    Reset,
    /// The request was written, then the connection closed with no
    /// (or an incomplete) response: lost.
    Closed {
        partial: bool,
    },
    /// No response within the bound: lost, or hung.
    NoAnswer,
}

impl Outcome {
    pub fn response(&self) -> Option<&Response> {
        match self {
            Outcome::Answered(response) => Some(response),
            _ => None,
        }
    }

    /// The status of the response, if there was one.
    pub fn status(&self) -> Option<u16> {
        self.response().map(|response| response.status)
    }

    /// A request whose bytes were sent and that got no complete response.
    pub fn is_lost(&self) -> bool {
        !matches!(self, Outcome::Answered(_))
    }
}

/// Connects; `Err` with `ConnectionRefused` when nothing listens.
pub fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&address, Duration::from_secs(3))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes a request.
pub fn send(stream: &mut TcpStream, method: &str, path: &str) -> io::Result<()> {
    let request =
        format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n");
    stream.write_all(request.as_bytes())
}

/// Reads one response, waiting at most `bound`.
pub fn receive(stream: &mut TcpStream, bound: Duration) -> Outcome {
    let until = Instant::now() + bound;
    let mut buffer = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(response) = parse(&buffer) {
            return Outcome::Answered(response);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Outcome::NoAnswer;
        }
        stream.set_read_timeout(Some(left)).expect("read timeout");
        match stream.read(&mut chunk) {
            Ok(0) => {
                // A response without a length ends at the close.
                if let Some(response) = parse_until_close(&buffer) {
                    return Outcome::Answered(response);
                }
                return Outcome::Closed {
                    partial: !buffer.is_empty(),
                };
            }
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Outcome::NoAnswer;
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Outcome::Reset,
        }
    }
}

/// Sends `GET path` on a new connection now, and reads its response on a
/// thread of its own, at most `bound`: a request in flight while the test
/// goes on.
pub fn in_flight(
    address: SocketAddr,
    path: &str,
    bound: Duration,
) -> std::thread::JoinHandle<Outcome> {
    let mut stream = connect(address).expect("connect");
    send(&mut stream, "GET", path).expect("send");
    std::thread::spawn(move || receive(&mut stream, bound))
}

/// Returns once the server has accepted every connection opened to
/// `address` before this call: a listener accepts in order, and the server
/// has answered a request on a connection opened after them (which then
/// closes).
pub fn wait_accepted(address: SocketAddr, bound: Duration) {
    let mut probe = connect(address).expect("connect");
    probe
        .write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .expect("send the probe");
    let outcome = receive(&mut probe, bound);
    assert!(
        outcome.response().is_some(),
        "the probe was not answered: {outcome:?}"
    );
    wait_closed(&mut probe, bound).expect("the probe's connection closes");
}

/// Sends a request and reads its response.
pub fn request(stream: &mut TcpStream, method: &str, path: &str, bound: Duration) -> Outcome {
    match send(stream, method, path) {
        Ok(()) => receive(stream, bound),
        Err(error) if error.kind() == ErrorKind::ConnectionReset => Outcome::Reset,
        Err(_) => Outcome::Closed { partial: false },
    }
}

/// What the server did to an idle connection, seen without sending:
/// `Some(Ok(()))` closed cleanly (FIN), `Some(Err(_))` reset, `None` open.
pub fn peer_closed(stream: &TcpStream) -> Option<io::Result<()>> {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    let seen = match stream.peek(&mut byte) {
        Ok(0) => Some(Ok(())),
        Ok(_) => None,
        Err(error) if error.kind() == ErrorKind::WouldBlock => None,
        Err(error) => Some(Err(error)),
    };
    stream.set_nonblocking(false).expect("blocking");
    seen
}

/// Waits until the server closes the connection: `Ok(())` for a clean FIN,
/// `Err` for a reset or no close within `bound`.
pub fn wait_closed(stream: &mut TcpStream, bound: Duration) -> io::Result<()> {
    stream.set_read_timeout(Some(bound))?;
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(error) => return Err(error),
        }
    }
}

fn head_end(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

fn parse_head(head: &[u8]) -> (u16, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    (status, headers)
}

fn parse(buffer: &[u8]) -> Option<Response> {
    let end = head_end(buffer)?;
    let (status, headers) = parse_head(&buffer[..end]);
    let length: usize = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())?;
    let body = buffer.get(end..end + length)?.to_vec();
    Some(Response {
        status,
        headers,
        body,
        at: Instant::now(),
    })
}

fn parse_until_close(buffer: &[u8]) -> Option<Response> {
    let end = head_end(buffer)?;
    let (status, headers) = parse_head(&buffer[..end]);
    if headers
        .iter()
        .any(|(key, _)| key.eq_ignore_ascii_case("content-length"))
    {
        return None;
    }
    Some(Response {
        status,
        headers,
        body: buffer[end..].to_vec(),
        at: Instant::now(),
    })
}
