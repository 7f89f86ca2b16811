//! [`Drained`]: what a server's drain counted. One type for the drain's
//! counts: `http::serve` returns it, and the report sums it over servers
//! (its `drain`). A leaf, compiled without the `axum` feature too, so the
//! report can name it.

use std::time::Duration;

/// How a server drained: what `http::serve` resolves to, and, summed over
/// servers, the report's `drain` ([`Report::drain`](crate::report::Report::drain)),
/// where each field is a key of the same name and `elapsed` is
/// `elapsed_ms`.
///
/// `#[non_exhaustive]`: read its fields; [`Default`] (all zero) stands in
/// for one in a test.
///
/// # Examples
///
/// ```
/// use graceful_rt::report::Drained;
///
/// fn summary(drained: &Drained) -> String {
///     if drained.requests_cut > 0 || drained.connections_cut > 0 {
///         format!("{} requests cut at the drain deadline", drained.requests_cut)
///     } else {
///         format!("drained {} requests in {:?}", drained.in_flight + drained.late, drained.elapsed)
///     }
/// }
///
/// // A server that had nothing to drain.
/// assert_eq!(summary(&Drained::default()), "drained 0 requests in 0ns");
/// ```
///
/// The example of `http::Serve` (feature `axum`) gets one from a server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Drained {
    /// Requests in flight when draining began.
    pub in_flight: usize,
    /// Connections open when draining began.
    pub connections: usize,
    /// Requests that arrived on open connections after draining began;
    /// each was served, and its connection closed after it.
    pub late: usize,
    /// Requests cut at the drain deadline: every request whose head had
    /// arrived and whose response's last frame had not been produced, and
    /// the gRPC calls ended just before it (`calls_ended`).
    pub requests_cut: usize,
    /// Connections still open at the drain deadline, closed there.
    pub connections_cut: usize,
    /// Of `requests_cut`, the gRPC calls still running shortly before the
    /// drain deadline (`http::Serve::call_end_lead`), which the server
    /// ended with `grpc-status: 14` (UNAVAILABLE, "server is shutting
    /// down"): their clients saw a status they retry, not a broken stream.
    pub calls_ended: usize,
    /// Connections closed before the drain deadline because their client
    /// held them for `http::Serve::client_bound` without a request in
    /// flight: it did not finish a request head, answer HTTP/2's GOAWAY
    /// PING, or read. No request was lost with them.
    pub unresponsive: usize,
    /// From the start of draining to the last connection closed (or cut).
    #[cfg_attr(feature = "serde", serde(rename = "elapsed_ms", with = "millis"))]
    pub elapsed: Duration,
}

/// A duration as the report writes it: milliseconds, with a fraction.
#[cfg(feature = "serde")]
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(duration: &Duration, to: S) -> Result<S::Ok, S::Error> {
        to.serialize_f64(crate::duration::millis(*duration))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(from)?;
        Duration::try_from_secs_f64(ms / 1e3).map_err(serde::de::Error::custom)
    }
}

impl Drained {
    /// Adds another server's drain: counts summed, the longer time kept.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn add(&mut self, other: &Drained) {
        self.in_flight += other.in_flight;
        self.connections += other.connections;
        self.late += other.late;
        self.requests_cut += other.requests_cut;
        self.connections_cut += other.connections_cut;
        self.calls_ended += other.calls_ended;
        self.unresponsive += other.unresponsive;
        self.elapsed = self.elapsed.max(other.elapsed);
    }
}
