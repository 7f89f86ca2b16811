//! The listening sockets an upgrade hands over: a duplicate of each
//! listener [`listen`](crate::listen) made, kept from then until the
//! shutdown begins.
//!
//! The server owns its listener and closes it when it stops accepting; the
//! duplicate keeps the socket (and the connections queued on it) for the
//! new process. It is closed as soon as a shutdown begins, so a plain
//! SIGTERM still refuses new connections once the server has stopped
//! accepting, and an upgrade's new process, which inherited its own copy
//! before, keeps the socket open.

use std::os::fd::{AsFd, AsRawFd as _, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::log;

/// A listener kept for the hand-off, and what to call it.
struct Kept {
    socket: OwnedFd,
    what: String,
}

/// `None` once released: listeners made after that are not kept.
static KEPT: Mutex<Option<Vec<Kept>>> = Mutex::new(Some(Vec::new()));

fn kept() -> MutexGuard<'static, Option<Vec<Kept>>> {
    KEPT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps a duplicate of `listener` for an upgrade to hand over (the
/// listeners `listen` makes, of the `listen` feature). A duplicate that
/// cannot be made (no descriptor left) is logged: an upgrade then hands
/// over the others.
#[cfg_attr(not(feature = "listen"), allow(dead_code))]
pub(crate) fn keep(listener: BorrowedFd<'_>, what: String) {
    let mut kept = kept();
    let Some(kept) = kept.as_mut() else {
        return;
    };
    // `try_clone_to_owned` duplicates with close-on-exec set: the
    // descriptor reaches only the process an upgrade starts, which clears
    // the flag in the child between fork and exec.
    match listener.try_clone_to_owned() {
        Ok(socket) => kept.push(Kept { socket, what }),
        Err(error) => log::warning!("{what} cannot be kept for an upgrade: {error}"),
    }
}

/// Closes the duplicates: the shutdown has begun.
pub(crate) fn release() {
    drop(kept().take());
}

/// The listeners to hand over, borrowed while `with` runs (it spawns the
/// new process), with what to call them; `None` once released.
pub(crate) fn with_listeners<R>(with: impl FnOnce(&[(RawFd, &str)]) -> R) -> Option<R> {
    let kept = kept();
    let listeners: Vec<(RawFd, &str)> = kept
        .as_ref()?
        .iter()
        .map(|kept| (kept.socket.as_fd().as_raw_fd(), kept.what.as_str()))
        .collect();
    Some(with(&listeners))
}
