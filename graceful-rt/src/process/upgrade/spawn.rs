//! Starting the new process: the executable at the path this one was
//! started from, with the same arguments and environment, its listening
//! sockets and the readiness channel inherited, and the variables that tell
//! it what they are (read by [`passed`](crate::process::passed)).

use std::io;
use std::os::fd::{AsRawFd as _, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command};

use crate::process::passed::{LISTEN_FDS_VAR, READY_FD_VAR, UPGRADE_FROM_VAR};

/// Starts `executable` as the new process, handing `listeners` over.
/// Returns it, and this end of the channel on which it says it is ready.
///
/// # Errors
///
/// When the channel cannot be made, or the process cannot be started (the
/// file is missing, not executable).
pub(super) fn new_process(
    executable: &Path,
    listeners: &[RawFd],
) -> io::Result<(Child, UnixStream)> {
    // Both ends are close-on-exec; the new process's end is made
    // inheritable in the child only, below.
    let (ours, theirs) = UnixStream::pair()?;
    let inherited: Vec<RawFd> = listeners
        .iter()
        .copied()
        .chain([theirs.as_raw_fd()])
        .collect();
    let listed = listeners
        .iter()
        .map(RawFd::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = Command::new(executable);
    command
        .args(std::env::args_os().skip(1))
        .env(UPGRADE_FROM_VAR, std::process::id().to_string())
        .env(LISTEN_FDS_VAR, listed)
        .env(READY_FD_VAR, theirs.as_raw_fd().to_string())
        // systemd's variables name this process: nothing for the new one.
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_FDNAMES")
        // systemd's watchdog names this process; once the new one is the
        // main process (`MAINPID=`), it is the one that must tell it.
        .env_remove("WATCHDOG_PID");
    // SAFETY: `pre_exec` runs the closure in the child between fork and
    // exec, where only async-signal-safe work is sound: the closure reads a
    // vector allocated before the fork (no allocation, no lock) and calls
    // fcntl(2), which is async-signal-safe. The descriptors are open in the
    // child: `theirs` and the kept listeners (borrowed by the caller for
    // the whole call) are open in the parent across the fork. Clearing
    // close-on-exec there, and not in the parent, means no other process
    // this one spawns meanwhile inherits them.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || inherit(&inherited));
    }
    let child = command.spawn()?;
    // The new process has its copy; closing ours means the channel ends
    // (EOF) when the new process exits.
    drop(theirs);
    Ok((child, ours))
}

/// Clears close-on-exec on `descriptors`. Runs in the forked child.
fn inherit(descriptors: &[RawFd]) -> io::Result<()> {
    for &fd in descriptors {
        // SAFETY: fcntl(2) with F_GETFD and F_SETFD reads and sets the
        // descriptor's flags; it touches no memory of this process, and an
        // invalid descriptor is an error (EBADF), reported.
        #[allow(unsafe_code)]
        let cleared = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            flags >= 0 && libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) >= 0
        };
        if !cleared {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Asks `child` to stop (SIGTERM): a new process that was not ready in
/// time, or whose upgrade a shutdown ended. A process of this crate drains
/// what it accepted meanwhile, and exits.
pub(super) fn terminate(child: &Child) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) touches no memory of this process. `pid` is this
    // process's child, not reaped yet (`child` has not been waited for to
    // its end), so the PID still names it and cannot have been reused.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::kill(pid, libc::SIGTERM) };
}
