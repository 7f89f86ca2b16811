//! Stopping accepting without resetting a connection whose handshake is
//! under way.
//!
//! Closing a listening socket drops the connections the kernel has
//! answered (SYN-ACK) whose client's ACK has not arrived yet: that ACK,
//! and the request the client sent right behind it, are then answered
//! with a reset, and the request is lost. On loopback the window is a few
//! microseconds; across a path of 10 ms each way it is 20 ms, and under a
//! lame duck (every response says `Connection: close`, so clients
//! reconnect all the time) 1 to 3 of 16 clients lost a request that way.
//!
//! Closing it also resets the connections whose handshake is complete but
//! which are not yet accepted: queued in the kernel. Taking the backlog
//! through tokio does not see them all: tokio's accept answers from the
//! readiness its reactor last saw, and a connection queued since then
//! (the reactor runs between tasks, later still on a loaded machine)
//! waits for the reactor's next turn.
//!
//! So, on Linux and for a [`tokio::net::TcpListener`]: a socket filter
//! first drops new SYNs (their clients send them again after a second,
//! find the port closed, and are refused: nothing was sent, so a client
//! retries elsewhere); the connections not yet accepted, asked of the
//! kernel through netlink's `sock_diag` (or read in `/proc/net/tcp` where
//! that fails): the handshakes under way (`SYN_RECV`) and the listener's
//! queue, complete and are accepted, for at most [`HANDSHAKE_BOUND`];
//! then the listener closes, with the filter still on: a SYN that came
//! between the filter's removal and the close would be answered and then
//! reset (5 to 7 of 16 clients under a lame duck when 50 ms were put
//! between the two, and 1 of 16 in 1 of 3 runs of the bench with nothing
//! between them). Under socket activation (and in an upgrade's new
//! process, whose sockets may be systemd's too) the filter is removed
//! first, since the socket systemd also holds must take connections for
//! the next instance. Other listeners close at once, as before. Not
//! after an upgrade: the socket then lives on in the new process, whose
//! connections a filter would stop.

use std::time::Duration;

/// How long the listener waits for handshakes under way to complete, and
/// for its queue to be accepted, before it closes: longer than a round
/// trip on any network a server is reached through, short enough that a
/// client that never completes its handshake (a port scan) costs the
/// drain little.
pub(super) const HANDSHAKE_BOUND: Duration = Duration::from_millis(250);

/// How often the connections not yet accepted are looked at. A look asks
/// the kernel (netlink's `sock_diag`) for the sockets in `SYN_RECV` and
/// `LISTEN`, and the kernel walks every bucket of its TCP hash table to
/// answer, however few sockets there are: 2.6 ms a family on this
/// project's 24 GiB test machine (262,144 buckets). Looking more often
/// would keep a core busy. The wait also lets tokio's reactor see what
/// the kernel has queued.
pub(super) const HANDSHAKE_POLL: Duration = Duration::from_millis(10);

/// A listener that no longer takes new connections (its SYNs are
/// dropped), whose connections not yet accepted can be waited for.
pub(super) struct Refusing {
    port: u16,
    /// The address families its handshakes show in: an IPv4 listener's in
    /// IPv4 only; an IPv6 one's in IPv6, and in IPv4 for the IPv4 clients
    /// of a dual-stack socket.
    families: &'static [Family],
}

/// An address family, as the kernel's tables of TCP sockets split them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    /// The `/proc` table of this family's TCP sockets.
    fn table(self) -> &'static str {
        match self {
            Family::V4 => "/proc/net/tcp",
            Family::V6 => "/proc/net/tcp6",
        }
    }
}

impl Refusing {
    /// Readies the listener to be closed. Under socket activation, the
    /// filter is removed: the socket takes new connections again, for
    /// whoever else holds it (systemd, for the next instance), once this
    /// process has closed its descriptor; a SYN that arrives between the
    /// two is answered and then reset with the listener. Otherwise this
    /// process is the socket's only holder, and the filter stays on until
    /// the close: nothing gets in between.
    pub(super) fn before_close<L: 'static>(self, listener: &L) {
        if socket_activated() {
            self.detach(listener);
        }
    }

    /// Removes the filter: the socket takes new connections again.
    fn detach<L: 'static>(self, listener: &L) {
        let tcp = (listener as &dyn std::any::Any).downcast_ref::<tokio::net::TcpListener>();
        if let Some(Err(error)) = tcp.map(filter::detach) {
            tracing::debug!(target: "graceful::http", "cannot remove the listener's filter: {error}");
        }
    }
}

