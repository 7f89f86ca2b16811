//! One connection, from accept to close: its activity (for the idle grace),
//! its IO (tracked, and cut at the drain deadline), and the task that
//! serves it and decides when to close it.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use super::state::ServerState;

/// What draining needs to know of one connection: whether a request is in
/// flight on it, when it last carried bytes, and whether it has been cut.
#[derive(Debug)]
pub(crate) struct Activity {
    /// The server this connection belongs to.
    server: Arc<ServerState>,
    in_flight: AtomicUsize,
    /// Nanoseconds since [`epoch`] when the connection last carried a
    /// request's bytes or finished a response.
    last_active: AtomicU64,
    /// Notified when a request starts or ends, while the connection's task
    /// watches (during the drain); unwatched, the request path skips it.
    changed: Notify,
    watched: AtomicBool,
    cut: AtomicBool,
    /// Notified when the connection is cut.
    cut_notify: Notify,
    /// The tasks waiting on the socket, woken when the connection is cut.
    read_waker: Mutex<Option<Waker>>,
    write_waker: Mutex<Option<Waker>>,
}

/// A process-wide origin for the timestamps kept in atomics.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_nanos() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl Activity {
    pub(crate) fn new(server: Arc<ServerState>) -> Activity {
        Activity {
            server,
            in_flight: AtomicUsize::new(0),
            // A fresh connection may have its first request on the wire.
            last_active: AtomicU64::new(now_nanos()),
            changed: Notify::new(),
            watched: AtomicBool::new(false),
            cut: AtomicBool::new(false),
            cut_notify: Notify::new(),
            read_waker: Mutex::new(None),
            write_waker: Mutex::new(None),
        }
    }

    fn touch(&self) {
        self.last_active.store(now_nanos(), Ordering::Release);
    }

    pub(crate) fn request_started(&self) {
        // SeqCst with `watch`: either the task sees this request, or this
        // request sees the task watching and wakes it.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        if self.watched.load(Ordering::SeqCst) {
            self.changed.notify_waiters();
        }
    }

    pub(crate) fn request_ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.touch();
        if self.watched.load(Ordering::SeqCst) {
            self.changed.notify_waiters();
        }
    }

    /// From now on, request starts and ends notify [`changed`](Self::changed).
    pub(crate) fn watch(&self) {
        self.watched.store(true, Ordering::SeqCst);
    }

    pub(crate) fn server(&self) -> &ServerState {
        &self.server
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// How long the connection has carried nothing.
    pub(crate) fn idle_for(&self) -> Duration {
        let last = self.last_active.load(Ordering::Acquire);
        Duration::from_nanos(now_nanos().saturating_sub(last))
    }

    /// A future that resolves at the next request start or end; it counts
    /// events from its creation on, so create it before checking the state.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    /// Cuts the connection: every read and write fails from now on, and a
    /// task waiting on the socket is woken to notice.
    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::Release);
        self.cut_notify.notify_waiters();
        for slot in [&self.read_waker, &self.write_waker] {
            if let Some(waker) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                waker.wake();
            }
        }
    }

    /// Resolves once the connection is cut.
    pub(crate) async fn cut_requested(&self) {
        crate::notify::until(&self.cut_notify, || self.is_cut()).await;
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::Acquire)
    }

    fn park(slot: &Mutex<Option<Waker>>, waker: &Waker) {
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some(parked) if parked.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection cut at the drain deadline",
    )
}

pin_project_lite::pin_project! {
    /// A connection's IO, as served by hyper and as handed to an upgraded
    /// protocol: it records activity, counts the connection open until it
    /// is dropped, and fails once the connection is cut.
    pub(crate) struct TrackedIo<T> {
        #[pin]
        io: T,
        activity: Arc<Activity>,
        counts: Arc<ServerState>,
    }

    impl<T> PinnedDrop for TrackedIo<T> {
        fn drop(this: Pin<&mut Self>) {
            this.counts.connection_closed();
        }
    }
}

impl<T> TrackedIo<T> {
    pub(crate) fn new(io: T, activity: Arc<Activity>, counts: Arc<ServerState>) -> TrackedIo<T> {
        counts.connection_opened();
        TrackedIo {
            io,
            activity,
            counts,
        }
    }
}

impl<T: AsyncRead> AsyncRead for TrackedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if this.activity.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        let before = buf.filled().len();
        let poll = this.io.poll_read(cx, buf);
        match &poll {
            Poll::Ready(Ok(())) if buf.filled().len() > before => this.activity.touch(),
            Poll::Pending => Activity::park(&this.activity.read_waker, cx.waker()),
            _ => {}
        }
        poll
    }
}

impl<T: AsyncWrite> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if this.activity.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        let poll = this.io.poll_write(cx, data);
        if poll.is_pending() {
            Activity::park(&this.activity.write_waker, cx.waker());
        }
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if this.activity.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        let poll = this.io.poll_write_vectored(cx, data);
        if poll.is_pending() {
            Activity::park(&this.activity.write_waker, cx.waker());
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}
