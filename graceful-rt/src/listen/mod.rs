//! Listeners made the way a process that restarts needs them: taken from
//! the service manager when it passed one (systemd's socket activation),
//! bound otherwise (feature `listen`). They are tokio's own listeners, for
//! any server on tokio: `http::serve` (feature `axum`, which enables
//! `listen`) takes them as they are, and so do tonic's transport
//! (`serve_with_incoming`, through a `TcpListenerStream`) and an accept
//! loop of your own.
//!
//! Under a systemd `.socket` unit, systemd owns the listening socket and
//! passes it to the service (`LISTEN_PID`, `LISTEN_FDS`,
//! `LISTEN_FDNAMES`): connections that arrive while the service restarts
//! wait in the socket's queue instead of being refused. [`tcp`] and
//! [`unix`] take the passed sockets in order, one each call, check that
//! each is a listening socket of the kind asked for, and make it
//! non-blocking (tokio requires it; an inherited blocking socket would
//! stall a runtime worker). Take passed sockets through this module only:
//! each is owned once. `examples/systemd/graceful-service.socket` shows
//! the unit.
//!
//! Every listener made here, passed or bound, is also kept for an upgrade
//! by hand-off ([`Shutdown::upgrade`](crate::Shutdown::upgrade)): the new
//! process inherits it, and its `listen` calls take the sockets in the
//! same order (the address it is given is then unused, as under systemd).
//! A listener bound some other way cannot be handed over: the new process
//! would fail to bind its address while this one still serves.

use std::io;
use std::os::fd::AsFd as _;
use std::path::Path;

use crate::process::passed::{self, Passed};

/// A TCP listener: the socket the service manager passed to this process,
/// if it passed one, and `addr` bound otherwise.
///
/// # Errors
///
/// When the passed socket is not a listening TCP socket (a Unix or UDP
/// socket, say: the message names it), when the service manager's
/// variables are malformed, and when the bind fails.
///
/// # Panics
///
/// Polled outside a tokio runtime with IO enabled, as tokio's
/// `TcpListener::bind` is.
///
/// # Cancel safety
///
/// A passed socket is taken and returned in the same poll, so dropping the
/// future never loses one; dropped while binding, it binds nothing.
///
/// # Examples
///
/// Outside systemd it binds, here on loopback at a port the system picks:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = graceful_rt::listen::tcp("127.0.0.1:0").await?;
/// let address = listener.local_addr()?;
/// let (connected, accepted) = tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
/// connected?;
/// accepted?;
/// # Ok(())
/// # }
/// ```
///
/// An accept loop of its own, which stops accepting when draining begins
/// (with axum, `graceful_rt::http::serve(listener, app, shutdown)` takes
/// the listener instead):
///
/// ```no_run
/// use graceful_rt::{Shutdown, graceful_main};
/// use tokio::io::AsyncWriteExt as _;
///
/// #[graceful_main(timeout = "10s")]
/// async fn main(shutdown: Shutdown) -> std::io::Result<()> {
///     // Under systemd with a .socket unit, its socket; otherwise bound here.
///     let listener = graceful_rt::listen::tcp("127.0.0.1:3000").await?;
///     shutdown.ready();
///     loop {
///         tokio::select! {
///             accepted = listener.accept() => {
///                 let (mut stream, _) = accepted?;
///                 tokio::spawn(async move { stream.write_all(b"hello\n").await });
///             }
///             () = shutdown.draining() => return Ok(()),
///         }
///     }
/// }
/// ```
pub async fn tcp(addr: impl tokio::net::ToSocketAddrs) -> io::Result<tokio::net::TcpListener> {
    let listener = match passed::take_listener()? {
        Some(passed) => {
            let socket = listening(passed, "TCP", |address| address.as_socket().is_some())?;
            tokio::net::TcpListener::from_std(socket.into())?
        }
        None => tokio::net::TcpListener::bind(addr).await?,
    };
    crate::process::upgrade::keep(listener.as_fd(), listener.local_addr()?.to_string());
    Ok(listener)
}

/// Checks that a passed socket is a listening stream socket whose address
/// `is_kind` accepts, and makes it non-blocking.
fn listening(
    Passed { socket, what }: Passed,
    kind: &str,
    is_kind: impl Fn(&socket2::SockAddr) -> bool,
) -> io::Result<socket2::Socket> {
    let socket = socket2::Socket::from(socket);
    let wrong = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what} is {why}, not a listening {kind} socket: check the order of the unit's sockets"
            ),
        )
    };
    if socket.r#type()? != socket2::Type::STREAM {
        return Err(wrong("not a stream socket"));
    }
    let address = socket.local_addr()?;
    if !is_kind(&address) {
        return Err(wrong(if address.is_unix() {
            "a Unix socket"
        } else {
            "of another family"
        }));
    }
    #[cfg(any(target_os = "android", target_os = "freebsd", target_os = "linux"))]
    if !socket.is_listener()? {
        return Err(wrong("not listening"));
    }
    socket.set_nonblocking(true)?;
    let shown = address
        .as_socket()
        .map(|address| address.to_string())
        .or_else(|| address.as_pathname().map(|path| path.display().to_string()))
        .unwrap_or_default();
    crate::log::info!("listening on {shown}: {what}");
    Ok(socket)
}

