//! Feature `opentelemetry`: `Close` for the OpenTelemetry SDK's tracer,
//! meter and logger providers.
//!
//! The SDK's `force_flush` and `shutdown` block the calling thread until
//! the provider's processors have exported what they hold. Called on a
//! runtime thread, they stop that thread; on a `current_thread` runtime (or
//! the only worker), an export that needs the runtime then waits for a
//! thread that waits for it, and the process hangs (opentelemetry-rust
//! issues #2580, #2583, #3176; #868). Each close therefore runs them on a
//! thread of its own and awaits its answer: the runtime stays free, and the
//! cleanup can cut the close at its timeout. An export that hangs by itself
//! (#2715) is only bounded: the cut close leaves the thread behind.

use std::error::Error;
use std::fmt;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::cleanup::detached::{self, NoAnswer};
use crate::{BoxError, Close};

/// Exports the spans still buffered, then shuts the provider down: its
/// `force_flush`, then its `shutdown`, on a thread of their own, never on
/// a runtime thread.
///
/// The close returns once the exporter has answered for every span ended
/// before it started, or fails with the SDK's error: an exporter that
/// cannot reach its collector fails the close as soon as the exporter
/// gives up (for OTLP/HTTP, after its retries). A provider that was
/// already shut down (by hand, or by the close of another clone) closes
/// at once, `Ok`.
///
/// The SDK bounds each step by timeouts of its own (5 s each for the
/// batch processors); the cleanup cuts the close at its `timeout` or at
/// the shutdown deadline, whichever comes first. A close that is cut is
/// reported as timed out and its thread is left to finish by itself: it
/// neither blocks the runtime nor delays the exit. The thread enters the
/// runtime's context (`Handle::enter`), for an exporter that needs tokio
/// in what the SDK runs on the calling thread; the default batch
/// processors export on threads of their own.
///
/// # Close the providers last
///
/// Spans are still being ended while the server drains and while the
/// other resources close (a pool's close, a consumer's last acks). Tag the
/// providers `after` everything else, so that those spans are exported
/// too: with the other resources in a nested struct, `after` that one
/// field waits for every close in it.
///
/// ```no_run
/// use graceful_rt::{graceful_main, BoxError, Cleanup, Close, Shutdown};
/// use opentelemetry_sdk::logs::SdkLoggerProvider;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
/// use opentelemetry_sdk::trace::SdkTracerProvider;
///
/// #[derive(Cleanup)]
/// struct State {
///     // Everything else: pools, clients, task trackers.
///     #[cleanup]
///     app: App,
///     // Last: the spans, metrics and logs of the drain and of the
///     // closes above are exported before the process exits.
///     #[cleanup(after = "app", timeout = "5s")]
///     traces: SdkTracerProvider,
///     #[cleanup(after = "app", timeout = "5s")]
///     metrics: SdkMeterProvider,
///     #[cleanup(after = "app", timeout = "5s")]
///     logs: SdkLoggerProvider,
/// }
///
/// #[derive(Cleanup)]
/// struct App {
///     #[cleanup]
///     db: Db,
///     #[cleanup(after = "db")]
///     queue: Queue,
/// }
///
/// #[graceful_main(timeout = "15s")]
/// async fn main(shutdown: Shutdown) -> State {
///     // Built with the exporters of your choice; keep a clone of each
///     // provider you install globally.
///     let traces = SdkTracerProvider::builder().build();
///     let metrics = SdkMeterProvider::builder().build();
///     let logs = SdkLoggerProvider::builder().build();
///     opentelemetry::global::set_tracer_provider(traces.clone());
///     opentelemetry::global::set_meter_provider(metrics.clone());
///
///     let app = App { db: Db, queue: Queue };
///     // Serve until the shutdown is requested, then drain.
///     shutdown.requested().await;
///     State { app, traces, metrics, logs }
/// }
/// # struct Db;
/// # struct Queue;
/// # impl Close for Db {
/// #     async fn close(&self) -> Result<(), BoxError> { Ok(()) }
/// # }
/// # impl Close for Queue {
/// #     async fn close(&self) -> Result<(), BoxError> { Ok(()) }
/// # }
/// ```
///
/// Without a nested struct, list the other fields:
/// `#[cleanup(after = ["db", "queue"])]`.
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
impl Close for SdkTracerProvider {
    async fn close(&self) -> Result<(), BoxError> {
        off_the_runtime(
            Provider::Tracer,
            self.clone(),
            SdkTracerProvider::force_flush,
            SdkTracerProvider::shutdown,
        )
        .await
    }
}

/// Collects and exports the metrics one last time, then shuts the provider
/// down: its `force_flush`, then its `shutdown`, on a thread of their own,
/// never on a runtime thread.
///
/// As for `SdkTracerProvider`: an exporter that fails makes the close fail
/// with the SDK's error, a provider already shut down closes `Ok`, and a
/// close cut at its timeout leaves its thread behind without blocking the
/// runtime or the exit. Tag it `after` everything else, so the
/// measurements made during the drain and the other closes are in its
/// last export.
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
impl Close for SdkMeterProvider {
    async fn close(&self) -> Result<(), BoxError> {
        off_the_runtime(
            Provider::Meter,
            self.clone(),
            SdkMeterProvider::force_flush,
            SdkMeterProvider::shutdown,
        )
        .await
    }
}

