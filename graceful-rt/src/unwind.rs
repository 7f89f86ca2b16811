//! Panics in the futures the crate polls for the application (`main`, a
//! close, a task): caught, so they end as a recorded outcome rather than
//! tearing the runtime down, with their payload. A leaf.

use std::any::Any;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future polled inside `catch_unwind`: its output, or the payload of
/// its panic (which the panic hook has printed already).
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = &mut self.0;
        // A future that panicked is never polled again, so whatever state
        // the panic left behind is not observed: asserting unwind safety is
        // sound.
        match panic::catch_unwind(AssertUnwindSafe(|| Pin::new(future).poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// What a panic whose payload is not a string is called.
pub(crate) const NO_MESSAGE: &str = "a panic with a non-string payload";

/// The message a panic was raised with: its payload, when that is a `&str`
/// or a `String` (what `panic!` raises); `None` otherwise.
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> Option<String> {
    if let Some(message) = payload.downcast_ref::<&str>() {
        Some((*message).to_owned())
    } else {
        payload.downcast_ref::<String>().cloned()
    }
}

/// The message a panic was raised with, or [`NO_MESSAGE`].
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    panic_text(payload).unwrap_or_else(|| NO_MESSAGE.to_owned())
}
