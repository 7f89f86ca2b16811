//! One connection, from accept to close: its activity (what draining needs
//! to know of it), its IO (tracked, and cut at the drain deadline), and the
//! list of a server's open connections.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use super::state::ServerState;
#[cfg(not(feature = "http2"))]
use crate::log;

/// What draining needs to know of one connection: whether a request is in
/// flight on it, when it last carried bytes, which protocol it speaks, and
/// whether it has been cut.
#[derive(Debug)]
pub(crate) struct Activity {
    /// The server this connection belongs to.
    server: Arc<ServerState>,
    /// Requests whose head has arrived and whose response's last frame has
    /// not yet been handed to hyper: counted from the service call until
    /// the response body yields its last frame (or is dropped). Never a
    /// response the client already has: hyper writes a frame only after
    /// the body has yielded it.
    in_flight: AtomicUsize,
    /// Nanoseconds since [`epoch`] when the connection was accepted or
    /// last finished a response: its client may have sent the next request
    /// right after, and it may still be on the wire. Kept only when
    /// `quiet_time` says so.
    last_active: AtomicU64,
    /// Whether the drain needs `last_active`: only when the keep-alive hold
    /// is shorter than the idle grace. Otherwise every idle connection is
    /// held for longer than the grace anyway, and the request path reads
    /// no clock.
    quiet_time: bool,
    /// The server is draining: set once, by [`Connections::start_draining`].
    draining: AtomicBool,
    /// The connection's task, woken when draining starts.
    drain_waker: Mutex<Option<Waker>>,
    /// Bytes arrived while no request was in flight, and no request has
    /// started since: the head of the next HTTP/1.1 request, part of it
    /// received.
    head_pending: AtomicBool,
    /// What the IO looks at on every read and write, in one word (the
    /// bits below), so that the request path loads it once.
    flags: AtomicU8,
    /// Notified when a request starts or ends, or the connection turns out
    /// to be HTTP/2, while the connection's task watches (during the
    /// drain); unwatched, the request path skips it.
    changed: Notify,
    watched: AtomicBool,
    /// Notified when the connection is cut.
    cut_notify: Notify,
    /// The gRPC calls on this connection are to end now, with UNAVAILABLE
    /// (see [`Activity::end_calls`]).
    calls_ending: AtomicBool,
    /// Notified then: a call's answer or body waits on it.
    calls_end: Arc<Notify>,
    /// The tasks waiting on the socket, woken when the connection is cut.
    read_waker: Mutex<Option<Waker>>,
    write_waker: Mutex<Option<Waker>>,
    /// Set when the server asked an HTTP/2 connection to close and it
    /// did: its socket lingers for at most this long (see `linger`).
    linger: OnceLock<Duration>,
}

/// The connection is cut: every read and write fails from now on.
const CUT: u8 = 1;
/// Reads end (end of file) from now on: see [`Activity::end_reads`].
const READS_ENDED: u8 = 1 << 1;
/// A request on this connection was HTTP/2 (or it began with the preface).
const HTTP2: u8 = 1 << 2;
/// The connection's first bytes have been looked at for the HTTP/2
/// preface, which only a connection's first bytes can be.
const PROTOCOL_KNOWN: u8 = 1 << 3;
/// The connection was upgraded (a `101 Switching Protocols` response, such
/// as a WebSocket's): it has left hyper, and only its IO can learn of a
/// cut, so from now on the IO keeps the wakers of the tasks waiting on it.
const UPGRADED: u8 = 1 << 4;