/// Exports the log records still buffered, then shuts the provider down:
/// its `force_flush`, then its `shutdown`, on a thread of their own, never
/// on a runtime thread.
///
/// As for `SdkTracerProvider`: an exporter that fails makes the close fail
/// with the SDK's error, a provider already shut down closes `Ok`, and a
/// close cut at its timeout leaves its thread behind without blocking the
/// runtime or the exit. Tag it `after` everything else, so the records
/// logged during the drain and the other closes are exported.
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
impl Close for SdkLoggerProvider {
    async fn close(&self) -> Result<(), BoxError> {
        off_the_runtime(
            Provider::Logger,
            self.clone(),
            SdkLoggerProvider::force_flush,
            SdkLoggerProvider::shutdown,
        )
        .await
    }
}

/// Which provider, for the thread's name and the error.
#[derive(Clone, Copy, Debug)]
enum Provider {
    Tracer,
    Meter,
    Logger,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::Tracer => "tracer provider",
            Provider::Meter => "meter provider",
            Provider::Logger => "logger provider",
        }
    }

    fn thread_name(self) -> &'static str {
        match self {
            Provider::Tracer => "graceful-otel-traces",
            Provider::Meter => "graceful-otel-metrics",
            Provider::Logger => "graceful-otel-logs",
        }
    }
}

/// Runs `flush`, then `shut_down`, on a thread of their own (see
/// [`detached`](crate::cleanup::detached)); the provider is dropped after
/// the answer, so a last clone's drop does not delay it.
async fn off_the_runtime<P: Send + 'static>(
    provider: Provider,
    value: P,
    flush: fn(&P) -> OTelSdkResult,
    shut_down: fn(&P) -> OTelSdkResult,
) -> Result<(), BoxError> {
    let steps = move |value: &P| (flush(value), shut_down(value));
    let (flushed, shut) = detached::off_the_runtime(provider.thread_name(), value, steps, drop)
        .await
        .map_err(|no_answer| ProviderError {
            provider,
            failure: match no_answer {
                NoAnswer::Spawn(error) => Failure::Spawn(error),
                NoAnswer::Ended => Failure::NoAnswer,
            },
        })?;
    match (flushed, shut) {
        (_, Err(OTelSdkError::AlreadyShutdown)) | (Ok(()), Ok(())) => Ok(()),
        (Err(flush), Ok(())) => Err(ProviderError {
            provider,
            failure: Failure::Flush(flush),
        }
        .into()),
        (Ok(()), Err(shutdown)) => Err(ProviderError {
            provider,
            failure: Failure::Shutdown(shutdown),
        }
        .into()),
        (Err(flush), Err(shutdown)) => Err(ProviderError {
            provider,
            failure: Failure::Both { flush, shutdown },
        }
        .into()),
    }
}

/// A provider that did not close cleanly: what failed, and the SDK's error.
#[derive(Debug)]
struct ProviderError {
    provider: Provider,
    failure: Failure,
}

#[derive(Debug)]
enum Failure {
    Flush(OTelSdkError),
    Shutdown(OTelSdkError),
    Both {
        flush: OTelSdkError,
        shutdown: OTelSdkError,
    },
    Spawn(std::io::Error),
    NoAnswer,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let provider = self.provider.name();
        match &self.failure {
            Failure::Flush(_) => write!(f, "OpenTelemetry {provider}: force_flush failed"),
            Failure::Shutdown(_) => write!(f, "OpenTelemetry {provider}: shutdown failed"),
            Failure::Both { flush, .. } => write!(
                f,
                "OpenTelemetry {provider}: force_flush failed ({flush}), then shutdown failed"
            ),
            Failure::Spawn(_) => write!(
                f,
                "OpenTelemetry {provider}: cannot start the thread that shuts it down"
            ),
            Failure::NoAnswer => write!(
                f,
                "OpenTelemetry {provider}: the thread shutting it down ended without an answer"
            ),
        }
    }
}

impl Error for ProviderError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.failure {
            Failure::Flush(error) | Failure::Shutdown(error) => Some(error),
            Failure::Both { shutdown, .. } => Some(shutdown),
            Failure::Spawn(error) => Some(error),
            Failure::NoAnswer => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The error and its source, as the report shows them.
    fn message(failure: Failure) -> String {
        let error = ProviderError {
            provider: Provider::Tracer,
            failure,
        };
        match error.source() {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        }
    }

    #[test]
    fn errors_name_the_provider_and_the_step() {
        assert_eq!(
            message(Failure::Flush(OTelSdkError::InternalFailure(
                "connection refused".into()
            ))),
            "OpenTelemetry tracer provider: force_flush failed: Operation failed: connection refused"
        );
        assert_eq!(
            message(Failure::Shutdown(OTelSdkError::Timeout(
                Duration::from_secs(5)
            ))),
            "OpenTelemetry tracer provider: shutdown failed: Operation timed out after 5s"
        );
        assert_eq!(
            message(Failure::Both {
                flush: OTelSdkError::InternalFailure("refused".into()),
                shutdown: OTelSdkError::Timeout(Duration::from_secs(5)),
            }),
            "OpenTelemetry tracer provider: force_flush failed (Operation failed: refused), \
             then shutdown failed: Operation timed out after 5s"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn providers_without_processors_close_and_close_again() {
        let traces = SdkTracerProvider::builder().build();
        let metrics = SdkMeterProvider::builder().build();
        let logs = SdkLoggerProvider::builder().build();
        traces.close().await.unwrap();
        metrics.close().await.unwrap();
        logs.close().await.unwrap();
        // Already shut down: still `Ok`.
        traces.close().await.unwrap();
        metrics.close().await.unwrap();
        logs.close().await.unwrap();
    }
}