/// Whether this process was started by socket activation (systemd, or a
/// tool that speaks its protocol, such as `systemfd`), whose manager keeps
/// the listening sockets it passed for the next instance: `LISTEN_FDS` in
/// the environment the process started with (`/proc/self/environ`), which
/// still holds it after a library has taken the sockets and removed the
/// variable. An upgrade's new process counts too (`GRACEFUL_LISTEN_FDS`):
/// its sockets may be systemd's as well. Unreadable, the answer is yes: a
/// filter left on a socket another process holds would stop its
/// connections.
fn socket_activated() -> bool {
    static ACTIVATED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ACTIVATED.get_or_init(|| {
        std::fs::read("/proc/self/environ").map_or(true, |environ| activated_in(&environ))
    })
}

/// The variables that pass listening sockets to a process: systemd's,
/// and graceful-rt's own for an upgrade (`process::passed`).
const PASSED_SOCKETS: [&str; 2] = ["LISTEN_FDS", "GRACEFUL_LISTEN_FDS"];

/// Whether an environment block (`NAME=value`, each ended by a NUL) sets
/// one of [`PASSED_SOCKETS`].
fn activated_in(environ: &[u8]) -> bool {
    environ.split(|&byte| byte == 0).any(|variable| {
        PASSED_SOCKETS.iter().any(|name| {
            variable.len() > name.len()
                && variable.starts_with(name.as_bytes())
                && variable[name.len()] == b'='
        })
    })
}

/// Drops new SYNs to `listener` from now on, if it is a TCP listener on
/// Linux; `None` (nothing done) otherwise, or if the filter could not be
/// attached.
pub(super) fn refuse_new<L: 'static>(listener: &L) -> Option<Refusing> {
    let tcp = (listener as &dyn std::any::Any).downcast_ref::<tokio::net::TcpListener>()?;
    let local = tcp.local_addr().ok()?;
    let families: &'static [Family] = if local.is_ipv4() {
        &[Family::V4]
    } else {
        &[Family::V6, Family::V4]
    };
    match filter::drop_syns(tcp) {
        Ok(()) => Some(Refusing {
            port: local.port(),
            families,
        }),
        Err(error) => {
            tracing::debug!(
                target: "graceful::http",
                "cannot stop new connections before closing the listener ({error}): it closes at once"
            );
            None
        }
    }
}

impl Refusing {
    /// Whether a connection to the listener is not yet accepted: half-way
    /// through its handshake (`SYN_RECV`), or complete and queued on the
    /// listener.
    pub(super) fn not_yet_accepted(&self) -> bool {
        self.families
            .iter()
            .any(|&family| not_yet_accepted(family, self.port))
    }
}

/// Whether a TCP socket of `family` with local port `port` is in
/// `SYN_RECV`, or listens with connections queued: asked of the kernel
/// through netlink, which sends back only the sockets in those states;
/// read in `/proc` (every socket of the family, formatted as text: about
/// 87 ms with 20,000 sockets here) where netlink fails.
fn not_yet_accepted(family: Family, port: u16) -> bool {
    match diag::pending_ports(family) {
        Ok(ports) => ports.contains(&port),
        Err(error) => {
            tracing::debug!(target: "graceful::http", "sock_diag failed ({error}): reading {}", family.table());
            std::fs::read_to_string(family.table()).is_ok_and(|table| pending_on(&table, port))
        }
    }
}

/// Whether a `/proc/net/tcp` table has an entry whose local port is
/// `port`, in state `SYN_RECV` (03), or `LISTEN` (0A) with connections
/// queued (for a listener, `rx_queue` is the length of its queue).
fn pending_on(table: &str, port: u16) -> bool {
    table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1);
        let state = fields.nth(1);
        let queued = fields
            .next()
            .and_then(|queues| queues.split_once(':'))
            .and_then(|(_, rx)| u32::from_str_radix(rx, 16).ok());
        let local_port = local
            .and_then(|local| local.rsplit_once(':'))
            .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok());
        local_port == Some(port)
            && (state == Some("03") || (state == Some("0A") && queued.is_some_and(|n| n > 0)))
    })
}

/// Netlink's `sock_diag` (`inet_diag`): the local ports of the TCP sockets
/// in `SYN_RECV`, and of the listeners with connections queued, asked of
/// the kernel in binary, without `unsafe` (a netlink socket through
/// socket2, written and read as bytes).
#[cfg(target_os = "linux")]
mod diag {
    use std::io::{self, Read as _};

    use socket2::{Domain, Protocol, Socket, Type};

    use super::Family;

