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
//! So, on Linux and for a [`tokio::net::TcpListener`]: a socket filter
//! first drops new SYNs (their clients send them again after a second,
//! find the port closed, and are refused: nothing was sent, so a client
//! retries elsewhere); the handshakes under way (`SYN_RECV` in
//! `/proc/net/tcp`) complete and are accepted, for at most
//! [`HANDSHAKE_BOUND`]; then the filter is removed (a socket systemd also
//! holds takes connections for the next instance) and the listener
//! closes. Other listeners close at once, as before. Not after an upgrade:
//! the socket then lives on in the new process, whose connections a
//! filter would stop.

use std::time::Duration;

/// How long the listener waits for handshakes under way to complete
/// before it closes: longer than a round trip on any network a server is
/// reached through, short enough that a client that never completes its
/// handshake (a port scan) costs the drain little.
pub(super) const HANDSHAKE_BOUND: Duration = Duration::from_millis(250);

/// How often the handshakes under way are looked at. A look reads the
/// kernel's table of TCP sockets, and that walks every bucket of its hash
/// table, however few sockets there are: 5.5 ms a table on this project's
/// 24 GiB test machine (262,144 buckets). Looking more often would keep a
/// core busy.
pub(super) const HANDSHAKE_POLL: Duration = Duration::from_millis(10);

/// A listener that no longer takes new connections (its SYNs are
/// dropped), whose handshakes under way can be waited for.
pub(super) struct Refusing {
    port: u16,
    /// The tables its handshakes show in: an IPv4 listener's in
    /// `/proc/net/tcp` only; an IPv6 one's in `tcp6`, and in `tcp` for the
    /// IPv4 clients of a dual-stack socket.
    tables: &'static [&'static str],
}

impl Refusing {
    /// Removes the filter: the socket takes new connections again, for
    /// whoever else holds it (systemd, under socket activation), once this
    /// process has closed its descriptor.
    pub(super) fn detach<L: 'static>(self, listener: &L) {
        let tcp = (listener as &dyn std::any::Any).downcast_ref::<tokio::net::TcpListener>();
        if let Some(Err(error)) = tcp.map(filter::detach) {
            tracing::debug!(target: "graceful::http", "cannot remove the listener's filter: {error}");
        }
    }
}

/// Drops new SYNs to `listener` from now on, if it is a TCP listener on
/// Linux; `None` (nothing done) otherwise, or if the filter could not be
/// attached.
pub(super) fn refuse_new<L: 'static>(listener: &L) -> Option<Refusing> {
    let tcp = (listener as &dyn std::any::Any).downcast_ref::<tokio::net::TcpListener>()?;
    let local = tcp.local_addr().ok()?;
    let tables: &'static [&'static str] = if local.is_ipv4() {
        &["/proc/net/tcp"]
    } else {
        &["/proc/net/tcp6", "/proc/net/tcp"]
    };
    match filter::drop_syns(tcp) {
        Ok(()) => Some(Refusing {
            port: local.port(),
            tables,
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
    /// Whether a connection to the listener is half-way through its
    /// handshake (`SYN_RECV`).
    pub(super) fn handshakes_under_way(&self) -> bool {
        self.tables
            .iter()
            .filter_map(|table| std::fs::read_to_string(table).ok())
            .any(|table| syn_recv_on(&table, self.port))
    }
}

/// Whether a `/proc/net/tcp` table has an entry in state `SYN_RECV` (03)
/// whose local port is `port`.
fn syn_recv_on(table: &str, port: u16) -> bool {
    table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1);
        let state = fields.nth(1);
        let local_port = local
            .and_then(|local| local.rsplit_once(':'))
            .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok());
        state == Some("03") && local_port == Some(port)
    })
}

#[cfg(target_os = "linux")]
mod filter {
    use std::io;
    use std::os::fd::AsRawFd as _;

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
        listener: &tokio::net::TcpListener,
        option: libc::c_int,
        value: &T,
    ) -> io::Result<()> {
        // SAFETY: the descriptor is the listener's, open for the whole call
        // (borrowed from it); `value` is a live `T` and the length passed
        // is its size, so the kernel reads only that; the pointers in it
        // are the caller's to keep valid (see above).
        let result = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
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
        assert!(syn_recv_on(TABLE, 0x1F90));
        assert!(syn_recv_on(TABLE, 0x1F91));
        assert!(!syn_recv_on(TABLE, 0x1F92));
        assert!(!syn_recv_on(&TABLE.replace(" 03 ", " 01 "), 0x1F90));
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
