//! The systemd notify protocol (feature `systemd`): `READY=1` when the
//! application says so, `STOPPING=1` at the first signal, `STATUS=` lines
//! while draining and cleaning up, and `EXTEND_TIMEOUT_USEC` so systemd's
//! `TimeoutStopSec` never kills a shutdown that still has time on its own
//! clock. After an upgrade by hand-off, `MAINPID=` names the new process,
//! and the old one sends nothing more.
//!
//! Messages go to the datagram socket named by `NOTIFY_SOCKET` (a path, or
//! `@name` for an abstract socket), which systemd sets for `Type=notify`
//! services. Without the feature, without the variable, or off Unix,
//! nothing is sent.

use std::time::Duration;

/// Where notifications go, if anywhere.
#[derive(Debug, Default)]
pub(crate) struct Notifier {
    #[cfg(all(feature = "systemd", unix))]
    socket: Option<socket::NotifySocket>,
    /// Set once an upgrade handed the service to a new process.
    handed_over: std::sync::atomic::AtomicBool,
}

/// How much longer than the shutdown's own deadline systemd is asked to
/// wait, so the process always ends by its own hand (and writes its report).
const EXTEND_MARGIN: Duration = Duration::from_secs(1);

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` names.
    pub(crate) fn from_env() -> Notifier {
        Notifier {
            #[cfg(all(feature = "systemd", unix))]
            socket: socket::NotifySocket::from_env(),
            handed_over: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// `READY=1`.
    pub(crate) fn ready(&self) {
        self.send("READY=1\nSTATUS=ready");
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
