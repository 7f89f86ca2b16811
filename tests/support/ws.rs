//! A WebSocket client just big enough for shutdown tests: the opening
//! handshake, and the close frame the server sends.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Opens a WebSocket at `path`: returns the stream once the server has
/// answered `101 Switching Protocols`.
pub fn open(address: SocketAddr, path: &str, bound: Duration) -> io::Result<TcpStream> {
    let mut stream = super::http::connect(address)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
         sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    stream.set_read_timeout(Some(bound))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(io::Error::other(format!(
            "no upgrade: {}",
            String::from_utf8_lossy(&head)
        )));
    }
    Ok(stream)
}

/// Reads the next frame, which must be a close frame (the server sends
/// nothing else unasked), and returns its status code.
pub fn close_code(stream: &mut TcpStream, bound: Duration) -> io::Result<u16> {
    stream.set_read_timeout(Some(bound))?;
    let mut frame = [0u8; 4];
    stream.read_exact(&mut frame)?;
    if frame[0] != 0x88 {
        return Err(io::Error::other(format!(
            "not a final close frame: first byte {:#04x}",
            frame[0]
        )));
    }
    Ok(u16::from_be_bytes([frame[2], frame[3]]))
}