/// A process-wide origin for the timestamps kept in atomics.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_nanos() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl Activity {
    /// A connection of `server`'s, just accepted; `quiet_time` says whether
    /// its drain needs to know how long it has been quiet (see the field).
    pub(crate) fn new(server: Arc<ServerState>, quiet_time: bool) -> Activity {
        Activity {
            server,
            in_flight: AtomicUsize::new(0),
            // A fresh connection may have its first request on the wire.
            last_active: AtomicU64::new(if quiet_time { now_nanos() } else { 0 }),
            quiet_time,
            draining: AtomicBool::new(false),
            drain_waker: Mutex::new(None),
            head_pending: AtomicBool::new(false),
            flags: AtomicU8::new(0),
            changed: Notify::new(),
            watched: AtomicBool::new(false),
            cut_notify: Notify::new(),
            calls_ending: AtomicBool::new(false),
            calls_end: Arc::new(Notify::new()),
            read_waker: Mutex::new(None),
            write_waker: Mutex::new(None),
            linger: OnceLock::new(),
        }
    }

    #[inline]
    fn touch(&self) {
        if self.quiet_time {
            self.last_active.store(now_nanos(), Ordering::Release);
        }
    }

    #[inline]
    fn announce(&self) {
        if self.watched.load(Ordering::SeqCst) {
            self.changed.notify_waiters();
        }
    }

    #[inline]
    pub(crate) fn request_started(&self) {
        // SeqCst with `watch`: either the task sees this request, or this
        // request sees the task watching and wakes it.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head_pending.store(false, Ordering::Relaxed);
        self.announce();
    }

    /// The service answered `101 Switching Protocols`: hyper hands the IO
    /// over to the upgraded protocol once it has written the response, so
    /// before any task of that protocol waits on it.
    pub(crate) fn upgrading(&self) {
        self.flags.fetch_or(UPGRADED, Ordering::Release);
    }

    /// The request was HTTP/2: the connection drains by GOAWAY, at once.
    #[inline]
    pub(crate) fn saw_http2(&self) {
        if self.flags.load(Ordering::Relaxed) & HTTP2 == 0 {
            self.flags
                .fetch_or(HTTP2 | PROTOCOL_KNOWN, Ordering::SeqCst);
            self.announce();
        }
    }

    /// The response's body yielded its last frame (or the response was
    /// dropped): no longer in flight. What hyper has still to write out
    /// is the connection's business, bounded like any client that does
    /// not read (see [`Activity::wrote`]).
    #[inline]
    pub(crate) fn request_answered(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.touch();
        self.announce();
    }

    /// Bytes went out to the socket: while draining, the client is reading,
    /// so it is not unresponsive (a long response read slowly is not cut
    /// at the [`client_bound`](super::Serve::client_bound) after its last
    /// frame).
    #[inline]
    fn wrote(&self) {
        self.announce();
    }

    /// From now on, request starts and ends notify [`changed`](Self::changed).
    pub(crate) fn watch(&self) {
        self.watched.store(true, Ordering::SeqCst);
    }

    #[inline]
    pub(crate) fn server(&self) -> &ServerState {
        &self.server
    }

    #[inline]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    #[inline]
    pub(crate) fn is_http2(&self) -> bool {
        self.flags.load(Ordering::SeqCst) & HTTP2 != 0
    }

    /// Part of a request head has arrived (see `head_pending`).
    pub(crate) fn head_pending(&self) -> bool {
        self.head_pending.load(Ordering::Relaxed)
    }

    /// How long since the connection was accepted or last finished a
    /// response; `Duration::MAX` when that is not kept (`quiet_time`): the
    /// keep-alive hold then outlasts the idle grace.
    pub(crate) fn idle_for(&self) -> Duration {
        if !self.quiet_time {
            return Duration::MAX;
        }
        let last = self.last_active.load(Ordering::Acquire);
        Duration::from_nanos(now_nanos().saturating_sub(last))
    }

    /// Resolves once the server is draining. Polled on every wake of the
    /// connection's task, so its check is one atomic load; the task's
    /// waker is handed over once, and again only if it changes.
    pub(crate) fn draining(&self) -> DrainStarts<'_> {
        DrainStarts {
            activity: self,
            registered: None,
        }
    }

    /// Whether the server is draining (as far as this connection knows:
    /// from [`Connections::start_draining`] on).
    #[inline]
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Draining starts: the connection's task is woken to begin its drain.
    fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
        let waker = self
            .drain_waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A future that resolves at the next request start or end, write to
    /// the socket, or when the connection turns out to be HTTP/2; it counts
    /// events from its creation on, so create it before checking the state.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    /// Cuts the connection: every read and write fails from now on, and a
    /// task waiting on the socket is woken to notice.
    pub(crate) fn cut(&self) {
        self.flags.fetch_or(CUT, Ordering::Release);
        self.cut_notify.notify_waiters();
        for slot in [&self.read_waker, &self.write_waker] {
            if let Some(waker) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                waker.wake();
            }
        }
    }

    /// Ends every gRPC call still running on this connection: a call whose
    /// handler has not answered yet is answered `UNAVAILABLE`, and a
    /// response whose body is still streaming ends with `grpc-status: 14`
    /// trailers, so that clients see a status they retry rather than a
    /// broken stream. Shortly before the connection is cut.
    pub(crate) fn end_calls(&self) {
        self.calls_ending.store(true, Ordering::SeqCst);
        self.calls_end.notify_waiters();
    }

    /// Whether the gRPC calls of this connection are to end now.
    pub(crate) fn calls_ending(&self) -> bool {
        self.calls_ending.load(Ordering::SeqCst)
    }

    /// A future that resolves when [`end_calls`](Self::end_calls) is called
    /// after its creation (check [`calls_ending`](Self::calls_ending) too).
    pub(crate) fn calls_end(&self) -> tokio::sync::futures::OwnedNotified {
        Arc::clone(&self.calls_end).notified_owned()
    }

    /// Resolves once the connection is cut.
    pub(crate) async fn cut_requested(&self) {
        crate::notify::until(&self.cut_notify, || self.is_cut()).await;
    }

    /// Closes an idle connection from the read side: its next read ends
    /// (end of file), as if its client had left, and hyper closes it
    /// through its IO's shutdown (a TLS close_notify, then FIN). Unlike
    /// hyper's graceful shutdown, this holds before the protocol is known:
    /// hyper-util then drops a connection without shutting its IO down.
    pub(crate) fn end_reads(&self) {
        self.flags.fetch_or(READS_ENDED, Ordering::Release);
    }

    /// The server asked this HTTP/2 connection to close, and it has: its
    /// socket lingers, for at most `bound`, once hyper lets go of it (see
    /// [`linger`](super::linger)).
    pub(crate) fn linger_on_close(&self, bound: Duration) {
        let _ = self.linger.set(bound);
    }

    fn is_cut(&self) -> bool {
        self.flags.load(Ordering::Acquire) & CUT != 0
    }

    /// What a write to the socket tells: progress (see [`Activity::wrote`]),
    /// or a task to wake at a cut.
    #[inline]
    fn after_write(&self, flags: u8, poll: &Poll<io::Result<usize>>, cx: &Context<'_>) {
        match poll {
            Poll::Ready(Ok(written)) if *written > 0 => self.wrote(),
            Poll::Pending if flags & UPGRADED != 0 => self.park(&self.write_waker, cx.waker()),
            Poll::Ready(_) | Poll::Pending => {}
        }
    }

    /// Keeps `waker` to wake at a cut (an upgraded connection's IO: see
    /// [`UPGRADED`]). Before the upgrade, the connection's task learns of a
    /// cut by itself (it waits for one beside the connection), and the
    /// request path skips the lock.
    fn park(&self, slot: &Mutex<Option<Waker>>, waker: &Waker) {
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some(parked) if parked.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
}

