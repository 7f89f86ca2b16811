//! The Windows Service Control Manager (feature `windows-service`): a
//! process the SCM started as a service is told to stop by a control, not
//! by a console event, and it answers with its status.
//!
//! At start, a thread of its own (`graceful-service`) calls
//! `StartServiceCtrlDispatcherW`, and the start goes on without waiting
//! for it. In a process that is not a service the call fails
//! (`ERROR_FAILED_SERVICE_CONTROLLER_CONNECT`: at once on Windows, after
//! about 10 s under Wine 8) and nothing more happens. In a service, the SCM
//! calls [`service_main`] on that thread: it registers [`control`] and
//! reports `SERVICE_RUNNING`, accepting `STOP`, `SHUTDOWN` and `PRESHUTDOWN` (a
//! service that handles only `STOP` loses the stop at the machine's
//! shutdown). Each of the three starts the shutdown, as a signal would
//! ([`Signal::ServiceStop`] and its twins). From then on the status is
//! `SERVICE_STOP_PENDING`, with a checkpoint that rises at each step and a
//! wait hint that covers the time the shutdown has left, the Windows form
//! of systemd's `EXTEND_TIMEOUT_USEC`; the last word is `SERVICE_STOPPED`
//! with the exit code (`ERROR_SERVICE_SPECIFIC_ERROR` and the code, when
//! it is not 0), right before the process exits.
//!
//! At the machine's shutdown, Windows waits for a service only as long as
//! its preshutdown timeout (10 s by default since Windows 10 1703), read
//! from the SCM at start: a timeout longer than that is warned about, and
//! a shutdown started by `PRESHUTDOWN` gets a deadline under it, as after
//! Ctrl-Shutdown.
//!
//! No crate but windows-sys, for its declarations of the SCM's calls
//! (tokio already depends on it). The windows-service crate's handler frees its
//! closure at the first `STOP`, and a second control (`STOP` again, or
//! `INTERROGATE`) would then use it: here the handler is a plain function
//! and the route it calls is a static.

use std::ffi::c_void;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    ERROR_CALL_NOT_IMPLEMENTED, ERROR_FAILED_SERVICE_CONTROLLER_CONNECT,
    ERROR_SERVICE_SPECIFIC_ERROR, NO_ERROR,
};
use windows_sys::Win32::System::Services::{
    CloseServiceHandle, OpenSCManagerW, OpenServiceW, QueryServiceConfig2W,
    RegisterServiceCtrlHandlerExW, SC_MANAGER_CONNECT, SERVICE_ACCEPT_PRESHUTDOWN,
    SERVICE_ACCEPT_SHUTDOWN, SERVICE_ACCEPT_STOP, SERVICE_CONFIG_PRESHUTDOWN_INFO,
    SERVICE_CONTROL_INTERROGATE, SERVICE_CONTROL_PRESHUTDOWN, SERVICE_CONTROL_SHUTDOWN,
    SERVICE_CONTROL_STOP, SERVICE_PRESHUTDOWN_INFO, SERVICE_QUERY_CONFIG, SERVICE_RUNNING,
    SERVICE_STATUS, SERVICE_STOP_PENDING, SERVICE_STOPPED, SERVICE_TABLE_ENTRYW,
    SERVICE_WIN32_OWN_PROCESS, SetServiceStatus, StartServiceCtrlDispatcherW,
};
use windows_sys::core::PWSTR;

use crate::duration;
use crate::log;
use crate::process::signal::{DEFAULT_PRESHUTDOWN_TIMEOUT, Signal};

/// How much longer than the shutdown's own deadline the SCM is asked to
/// wait (the wait hint), so the process always ends by its own hand.
const WAIT_MARGIN: Duration = Duration::from_secs(1);

/// This process as the SCM's service: set once `service_main` registered.
static SERVICE: OnceLock<Service> = OnceLock::new();

/// The shutdown's timeout, which `service_main` checks against the
/// service's preshutdown timeout.
static TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// Where the controls go: buffered until the shutdown exists ([`route`]).
static ROUTE: Mutex<Route> = Mutex::new(Route::Waiting(Vec::new()));

type Received = Arc<dyn Fn(Signal) + Send + Sync>;

enum Route {
    Waiting(Vec<Signal>),
    To(Received),
}

/// The service this process is, for the status it reports.
#[derive(Debug)]
pub(crate) struct Service {
    /// The service's name, as the SCM knows it.
    name: String,
    /// The `SERVICE_STATUS_HANDLE`, as an address: valid for the life of
    /// the process, and usable from any thread.
    handle: usize,
    checkpoint: AtomicU32,
    /// The service's preshutdown timeout, as the SCM has it configured.
    preshutdown_timeout: Duration,
}