/// A Unix socket listener: the socket the service manager passed to this
/// process, if it passed one, and otherwise bound at `path`, replacing the
/// socket file a process that is gone left behind.
///
/// A Unix socket's file outlives the process that bound it: a plain bind
/// after a restart fails with "address in use". Here a socket file at
/// `path` that nobody accepts on (connecting to it is refused) is stale and
/// replaced. One that a process still accepts on is left alone, and the
/// error says so, as is anything at `path` that is not a socket.
///
/// `http::serve` (feature `axum`) leaves the file in place when it stops
/// accepting, and so should a server of your own: connections to it are
/// then refused, as they are on a closed
/// TCP port, and the file may no longer be this process's to remove (a
/// listener handed over by systemd's socket activation, or to the next
/// process, is still being served from).
///
/// # Errors
///
/// When another process accepts connections on `path`, when `path` is
/// something other than a socket, and when the bind fails (permissions, a
/// missing directory); when a socket was passed, when it is not a
/// listening Unix socket.
///
/// # Panics
///
/// Outside a tokio runtime with IO enabled, as tokio's
/// `UnixListener::bind` does.
///
/// # Examples
///
/// The socket file a process that is gone left behind is replaced:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let dir = std::env::temp_dir().join(format!("graceful-listen-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("api.sock");
/// # let _ = std::fs::remove_file(&path);
/// // The previous run's socket: its file outlives it.
/// drop(std::os::unix::net::UnixListener::bind(&path)?);
/// assert!(path.exists());
///
/// let listener = graceful_rt::listen::unix(&path)?;
/// let (connected, accepted) = tokio::join!(tokio::net::UnixStream::connect(&path), listener.accept());
/// connected?;
/// accepted?;
/// # drop(listener);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
///
/// An accept loop of its own (with axum,
/// `graceful_rt::http::serve(listener, app, shutdown)` takes the listener
/// instead):
///
/// ```no_run
/// use graceful_rt::{Shutdown, graceful_main};
/// use tokio::net::UnixStream;
///
/// async fn answer(stream: UnixStream) {
///     // ...
/// #   drop(stream);
/// }
///
/// #[graceful_main(timeout = "10s")]
/// async fn main(shutdown: Shutdown) -> std::io::Result<()> {
///     let listener = graceful_rt::listen::unix("/run/my-service/api.sock")?;
///     shutdown.ready();
///     loop {
///         tokio::select! {
///             accepted = listener.accept() => {
///                 let (stream, _) = accepted?;
///                 tokio::spawn(answer(stream));
///             }
///             () = shutdown.draining() => return Ok(()),
///         }
///     }
/// }
/// ```
pub fn unix(path: impl AsRef<Path>) -> io::Result<tokio::net::UnixListener> {
    let path = path.as_ref();
    let listener = match passed::take_listener()? {
        Some(passed) => {
            let socket = listening(passed, "Unix", socket2::SockAddr::is_unix)?;
            tokio::net::UnixListener::from_std(socket.into())?
        }
        None => {
            remove_if_stale(path)?;
            tokio::net::UnixListener::bind(path).map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot bind a Unix socket at {}: {error}", path.display()),
                )
            })?
        }
    };
    let address = listener.local_addr()?;
    let shown = address.as_pathname().unwrap_or(path).display().to_string();
    crate::process::upgrade::keep(listener.as_fd(), shown);
    Ok(listener)
}

/// Removes the socket file at `path` if nobody accepts on it.
fn remove_if_stale(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt as _;

    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    if !metadata.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket: not replacing it",
                path.display()
            ),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "a process accepts connections on {} (another instance?): not replacing it",
                path.display()
            ),
        )),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            crate::log::info!("replacing the stale socket file {}", path.display());
            match std::fs::remove_file(path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            }
        }
        // Gone in the meantime, say: the bind tells.
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("graceful-listen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    #[tokio::test]
    async fn a_stale_socket_file_is_replaced() {
        let path = scratch("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists(), "the file outlives its listener");
        let listener = unix(&path).expect("the stale file is replaced");
        let client = tokio::net::UnixStream::connect(&path);
        let (accepted, connected) = tokio::join!(listener.accept(), client);
        accepted.unwrap();
        connected.unwrap();
    }

    #[tokio::test]
    async fn a_socket_in_use_is_left_alone() {
        let path = scratch("in-use.sock");
        let _serving = unix(&path).unwrap();
        let error = unix(&path).expect_err("a second listener at the same path");
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert!(error.to_string().contains("accepts connections"), "{error}");
        assert!(path.exists());
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_socket_is_left_alone() {
        let path = scratch("data.txt");
        std::fs::write(&path, "keep me").unwrap();
        let error = unix(&path).expect_err("not a socket");
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    }
}