/// The future of [`Activity::draining`].
pub(crate) struct DrainStarts<'a> {
    activity: &'a Activity,
    /// The waker handed to the activity, to tell whether the task's
    /// waker changed since.
    registered: Option<Waker>,
}

impl std::future::Future for DrainStarts<'_> {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.activity.draining.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if self
            .registered
            .as_ref()
            .is_some_and(|registered| registered.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        // Handed over under the lock, then the flag looked at again:
        // either `start_draining` finds this waker, or this sees its flag.
        *self
            .activity
            .drain_waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        self.registered = Some(cx.waker().clone());
        if self.activity.draining.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// The open connections of a [`serve`](super::serve): what their requests
/// in flight add up to, and what the drain deadline cuts.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    open: Mutex<Vec<Weak<Activity>>>,
}

impl Connections {
    /// Registers a connection.
    pub(crate) fn add(&self, activity: &Arc<Activity>) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget the closed ones now and then, so the list stays about as
        // long as the number of open connections.
        if open.len() >= 64 && open.len().is_power_of_two() {
            open.retain(|weak| weak.strong_count() > 0);
        }
        open.push(Arc::downgrade(activity));
    }

    /// Calls `each` with every open connection.
    fn each(&self, mut each: impl FnMut(&Activity)) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        for activity in open.iter().filter_map(Weak::upgrade) {
            each(&activity);
        }
    }

    /// Requests in flight on every open connection.
    pub(crate) fn in_flight(&self) -> usize {
        let mut in_flight = 0;
        self.each(|activity| in_flight += activity.in_flight());
        in_flight
    }

    /// Tells every open connection that draining has started.
    pub(crate) fn start_draining(&self) {
        self.each(Activity::start_draining);
    }

    /// Cuts every open connection (the drain deadline).
    pub(crate) fn cut_all(&self) {
        self.each(Activity::cut);
    }

    /// Ends the gRPC calls of every open connection (shortly before the
    /// drain deadline).
    pub(crate) fn end_calls(&self) {
        self.each(Activity::end_calls);
    }
}

