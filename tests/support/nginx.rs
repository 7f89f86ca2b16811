//! nginx (Debian's package) as a test's child process: found on the
//! machine, or installed when it is missing (a test fails, never skips,
//! when it cannot be had), started in the
//! foreground on a configuration the test writes, and stopped when dropped.

use std::collections::BTreeSet;
use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::BuildHasher;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::Signal;

/// How long nginx may take to accept on its port.
const START_BOUND: Duration = Duration::from_secs(10);
/// How long nginx may take to exit after SIGTERM (its fast shutdown).
const STOP_BOUND: Duration = Duration::from_secs(5);

/// The nginx executable: on `PATH`, or where Debian puts it (`/usr/sbin`
/// is not on every user's `PATH`). When there is none, installs Debian's
/// package (as root, with apt-get: the machine this project is tested on
/// reaches Debian's registry), once per test process, so the README's test
/// command needs nothing installed by hand. Fails the test, saying what to
/// do, when it cannot.
pub fn executable() -> PathBuf {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if let Some(found) = find() {
        return found;
    }
    INSTALLED
        .get_or_init(|| {
            super::cache::apt_install(&["nginx"], "nginx is not installed")?;
            find().ok_or_else(|| {
                "apt-get installed nginx, but no nginx executable is on PATH or in /usr/sbin"
                    .to_owned()
            })
        })
        .clone()
        .unwrap_or_else(|why| panic!("nginx is needed by this test and is not installed: {why}"))
}

fn find() -> Option<PathBuf> {
    super::cache::find("nginx", &["/usr/sbin"])
}

/// A free loopback port below the kernel's ephemeral range, for a server
/// that binds it later: no outgoing connection can be given it by the
/// kernel in the meantime, as it could a port picked with `bind(0)`. Never
/// the same port twice in one test process.
pub fn reserve_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let (ephemeral_low, _) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut bounds = text.split_whitespace().map(str::parse::<u16>);
            Some((bounds.next()?.ok()?, bounds.next()?.ok()?))
        })
        .unwrap_or((32768, 60999));
    let low = ephemeral_low.saturating_sub(20_000).max(10_000);
    assert!(
        low + 100 < ephemeral_low,
        "the ephemeral port range starts at {ephemeral_low}: no room below it"
    );
    let random = RandomState::new();
    for attempt in 0u64..200 {
        let port = low + (random.hash_one(attempt) % u64::from(ephemeral_low - low)) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
    panic!("no free port in 127.0.0.1:{low}..{ephemeral_low} after 200 tries");
}

/// nginx running in the foreground (`daemon off`) as this test's child, in
/// a process group of its own. Dropping it stops it (SIGTERM, then SIGKILL
/// to the group past [`STOP_BOUND`]).
pub struct Nginx {
    child: Option<Child>,
    /// Where it accepts.
    pub address: SocketAddr,
    /// Its prefix: configuration, error log, pid file, temp paths.
    pub dir: PathBuf,
}

impl Nginx {
    /// Writes `config` to `dir/nginx.conf`, starts nginx on it and waits
    /// until `127.0.0.1:port` (where the configuration listens) accepts.
    pub fn start(dir: &Path, config: &str, port: u16) -> Nginx {
        let nginx = executable();
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config).expect("cannot write the nginx configuration");
        let output = File::create(dir.join("nginx.out")).unwrap();
        let child = Command::new(&nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            // Messages before the configuration's own error_log is open.
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", nginx.display()));
        let mut started = Nginx {
            child: Some(child),
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            dir: dir.to_owned(),
        };
        started.wait_accepting();
        started
    }

    fn wait_accepting(&mut self) {
        let until = Instant::now() + START_BOUND;
        loop {
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_ok() {
                return;
            }
            let child = self.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                panic!(
                    "nginx exited ({status}) before accepting on {}:\n{}\n{}",
                    self.address,
                    self.output(),
                    self.error_log()
                );
            }
            if Instant::now() >= until {
                panic!(
                    "nginx did not accept on {} within {START_BOUND:?}:\n{}\n{}",
                    self.address,
                    self.output(),
                    self.error_log()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// What nginx wrote to its error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("nginx.out")).unwrap_or_default()
    }

    /// Stops nginx (fast shutdown: the master stops its worker, then
    /// exits), at most [`STOP_BOUND`]; past that, kills its process group.
    pub fn stop(&mut self) {
        let Some(child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        super::reap_or_kill_group(child, STOP_BOUND);
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}
