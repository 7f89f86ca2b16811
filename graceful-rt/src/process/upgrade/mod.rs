//! The upgrade by hand-off (Unix): the process starts its executable again,
//! hands it its listening sockets, waits until the new process says it is
//! ready, then drains and exits as on SIGTERM.
//!
//! The listening sockets are never closed while this happens: the new
//! process inherits them, so connections that arrive during the restart
//! wait in the kernel's accept queue, which both processes accept from
//! until the old one drains. Nothing is refused, and no connection is
//! reset by a listener closing under it.
//!
//! - **Started by** the upgrade signal (SIGUSR2 unless `#[graceful_main]`'s
//!   `upgrade` says otherwise) or [`Shutdown::upgrade`].
//! - **What runs** is the file now at the path this process was started
//!   from (`argv[0]` when it is an absolute path, so a symlink switched to a
//!   new release is followed; the resolved executable otherwise), with the
//!   same arguments and environment.
//! - **Ready** is [`Shutdown::ready`] in the new process. It must come
//!   within `GRACEFUL_UPGRADE_TIMEOUT` (default 30 s), or the new process is
//!   sent SIGTERM and this one goes on serving. So does a new process that
//!   exits before it is ready. Either way the log says why.
//! - **Not as PID 1:** a container ends when its first process exits, so
//!   there the upgrade is refused (and logged): restart the container.
//! - **One at a time:** an upgrade asked for during one is logged and
//!   ignored; so is one asked for once the shutdown has begun. A shutdown
//!   that begins during an upgrade ends it: the new process is sent SIGTERM.
//! - **Back to back:** once the new process is ready, it is in charge and
//!   can be upgraded in turn while this one still drains; each old process
//!   is bounded by its own deadline. Should the new process exit before
//!   this one, this one reaps it and logs its exit.
//!
//! [`Shutdown::upgrade`]: crate::Shutdown::upgrade
//! [`Shutdown::ready`]: crate::Shutdown::ready

mod handoff;
mod spawn;

use std::io::{self, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

#[cfg_attr(not(feature = "listen"), allow(unused_imports))]
pub(crate) use handoff::keep;

use crate::duration;
use crate::log;
use crate::process::passed;

/// What an upgrade needs of the shutdown, and nothing more (the shutdown
/// starts upgrades; this keeps the dependency one way).
pub(crate) trait Handover: Clone + Send + 'static {
    /// Whether the shutdown has begun.
    fn is_requested(&self) -> bool;
    /// The new process `new_process` is ready: begins the shutdown, with
    /// cause `Upgraded`. False if it had begun already.
    fn upgraded(&self, new_process: u32) -> bool;
    /// An upgrade starts (the service manager hears of a reload).
    fn reloading(&self);
    /// The upgrade failed, for `why`; this process goes on serving.
    fn upgrade_failed(&self, why: &str);
}

/// How often the wait for the new process looks at it and at the shutdown.
const POLL: Duration = Duration::from_millis(20);

/// How long a new process that was sent SIGTERM is waited for before it is
/// killed: it drains what it accepted in that time.
const STOP_BOUND: Duration = Duration::from_secs(30);

/// What an upgrade needs, recorded when the process starts.
struct Setup {
    /// The path to start: see the module documentation.
    executable: PathBuf,
    /// How long the new process has to be ready.
    ready_bound: Duration,
}

static SETUP: OnceLock<Setup> = OnceLock::new();

/// Set while an upgrade runs.
static UPGRADING: AtomicBool = AtomicBool::new(false);

/// Records what an upgrade needs, at the process's start (before main can
/// change the working directory, and before the file at the path can be
/// replaced).
pub(crate) fn prepare(ready_bound: Duration) {
    let argv0 = std::env::args_os().next().map(PathBuf::from);
    let executable = match argv0.filter(|path| path.is_absolute()) {
        Some(path) => Ok(path),
        None => std::env::current_exe(),
    };
    match executable {
        Ok(executable) => {
            let _ = SETUP.set(Setup {
                executable,
                ready_bound,
            });
        }
        Err(error) => log::warning!(
            "cannot find this process's executable ({error}): upgrades are not possible"
        ),
    }
    if let Some(from) = passed::predecessor() {
        log::info!("taking over from pid {from}: it drains once this process is ready");
    }
}

