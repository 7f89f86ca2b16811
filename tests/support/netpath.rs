//! A network path with latency: the server runs in a network namespace of
//! the test's own, and the test reaches it through two TUN devices joined
//! by a delay line in user space (`tests/python/delay_line.py`) that holds
//! every packet `delay` each way. This kernel has no `netem`; the delay
//! line keeps TCP's own timing (a FIN or a reset arrives `delay` after it
//! was sent), which a proxy would not.
//!
//! Needs root (network namespaces, TUN devices) and Python 3; a missing
//! one fails the test with a message that says so. Everything made is
//! removed on drop, also when the test fails; the delay line also ends
//! when the test process does (it reads the test's pipe until it closes).

use std::io::{BufRead as _, BufReader};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A path to a namespace of the test's, `delay` each way.
pub struct NetPath {
    namespace: String,
    outside: String,
    delay_line: Child,
    /// The address the server binds in the namespace.
    pub server: Ipv4Addr,
}

/// Runs `ip` with `args`, failing the test if it fails.
fn ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run `ip` (iproute2): {error}"));
    assert!(
        output.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl NetPath {
    pub fn new(delay: Duration) -> NetPath {
        // /proc/self belongs to the process's effective user.
        let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap());
        assert!(
            uid == 0,
            "a network path with latency needs root (network namespaces and TUN devices)"
        );
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // A /30 of 198.18.0.0/15 (set aside for benchmarks) per path: from
        // this process's pid and a count, so concurrent tests differ.
        let index = (std::process::id() % 4096) * 8 + NEXT.fetch_add(1, Ordering::Relaxed) % 8;
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + index * 4;
        let (outside_ip, server) = (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2));
        let namespace = format!("graceful-{index}");
        let outside = format!("gfo{index}");
        let inside = format!("gfi{index}");
        // Left over from a run that was killed.
        let _ = Command::new("ip")
            .args(["netns", "del", &namespace])
            .output();
        let script = super::python::script_path("delay_line.py");
        let millis = format!("{}", delay.as_secs_f64() * 1000.0);
        let mut delay_line = Command::new(super::python::python3())
            .arg(&script)
            .args([&outside, &inside, &millis])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run python3 {}: {error}", script.display()));
        let mut ready = String::new();
        BufReader::new(delay_line.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready", "the delay line did not start");
        let path = NetPath {
            namespace,
            outside,
            delay_line,
            server,
        };
        let (namespace, outside) = (path.namespace.as_str(), path.outside.as_str());
        ip(&["netns", "add", namespace]);
        ip(&["link", "set", &inside, "netns", namespace]);
        ip(&["addr", "add", &format!("{outside_ip}/30"), "dev", outside]);
        ip(&["link", "set", outside, "up"]);
        ip(&[
            "-n",
            namespace,
            "addr",
            "add",
            &format!("{server}/30"),
            "dev",
            &inside,
        ]);
        ip(&["-n", namespace, "link", "set", &inside, "up"]);
        ip(&["-n", namespace, "link", "set", "lo", "up"]);
        path
    }

    /// A TCP counter of the namespace's kernel (`/proc/net/netstat`'s
    /// `TcpExt` line), such as `TCPAbortOnClose`: the connections it reset
    /// because they were closed with bytes unread.
    pub fn tcp_counter(&self, name: &str) -> u64 {
        self.tcp_counters(&[name])[0]
    }

    /// [`tcp_counter`](Self::tcp_counter) for each of `names`, read at once.
    pub fn tcp_counters(&self, names: &[&str]) -> Vec<u64> {
        let output = Command::new("ip")
            .args(["netns", "exec", &self.namespace, "cat", "/proc/net/netstat"])
            .output()
            .expect("ip netns exec cat /proc/net/netstat");
        let text = String::from_utf8_lossy(&output.stdout);
        let mut rows = text
            .lines()
            .filter(|line| line.starts_with("TcpExt:"))
            .map(|line| line.split_whitespace().skip(1));
        let (Some(fields), Some(values)) = (rows.next(), rows.next()) else {
            panic!("no TcpExt rows in the namespace's /proc/net/netstat: {text}");
        };
        let counters: Vec<(&str, &str)> = fields.zip(values).collect();
        names
            .iter()
            .map(|name| {
                counters
                    .iter()
                    .find(|(field, _)| field == name)
                    .and_then(|(_, value)| value.parse().ok())
                    .unwrap_or_else(|| panic!("no TcpExt counter {name}: {text}"))
            })
            .collect()
    }

    /// A command that runs `program` in the namespace (`ip netns exec`
    /// execs it: the process is the program, for signals and `wait`).
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.namespace])
            .arg(program);
        command
    }
}

impl Drop for NetPath {
    fn drop(&mut self) {
        // Ends the delay line (its stdin closes), which removes both TUN
        // devices; then the namespace.
        drop(self.delay_line.stdin.take());
        let _ = self.delay_line.kill();
        let _ = self.delay_line.wait();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.outside])
            .output();
    }
}