    const NETLINK_SOCK_DIAG: i32 = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    /// `TCP_SYN_RECV`, and `TCP_NEW_SYN_RECV`, the state the kernel keeps
    /// a handshake under way in since Linux 4.4.
    const SYN_RECV_STATES: u32 = (1 << 3) | (1 << 12);
    /// `TCP_LISTEN`.
    const LISTEN: u8 = 10;
    /// Asked in this order: the handshakes under way (a walk of the whole
    /// TCP hash, milliseconds), then the listeners' queues. A handshake
    /// that completes during the walk, before the walk reaches it, is then
    /// in its listener's queue; asked the other way round, or in one
    /// dump (which reads the listeners first), it would be in neither.
    const ASKED: [u32; 2] = [SYN_RECV_STATES, 1 << LISTEN];
    const IPPROTO_TCP: u8 = 6;
    /// `struct nlmsghdr`.
    const HEADER: usize = 16;
    /// `struct inet_diag_req_v2`.
    const REQUEST: usize = 56;
    /// Where `idiag_state` lies in `struct inet_diag_msg`.
    const STATE: usize = 1;
    /// Where `idiag_sport` (big-endian) lies in `struct inet_diag_msg`.
    const SPORT: usize = 4;
    /// Where `idiag_rqueue` lies in `struct inet_diag_msg`: for a
    /// listener, the length of its queue of connections to accept.
    const RQUEUE: usize = 56;