/// Starts an upgrade on a thread of its own, unless one runs or the
/// shutdown has begun.
pub(crate) fn start(shutdown: impl Handover) {
    if shutdown.is_requested() {
        log::info!("upgrade asked for while shutting down: not upgrading");
        return;
    }
    if std::process::id() == 1 {
        // A container's first process: its exit stops the container, the
        // new process with it.
        log::error!(
            "upgrade failed: this process is PID 1 (a container's first process), and the container \
             would stop when it exits after the hand-off, new process included; restart the \
             container instead; still serving"
        );
        return;
    }
    if UPGRADING.swap(true, Ordering::AcqRel) {
        log::warning!("upgrade asked for again: already upgrading, ignored");
        return;
    }
    shutdown.reloading();
    let upgrading = shutdown.clone();
    let spawned = thread::Builder::new()
        .name("graceful-upgrade".into())
        .spawn(move || {
            if let Err(why) = upgrade(&upgrading) {
                log::error!("upgrade failed: {why}; still serving");
                upgrading.upgrade_failed(&why);
            }
            UPGRADING.store(false, Ordering::Release);
        });
    if let Err(error) = spawned {
        UPGRADING.store(false, Ordering::Release);
        let why = format!("cannot start a thread for it ({error})");
        log::error!("upgrade failed: {why}; still serving");
        shutdown.upgrade_failed(&why);
    }
}

/// Runs an upgrade: `Ok` once it handed over, or once the shutdown ended
/// it; `Err` with why it failed, when this process goes on serving.
fn upgrade(shutdown: &impl Handover) -> Result<(), String> {
    let Some(setup) = SETUP.get() else {
        return Err("this process's executable is unknown".to_owned());
    };
    let executable = setup.executable.display();
    let started = handoff::with_listeners(|listeners| {
        let fds: Vec<_> = listeners.iter().map(|(fd, _)| *fd).collect();
        let names: Vec<_> = listeners.iter().map(|(_, what)| what.to_string()).collect();
        spawn::new_process(&setup.executable, &fds).map(|started| (started, names))
    });
    let ((child, channel), handed) = match started {
        None => {
            log::info!("upgrade asked for while shutting down: not upgrading");
            return Ok(());
        }
        Some(Err(error)) => return Err(format!("cannot start {executable}: {error}")),
        Some(Ok(started)) => started,
    };
    let pid = child.id();
    let handed = match handed.as_slice() {
        [] => "no listening socket".to_owned(),
        [one] => format!("the listening socket on {one}"),
        many => format!("{} listening sockets, {}", many.len(), many.join(", ")),
    };
    log::info!(
        "upgrading: started pid {pid}, waiting until it is ready (at most {}): {executable}, \
         handing over {handed}",
        duration::display(setup.ready_bound),
    );
    *new_process() = Some(child);
    let outcome = wait_ready(shutdown, channel, setup.ready_bound);
    // Taken out before the shutdown starts, so `shutdown_begun` leaves it.
    let child = new_process().take();
    let why = match outcome {
        Ok(()) if shutdown.upgraded(pid) => {
            if let Some(child) = child {
                reap_successor(child);
            }
            return Ok(());
        }
        Ok(()) => "was ready after the shutdown began".to_owned(),
        Err(why) => why,
    };
    match child {
        Some(child) if shutdown.is_requested() => {
            log::warning!("the shutdown ends the upgrade: pid {pid} {why}; it is sent SIGTERM");
            spawn::terminate(&child);
            Ok(())
        }
        Some(mut child) => {
            log::info!("pid {pid} {why}: stopping it (SIGTERM)");
            stop(&mut child);
            Err(format!("pid {pid} {why}"))
        }
        // Stopped by the shutdown, which has logged it.
        None if shutdown.is_requested() => Ok(()),
        // Reaped.
        None => Err(format!("pid {pid} {why}")),
    }
}