/// Starts the thread that connects to the SCM, if this process is a
/// service, and returns at once: [`service`] is the service from the
/// moment `service_main` has registered. `timeout` is the shutdown's, to
/// warn about when it is longer than the service's preshutdown timeout.
pub(crate) fn connect(timeout: Duration) {
    let _ = TIMEOUT.set(timeout);
    let spawned = std::thread::Builder::new()
        .name("graceful-service".into())
        .spawn(|| {
            let mut any_name = [0u16];
            let table = [
                SERVICE_TABLE_ENTRYW {
                    // Ignored for a service of its own process; empty is
                    // allowed, null is not.
                    lpServiceName: any_name.as_mut_ptr(),
                    lpServiceProc: Some(service_main),
                },
                SERVICE_TABLE_ENTRYW {
                    lpServiceName: std::ptr::null_mut(),
                    lpServiceProc: None,
                },
            ];
            // SAFETY: `table` is a live array on this frame, ended by the
            // all-null entry the call requires; `any_name` is a
            // NUL-terminated UTF-16 string that outlives the call, which
            // returns only when the service has stopped (or fails, when
            // this is no service). `service_main` has the signature of
            // LPSERVICE_MAIN_FUNCTIONW.
            #[allow(unsafe_code)]
            let dispatched = unsafe { StartServiceCtrlDispatcherW(table.as_ptr()) } != 0;
            let error = io::Error::last_os_error();
            let no_service =
                error.raw_os_error() == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT as i32);
            if !dispatched && !no_service {
                log::warning!("cannot connect to the Windows SCM: {error}");
            }
        });
    if let Err(error) = spawned {
        log::warning!("cannot start the thread that talks to the Windows SCM: {error}");
    }
}

/// This process as the SCM's service, once it has connected.
pub(crate) fn service() -> Option<&'static Service> {
    SERVICE.get()
}

/// Sends the SCM's controls to `received` from now on, with those that
/// came before.
pub(crate) fn route(received: Received) {
    let waiting = {
        let mut route = lock(&ROUTE);
        match std::mem::replace(&mut *route, Route::To(Arc::clone(&received))) {
            Route::Waiting(waiting) => waiting,
            Route::To(_) => Vec::new(),
        }
    };
    for signal in waiting {
        received(signal);
    }
}

/// The preshutdown timeout of this process's service, if it is one.
pub(crate) fn preshutdown_timeout() -> Option<Duration> {
    SERVICE.get().map(|service| service.preshutdown_timeout)
}

impl Service {
    /// Warns when the shutdown's timeout is longer than Windows waits at the
    /// machine's shutdown.
    fn check_budget(&self, timeout: Duration) {
        if let Some(warning) = budget_warning(&self.name, timeout, self.preshutdown_timeout) {
            log::warning!("{warning}");
        }
    }

    /// `SERVICE_STOP_PENDING`, with the next checkpoint and `left` (and a
    /// margin) as the wait hint.
    pub(crate) fn stop_pending(&self, left: Duration) {
        let checkpoint = self.checkpoint.fetch_add(1, Ordering::Relaxed) + 1;
        self.set(Status {
            state: SERVICE_STOP_PENDING,
            wait_hint: left + WAIT_MARGIN,
            checkpoint,
            exit_code: 0,
        });
    }

    /// `SERVICE_STOPPED`, with the process's exit code: the last word.
    pub(crate) fn stopped(&self, exit_code: i32) {
        self.set(Status {
            state: SERVICE_STOPPED,
            wait_hint: Duration::ZERO,
            checkpoint: 0,
            exit_code,
        });
    }

    fn set(&self, status: Status) {
        let raw = status.raw();
        // SAFETY: `handle` is the SERVICE_STATUS_HANDLE that
        // RegisterServiceCtrlHandlerExW returned; it needs no closing and
        // stays valid for the life of the process, from any thread. `raw` is
        // a live SERVICE_STATUS the call only reads.
        #[allow(unsafe_code)]
        let set = unsafe { SetServiceStatus(self.handle as *mut c_void, &raw) } != 0;
        if !set {
            log::warning!(
                "cannot report the service's status to the Windows SCM: {}",
                io::Error::last_os_error()
            );
        }
    }
}

/// A status to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Status {
    state: u32,
    wait_hint: Duration,
    checkpoint: u32,
    exit_code: i32,
}