/// How every HTTP/2 connection starts (RFC 9113, section 3.4): `PRI` is a
/// method no HTTP/1.1 request uses.
const HTTP2_PREFACE_START: &[u8] = b"PRI * HTTP/2.0";

/// An HTTP/2 client (its preface) reached a server built without HTTP/2:
/// hyper closes its connection on the preface, and the client sees only a
/// reset or an end. Said once, at the first one, with what to change.
#[cfg(not(feature = "http2"))]
#[cold]
fn warn_http2_off() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        log::warning!(
            "an HTTP/2 client connected, but graceful-rt was built without HTTP/2: its connection is closed; \
             enable the `http2` feature of graceful-rt to serve it (gRPC and h2c need it)"
        );
    });
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
        // Until its first byte, an IO that is not a plain socket (TLS, say)
        // is read through this waker: see `SocketWake`.
        socket_wake: Option<Arc<SocketWake>>,
        // A socket of its own onto the IO's connection, to linger on.
        duplicate: fn(&T) -> Option<std::net::TcpStream>,
    }

    impl<T> PinnedDrop for TrackedIo<T> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let lingers = this.activity.linger.get().filter(|_| !this.activity.is_cut());
            let socket = lingers.and_then(|_| (this.duplicate)(this.io.as_ref().get_ref()));
            match (lingers, socket) {
                (Some(&bound), Some(socket)) => {
                    let activity = Arc::clone(this.activity);
                    super::linger::spawn(socket, bound, activity, Arc::clone(this.counts));
                }
                _ => this.counts.connection_closed(),
            }
        }
    }
}

impl<T: 'static> TrackedIo<T> {
    pub(crate) fn new(io: T, activity: Arc<Activity>, counts: Arc<ServerState>) -> TrackedIo<T> {
        counts.connection_opened();
        let socket_wake = (!is_plain_socket(&io)).then(|| {
            Arc::new(SocketWake {
                activity: Arc::clone(&activity),
                task: Mutex::new(None),
            })
        });
        TrackedIo {
            io,
            activity,
            counts,
            socket_wake,
            duplicate: super::linger::duplicate::<T>,
        }
    }
}

/// Whether `io` is a socket whose bytes are the protocol's own (TCP, a
/// Unix socket): then the first wake of its reader brings its first byte.
fn is_plain_socket<T: 'static>(io: &T) -> bool {
    let io = io as &dyn std::any::Any;
    #[cfg(unix)]
    if io.is::<tokio::net::UnixStream>() {
        return true;
    }
    io.is::<tokio::net::TcpStream>()
}

/// The waker a layered IO (TLS over TCP, say) is read with until it yields
/// its first byte: the socket below may be busy with a handshake while
/// nothing reaches hyper, and those bytes are activity all the same. Each
/// wake of the reader (bytes, or the end, arrived below) touches the
/// connection, so a handshake in progress when draining begins is not
/// closed as idle; it is bounded by the
/// [`client_bound`](super::Serve::client_bound) like any client that has
/// not sent its request. The connection's task
/// is woken for other reasons too, which is why its own waker cannot tell.
struct SocketWake {
    activity: Arc<Activity>,
    /// The waker of the task reading, as of its last read.
    task: Mutex<Option<Waker>>,
}

