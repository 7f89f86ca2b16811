//! The systemd notify protocol (feature `systemd`): `READY=1` when the
//! application says so, `STOPPING=1` at the first signal, `STATUS=` lines
//! while draining and cleaning up, and `EXTEND_TIMEOUT_USEC` so systemd's
//! `TimeoutStopSec` never kills a shutdown that still has time on its own
//! clock. `WATCHDOG=1` every half `WATCHDOG_USEC`, from the runtime.
//!
//! An upgrade by hand-off is a reload (`Type=notify-reload`, systemd 253
//! and later): `RELOADING=1` with `MONOTONIC_USEC=` when it starts; the new
//! process says `MAINPID=` (itself) and `READY=1` once it is ready, and the
//! old one names it again and sends nothing more; an upgrade that fails
//! ends the reload from the old process, `READY=1` with `STATUS=upgrade
//! failed: ...`, so `systemctl reload` returns rather than hangs.
//!
//! Messages go to the datagram socket named by `NOTIFY_SOCKET` (a path, or
//! `@name` for an abstract socket), which systemd sets for `Type=notify`
//! services. Without the feature, without the variable, or off Unix,
//! nothing is sent.

use std::time::Duration;

/// Where systemd's notifications go, if anywhere.
#[derive(Debug, Default)]
pub(crate) struct Systemd {
    #[cfg(all(feature = "systemd", unix))]
    socket: Option<socket::NotifySocket>,
    /// Set once an upgrade handed the service to a new process.
    handed_over: std::sync::atomic::AtomicBool,
    /// `WATCHDOG_USEC`, when it is this process's (`WATCHDOG_PID` unset,
    /// or this process's pid) and there is a socket to tell.
    watchdog: Option<Duration>,
}

/// How much longer than the shutdown's own deadline systemd is asked to
/// wait, so the process always ends by its own hand (and writes its report).
const EXTEND_MARGIN: Duration = Duration::from_secs(1);

impl Systemd {
    /// The notifier `NOTIFY_SOCKET` names.
    pub(crate) fn from_env() -> Systemd {
        #[cfg(all(feature = "systemd", unix))]
        let socket = socket::NotifySocket::from_env();
        #[cfg(all(feature = "systemd", unix))]
        let watchdog = socket.as_ref().and_then(|_| {
            watchdog_period(
                std::env::var("WATCHDOG_USEC").ok().as_deref(),
                std::env::var("WATCHDOG_PID").ok().as_deref(),
                std::process::id(),
            )
        });
        #[cfg(not(all(feature = "systemd", unix)))]
        let watchdog = None;
        Systemd {
            #[cfg(all(feature = "systemd", unix))]
            socket,
            handed_over: std::sync::atomic::AtomicBool::new(false),
            watchdog,
        }
    }

    /// `READY=1`; from the new process of an upgrade, `MAINPID=` too (its
    /// own pid: systemd follows it, under `NotifyAccess=all`).
    pub(crate) fn ready(&self, taking_over: bool) {
        if taking_over {
            self.send(&format!(
                "MAINPID={}\nREADY=1\nSTATUS=ready",
                std::process::id()
            ));
        } else {
            self.send("READY=1\nSTATUS=ready");
        }
    }

    /// `RELOADING=1`: an upgrade starts. systemd (`Type=notify-reload`)
    /// waits for a `READY=1`, from the new process or, if it fails, from
    /// this one.
    #[cfg(unix)]
    pub(crate) fn reloading(&self) {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=upgrading: starting the new process",
            monotonic_usec()
        ));
    }

    /// The upgrade failed, and this process goes on serving: the reload
    /// ends, and says why.
    #[cfg(unix)]
    pub(crate) fn upgrade_failed(&self, why: &str) {
        self.send(&format!(
            "READY=1\nSTATUS=upgrade failed: {}",
            why.replace('\n', " ")
        ));
    }

    /// How often systemd expects `WATCHDOG=1`: half of `WATCHDOG_USEC`,
    /// when the watchdog is this process's.
    pub(crate) fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|period| period / 2)
    }

    /// `WATCHDOG=1`: this process's runtime still runs tasks.
    pub(crate) fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// `MAINPID=`: an upgrade's new process is ready and the service goes on
    /// there. Nothing more is sent from this process: a `STOPPING=1` from it
    /// would now stop the service.
    pub(crate) fn hand_over(&self, new_process: u32) {
        self.send(&format!(
            "MAINPID={new_process}\nSTATUS=upgraded: pid {new_process} serves"
        ));
        self.handed_over
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// `STOPPING=1`, with how long the shutdown may take.
    pub(crate) fn stopping(&self, status: &str, left: Duration) {
        self.send(&format!("STOPPING=1\nSTATUS={status}\n{}", extend(left)));
    }

    /// A `STATUS=` line, and more time when the shutdown still has some.
    pub(crate) fn progress(&self, status: &str, left: Duration) {
        self.send(&format!("STATUS={status}\n{}", extend(left)));
    }

    #[cfg(all(feature = "systemd", unix))]
    fn send(&self, message: &str) {
        // `hand_over` sends its message before it sets the flag.
        if self.handed_over.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        if let Some(socket) = &self.socket {
            socket.send(message);
        }
    }

    #[cfg(not(all(feature = "systemd", unix)))]
    fn send(&self, _message: &str) {}
}

