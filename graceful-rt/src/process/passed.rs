//! Descriptors passed to this process when it started, each owned once,
//! here:
//!
//! - listening sockets from the service manager: systemd's socket
//!   activation (`sd_listen_fds(3)`): `LISTEN_PID` names the process,
//!   `LISTEN_FDS` counts the descriptors from 3 on, `LISTEN_FDNAMES` names
//!   them;
//! - listening sockets from the process this one upgrades
//!   ([`upgrade`](crate::process::upgrade)): `GRACEFUL_UPGRADE_FROM` names that
//!   process, which must be this one's parent, `GRACEFUL_LISTEN_FDS` lists
//!   the descriptors, and `GRACEFUL_UPGRADE_READY_FD` is the socket on
//!   which this process tells it that it is ready.
//!
//! Listening sockets are taken in order, one per call of
//! [`listen`](crate::listen) (feature `listen`). What the upgrade needs
//! (its predecessor, the readiness channel, closing what was not taken)
//! is here whatever the features.

use std::io;
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd, RawFd};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const FIRST: RawFd = 3;

/// The process an upgrade was started by (its PID).
pub(crate) const UPGRADE_FROM_VAR: &str = "GRACEFUL_UPGRADE_FROM";
/// The listening sockets it handed over: descriptors separated by spaces.
pub(crate) const LISTEN_FDS_VAR: &str = "GRACEFUL_LISTEN_FDS";
/// The socket on which the new process says it is ready.
pub(crate) const READY_FD_VAR: &str = "GRACEFUL_UPGRADE_READY_FD";

/// A listening socket passed to this process, owned, close-on-exec.
#[cfg_attr(not(feature = "listen"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct Passed {
    pub(crate) socket: OwnedFd,
    /// Its descriptor and where it came from, for messages: `the socket
    /// passed as fd 3 ("http")`.
    pub(crate) what: String,
}

/// What the environment passed.
#[derive(Debug, Default)]
struct Inherited {
    /// The listening sockets not taken yet, with what to call them.
    listeners: Vec<Option<(RawFd, String)>>,
    /// The process this one upgrades, and the socket to tell it on.
    upgrade: Option<(u32, RawFd)>,
}

fn inherited() -> &'static Mutex<Result<Inherited, String>> {
    static INHERITED: OnceLock<Mutex<Result<Inherited, String>>> = OnceLock::new();
    INHERITED.get_or_init(|| Mutex::new(read_environment()))
}

fn read_environment() -> Result<Inherited, String> {
    if let Some(from) = predecessor() {
        return from_predecessor(from);
    }
    let Ok(pid) = std::env::var("LISTEN_PID") else {
        return Ok(Inherited::default());
    };
    if pid.trim() != std::process::id().to_string() {
        // Meant for another process (the one that spawned this one).
        return Ok(Inherited::default());
    }
    let count = std::env::var("LISTEN_FDS").unwrap_or_default();
    let count: RawFd = count
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_FDS={count:?} is not a number of descriptors"))?;
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let mut names = names.split(':');
    let listeners = (FIRST..FIRST.saturating_add(count))
        .map(|fd| {
            let what = match names.next().filter(|name| !name.is_empty()) {
                Some(name) => {
                    format!("the socket passed as fd {fd} ({name:?}) by the service manager")
                }
                None => format!("the socket passed as fd {fd} by the service manager"),
            };
            Some((fd, what))
        })
        .collect();
    Ok(Inherited {
        listeners,
        upgrade: None,
    })
}

/// The process this one was started by to take over from it, if it was:
/// `GRACEFUL_UPGRADE_FROM` names this process's parent. (A process the
/// new one spawns in turn sees the variable too, naming its grandparent:
/// it is not an upgrade.)
pub(crate) fn predecessor() -> Option<u32> {
    let from: u32 = std::env::var(UPGRADE_FROM_VAR).ok()?.trim().parse().ok()?;
    (from == std::os::unix::process::parent_id()).then_some(from)
}