    /// The local ports of `family`'s TCP sockets in `SYN_RECV`, and of its
    /// listeners with connections queued.
    pub(super) fn pending_ports(family: Family) -> io::Result<Vec<u16>> {
        // One socket for both dumps: each is read to its end before the
        // next is asked.
        let socket = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::RAW.cloexec(),
            Some(Protocol::from(NETLINK_SOCK_DIAG)),
        )?;
        let mut ports = Vec::new();
        for states in ASKED {
            ports.extend(ports_in(&socket, family, states)?);
        }
        Ok(ports)
    }

    /// The local ports of `family`'s TCP sockets in `states` that are
    /// [`pending`], dumped through `socket`.
    fn ports_in(socket: &Socket, family: Family, states: u32) -> io::Result<Vec<u16>> {
        socket.send(&request(family, states))?;
        let mut ports = Vec::new();
        let mut buffer = vec![0u8; 32 * 1024];
        let mut reader = socket;
        loop {
            let read = reader.read(&mut buffer)?;
            if read == 0 {
                return Ok(ports);
            }
            let mut messages = &buffer[..read];
            while messages.len() >= HEADER {
                let length = u32::from_ne_bytes(messages[0..4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(messages[4..6].try_into().unwrap());
                if length < HEADER || length > messages.len() {
                    return Err(io::Error::other("a truncated netlink message"));
                }
                match kind {
                    NLMSG_DONE => return Ok(ports),
                    NLMSG_ERROR => {
                        let code = messages
                            .get(HEADER..HEADER + 4)
                            .map_or(0, |code| i32::from_ne_bytes(code.try_into().unwrap()));
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    _ => {
                        if let Some(port) = pending(&messages[HEADER..length]) {
                            ports.push(port);
                        }
                    }
                }
                // Messages are aligned to 4 bytes.
                let next = length.div_ceil(4) * 4;
                messages = messages.get(next..).unwrap_or_default();
            }
        }
    }

    /// The local port of the socket an `inet_diag_msg` describes, if it
    /// is in `SYN_RECV`, or listens with connections queued.
    fn pending(message: &[u8]) -> Option<u16> {
        let state = *message.get(STATE)?;
        let port = message.get(SPORT..SPORT + 2)?;
        let port = u16::from_be_bytes([port[0], port[1]]);
        if state != LISTEN {
            return Some(port);
        }
        let queued = message.get(RQUEUE..RQUEUE + 4)?;
        (u32::from_ne_bytes(queued.try_into().unwrap()) > 0).then_some(port)
    }

    /// A dump request for `family`'s TCP sockets in `states` (a bit a
    /// state, `1 << state`).
    fn request(family: Family, states: u32) -> Vec<u8> {
        let mut message = Vec::with_capacity(HEADER + REQUEST);
        message.extend_from_slice(&((HEADER + REQUEST) as u32).to_ne_bytes());
        message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        message.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        message.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        message.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        let family = match family {
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        };
        message.push(family as u8);
        message.push(IPPROTO_TCP);
        message.push(0); // no extensions
        message.push(0); // padding
        message.extend_from_slice(&states.to_ne_bytes());
        // The socket id (ports, addresses, interface, cookie): zero, for
        // a dump of every socket in those states.
        message.resize(HEADER + REQUEST, 0);
        message
    }
}

#[cfg(not(target_os = "linux"))]
mod diag {
    pub(super) fn pending_ports(_: super::Family) -> std::io::Result<Vec<u16>> {
        Err(std::io::Error::other("needs Linux"))
    }
}

#[cfg(target_os = "linux")]
mod filter {
    use std::io;
    use std::os::fd::AsRawFd;

    /// `SO_ATTACH_FILTER` and `SO_DETACH_FILTER`: the same on every Linux
    /// architecture Rust builds for (generic, MIPS, SPARC, PowerPC; only
    /// PA-RISC differs), and not exported by libc for glibc targets.
    const SO_ATTACH_FILTER: libc::c_int = 26;
    const SO_DETACH_FILTER: libc::c_int = 27;

    /// Attaches a classic BPF filter that drops every segment with SYN set
    /// and ACK clear (a new connection), and keeps the rest: the ACKs that
    /// complete a handshake under way, and the data behind them. A socket
    /// filter on a TCP socket sees the segment from its TCP header, whose
    /// byte 13 holds the flags.
    pub(super) fn drop_syns(listener: &tokio::net::TcpListener) -> io::Result<()> {
        let mut program = [
            // ldb [13]: the flags.
            libc::sock_filter {
                code: 0x30,
                jt: 0,
                jf: 0,
                k: 13,
            },
            // and #0x12: SYN and ACK.
            libc::sock_filter {
                code: 0x54,
                jt: 0,
                jf: 0,
                k: 0x12,
            },
            // jeq #0x02: SYN alone? then the next (drop), else skip it.
            libc::sock_filter {
                code: 0x15,
                jt: 0,
                jf: 1,
                k: 0x02,
            },
            // ret #0: drop.
            libc::sock_filter {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0,
            },
            // ret #0xffffffff: keep all of it.
            libc::sock_filter {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: u32::MAX,
            },
        ];
        let fprog = libc::sock_fprog {
            len: program.len() as libc::c_ushort,
            filter: program.as_mut_ptr(),
        };
        // SAFETY: `fprog.filter` points to `program`, `fprog.len`
        // instructions long, on this frame until the call returns; the
        // kernel copies the program before it does.
        #[allow(unsafe_code)]
        unsafe {
            set_socket_option(listener, SO_ATTACH_FILTER, &fprog)
        }
    }

    /// Drops every segment `socket` is sent: a client that never answers
    /// a SYN-ACK, for the tests, whose server then holds its handshake in
    /// `SYN_RECV`.
    #[cfg(test)]
    pub(super) fn drop_everything(socket: &impl AsRawFd) -> io::Result<()> {
        let mut program = [libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0,
        }];
        let fprog = libc::sock_fprog {
            len: 1,
            filter: program.as_mut_ptr(),
        };
        // SAFETY: as in `drop_syns`: `fprog.filter` points to `program`,
        // alive until the call returns, and the kernel copies it.
        #[allow(unsafe_code)]
        unsafe {
            set_socket_option(socket, SO_ATTACH_FILTER, &fprog)
        }
    }

    /// Removes the filter [`drop_syns`] attached.
    pub(super) fn detach(listener: &tokio::net::TcpListener) -> io::Result<()> {
        // SAFETY: a `c_int` holds no pointer (SO_DETACH_FILTER reads none).
        #[allow(unsafe_code)]
        unsafe {
            set_socket_option(listener, SO_DETACH_FILTER, &0 as &libc::c_int)
        }
    }

    /// `setsockopt(SOL_SOCKET, option, value)` on the listener.
    ///
    /// # Safety
    ///
    /// Every pointer inside `value` must be valid, for what `option` reads
    /// through it, until the call returns.
    #[allow(unsafe_code)]
    unsafe fn set_socket_option<T>(
        socket: &impl AsRawFd,
        option: libc::c_int,
        value: &T,
    ) -> io::Result<()> {
        // SAFETY: the descriptor is the socket's, open for the whole call
        // (borrowed from it); `value` is a live `T` and the length passed
        // is its size, so the kernel reads only that; the pointers in it
        // are the caller's to keep valid (see above).
        let result = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                std::ptr::from_ref(value).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if result == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod filter {
    pub(super) fn drop_syns(_: &tokio::net::TcpListener) -> std::io::Result<()> {
        Err(std::io::Error::other("needs Linux"))
    }

    pub(super) fn detach(_: &tokio::net::TcpListener) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 03 00000000:00000000 02:00000064 00000000     0        0 0 0 0000000000000000
   2: 0100007F:1F91 0100007F:D432 03 00000000:00000000 02:00000064 00000000     0        0 0 0 0000000000000000
";

    #[test]
    fn a_handshake_under_way_is_found_by_its_local_port() {
        assert!(pending_on(TABLE, 0x1F90));
        assert!(pending_on(TABLE, 0x1F91));
        assert!(!pending_on(TABLE, 0x1F92));
        assert!(!pending_on(&TABLE.replace(" 03 ", " 01 "), 0x1F90));
    }

    #[test]
    fn socket_activation_is_told_by_listen_fds_in_the_environment() {
        assert!(activated_in(b"PATH=/bin\0LISTEN_PID=7\0LISTEN_FDS=1\0"));
        assert!(activated_in(b"LISTEN_FDS=2"));
        assert!(!activated_in(b"PATH=/bin\0LISTEN_PID=7\0"));
        assert!(!activated_in(b"MY_LISTEN_FDS=1\0"));
        assert!(!activated_in(b"LISTEN_FDS_X=1\0"));
        assert!(!activated_in(b""));
        // An upgrade's new process: its sockets may be systemd's too.
        assert!(activated_in(b"GRACEFUL_LISTEN_FDS=3 4\0"));
        #[cfg(unix)]
        assert_eq!(PASSED_SOCKETS[1], crate::process::passed::LISTEN_FDS_VAR);
    }

    #[test]
    fn a_listener_with_connections_queued_is_found_by_its_port() {
        let quiet = TABLE.replace(" 03 ", " 01 ");
        assert!(!pending_on(&quiet, 0x1F90));
        let queued = quiet.replace(" 0A 00000000:00000000 ", " 0A 00000000:00000002 ");
        assert!(pending_on(&queued, 0x1F90));
        assert!(!pending_on(&queued, 0x1F91));
    }

    /// A client that never answers the SYN-ACK leaves its handshake in
    /// `SYN_RECV` on the server: netlink and `/proc` both find it, by the
    /// listener's port, and neither finds one on another port.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_handshake_under_way_is_found_through_netlink_and_proc() {
        use socket2::{Domain, SockAddr, Socket, Type};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(!not_yet_accepted(Family::V4, address.port()));
        let client = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        filter::drop_everything(&client).unwrap();
        client.set_nonblocking(true).unwrap();
        // In progress: the SYN is sent, and the SYN-ACK will be dropped.
        let _ = client.connect(&SockAddr::from(address));
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while !diag::pending_ports(Family::V4)
            .unwrap()
            .contains(&address.port())
        {
            assert!(
                std::time::Instant::now() < until,
                "no SYN_RECV through netlink"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(not_yet_accepted(Family::V4, address.port()));
        let table = std::fs::read_to_string(Family::V4.table()).unwrap();
        assert!(pending_on(&table, address.port()), "not in /proc/net/tcp");
        let other_port = other.local_addr().unwrap().port();
        assert!(!not_yet_accepted(Family::V4, other_port));
        assert!(diag::pending_ports(Family::V6).is_ok());
    }

    /// A connection whose handshake is complete waits in the listener's
    /// queue until it is accepted: netlink and `/proc` both find it there
    /// (closing the listener now would reset it), and once it is accepted
    /// neither does.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_connection_queued_on_the_listener_is_found_through_netlink_and_proc() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!not_yet_accepted(Family::V4, port));
        // On loopback, `connect` returns with the handshake complete.
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert!(
            diag::pending_ports(Family::V4).unwrap().contains(&port),
            "no queued connection through netlink"
        );
        let table = std::fs::read_to_string(Family::V4.table()).unwrap();
        assert!(pending_on(&table, port), "not in /proc/net/tcp");
        let _accepted = listener.accept().unwrap();
        assert!(!not_yet_accepted(Family::V4, port));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn new_connections_wait_and_the_connected_ones_are_kept() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let before = tokio::net::TcpStream::connect(address).await.unwrap();
        let refusing = refuse_new(&listener).expect("a filter on Linux");
        let after = tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(address),
        )
        .await;
        assert!(after.is_err(), "a new connection was accepted: {after:?}");
        let (mut accepted, _) = listener.accept().await.unwrap();
        // Detached, the listener takes new connections again.
        refusing.detach(&listener);
        let again = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(address),
        )
        .await;
        assert!(
            matches!(again, Ok(Ok(_))),
            "not accepted after the detach: {again:?}"
        );
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut before = before;
        before.write_all(b"still here").await.unwrap();
        let mut read = [0u8; 10];
        accepted.read_exact(&mut read).await.unwrap();
        assert_eq!(&read, b"still here");
    }
}
