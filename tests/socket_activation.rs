//! Socket activation, with systemd's own tool: `systemd-socket-activate`
//! binds the socket, and on the first connection runs examples/service
//! with it (`LISTEN_FDS`, the same process id). `graceful_rt::listen::tcp`
//! takes it: the connection that woke the service is served, and PORT is
//! not used. Then SIGTERM drains and exits as usual.
#![cfg(target_os = "linux")]

mod support;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::http;
use support::{Process, Signal};

const ANSWER: Duration = Duration::from_secs(30);

/// systemd's socket activation tool (Debian's package `systemd`).
fn socket_activate() -> PathBuf {
    let path = PathBuf::from("/usr/bin/systemd-socket-activate");
    assert!(
        path.exists(),
        "{} is missing: the socket activation test needs Debian's systemd package (apt-get install systemd)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_service_serves_on_the_socket_systemd_passed() {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let database = std::env::temp_dir().join(format!("graceful-activation-{port}"));
    let mut command = Command::new(socket_activate());
    command
        .arg(format!("--listen={address}"))
        .arg("--fdname=http")
        // Another port: were it bound instead, the request queued in the
        // passed socket would never be answered.
        .arg(format!("--setenv=PORT={}", free_port()))
        .arg(format!(
            "--setenv=DATABASE_PATH={}",
            database.join("items.db").display()
        ))
        .arg(support::binary("service"));
    let mut process = Process::start_command(command, &[]);
    process.wait_for_stderr(&format!("Listening on {address}"), ANSWER);

    // The connection that starts the service waits in systemd's socket.
    let mut stream = TcpStream::connect(&address).expect("systemd-socket-activate listens");
    let outcome = http::request(&mut stream, "GET", "/", ANSWER);
    let response = outcome
        .response()
        .unwrap_or_else(|| panic!("GET / through the passed socket: {outcome:?}"));
    assert_eq!(response.status, 200);
    let taken = process.wait_for_stderr_line("the socket passed as fd 3", ANSWER);
    assert!(
        taken.contains("(\"http\") by the service manager") && taken.contains(&address),
        "{taken}"
    );

    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(20));
    eprintln!("exit {:?} after {:?}", exit.code(), exit.at - sent);
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    let _ = std::fs::remove_dir_all(database);
}

/// A passed socket of the wrong kind (a datagram socket for a TCP server)
/// is refused with a message that names it, before anything is served.
#[test]
fn a_passed_socket_of_the_wrong_kind_is_refused_with_a_clear_error() {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut command = Command::new(socket_activate());
    command
        .arg(format!("--listen={address}"))
        .arg("--datagram")
        .arg(support::binary("service"));
    let mut process = Process::start_command(command, &[]);
    process.wait_for_stderr(&format!("Listening on {address}"), ANSWER);
    // A datagram wakes it.
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(b"hello", &address).unwrap();
    let exit = process.wait_exit(ANSWER);
    assert_ne!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(
        exit.stderr_text().contains(
            "the socket passed as fd 3 by the service manager is not a stream socket, not a listening TCP socket"
        ),
        "{}",
        exit.stderr_text()
    );
}