impl Status {
    fn raw(self) -> SERVICE_STATUS {
        let accepted = if self.state == SERVICE_RUNNING {
            SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PRESHUTDOWN
        } else {
            // Stopping: one stop is enough.
            0
        };
        let (win32, specific) = match self.exit_code {
            0 => (NO_ERROR, 0),
            code => (ERROR_SERVICE_SPECIFIC_ERROR, code as u32),
        };
        SERVICE_STATUS {
            dwServiceType: SERVICE_WIN32_OWN_PROCESS,
            dwCurrentState: self.state,
            dwControlsAccepted: accepted,
            dwWin32ExitCode: win32,
            dwServiceSpecificExitCode: specific,
            dwCheckPoint: self.checkpoint,
            dwWaitHint: u32::try_from(self.wait_hint.as_millis()).unwrap_or(u32::MAX),
        }
    }
}

/// The warning for a timeout longer than the preshutdown timeout, if it is.
fn budget_warning(name: &str, timeout: Duration, preshutdown: Duration) -> Option<String> {
    (timeout > preshutdown).then(|| {
        format!(
            "the timeout ({}) is longer than the preshutdown timeout of the service {name} ({}): \
             at the machine's shutdown, Windows ends the process after {}. Raise it (the \
             service's PreshutdownTimeout value in the registry, in milliseconds, or \
             ChangeServiceConfig2W with SERVICE_CONFIG_PRESHUTDOWN_INFO) or shorten the timeout",
            duration::display(timeout),
            duration::display(preshutdown),
            duration::display(preshutdown),
        )
    })
}

/// The service's entry, called by the SCM on the dispatcher's thread.
extern "system" fn service_main(argc: u32, argv: *mut PWSTR) {
    let name = service_name(argc, argv);
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the
    // call (the SCM copies it); `control` has the signature of
    // LPHANDLER_FUNCTION_EX and uses no context, so the null context is
    // never read.
    #[allow(unsafe_code)]
    let handle =
        unsafe { RegisterServiceCtrlHandlerExW(name.as_ptr(), Some(control), std::ptr::null()) };
    if handle.is_null() {
        log::warning!(
            "cannot register with the Windows SCM: {}",
            io::Error::last_os_error()
        );
        return;
    }
    let service = SERVICE.get_or_init(|| Service {
        name: String::from_utf16_lossy(&name[..name.len() - 1]),
        handle: handle as usize,
        checkpoint: AtomicU32::new(0),
        preshutdown_timeout: query_preshutdown_timeout(&name)
            .unwrap_or(DEFAULT_PRESHUTDOWN_TIMEOUT),
    });
    service.set(Status {
        state: SERVICE_RUNNING,
        wait_hint: Duration::ZERO,
        checkpoint: 0,
        exit_code: 0,
    });
    if let Some(&timeout) = TIMEOUT.get() {
        service.check_budget(timeout);
    }
    // Returning ends this thread's part: the SCM goes on calling `control`
    // on the dispatcher's thread.
}

/// The service's name, `argv[0]`, NUL-terminated.
fn service_name(argc: u32, argv: *mut PWSTR) -> Vec<u16> {
    let mut name = Vec::new();
    if argc >= 1 && !argv.is_null() {
        // SAFETY: the SCM passes `argc` (here at least 1) pointers in
        // `argv`, the first the service's name, each a NUL-terminated
        // UTF-16 string that lives for the call of `service_main`; the
        // loop reads up to and excluding that NUL, then stops.
        #[allow(unsafe_code)]
        unsafe {
            let first = *argv;
            if !first.is_null() {
                let mut at = first;
                while *at != 0 {
                    name.push(*at);
                    at = at.add(1);
                }
            }
        }
    }
    name.push(0);
    name
}

/// The SCM's control handler: `STOP`, `SHUTDOWN` and `PRESHUTDOWN` start
/// the shutdown; `INTERROGATE` is answered with the last status reported.
extern "system" fn control(
    control: u32,
    _event_type: u32,
    _event_data: *mut c_void,
    _context: *mut c_void,
) -> u32 {
    let signal = match control {
        SERVICE_CONTROL_STOP => Signal::ServiceStop,
        SERVICE_CONTROL_SHUTDOWN => Signal::ServiceShutdown,
        SERVICE_CONTROL_PRESHUTDOWN => Signal::ServicePreshutdown,
        SERVICE_CONTROL_INTERROGATE => return NO_ERROR,
        _ => return ERROR_CALL_NOT_IMPLEMENTED,
    };
    let received = {
        let mut route = lock(&ROUTE);
        match &mut *route {
            Route::Waiting(waiting) => {
                waiting.push(signal);
                None
            }
            Route::To(received) => Some(Arc::clone(received)),
        }
    };
    if let Some(received) = received {
        received(signal);
    }
    NO_ERROR
}

