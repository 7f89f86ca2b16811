//! Listeners for [`http::serve`](crate::http::serve), made the way a
//! process that restarts needs them.

use std::io;
use std::path::Path;

/// Binds a Unix socket listener at `path`, replacing the socket file a
/// process that is gone left behind.
///
/// A Unix socket's file outlives the process that bound it: a plain bind
/// after a restart fails with "address in use". Here a socket file at
/// `path` that nobody accepts on (connecting to it is refused) is stale and
/// replaced. One that a process still accepts on is left alone, and the
/// error says so, as is anything at `path` that is not a socket.
///
/// [`serve`](crate::http::serve) leaves the file in place when it stops
/// accepting: connections to it are then refused, as they are on a closed
/// TCP port, and the file may no longer be this process's to remove (a
/// listener handed over by systemd's socket activation, or to the next
/// process, is still being served from).
///
/// # Errors
///
/// When another process accepts connections on `path`, when `path` is
/// something other than a socket, and when the bind fails (permissions, a
/// missing directory).
///
/// # Examples
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use graceful_rt::{Shutdown, graceful_main};
///
/// #[graceful_main(timeout = "10s")]
/// async fn main(shutdown: Shutdown) -> std::io::Result<()> {
///     let app = Router::new().route("/", get(|| async { "hello over a Unix socket" }));
///     let listener = graceful_rt::listen::unix("/run/my-service/http.sock")?;
///     graceful_rt::http::serve(listener, app, shutdown).await?;
///     Ok(())
/// }
/// ```
pub fn unix(path: impl AsRef<Path>) -> io::Result<tokio::net::UnixListener> {
    let path = path.as_ref();
    remove_if_stale(path)?;
    tokio::net::UnixListener::bind(path).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot bind a Unix socket at {}: {error}", path.display()),
        )
    })
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
