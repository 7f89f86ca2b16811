//! What the shutdown does with the operating system and the service
//! manager: the signals that start it ([`signal`]) and keep reaching it
//! ([`disposition`]), the deadline's own thread ([`watchdog`]), systemd's
//! notify protocol ([`systemd`]) and the Windows Service Control Manager
//! (`windows_service`), both told by [`supervisor`], the PID file ([`pid_file`]), descriptors
//! passed at start ([`passed`]) and the upgrade by hand-off ([`upgrade`]).

#[cfg(unix)]
pub(crate) mod disposition;
#[cfg(unix)]
pub(crate) mod passed;
pub(crate) mod pid_file;
pub(crate) mod signal;
pub(crate) mod supervisor;
pub(crate) mod systemd;
#[cfg(unix)]
pub(crate) mod upgrade;
pub(crate) mod watchdog;
#[cfg(all(windows, feature = "windows-service"))]
pub(crate) mod windows_service;
