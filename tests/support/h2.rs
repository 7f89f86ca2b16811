//! A frame-level HTTP/2 client (prior knowledge, cleartext), written by
//! hand so a test sees every frame the server sends, when, and can
//! misbehave on purpose: ignore GOAWAY, never answer a PING, stop reading.
//!
//! A reader thread records what arrives ([`Seen`]); it acknowledges the
//! server's SETTINGS, answers PINGs (unless told not to) and gives back the
//! connection's flow-control window as DATA arrives. Requests are sent
//! from the test's thread. Every wait is bounded.

use std::collections::BTreeMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// RST_STREAM's code for a stream the server refused before processing it.
pub const REFUSED_STREAM: u32 = 0x7;

/// One frame off the wire.
#[derive(Debug)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// A GOAWAY the server sent.
#[derive(Clone, Debug)]
pub struct GoAway {
    pub last_stream: u32,
    pub error_code: u32,
    pub at: Instant,
}

/// What happened to one stream the client opened.
#[derive(Clone, Debug)]
pub struct Stream {
    pub sent: Instant,
    /// The response's `:status` was 200 (hpack's indexed `:status: 200`,
    /// which is how h2 encodes it).
    pub ok: Option<bool>,
    pub body: Vec<u8>,
    /// When the response ended (END_STREAM).
    pub ended: Option<Instant>,
    /// The RST_STREAM code, if the server reset the stream.
    pub reset: Option<u32>,
}

impl Stream {
    pub fn answered(&self) -> bool {
        self.ended.is_some() && self.reset.is_none()
    }
}

/// Everything the reader thread has seen so far.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub goaways: Vec<GoAway>,
    pub streams: BTreeMap<u32, Stream>,
    /// How many of `streams` have ended, answered or reset.
    pub finished: usize,
    pub pings: usize,
    /// When the server acknowledged each of the client's PINGs.
    pub ping_acks: Vec<Instant>,
    /// The server ended the connection: `Ok` for a clean EOF, `Err` with
    /// the error's kind otherwise, and when.
    pub closed: Option<(Result<(), ErrorKind>, Instant)>,
}

impl Seen {
    /// Streams opened and not yet ended.
    pub fn open(&self) -> usize {
        self.streams.len() - self.finished
    }

    /// The last-stream-id of the last GOAWAY: streams above it were never
    /// processed.
    pub fn last_stream(&self) -> Option<u32> {
        self.goaways.last().map(|goaway| goaway.last_stream)
    }
}

/// Whether the client answers the server's PINGs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pings {
    Answer,
    Ignore,
}

struct Shared {
    seen: Mutex<Seen>,
    changed: Condvar,
    /// Tells the reader to stop reading (the connection stays open).
    stop: AtomicBool,
    /// The connection stays open when the server ends its side.
    stay_open: AtomicBool,
}

/// An HTTP/2 connection of the test's.
pub struct Connection {
    writer: Arc<Mutex<TcpStream>>,
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
    next_stream: u32,
}

impl Connection {
    /// Connects, sends the preface and an empty SETTINGS, and starts the
    /// reader thread.
    pub fn open(address: SocketAddr, pings: Pings) -> io::Result<Connection> {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(3))?;
        stream.set_nodelay(true)?;
        stream.write_all(PREFACE)?;
        write_frame(&mut stream, SETTINGS, 0, 0, &[])?;
        let reading = stream.try_clone()?;
        let writer = Arc::new(Mutex::new(stream));
        let shared = Arc::new(Shared {
            seen: Mutex::new(Seen::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            stay_open: AtomicBool::new(false),
        });
        let reader = {
            let writer = Arc::clone(&writer);
            let shared = Arc::clone(&shared);
            thread::spawn(move || read_frames(reading, &writer, &shared, pings))
        };
        Ok(Connection {
            writer,
            shared,
            reader: Some(reader),
            next_stream: 1,
        })
    }