/// The watchdog's period, from `WATCHDOG_USEC` and `WATCHDOG_PID` as
/// systemd sets them (`sd_watchdog_enabled`'s rules): none when unset,
/// zero or unreadable, or when `WATCHDOG_PID` names another process.
#[cfg_attr(not(all(feature = "systemd", unix)), allow(dead_code))]
fn watchdog_period(usec: Option<&str>, pid: Option<&str>, own: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&usec| usec > 0)?;
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != own {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

/// `CLOCK_MONOTONIC`, in microseconds, as `MONOTONIC_USEC=` wants it.
#[cfg(unix)]
fn monotonic_usec() -> u128 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a live, writable `timespec` on this frame, the one
    // pointer `clock_gettime` writes through; CLOCK_MONOTONIC exists on
    // every Unix this crate builds for, and a failure leaves `now` zeroed.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    u128::try_from(now.tv_sec).unwrap_or(0) * 1_000_000
        + u128::try_from(now.tv_nsec).unwrap_or(0) / 1_000
}

fn extend(left: Duration) -> String {
    format!("EXTEND_TIMEOUT_USEC={}", (left + EXTEND_MARGIN).as_micros())
}

#[cfg(all(feature = "systemd", unix))]
mod socket {
    use std::os::unix::net::{SocketAddr, UnixDatagram};

    use crate::log;

    /// The socket `NOTIFY_SOCKET` names, and an unbound socket to send from.
    #[derive(Debug)]
    pub(super) struct NotifySocket {
        address: SocketAddr,
        socket: UnixDatagram,
    }

    impl NotifySocket {
        pub(super) fn from_env() -> Option<NotifySocket> {
            let name = std::env::var_os("NOTIFY_SOCKET")?;
            let address = match address(name.as_encoded_bytes()) {
                Ok(address) => address,
                Err(error) => {
                    log::warning!(
                        "NOTIFY_SOCKET={} is not usable, systemd will not be notified: {error}",
                        name.to_string_lossy()
                    );
                    return None;
                }
            };
            match UnixDatagram::unbound() {
                Ok(socket) => Some(NotifySocket { address, socket }),
                Err(error) => {
                    log::warning!("cannot open a socket to notify systemd: {error}");
                    None
                }
            }
        }

        pub(super) fn send(&self, message: &str) {
            if let Err(error) = self.socket.send_to_addr(message.as_bytes(), &self.address) {
                log::warning!(
                    "cannot notify systemd ({}): {error}",
                    message.replace('\n', " ")
                );
            }
        }
    }

    fn address(name: &[u8]) -> std::io::Result<SocketAddr> {
        match name.split_first() {
            #[cfg(target_os = "linux")]
            Some((b'@', abstract_name)) => {
                use std::os::linux::net::SocketAddrExt as _;
                SocketAddr::from_abstract_name(abstract_name)
            }
            Some((b'/', _)) => {
                use std::os::unix::ffi::OsStrExt as _;
                SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(name))
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "expected an absolute path or an @abstract name",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_this_process_s_only_when_its_pid_says_so() {
        let period = Some(Duration::from_millis(200));
        assert_eq!(watchdog_period(Some("200000"), None, 42), period);
        assert_eq!(watchdog_period(Some("200000"), Some("42"), 42), period);
        assert_eq!(watchdog_period(Some("200000"), Some("41"), 42), None);
        assert_eq!(watchdog_period(Some("0"), None, 42), None);
        assert_eq!(watchdog_period(Some("soon"), None, 42), None);
        assert_eq!(watchdog_period(None, Some("42"), 42), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_monotonic_clock_moves_forward_in_microseconds() {
        let before = monotonic_usec();
        std::thread::sleep(Duration::from_millis(2));
        let after = monotonic_usec();
        assert!(
            before > 0 && after >= before + 2_000,
            "{before} then {after}"
        );
    }
}
