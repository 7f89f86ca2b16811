//! The service manager that started the process, told of each phase:
//! systemd ([`systemd`](super::systemd)) on Linux, the Windows Service
//! Control Manager (`windows_service`) on Windows. Each is told only when
//! its feature is on and the process runs under it; otherwise nothing is
//! sent.

use std::time::Duration;

use crate::process::systemd::Systemd;

/// The supervisors of this process, as far as the features let them be
/// told.
#[derive(Debug)]
pub(crate) struct Supervisor {
    systemd: Systemd,
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

    /// The application is ready (systemd's `READY=1`; the SCM heard
    /// `SERVICE_RUNNING` when the process connected).
    pub(crate) fn ready(&self, taking_over: bool) {
        self.systemd.ready(taking_over);
    }

    /// An upgrade starts.
    #[cfg(unix)]
    pub(crate) fn reloading(&self) {
        self.systemd.reloading();
    }

    /// The upgrade failed, and this process goes on serving.
    #[cfg(unix)]
    pub(crate) fn upgrade_failed(&self, why: &str) {
        self.systemd.upgrade_failed(why);
    }

    /// How often the watchdog wants to hear from the runtime, if it does.
    pub(crate) fn watchdog_interval(&self) -> Option<Duration> {
        self.systemd.watchdog_interval()
    }

    /// The runtime still runs tasks.
    pub(crate) fn watchdog(&self) {
        self.systemd.watchdog();
    }

    /// An upgrade's new process serves now.
    pub(crate) fn hand_over(&self, new_process: u32) {
        self.systemd.hand_over(new_process);
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