    /// Opens a stream with a request without a body: `method` `path`.
    /// Returns its id, or the error writing it.
    pub fn request(&mut self, method: &str, path: &str) -> io::Result<u32> {
        let id = self.next_stream;
        self.next_stream += 2;
        let block = request_headers(method, path);
        self.seen().streams.insert(
            id,
            Stream {
                sent: Instant::now(),
                ok: None,
                body: Vec::new(),
                ended: None,
                reset: None,
            },
        );
        let mut writer = self.writer.lock().unwrap();
        write_frame(&mut *writer, HEADERS, END_HEADERS | END_STREAM, id, &block)?;
        Ok(id)
    }

    /// Sends a PING.
    pub fn ping(&self) -> io::Result<()> {
        write_frame(&mut *self.writer.lock().unwrap(), PING, 0, 0, &[7; 8])
    }

    /// A copy of what has been seen.
    pub fn snapshot(&self) -> Seen {
        self.seen().clone()
    }

    /// `look` at what has been seen, without a copy.
    pub fn look<R>(&self, look: impl FnOnce(&Seen) -> R) -> R {
        look(&self.seen())
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.shared.seen.lock().unwrap()
    }

    /// Waits until `done` holds of what has been seen, at most `bound`;
    /// returns whether it did.
    pub fn wait(&self, bound: Duration, mut done: impl FnMut(&Seen) -> bool) -> bool {
        let until = Instant::now() + bound;
        let mut seen = self.seen();
        loop {
            if done(&seen) {
                return true;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            seen = self.shared.changed.wait_timeout(seen, left).unwrap().0;
        }
    }

    /// Keeps the connection open when the server ends its side, where a
    /// client closes it (a client that misbehaves: it can still write).
    pub fn stay_open_at_end(&self) {
        self.shared.stay_open.store(true, Ordering::SeqCst);
    }

    /// Stops reading: from now on, nothing the server sends is read, and
    /// no PING is answered. The connection stays open.
    pub fn stop_reading(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = self
            .writer
            .lock()
            .unwrap()
            .shutdown(std::net::Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn read_frames(mut stream: TcpStream, writer: &Mutex<TcpStream>, shared: &Shared, pings: Pings) {
    // Short reads, so that `stop` is noticed.
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        while let Some(frame) = take_frame(&mut buffer) {
            let reply = record(&frame, shared, pings);
            if let Some((kind, flags, stream, payload)) = reply {
                // The connection may be gone; the reader sees that next.
                let _ = write_frame(&mut *writer.lock().unwrap(), kind, flags, stream, &payload);
            }
        }
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let end = match stream.read(&mut chunk) {
            Ok(0) => Ok(()),
            Ok(read) => {
                buffer.extend_from_slice(&chunk[..read]);
                continue;
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue;
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => Err(error.kind()),
        };
        // As hyper's, Go's and gRPC's clients do: the server's end is the
        // connection's (the server lingers until then, see graceful-rt's
        // `http::linger`).
        if !shared.stay_open.load(Ordering::SeqCst) {
            let _ = writer.lock().unwrap().shutdown(std::net::Shutdown::Both);
        }
        let mut seen = shared.seen.lock().unwrap();
        seen.closed = Some((end, Instant::now()));
        shared.changed.notify_all();
        return;
    }
}

/// Records a frame; returns the frame to send back, if any.
fn record(frame: &Frame, shared: &Shared, pings: Pings) -> Option<(u8, u8, u32, Vec<u8>)> {
    let mut guard = shared.seen.lock().unwrap();
    let seen = &mut *guard;
    let now = Instant::now();
    let reply = match frame.kind {
        SETTINGS if frame.flags & ACK == 0 => Some((SETTINGS, ACK, 0, Vec::new())),
        PING if frame.flags & ACK == 0 => {
            seen.pings += 1;
            (pings == Pings::Answer).then(|| (PING, ACK, 0, frame.payload.clone()))
        }
        PING => {
            seen.ping_acks.push(now);
            None
        }
        GOAWAY => {
            seen.goaways.push(GoAway {
                last_stream: u32_at(&frame.payload, 0) & 0x7fff_ffff,
                error_code: u32_at(&frame.payload, 4),
                at: now,
            });
            None
        }
        HEADERS => {
            let block = header_block(frame);
            if let Some(stream) = seen.streams.get_mut(&frame.stream) {
                stream.ok.get_or_insert(block.first() == Some(&0x88));
                if frame.flags & END_STREAM != 0 {
                    stream.ended = Some(now);
                    seen.finished += 1;
                }
            }
            None
        }
        DATA => {
            let data = unpadded(frame);
            if let Some(stream) = seen.streams.get_mut(&frame.stream) {
                stream.body.extend_from_slice(data);
                if frame.flags & END_STREAM != 0 {
                    stream.ended = Some(now);
                    seen.finished += 1;
                }
            }
            // Give the connection's window back at once.
            (!frame.payload.is_empty()).then(|| {
                let increment = u32::try_from(frame.payload.len()).unwrap();
                (WINDOW_UPDATE, 0, 0, increment.to_be_bytes().to_vec())
            })
        }
        RST_STREAM => {
            if let Some(stream) = seen.streams.get_mut(&frame.stream) {
                if stream.ended.is_none() && stream.reset.is_none() {
                    seen.finished += 1;
                }
                stream.reset = Some(u32_at(&frame.payload, 0));
            }
            None
        }
        _ => None,
    };
    shared.changed.notify_all();
    reply
}

fn take_frame(buffer: &mut Vec<u8>) -> Option<Frame> {
    if buffer.len() < 9 {
        return None;
    }
    let length =
        usize::from(buffer[0]) << 16 | usize::from(buffer[1]) << 8 | usize::from(buffer[2]);
    if buffer.len() < 9 + length {
        return None;
    }
    let frame = Frame {
        kind: buffer[3],
        flags: buffer[4],
        stream: u32_at(buffer, 5) & 0x7fff_ffff,
        payload: buffer[9..9 + length].to_vec(),
    };
    buffer.drain(..9 + length);
    Some(frame)
}

fn write_frame(
    stream: &mut impl Write,
    kind: u8,
    flags: u8,
    id: u32,
    payload: &[u8],
) -> io::Result<()> {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut frame = Vec::with_capacity(9 + payload.len());
    frame.extend_from_slice(&length[1..]);
    frame.push(kind);
    frame.push(flags);
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn unpadded(frame: &Frame) -> &[u8] {
    if frame.flags & PADDED != 0 {
        let pad = usize::from(frame.payload[0]);
        &frame.payload[1..frame.payload.len() - pad]
    } else {
        &frame.payload
    }
}

fn header_block(frame: &Frame) -> &[u8] {
    let data = unpadded(frame);
    if frame.flags & PRIORITY != 0 {
        &data[5..]
    } else {
        data
    }
}

/// An HPACK block for a request, from the static table and literals
/// without indexing or Huffman coding: nothing to keep in sync with the
/// server's dynamic table.
fn request_headers(method: &str, path: &str) -> Vec<u8> {
    let mut block = match method {
        "GET" => vec![0x82],
        "POST" => vec![0x83],
        other => panic!("no HPACK code here for method {other}"),
    };
    block.push(0x86); // :scheme http
    literal(&mut block, 4, path); // :path
    literal(&mut block, 1, "127.0.0.1"); // :authority
    block
}

/// A literal header field without indexing, its name from the static table.
fn literal(block: &mut Vec<u8>, name_index: u8, value: &str) {
    assert!(name_index < 15 && value.len() < 127, "a short literal");
    block.push(name_index);
    block.push(u8::try_from(value.len()).unwrap());
    block.extend_from_slice(value.as_bytes());
}