/// The service's preshutdown timeout, as the SCM has it.
fn query_preshutdown_timeout(name: &[u16]) -> Option<Duration> {
    let mut info = SERVICE_PRESHUTDOWN_INFO {
        dwPreshutdownTimeout: 0,
    };
    let mut needed = 0u32;
    // SAFETY: every handle opened here is checked for null before use and
    // closed once, on every path; `name` is NUL-terminated; `info` is a
    // live SERVICE_PRESHUTDOWN_INFO, and the size passed is its own, so
    // QueryServiceConfig2W writes within it.
    #[allow(unsafe_code)]
    let queried = unsafe {
        let manager = OpenSCManagerW(std::ptr::null(), std::ptr::null(), SC_MANAGER_CONNECT);
        if manager.is_null() {
            return None;
        }
        let service = OpenServiceW(manager, name.as_ptr(), SERVICE_QUERY_CONFIG);
        let queried = !service.is_null()
            && QueryServiceConfig2W(
                service,
                SERVICE_CONFIG_PRESHUTDOWN_INFO,
                (&raw mut info).cast::<u8>(),
                size_of::<SERVICE_PRESHUTDOWN_INFO>() as u32,
                &mut needed,
            ) != 0;
        if !service.is_null() {
            CloseServiceHandle(service);
        }
        CloseServiceHandle(manager);
        queried
    };
    queried.then(|| Duration::from_millis(info.dwPreshutdownTimeout.into()))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_console_program_starts_at_once_and_is_no_service() {
        let start = std::time::Instant::now();
        connect(Duration::from_secs(5));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert!(service().is_none());
        assert_eq!(preshutdown_timeout(), None);
    }

    #[test]
    fn the_status_accepts_the_three_stops_while_running_and_none_while_stopping() {
        let running = Status {
            state: SERVICE_RUNNING,
            wait_hint: Duration::ZERO,
            checkpoint: 0,
            exit_code: 0,
        }
        .raw();
        assert_eq!(
            running.dwControlsAccepted,
            SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PRESHUTDOWN
        );
        let stopping = Status {
            state: SERVICE_STOP_PENDING,
            wait_hint: Duration::from_millis(4_500),
            checkpoint: 3,
            exit_code: 0,
        }
        .raw();
        assert_eq!(stopping.dwControlsAccepted, 0);
        assert_eq!((stopping.dwCheckPoint, stopping.dwWaitHint), (3, 4_500));
    }

    #[test]
    fn a_failed_exit_is_a_service_specific_error_with_the_code() {
        let stopped = |exit_code| {
            let raw = Status {
                state: SERVICE_STOPPED,
                wait_hint: Duration::ZERO,
                checkpoint: 0,
                exit_code,
            }
            .raw();
            (raw.dwWin32ExitCode, raw.dwServiceSpecificExitCode)
        };
        assert_eq!(stopped(0), (NO_ERROR, 0));
        assert_eq!(stopped(124), (ERROR_SERVICE_SPECIFIC_ERROR, 124));
    }

    #[test]
    fn a_timeout_past_the_preshutdown_timeout_is_warned_about() {
        let ten = Duration::from_secs(10);
        assert_eq!(budget_warning("api", ten, ten), None);
        let warning = budget_warning("api", Duration::from_secs(30), ten).unwrap();
        assert!(warning.contains("the timeout (30s)"), "{warning}");
        assert!(warning.contains("the service api (10s)"), "{warning}");
        assert!(warning.contains("PreshutdownTimeout"), "{warning}");
    }

    #[test]
    fn controls_before_the_route_are_delivered_when_it_is_set() {
        assert_eq!(
            control(
                SERVICE_CONTROL_INTERROGATE,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut()
            ),
            NO_ERROR
        );
        assert_eq!(
            control(
                SERVICE_CONTROL_STOP,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut()
            ),
            NO_ERROR
        );
        assert_eq!(
            control(0x80, 0, std::ptr::null_mut(), std::ptr::null_mut()),
            ERROR_CALL_NOT_IMPLEMENTED
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&seen);
        route(Arc::new(move |signal| lock(&into).push(signal)));
        control(
            SERVICE_CONTROL_PRESHUTDOWN,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        assert_eq!(
            *lock(&seen),
            [Signal::ServiceStop, Signal::ServicePreshutdown]
        );
    }
}
