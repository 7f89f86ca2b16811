//! The service manager that started the process, told of each phase:
//! systemd ([`systemd`](super::systemd)) on Linux, the Windows Service
//! Control Manager (`windows_service`) on Windows. Each is told only when
//! its feature is on and the process runs under it; otherwise nothing is
//! sent.

use std::time::Duration;

use crate::process::systemd::Systemd;

/// The supervisors of this process, as far as the features let them be
/// told. What only systemd hears (readiness, the watchdog, the upgrade's
/// reload) goes to `systemd` directly; what every supervisor hears (the
/// stop, its progress, the exit) goes through the methods here.
#[derive(Debug)]
pub(crate) struct Supervisor {
    pub(crate) systemd: Systemd,
}

impl Supervisor {
    /// The supervisors of this process, found in its environment (the SCM
    /// connects on a thread of its own: the start does not wait for it).
    /// `timeout` is the shutdown's, checked against what they allow.
    pub(crate) fn connect(timeout: Duration) -> Supervisor {
        #[cfg(all(windows, feature = "windows-service"))]
        crate::process::windows_service::connect(timeout);
        #[cfg(not(all(windows, feature = "windows-service")))]
        let _ = timeout;
        Supervisor {
            systemd: Systemd::from_env(),
        }
    }

    /// The shutdown began, with `left` to go.
    pub(crate) fn stopping(&self, status: &str, left: Duration) {
        self.systemd.stopping(status, left);
        #[cfg(all(windows, feature = "windows-service"))]
        if let Some(scm) = crate::process::windows_service::service() {
            scm.stop_pending(left);
        }
    }

    /// A step of the shutdown, with `left` to go.
    pub(crate) fn progress(&self, status: &str, left: Duration) {
        self.systemd.progress(status, left);
        #[cfg(all(windows, feature = "windows-service"))]
        if let Some(scm) = crate::process::windows_service::service() {
            scm.stop_pending(left);
        }
    }

    /// The process exits now with `code`: the SCM's `SERVICE_STOPPED`
    /// (systemd sees the exit itself).
    pub(crate) fn exiting(&self, code: i32) {
        #[cfg(all(windows, feature = "windows-service"))]
        if let Some(scm) = crate::process::windows_service::service() {
            scm.stopped(code);
        }
        #[cfg(not(all(windows, feature = "windows-service")))]
        let _ = code;
    }
}