impl SocketWake {
    fn waker_for(self: &Arc<Self>, task: &Waker) -> Waker {
        let mut slot = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some(parked) if parked.will_wake(task) => {}
            _ => *slot = Some(task.clone()),
        }
        Waker::from(Arc::clone(self))
    }
}

impl std::task::Wake for SocketWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.activity.touch();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.wake();
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
        let flags = this.activity.flags.load(Ordering::Acquire);
        if flags & CUT != 0 {
            return Poll::Ready(Err(cut_error()));
        }
        if flags & READS_ENDED != 0 {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let poll = match this.socket_wake {
            Some(wake) => {
                let waker = wake.waker_for(cx.waker());
                let poll = this.io.poll_read(&mut Context::from_waker(&waker), buf);
                if !matches!(poll, Poll::Pending) {
                    // Its first byte (or its end): the handshake, if any, is
                    // over, and hyper's reads tell the rest.
                    *this.socket_wake = None;
                }
                poll
            }
            None => this.io.poll_read(cx, buf),
        };
        match &poll {
            // Bytes: the first ones may be the HTTP/2 preface; on an
            // HTTP/1.1 connection with no request in flight, they are the
            // head of the next request. (Flags, not a clock: this is the
            // request path.)
            Poll::Ready(Ok(())) if buf.filled().len() > before && flags & HTTP2 == 0 => {
                let activity = this.activity;
                if flags & PROTOCOL_KNOWN == 0 {
                    if buf.filled()[before..].starts_with(HTTP2_PREFACE_START) {
                        #[cfg(not(feature = "http2"))]
                        warn_http2_off();
                        activity.saw_http2();
                        return poll;
                    }
                    activity.flags.fetch_or(PROTOCOL_KNOWN, Ordering::Relaxed);
                }
                if activity.in_flight() == 0 {
                    activity.head_pending.store(true, Ordering::Relaxed);
                }
            }
            Poll::Pending if flags & UPGRADED != 0 => {
                this.activity.park(&this.activity.read_waker, cx.waker());
            }
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
        let flags = this.activity.flags.load(Ordering::Acquire);
        if flags & CUT != 0 {
            return Poll::Ready(Err(cut_error()));
        }
        let poll = this.io.poll_write(cx, data);
        this.activity.after_write(flags, &poll, cx);
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let flags = this.activity.flags.load(Ordering::Acquire);
        if flags & CUT != 0 {
            return Poll::Ready(Err(cut_error()));
        }
        let poll = this.io.poll_write_vectored(cx, data);
        this.activity.after_write(flags, &poll, cx);
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    fn tracked(
        capacity: usize,
    ) -> (
        TrackedIo<tokio::io::DuplexStream>,
        Arc<Activity>,
        tokio::io::DuplexStream,
    ) {
        let server = Arc::new(ServerState::default());
        let activity = Arc::new(Activity::new(Arc::clone(&server), true));
        let (ours, theirs) = duplex(capacity);
        (
            TrackedIo::new(ours, Arc::clone(&activity), server),
            activity,
            theirs,
        )
    }

    #[tokio::test]
    async fn an_answered_response_is_done_at_once_flushed_or_not() {
        let (mut io, activity, mut peer) = tracked(64);
        activity.request_started();
        activity.request_started();
        io.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        activity.request_answered();
        assert_eq!(activity.in_flight(), 1, "one answered, one in flight");
        drop(io);
        activity.request_answered();
        assert_eq!(activity.in_flight(), 0, "answered after the close");
        let mut head = [0u8; 17];
        peer.read_exact(&mut head).await.unwrap();
    }

    #[tokio::test]
    async fn a_write_while_watched_is_news_to_the_drain() {
        let (mut io, activity, mut peer) = tracked(64);
        activity.watch();
        let changed = activity.changed();
        let mut changed = std::pin::pin!(changed);
        changed.as_mut().enable();
        io.write_all(b"data").await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), changed)
            .await
            .expect("the write was announced");
        let mut data = [0u8; 4];
        peer.read_exact(&mut data).await.unwrap();
    }
}
