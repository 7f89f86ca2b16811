//! Accepting a connection, and what an accept error does: for a
//! [`tokio::net::TcpListener`] (the listener `listen::tcp` gives), the
//! errors that are the listener's own, not a connection's (out of file
//! descriptors, `EMFILE`, above all: hyper #2294) back off and are logged
//! once per burst, through the crate's log (stderr without a `tracing`
//! subscriber), with a line when accepting works again. Connections wait
//! in the listener's queue meanwhile, and the drain is never held up: the
//! accept is one branch of the loop that watches the shutdown.
//!
//! Other listeners keep their own handling (axum's: log through `tracing`,
//! wait a second).

use std::any::Any;
use std::io;
use std::time::{Duration, Instant};

use axum::serve::Listener;
use tokio::net::TcpListener;

use crate::duration;
use crate::log;

/// The first wait after an accept error.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The accept errors of a listener since its last successful accept.
#[derive(Debug, Default)]
pub(crate) struct Burst {
    errors: usize,
    since: Option<Instant>,
    backoff: Duration,
}

impl Burst {
    /// An accept failed with `error`: logs it if it is the first of the
    /// burst, and returns how long to wait before the next attempt.
    fn failed(&mut self, error: &io::Error) -> Duration {
        self.errors += 1;
        if self.since.is_none() {
            self.since = Some(Instant::now());
            self.backoff = FIRST_BACKOFF;
            log::warning!(
                "accept failed: {error}; retrying, backing off up to {} (connections wait in the listener's queue)",
                duration::display(MAX_BACKOFF)
            );
        } else {
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
        self.backoff
    }

    /// An accept succeeded: ends the burst, if there was one.
    fn accepted(&mut self) {
        if let Some(since) = self.since.take() {
            log::info!(
                "accepting again after {} failed {} in {}",
                self.errors,
                if self.errors == 1 {
                    "accept"
                } else {
                    "accepts"
                },
                duration::display(since.elapsed())
            );
            self.errors = 0;
        }
    }
}

/// Accepts the next connection of `listener`.
pub(crate) async fn accept<L: Listener>(listener: &mut L, burst: &mut Burst) -> (L::Io, L::Addr) {
    let Some(tcp) = (listener as &mut dyn Any).downcast_mut::<TcpListener>() else {
        return listener.accept().await;
    };
    let (stream, address) = accept_tcp(tcp, burst).await;
    // `L` is `TcpListener`, so its `Io` and `Addr` are these very types.
    let mut io = Some(stream);
    let mut addr = Some(address);
    let io = (&mut io as &mut dyn Any)
        .downcast_mut::<Option<L::Io>>()
        .and_then(Option::take)
        .expect("a TcpListener's Io is a TcpStream");
    let addr = (&mut addr as &mut dyn Any)
        .downcast_mut::<Option<L::Addr>>()
        .and_then(Option::take)
        .expect("a TcpListener's Addr is a SocketAddr");
    (io, addr)
}

async fn accept_tcp(
    listener: &TcpListener,
    burst: &mut Burst,
) -> (tokio::net::TcpStream, std::net::SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => {
                burst.accepted();
                return accepted;
            }
            // The connection's own trouble (it was reset while queued): the
            // next one is fine.
            Err(error) if is_connection_error(&error) => {}
            Err(error) => tokio::time::sleep(burst.failed(&error)).await,
        }
    }
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_backs_off_to_a_second_and_ends_at_the_next_accept() {
        let mut burst = Burst::default();
        let error = io::Error::from_raw_os_error(24);
        let waits: Vec<_> = (0..10).map(|_| burst.failed(&error)).collect();
        assert_eq!(waits[0], FIRST_BACKOFF);
        assert_eq!(waits[1], FIRST_BACKOFF * 2);
        assert_eq!(*waits.last().unwrap(), MAX_BACKOFF);
        burst.accepted();
        assert_eq!(burst.errors, 0);
        assert_eq!(burst.failed(&error), FIRST_BACKOFF, "a new burst");
    }
}