/// The new process is in charge and this one drains. Should the new one
/// exit first (upgraded again, or stopped, while this one still drains),
/// it is reaped and its exit logged, rather than left a zombie until this
/// one exits.
fn reap_successor(mut child: Child) {
    let pid = child.id();
    // Without the thread, the child is left to be reaped when this process
    // exits, as before.
    let _ = thread::Builder::new()
        .name("graceful-successor".into())
        .spawn(move || {
            if let Ok(status) = child.wait() {
                log::info!("pid {pid}, which took over from this process, has exited ({status})");
            }
        });
}

/// The new process while the upgrade waits for it: shared with
/// [`shutdown_begun`], which stops it.
fn new_process() -> MutexGuard<'static, Option<Child>> {
    static NEW_PROCESS: Mutex<Option<Child>> = Mutex::new(None);
    NEW_PROCESS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits until the new process says it is ready. The error says why it
/// will not be.
fn wait_ready(
    shutdown: &impl Handover,
    mut channel: UnixStream,
    bound: Duration,
) -> Result<(), String> {
    let started = Instant::now();
    channel
        .set_read_timeout(Some(POLL))
        .map_err(|error| format!("cannot be waited for ({error})"))?;
    loop {
        let mut byte = [0_u8; 1];
        match channel.read(&mut byte) {
            Ok(1..) => return Ok(()),
            // The new process closed its end without saying it is ready:
            // it has exited, or is about to.
            Ok(0) => return Err(exited(started + bound)),
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(error) => return Err(format!("cannot be waited for ({error})")),
        }
        if let Some(status) = reap() {
            return Err(format!("exited ({status}) before it was ready"));
        }
        if shutdown.is_requested() {
            return Err("was not ready when the shutdown began".to_owned());
        }
        if started.elapsed() >= bound {
            return Err(format!(
                "was not ready within {} (GRACEFUL_UPGRADE_TIMEOUT)",
                duration::display(bound)
            ));
        }
    }
}

/// The new process's exit status if it has exited (and is then reaped).
fn reap() -> Option<ExitStatus> {
    let mut new_process = new_process();
    let status = new_process.as_mut()?.try_wait().ok()??;
    *new_process = None;
    Some(status)
}

/// The new process ended the channel: wait (briefly) for its exit status.
fn exited(until: Instant) -> String {
    while Instant::now() < until {
        if let Some(status) = reap() {
            return format!("exited ({status}) before it was ready");
        }
        thread::sleep(POLL);
    }
    "closed the readiness channel without being ready".to_owned()
}

/// Sends `child` SIGTERM and reaps it, killing it if it outlives
/// [`STOP_BOUND`].
fn stop(child: &mut Child) {
    spawn::terminate(child);
    let until = Instant::now() + STOP_BOUND;
    while Instant::now() < until {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) => thread::sleep(POLL),
            Err(_) => return,
        }
    }
    log::warning!(
        "pid {} did not exit within {} of SIGTERM: killing it",
        child.id(),
        duration::display(STOP_BOUND)
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// The shutdown has begun: the kept listeners are closed, and a new
/// process an upgrade still waits for is sent SIGTERM (this process exits
/// without waiting for it; it drains what it accepted, on its own).
pub(crate) fn shutdown_begun() {
    handoff::release();
    if let Some(child) = new_process().take() {
        log::warning!(
            "the shutdown ends the upgrade: pid {} is sent SIGTERM",
            child.id()
        );
        spawn::terminate(&child);
    }
}

/// In a new process, once it is ready: closes the sockets handed over that
/// this process did not take, runs `before` (the PID file is rewritten),
/// then tells the process it upgrades, which drains. Does nothing in a
/// process that is not an upgrade's, or after the first call.
pub(crate) fn announce_ready(before: impl FnOnce()) {
    let Some((from, mut channel)) = passed::take_ready_channel() else {
        return;
    };
    for what in passed::close_untaken() {
        log::warning!("{what} was not taken by this process (one `listen` call each): closed");
    }
    before();
    match channel.write_all(b"R") {
        Ok(()) => log::info!("ready: pid {from} now drains and exits"),
        Err(error) => log::error!(
            "cannot tell pid {from} that this process is ready ({error}): it goes on serving"
        ),
    }
}
