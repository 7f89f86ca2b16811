//! The lingering close of an HTTP/2 connection that the server asked to
//! close (GOAWAY, at the drain or at its age).
//!
//! When hyper has written a connection's last frames, its client is still
//! sending: acknowledgements of the PING and SETTINGS, WINDOW_UPDATEs for
//! the DATA it received. A socket closed with such bytes unread makes the
//! kernel answer with a reset instead of a FIN (RFC 1122, 4.2.2.13), and
//! throw away whatever the socket had not yet sent: the last responses,
//! still waiting on the path's round trip. Measured across a path of
//! 10 ms each way with the machine loaded (`tests/network_path.rs`, 50
//! streams), 9 of 50 answers were lost this way in 1 run of 6, and the
//! server namespace's `TcpExtTCPAbortOnClose` counted the reset.
//!
//! So the socket outlives hyper's connection: its write side is shut down
//! (a FIN after the last frame), and what the client still sends is read
//! and dropped until it closes its side, the connection is cut (the drain
//! deadline), or the [`client_bound`](super::Serve::client_bound) passes.
//! The connection counts as open until then, so the drain waits for it.
//! A client that closes on the final GOAWAY, as hyper, Go and gRPC clients
//! do, costs one round trip. (Go's HTTP/2 server does the same: after a
//! graceful GOAWAY and the last stream, it reads on for `goAwayTimeout`,
//! one second, before it closes.) Sockets other than a plain TCP socket (TLS
//! over TCP, say) close at once, as before; Unix only.

use std::sync::Arc;
use std::time::Duration;

use super::connection::Activity;
use super::state::ServerState;

/// A socket of its own onto `io`'s connection (a duplicate descriptor),
/// for a plain tokio TCP socket; `None` for any other IO.
#[cfg(unix)]
pub(crate) fn duplicate<T: 'static>(io: &T) -> Option<std::net::TcpStream> {
    use std::os::fd::AsFd as _;
    let socket = (io as &dyn std::any::Any).downcast_ref::<tokio::net::TcpStream>()?;
    let fd = socket.as_fd().try_clone_to_owned().ok()?;
    Some(std::net::TcpStream::from(fd))
}

#[cfg(not(unix))]
pub(crate) fn duplicate<T: 'static>(_io: &T) -> Option<std::net::TcpStream> {
    None
}

/// Counts the connection closed when dropped: at the end of the linger,
/// or with its task unpolled (a runtime shutting down).
struct Open(Arc<ServerState>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connection_closed();
    }
}

/// Lingers on `socket` (see the module's docs) for at most `bound`, on a
/// task of its own; the connection is counted closed at its end. Without
/// a runtime, closes it at once.
pub(crate) fn spawn(
    socket: std::net::TcpStream,
    bound: Duration,
    activity: Arc<Activity>,
    counts: Arc<ServerState>,
) {
    let open = Open(counts);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let _open = open;
        tokio::select! {
            () = read_to_end(socket) => {}
            () = activity.cut_requested() => {}
            () = tokio::time::sleep(bound) => {
                tracing::debug!(
                    target: "graceful::http",
                    "an HTTP/2 client kept its connection open {} after the server closed it; closed",
                    crate::duration::display(bound)
                );
            }
        }
    });
}

/// Shuts the write side down, then reads and drops what arrives until the
/// client closes its side (or the socket fails).
async fn read_to_end(socket: std::net::TcpStream) {
    use tokio::io::AsyncReadExt as _;
    // The FIN follows the last frame; a second shutdown does no harm.
    let _ = socket.shutdown(std::net::Shutdown::Write);
    if socket.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(mut socket) = tokio::net::TcpStream::from_std(socket) else {
        return;
    };
    let mut dropped = [0u8; 1024];
    while let Ok(1..) = socket.read(&mut dropped).await {}
}
