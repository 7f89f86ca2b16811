//! Waiting for a condition that is announced through a tokio `Notify`,
//! without missing an announcement.

use tokio::sync::Notify;

/// Resolves once `done` holds. The waiter is registered before `done` is
/// read, so an announcement (`notify_waiters`) made in between is not
/// missed. Cancel-safe.
pub(crate) async fn until(notify: &Notify, done: impl Fn() -> bool) {
    loop {
        let notified = notify.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        if done() {
            return;
        }
        notified.await;
    }
}