fn from_predecessor(from: u32) -> Result<Inherited, String> {
    let number = |var: &str, text: &str| {
        text.parse::<RawFd>()
            .ok()
            .filter(|fd| *fd >= 0)
            .ok_or_else(|| format!("{var}={text:?} is not a list of descriptors"))
    };
    let listeners = std::env::var(LISTEN_FDS_VAR).unwrap_or_default();
    let listeners = listeners
        .split_whitespace()
        .map(|fd| {
            let fd = number(LISTEN_FDS_VAR, fd)?;
            Ok(Some((
                fd,
                format!("the socket handed over as fd {fd} by pid {from}"),
            )))
        })
        .collect::<Result<_, String>>()?;
    let ready = std::env::var(READY_FD_VAR).unwrap_or_default();
    let ready = number(READY_FD_VAR, ready.trim())?;
    Ok(Inherited {
        listeners,
        upgrade: Some((from, ready)),
    })
}

/// Takes the next listening socket passed to this process, if one is left
/// (for `listen`, of the `listen` feature).
///
/// # Errors
///
/// When the variables are malformed, or the descriptor is not an open
/// socket.
#[cfg_attr(not(feature = "listen"), allow(dead_code))]
pub(crate) fn take_listener() -> io::Result<Option<Passed>> {
    let mut inherited = inherited().lock().unwrap_or_else(PoisonError::into_inner);
    let inherited = match &mut *inherited {
        Err(message) => return Err(io::Error::new(io::ErrorKind::InvalidInput, message.clone())),
        Ok(inherited) => inherited,
    };
    let Some((fd, what)) = inherited.listeners.iter_mut().find_map(Option::take) else {
        return Ok(None);
    };
    let socket = own(fd).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} is not an open socket: check the unit's Sockets= and LISTEN_FDS"),
        )
    })?;
    Ok(Some(Passed { socket, what }))
}

/// Takes the socket on which this process tells the one it upgrades that
/// it is ready, with that process's PID; `None` when this process is not an
/// upgrade, or after the first call.
pub(crate) fn take_ready_channel() -> Option<(u32, std::os::unix::net::UnixStream)> {
    let mut inherited = inherited().lock().unwrap_or_else(PoisonError::into_inner);
    let (from, fd) = inherited.as_mut().ok()?.upgrade.take()?;
    match own(fd) {
        Some(socket) => Some((from, socket.into())),
        None => {
            crate::log::warning!(
                "{READY_FD_VAR}={fd} is not an open socket: pid {from} cannot be told that this \
                 process is ready, and goes on serving"
            );
            None
        }
    }
}

/// Closes the listening sockets passed to this process that it did not
/// take: nobody would accept on them. Called once the process is ready;
/// returns what was closed, for the log.
pub(crate) fn close_untaken() -> Vec<String> {
    let mut inherited = inherited().lock().unwrap_or_else(PoisonError::into_inner);
    let Ok(inherited) = &mut *inherited else {
        return Vec::new();
    };
    inherited
        .listeners
        .iter_mut()
        .filter_map(Option::take)
        .filter_map(|(fd, what)| own(fd).map(|_closed| what))
        .collect()
}

/// Takes ownership of `fd`, a descriptor taken from the list above (so
/// never twice), if it is an open socket; marks it close-on-exec, so a
/// process this one spawns does not inherit it.
fn own(fd: RawFd) -> Option<OwnedFd> {
    if !is_open_socket(fd) {
        return None;
    }
    // SAFETY: `fd` is this process's to own. The variables that listed it
    // name this process: `LISTEN_PID` is its PID (sd_listen_fds(3) passes
    // descriptors 3 .. 3 + LISTEN_FDS open and owned by the process it
    // names), or `GRACEFUL_UPGRADE_FROM` is its parent, which passed the
    // descriptors it listed to this process and to it only (see
    // `upgrade::spawn`). Nothing in the process opened them, so nothing
    // else owns them. It is open: checked just above, through the process's
    // own descriptor table. It is taken once: every caller took it out of
    // the list under the lock, and this module is the only place that
    // reads the list (the docs of `listen` tell users to take passed
    // sockets through it only).
    #[allow(unsafe_code)]
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    close_on_exec(owned.as_fd());
    Some(owned)
}

/// Sets close-on-exec on `fd`, as on every descriptor the process opens
/// itself: a process this one spawns does not inherit it. A failure
/// (unexpected of an open descriptor) leaves the flags as they were.
fn close_on_exec(fd: BorrowedFd<'_>) {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl(2) with F_GETFD and F_SETFD reads and sets the flags
    // of `fd`, which is open for the call (borrowed from its owner); it
    // touches no memory of this process, and an error is only returned.
    #[allow(unsafe_code)]
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
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
