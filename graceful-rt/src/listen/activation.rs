//! Sockets the service manager passed to this process (systemd's socket
//! activation, `sd_listen_fds(3)`): `LISTEN_PID` names the process,
//! `LISTEN_FDS` counts the descriptors from 3 on, and `LISTEN_FDNAMES`
//! names them. Each is taken once, in order.

use std::io;
use std::os::fd::{FromRawFd as _, OwnedFd, RawFd};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The first descriptor passed (`SD_LISTEN_FDS_START`).
const FIRST: RawFd = 3;

/// A socket passed to this process.
#[derive(Debug)]
pub(super) struct Passed {
    pub(super) socket: socket2::Socket,
    /// Its descriptor and name, for messages: `fd 3 ("http")`.
    pub(super) what: String,
}

/// What the environment passed: the descriptors not taken yet (with their
/// names), or why the variables could not be read.
type Inherited = Result<Vec<Option<(RawFd, Option<String>)>>, String>;

fn inherited() -> &'static Mutex<Inherited> {
    static INHERITED: OnceLock<Mutex<Inherited>> = OnceLock::new();
    INHERITED.get_or_init(|| Mutex::new(read_environment()))
}

fn read_environment() -> Inherited {
    let Ok(pid) = std::env::var("LISTEN_PID") else {
        return Ok(Vec::new());
    };
    if pid.trim() != std::process::id().to_string() {
        // Meant for another process (the one that spawned this one).
        return Ok(Vec::new());
    }
    let count = std::env::var("LISTEN_FDS").unwrap_or_default();
    let count: RawFd = count
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_FDS={count:?} is not a number of descriptors"))?;
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let mut names = names.split(':').map(str::to_owned);
    Ok((FIRST..FIRST.saturating_add(count))
        .map(|fd| Some((fd, names.next().filter(|name| !name.is_empty()))))
        .collect())
}

/// Takes the next socket passed to this process, if one is left.
///
/// # Errors
///
/// When the variables are malformed, or the descriptor is not an open
/// socket.
pub(super) fn take_next() -> io::Result<Option<Passed>> {
    let mut inherited = inherited().lock().unwrap_or_else(PoisonError::into_inner);
    let passed = match &mut *inherited {
        Err(message) => return Err(io::Error::new(io::ErrorKind::InvalidInput, message.clone())),
        Ok(passed) => passed,
    };
    let Some((fd, name)) = passed.iter_mut().find_map(Option::take) else {
        return Ok(None);
    };
    let what = match &name {
        Some(name) => format!("the socket passed as fd {fd} ({name:?})"),
        None => format!("the socket passed as fd {fd}"),
    };
    if !is_open_socket(fd) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} is not an open socket: check the unit's Sockets= and LISTEN_FDS"),
        ));
    }
    // SAFETY: `fd` is this process's to own: LISTEN_PID names this process,
    // and sd_listen_fds(3) passes descriptors 3 .. 3 + LISTEN_FDS open and
    // owned by the process it names (nothing in the process opened them).
    // It is open: checked just above, through the process's own
    // descriptor table. It is taken once: `take` removed it from the list
    // under the lock, and this module is the only place that reads it, so
    // no other `OwnedFd` owns it (the docs of `listen` tell users to take
    // passed sockets through it only).
    #[allow(unsafe_code)]
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(Some(Passed {
        socket: socket2::Socket::from(owned),
        what,
    }))
}

/// Whether `fd` is an open socket, looked up in the process's descriptor
/// table (which does not take it).
fn is_open_socket(fd: RawFd) -> bool {
    use std::os::unix::fs::FileTypeExt as _;

    let table = if cfg!(target_os = "linux") {
        "/proc/self/fd"
    } else {
        "/dev/fd"
    };
    std::fs::metadata(format!("{table}/{fd}"))
        .is_ok_and(|metadata| metadata.file_type().is_socket())
}
