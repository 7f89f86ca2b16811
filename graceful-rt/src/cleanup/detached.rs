//! A close whose steps block (a client library's synchronous flush and
//! shutdown): run on a detached thread of its own, and waited for without
//! blocking the runtime. The OpenTelemetry and rdkafka closes use it.
//!
//! A plain thread rather than `spawn_blocking`: a runtime that is dropped
//! waits for its blocking tasks without limit, so a close that hangs on
//! the blocking pool would hang `#[tokio::main]`'s or a test's end. The
//! thread is detached: when the close is cut at its timeout (its future
//! dropped), the thread finishes, or hangs, alone, and the exit does not
//! wait for it.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::thread;

use tokio::sync::oneshot;

/// Why the steps gave no answer.
#[derive(Debug)]
pub(crate) enum NoAnswer {
    /// The OS refused the thread.
    Spawn(io::Error),
    /// The thread ended without answering.
    Ended,
}

/// Runs `steps(&value)` on a new thread named `name` (in the runtime's
/// context, when there is one: a client may look for it) and waits for
/// their answer. After answering, the thread hands `value` to `after`, so
/// that whatever its drop costs is not the close's.
///
/// A panic in `steps` is resumed here: the close panics, and the report
/// says so.
pub(crate) async fn off_the_runtime<V, T>(
    name: &str,
    value: V,
    steps: impl FnOnce(&V) -> T + Send + 'static,
    after: impl FnOnce(V) + Send + 'static,
) -> Result<T, NoAnswer>
where
    V: Send + 'static,
    T: Send + 'static,
{
    let (answer, answered) = oneshot::channel();
    let runtime = tokio::runtime::Handle::try_current().ok();
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _context = runtime.as_ref().map(tokio::runtime::Handle::enter);
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| steps(&value)));
            // Nobody listens once the close was cut.
            let _ = answer.send(outcome);
            after(value);
        })
        .map_err(NoAnswer::Spawn)?;
    match answered.await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(payload)) => panic::resume_unwind(payload),
        Err(_) => Err(NoAnswer::Ended),
    }
}
