//! The connection's send queue glue, shared by HTTP/3 and HTTP/2: owns the
//! transport streams of responses (and pushes), the pure [`Scheduler`], and
//! the pump that moves small chunks from the scheduler into the transport
//! (quinn streams on HTTP/3, h2 streams on HTTP/2; see [`StreamSink`]).
//!
//! Writers (h3 through the backend's `SendStream`, or the push code) enqueue
//! bytes and wait while their stream holds more than `stream_buffer` bytes;
//! the pump pops chunks in scheduling order and writes them to quinn. quinn
//! may hold at most about `congestion window + lowat` unacknowledged bytes
//! (its connection send window is kept there as the window changes), so
//! what waits inside quinn, beyond the scheduler's reach, stays small, and
//! quinn's own stream priority (set from urgency) orders even that.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering as AtomicOrdering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::priority::{Priority, PriorityParams};
use crate::sched::{KeyBuild, Order, Policy, Scheduler, StreamKey};
use crate::wire::frame::code;

/// A transport stream the queue writes into.
pub trait StreamSink: Send + 'static {
    /// Hands a prefix of `data` to the transport: `Ready(Ok(n))` took `n`
    /// bytes (and, when `fin` and all of `data` was taken, ended the
    /// stream); `Pending` took nothing and will wake `cx` when it can.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        data: &Bytes,
        fin: bool,
    ) -> Poll<Result<usize, WriteFailure>>;
    /// Abruptly ends the stream with an application error code.
    fn reset(&mut self, code: u64);
    /// A transport-level priority hint (quinn's stream priority); higher
    /// is sent first.
    fn set_priority(&mut self, _priority: i32) {}
    /// Called on a stream that was refused (`Pending`) while a stream the
    /// queue prefers is refused too: give up any claim on connection credit
    /// the refused send left behind (h2's reserved capacity), so that new
    /// credit goes to the preferred stream instead. Returns true when the
    /// sink will then no longer wake the pump by itself, so the queue must
    /// probe it again later.
    fn withdraw(&mut self) -> bool {
        false
    }
    /// Whether a refused stream that never sent a byte proves the whole
    /// connection is blocked (true for quinn; not for h2, where credit can
    /// sit assigned to other streams and pushed streams may wait to open).
    const FRESH_REFUSAL_IS_CONNECTION_WIDE: bool = true;
}

/// The pump task's waker as given to transports: records that the pump was
/// woken, so that passes run from writers' tasks leave the retrying of
/// blocked streams to it.
struct PumpWaker {
    woken: AtomicBool,
    task: Waker,
}

impl std::task::Wake for PumpWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, AtomicOrdering::Release);
        self.task.wake_by_ref();
    }
}

/// Backstop for withdrawn streams: the first probe comes this soon after a
/// pass that withdrew one, later ones back off to [`PROBE_MAX`].
const PROBE_MIN: Duration = Duration::from_millis(2);
const PROBE_MAX: Duration = Duration::from_millis(100);

/// Keeps the transport's own buffer small: called at most every 2 ms.
pub trait WindowControl: Send + Sync {
    /// Adjusts the transport's send window to its congestion window plus
    /// `lowat`; returns true when it changed it.
    fn adjust(&self, lowat: u64, current: &mut u64) -> bool;
}

/// For transports without a window to adjust.
pub struct NoWindow;

impl WindowControl for NoWindow {
    fn adjust(&self, _lowat: u64, _current: &mut u64) -> bool {
        false
    }
}

/// How the send queue behaves; see `pushlab serve --help`.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Scheduling policy.
    pub policy: Policy,
    /// Bytes per scheduling decision.
    pub quantum: usize,
    /// Bytes quinn may hold beyond the congestion window.
    pub lowat: u64,
    /// Per-stream user-space queue bound (backpressure to the writer).
    pub stream_buffer: usize,
    /// Map RFC 9218 urgency to quinn's stream priority (rfc9218 policy only).
    pub quinn_priorities: bool,
    /// How many PRIORITY_UPDATE frames for unopened streams to keep.
    pub max_buffered_updates: usize,
}

impl Default for SendConfig {
    fn default() -> Self {
        SendConfig {
            policy: Policy::Rfc9218,
            quantum: 16 * 1024,
            lowat: 32 * 1024,
            stream_buffer: 128 * 1024,
            quinn_priorities: true,
            max_buffered_updates: 256,
        }
    }
}

/// Why a stream can no longer be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFailure {
    /// The peer sent STOP_SENDING with this code.
    Stopped(u64),
    /// The connection is gone.
    ConnectionLost(String),
    /// The stream was reset or released locally.
    Reset(u64),
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteFailure::Stopped(c) => write!(f, "peer stopped the stream ({})", code::name(*c)),
            WriteFailure::ConnectionLost(e) => write!(f, "connection lost: {e}"),
            WriteFailure::Reset(c) => write!(f, "stream reset locally ({})", code::name(*c)),
        }
    }
}

/// Timing and volume of one stream's writes into quinn.
#[derive(Debug, Clone, Copy)]
pub struct StreamStats {
    /// When the stream was registered.
    pub opened: Instant,
    /// When its first byte was handed to quinn.
    pub first_write: Option<Instant>,
    /// When its FIN was handed to quinn.
    pub fin_write: Option<Instant>,
    /// Bytes handed to quinn.
    pub written: u64,
    /// Bytes dropped from the queue (reset, cancel, stop).
    pub dropped: u64,
    /// Longest time a chunk waited in the queue.
    pub max_wait: Duration,
    /// Pushed bytes handed to quinn after this response had bytes queued
    /// and before its first byte went: how far pushes delayed it.
    pub push_bytes_ahead: u64,
    /// Total pushed bytes written when this response first had bytes queued.
    ready_mark: Option<u64>,
}

/// The client's latest priority signal and the server's override for a stream.
#[derive(Debug, Clone, Copy, Default)]
struct PrioState {
    client: Priority,
    /// A PRIORITY_UPDATE arrived: it overrides the header.
    from_update: bool,
    server: PriorityParams,
}

struct Slot<S> {
    send: S,
    /// A push stream (ordered after its parent).
    push: bool,
    /// The priority last given to quinn (0 is quinn's default).
    quinn_prio: i32,
    writer: Option<Waker>,
    failure: Option<WriteFailure>,
    finished: bool,
    fin_requested: bool,
    prio: PrioState,
    stats: StreamStats,
    /// A request stream that has not enqueued anything yet.
    starting: bool,
}

/// Counters over the connection's life.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueCounters {
    /// PRIORITY_UPDATE frames applied.
    pub priority_updates: u64,
    /// PRIORITY_UPDATE frames whose value failed to parse (ignored).
    pub priority_updates_invalid: u64,
    /// PRIORITY_UPDATE frames buffered for streams not yet open.
    pub priority_updates_buffered: u64,
    /// Buffered updates dropped because the buffer was full.
    pub priority_updates_dropped: u64,
    /// Times the send window was adjusted.
    pub window_updates: u64,
}

struct Inner<S> {
    sched: Scheduler,
    slots: HashMap<StreamKey, Slot<S>, KeyBuild>,
    pump: Option<Waker>,
    /// Behind `pump`: records that something woke the pump.
    pump_state: Option<Arc<PumpWaker>>,
    closed: Option<String>,
    /// PRIORITY_UPDATEs for request streams not yet open, oldest first.
    early_updates: VecDeque<(StreamKey, Priority)>,
    send_window: u64,
    last_window_check: Option<Instant>,
    /// When a pass last found quinn refusing data for the whole connection.
    /// Until the pump runs again (quinn wakes it when it can send), passes
    /// from writers' tasks would only pop and re-block streams, so they skip.
    conn_blocked_since: Option<Instant>,
    /// Armed when a pass withdrew a stream's claim on connection credit:
    /// that stream will not wake the pump, so the pump probes it again
    /// (in case the stream preferred over it stays blocked by its own flow
    /// control while the connection could send), backing off while nothing
    /// moves.
    probe: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    probe_delay: Duration,
    counters: QueueCounters,
    /// Pushed bytes handed to quinn on this connection.
    push_written: u64,
    /// What the gauges currently hold for this connection.
    reported_queued: i64,
    reported_streams: i64,
    /// Requests that arrived but have not enqueued anything yet (their
    /// handlers have not run, or are thinking), including those announced
    /// and not yet registered.
    starting: usize,
    /// The pump deferred its pass once for them.
    deferred: bool,
}

/// One connection's send queue. Shared by the backend streams, the push
/// code and the pump task.
pub struct SendQueue<S: StreamSink> {
    cfg: SendConfig,
    window: Box<dyn WindowControl>,
    inner: Mutex<Inner<S>>,
    gauges: Arc<Gauges>,
}

/// Server-wide totals over all connections' queues (for monitoring and for
/// tests that check memory stays bounded and everything is freed).
#[derive(Debug, Default)]
pub struct Gauges {
    /// Bytes waiting in user-space queues.
    pub queued_bytes: AtomicI64,
    /// Streams registered in queues (responses and pushes in progress).
    pub streams: AtomicI64,
}

/// The lock guard: on release, folds changes of this connection's queued
/// bytes and stream count into the server-wide [`Gauges`].
struct Locked<'a, S> {
    guard: MutexGuard<'a, Inner<S>>,
    gauges: &'a Gauges,
}

impl<S> std::ops::Deref for Locked<'_, S> {
    type Target = Inner<S>;
    fn deref(&self) -> &Inner<S> {
        &self.guard
    }
}

impl<S> std::ops::DerefMut for Locked<'_, S> {
    fn deref_mut(&mut self) -> &mut Inner<S> {
        &mut self.guard
    }
}

impl<S> Drop for Locked<'_, S> {
    fn drop(&mut self) {
        let inner = &mut *self.guard;
        let q = inner.sched.total_queued() as i64;
        if q != inner.reported_queued {
            self.gauges
                .queued_bytes
                .fetch_add(q - inner.reported_queued, AtomicOrdering::Relaxed);
            inner.reported_queued = q;
        }
        let n = inner.slots.len() as i64;
        if n != inner.reported_streams {
            self.gauges
                .streams
                .fetch_add(n - inner.reported_streams, AtomicOrdering::Relaxed);
            inner.reported_streams = n;
        }
    }
}

impl<S: StreamSink> Drop for SendQueue<S> {
    fn drop(&mut self) {
        let inner = self.inner.get_mut();
        self.gauges
            .queued_bytes
            .fetch_sub(inner.reported_queued, AtomicOrdering::Relaxed);
        self.gauges
            .streams
            .fetch_sub(inner.reported_streams, AtomicOrdering::Relaxed);
    }
}

/// The quinn stream priority for an urgency: higher is sent first. The
/// default urgency maps to quinn's default priority 0, so the common case
/// needs no call into quinn at all. A push sits just below responses of the
/// same urgency, so even among the bytes already inside quinn a parent's
/// response goes ahead of its pushes.
fn quinn_priority(p: Priority, push: bool) -> i32 {
    2 * (i32::from(crate::priority::DEFAULT_URGENCY)
        - i32::from(p.urgency.min(crate::priority::MAX_URGENCY)))
        - i32::from(push)
}

/// How a pump pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PassEnd {
    /// Nothing ready to send (empty, or every ready stream blocked).
    Idle,
    /// Stopped after its budget of decisions; more may be ready.
    Budget,
}

/// Priority quinn gives to streams outside the queue (control, QPACK).
pub const CONTROL_PRIORITY: i32 = 100;

impl<S: StreamSink> SendQueue<S> {
    /// A queue for a connection.
    pub fn new(window: Box<dyn WindowControl>, cfg: SendConfig, gauges: Arc<Gauges>) -> Arc<Self> {
        let q = Arc::new(SendQueue {
            inner: Mutex::new(Inner {
                sched: Scheduler::new(cfg.policy),
                slots: HashMap::default(),
                pump: None,
                pump_state: None,
                closed: None,
                early_updates: VecDeque::new(),
                send_window: 0,
                last_window_check: None,
                conn_blocked_since: None,
                probe: None,
                probe_delay: PROBE_MIN,
                counters: QueueCounters::default(),
                push_written: 0,
                reported_queued: 0,
                reported_streams: 0,
                starting: 0,
                deferred: false,
            }),
            cfg,
            window,
            gauges,
        });
        q.adjust_window(&mut q.lock(), Instant::now());
        q
    }

    fn lock(&self) -> Locked<'_, S> {
        // parking_lot: spins briefly before parking, which matters here (the
        // lock is taken several times per response from two worker threads).
        Locked {
            guard: self.inner.lock(),
            gauges: &self.gauges,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SendConfig {
        &self.cfg
    }

    /// Registers a send stream under its stream ID, at a place in request order.
    pub fn register(&self, id: StreamKey, mut send: S, order: Order, prio: Priority) -> StreamKey {
        let mut inner = self.lock();
        let mut state = PrioState {
            client: prio,
            ..Default::default()
        };
        if let Some(pos) = inner.early_updates.iter().rposition(|(s, _)| *s == id) {
            if let Some((_, p)) = inner.early_updates.remove(pos) {
                state.client = p;
                state.from_update = true;
            }
            inner.early_updates.retain(|(s, _)| *s != id);
        }
        let effective = state.server.merge_onto(state.client);
        let mut quinn_prio = 0;
        if self.cfg.quinn_priorities && self.cfg.policy == Policy::Rfc9218 {
            quinn_prio = quinn_priority(effective, order.sub > 0);
            if quinn_prio != 0 {
                send.set_priority(quinn_prio);
            }
        }
        // Cannot fail: stream IDs are unique per connection.
        let _ = inner.sched.open(id, effective, order);
        let starting = order.sub == 0;
        inner.starting += usize::from(starting);
        inner.slots.insert(
            id,
            Slot {
                send,
                push: order.sub > 0,
                quinn_prio,
                writer: None,
                failure: None,
                finished: false,
                fin_requested: false,
                prio: state,
                stats: StreamStats {
                    opened: Instant::now(),
                    first_write: None,
                    fin_write: None,
                    written: 0,
                    dropped: 0,
                    max_wait: Duration::ZERO,
                    push_bytes_ahead: 0,
                    ready_mark: None,
                },
                starting,
            },
        );
        id
    }

    /// Announces a request whose stream will be registered later, from the
    /// task that handles it (HTTP/2): until it registers (or the returned
    /// guard is dropped), the queue treats it as a request about to start.
    /// Requests that arrived together are thus all queued before the first
    /// of them is written, whichever order their tasks run in.
    pub fn announce(self: &Arc<Self>) -> Announced<S> {
        self.lock().starting += 1;
        Announced(Some(self.clone()))
    }

    fn started(inner: &mut Inner<S>, id: StreamKey) {
        if let Some(slot) = inner.slots.get_mut(&id) {
            if std::mem::take(&mut slot.starting) {
                inner.starting = inner.starting.saturating_sub(1);
            }
        }
    }

    fn apply_priority(&self, inner: &mut Inner<S>, id: StreamKey) {
        if let Some(slot) = inner.slots.get_mut(&id) {
            let effective = slot.prio.server.merge_onto(slot.prio.client);
            if self.cfg.quinn_priorities && self.cfg.policy == Policy::Rfc9218 {
                let qp = quinn_priority(effective, slot.push);
                if qp != slot.quinn_prio {
                    slot.send.set_priority(qp);
                    slot.quinn_prio = qp;
                }
            }
            if inner.sched.priority(id) != Some(effective) {
                inner.sched.set_priority(id, effective);
            }
        }
    }

    // Priority changes never wake the pump: queued bytes that are not
    // blocked were already written by the last pass, and blocked ones are
    // retried, in the new order, when quinn wakes the pump.

    /// The client's priority from the request's `priority` header, unless a
    /// PRIORITY_UPDATE already arrived for the stream.
    //= https://www.rfc-editor.org/rfc/rfc9218#section-7
    //# To solve this condition, for the purposes of scheduling, the most
    //# recently received PRIORITY_UPDATE frame can be considered as the most
    //# up-to-date information that overrides any other signal.
    pub fn set_header_priority(&self, id: StreamKey, prio: Priority, server: PriorityParams) {
        let mut inner = self.lock();
        if let Some(slot) = inner.slots.get_mut(&id) {
            if !slot.prio.from_update {
                slot.prio.client = prio;
            }
            slot.prio.server = server;
        }
        self.apply_priority(&mut inner, id);
    }

    /// Applies a PRIORITY_UPDATE for a request stream (buffered if the
    /// stream is not open yet).
    //= https://www.rfc-editor.org/rfc/rfc9218#section-7
    //# Servers SHOULD buffer the most recently received PRIORITY_UPDATE
    //# frame and apply it once the referenced stream is opened.  Holding
    //# PRIORITY_UPDATE frames for each stream requires server resources,
    //# which can be bounded by local implementation policy.
    pub fn priority_update(&self, id: StreamKey, prio: Priority, known_stream: bool) {
        let mut inner = self.lock();
        if let Some(slot) = inner.slots.get_mut(&id) {
            slot.prio.client = prio;
            slot.prio.from_update = true;
            inner.counters.priority_updates += 1;
            self.apply_priority(&mut inner, id);
        } else if !known_stream {
            inner.early_updates.retain(|(s, _)| *s != id);
            inner.early_updates.push_back((id, prio));
            inner.counters.priority_updates_buffered += 1;
            while inner.early_updates.len() > self.cfg.max_buffered_updates {
                inner.early_updates.pop_front();
                inner.counters.priority_updates_dropped += 1;
            }
        }
        // A stream that was open and has finished: nothing to reprioritise.
    }

    /// Counts a PRIORITY_UPDATE whose value did not parse.
    pub fn count_invalid_update(&self) {
        self.lock().counters.priority_updates_invalid += 1;
    }

    /// Sets a pushed or other stream's priority directly (server side).
    pub fn set_priority(&self, id: StreamKey, prio: Priority) {
        let mut inner = self.lock();
        if let Some(slot) = inner.slots.get_mut(&id) {
            slot.prio.client = prio;
            slot.prio.from_update = true;
        }
        self.apply_priority(&mut inner, id);
    }

    /// The effective priority of a stream.
    pub fn priority(&self, id: StreamKey) -> Option<Priority> {
        self.lock().sched.priority(id)
    }

    fn wake_pump(&self, inner: &mut Inner<S>) {
        if !inner.sched.has_ready() && inner.closed.is_none() {
            return;
        }
        if let Some(w) = inner.pump.take() {
            w.wake();
        }
    }

    /// Appends bytes to a stream's queue.
    pub fn enqueue(&self, id: StreamKey, data: Bytes) -> Result<(), WriteFailure> {
        self.enqueue_all(id, [data])
    }

    /// Appends several pieces (a frame header and its payload) in one go,
    /// without copying them.
    pub fn enqueue_all<const N: usize>(
        &self,
        id: StreamKey,
        parts: [Bytes; N],
    ) -> Result<(), WriteFailure> {
        self.enqueue_parts(id, parts, false)
    }

    /// Appends the last piece of a stream and finishes it in one go, so the
    /// transport can end the stream with that piece (h2: END_STREAM on the
    /// last DATA frame instead of an empty one).
    pub fn enqueue_last(&self, id: StreamKey, data: Bytes) -> Result<(), WriteFailure> {
        self.enqueue_parts(id, [data], true)
    }

    fn enqueue_parts<const N: usize>(
        &self,
        id: StreamKey,
        parts: [Bytes; N],
        fin: bool,
    ) -> Result<(), WriteFailure> {
        let mut inner = self.lock();
        if let Some(reason) = &inner.closed {
            return Err(WriteFailure::ConnectionLost(reason.clone()));
        }
        let slot = inner
            .slots
            .get(&id)
            .ok_or(WriteFailure::Reset(code::H3_INTERNAL_ERROR))?;
        if let Some(f) = &slot.failure {
            return Err(f.clone());
        }
        let now = Instant::now();
        let mark = inner.push_written;
        if let Some(slot) = inner.slots.get_mut(&id) {
            if !slot.push && slot.stats.ready_mark.is_none() {
                slot.stats.ready_mark = Some(mark);
            }
        }
        Self::started(&mut inner, id);
        for data in parts {
            inner
                .sched
                .enqueue(id, data, now)
                .map_err(|_| WriteFailure::Reset(code::H3_INTERNAL_ERROR))?;
        }
        if fin {
            if let Some(slot) = inner.slots.get_mut(&id) {
                slot.fin_requested = true;
            }
            let _ = inner.sched.finish(id);
        }
        self.pass_inline(&mut inner);
        Ok(())
    }

    /// Writes one DATA frame carrying `payload` (no copy) and waits until
    /// the stream's queue is below its bound again.
    pub async fn send_data_frame(&self, id: StreamKey, payload: Bytes) -> Result<(), WriteFailure> {
        let header = crate::wire::frame::data_header(payload.len() as u64);
        self.enqueue_all(id, [header, payload])?;
        std::future::poll_fn(|cx| self.poll_writable(id, cx)).await
    }

    /// Ready when the stream's queue is below its bound (or it failed).
    pub fn poll_writable(
        &self,
        id: StreamKey,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), WriteFailure>> {
        let mut inner = self.lock();
        let closed = inner.closed.clone();
        let queued = inner.sched.queued(id);
        let Some(slot) = inner.slots.get_mut(&id) else {
            return Poll::Ready(Err(WriteFailure::Reset(code::H3_INTERNAL_ERROR)));
        };
        if let Some(f) = &slot.failure {
            return Poll::Ready(Err(f.clone()));
        }
        if let Some(reason) = closed {
            return Poll::Ready(Err(WriteFailure::ConnectionLost(reason)));
        }
        if queued <= self.cfg.stream_buffer {
            return Poll::Ready(Ok(()));
        }
        slot.writer = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Marks the end of a stream's data.
    pub fn finish(&self, id: StreamKey) -> Result<(), WriteFailure> {
        let mut inner = self.lock();
        let slot = inner
            .slots
            .get_mut(&id)
            .ok_or(WriteFailure::Reset(code::H3_INTERNAL_ERROR))?;
        if let Some(f) = &slot.failure {
            return Err(f.clone());
        }
        slot.fin_requested = true;
        let _ = inner.sched.finish(id);
        Self::started(&mut inner, id);
        self.pass_inline(&mut inner);
        Ok(())
    }

    /// Ready once the FIN has been handed to quinn (or the stream failed).
    pub fn poll_finished(
        &self,
        id: StreamKey,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), WriteFailure>> {
        let mut inner = self.lock();
        let closed = inner.closed.clone();
        let Some(slot) = inner.slots.get_mut(&id) else {
            return Poll::Ready(Err(WriteFailure::Reset(code::H3_INTERNAL_ERROR)));
        };
        if slot.finished {
            return Poll::Ready(Ok(()));
        }
        if let Some(f) = &slot.failure {
            return Poll::Ready(Err(f.clone()));
        }
        if let Some(reason) = closed {
            return Poll::Ready(Err(WriteFailure::ConnectionLost(reason)));
        }
        slot.writer = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Resets a stream: drops its queued bytes and sends RESET_STREAM.
    /// Returns the number of queued bytes dropped.
    pub fn reset(&self, id: StreamKey, error_code: u64) -> usize {
        let mut inner = self.lock();
        Self::started(&mut inner, id);
        let dropped = inner.sched.remove(id);
        if let Some(slot) = inner.slots.get_mut(&id) {
            slot.stats.dropped += dropped as u64;
            if !slot.finished && slot.failure.is_none() {
                slot.send.reset(error_code);
                slot.failure = Some(WriteFailure::Reset(error_code));
            }
            if let Some(w) = slot.writer.take() {
                w.wake();
            }
        }
        dropped
    }

    /// Marks a stream as stopped by the peer (STOP_SENDING seen outside a
    /// write, e.g. by a push watcher); drops its queued bytes.
    pub fn stopped(&self, id: StreamKey, error_code: u64) -> usize {
        let mut inner = self.lock();
        Self::started(&mut inner, id);
        let dropped = inner.sched.remove(id);
        if let Some(slot) = inner.slots.get_mut(&id) {
            slot.stats.dropped += dropped as u64;
            if !slot.finished && slot.failure.is_none() {
                slot.failure = Some(WriteFailure::Stopped(error_code));
            }
            if let Some(w) = slot.writer.take() {
                w.wake();
            }
        }
        dropped
    }

    /// Forgets a stream once its writer is done with it. A stream that was
    /// neither finished nor failed is reset, never left to look complete.
    pub fn release(&self, id: StreamKey) -> Option<StreamStats> {
        let mut inner = self.lock();
        Self::started(&mut inner, id);
        let dropped = inner.sched.remove(id);
        let mut slot = inner.slots.remove(&id)?;
        slot.stats.dropped += dropped as u64;
        if !slot.finished && slot.failure.is_none() {
            slot.send.reset(code::H3_INTERNAL_ERROR);
        }
        Some(slot.stats)
    }

    /// A stream's write statistics.
    pub fn stats(&self, id: StreamKey) -> Option<StreamStats> {
        self.lock().slots.get(&id).map(|s| s.stats)
    }

    /// Connection-wide counters.
    pub fn counters(&self) -> QueueCounters {
        self.lock().counters
    }

    /// Bytes waiting in the user-space queue, all streams.
    pub fn queued_bytes(&self) -> usize {
        self.lock().sched.total_queued()
    }

    /// Bytes waiting in the queue for one stream.
    pub fn queued(&self, id: StreamKey) -> usize {
        self.lock().sched.queued(id)
    }

    /// Whether the stream is known.
    pub fn contains(&self, id: StreamKey) -> bool {
        self.lock().slots.contains_key(&id)
    }

    /// Stops the pump and fails every waiting writer.
    pub fn close(&self, reason: &str) {
        let mut inner = self.lock();
        if inner.closed.is_none() {
            inner.closed = Some(reason.to_string());
        }
        for slot in inner.slots.values_mut() {
            if let Some(w) = slot.writer.take() {
                w.wake();
            }
        }
        self.wake_pump(&mut inner);
    }

    /// Keeps the transport's send window at congestion window + low-water
    /// mark (quinn), at most every 2 ms.
    fn adjust_window(&self, inner: &mut Inner<S>, now: Instant) {
        if let Some(last) = inner.last_window_check {
            if now.duration_since(last) < Duration::from_millis(2) {
                return;
            }
        }
        inner.last_window_check = Some(now);
        if self.window.adjust(self.cfg.lowat, &mut inner.send_window) {
            inner.counters.window_updates += 1;
        }
    }

    /// The pump task's poll: records its waker, retries blocked streams and
    /// runs a pass. Returns Ready when the queue is closed, or when the pump
    /// should first let the handlers of requests that just arrived run.
    fn poll_pump(&self, cx: &mut Context<'_>) -> Poll<PumpStep> {
        let mut inner = self.lock();
        if inner.closed.is_some() {
            return Poll::Ready(PumpStep::Closed);
        }
        let state = match &inner.pump_state {
            Some(p) if p.task.will_wake(cx.waker()) => p.clone(),
            _ => Arc::new(PumpWaker {
                woken: AtomicBool::new(false),
                task: cx.waker().clone(),
            }),
        };
        state.woken.store(false, AtomicOrdering::Release);
        let waker = Waker::from(state.clone());
        inner.pump_state = Some(state);
        inner.pump = Some(waker.clone());
        if inner.starting > 0 && !inner.deferred && inner.sched.has_ready() {
            // Once per wake-up, and only while requests are starting: a
            // request that thinks for seconds delays nothing but this.
            inner.deferred = true;
            return Poll::Ready(PumpStep::Defer);
        }
        inner.deferred = false;
        let now = Instant::now();
        inner.conn_blocked_since = None;
        self.adjust_window(&mut inner, now);
        // The transport woke us: streams it had blocked may take data again.
        inner.sched.unblock_all();
        if self.pass(&mut inner, &waker, now) == PassEnd::Budget {
            // Let other tasks run; come back immediately.
            waker.wake_by_ref();
        }
        Poll::Pending
    }

    /// Runs a pass on behalf of the pump from a writer's task, right after
    /// it enqueued: with nothing more urgent waiting this writes the new
    /// bytes at once, saving two task switches per response. quinn is given
    /// the pump's waker, so blocked streams still wake the pump.
    fn pass_inline(&self, inner: &mut Inner<S>) {
        if inner.starting > 0 {
            // Other requests arrived with this one and are about to queue
            // their responses: the pump passes once they have (it yields
            // to their tasks first), so the most urgent goes first, not the
            // one whose task happened to run first.
            self.wake_pump(inner);
            return;
        }
        let Some(waker) = inner.pump.clone() else {
            return;
        };
        // If the transport woke the pump since the last pass, a blocked
        // stream may take data again: retry them all, in order, so this
        // pass cannot overtake one (the pump, already woken, finds the work
        // done). Without such a wake, blocked streams are still blocked and
        // this pass only serves ready ones: no stream is polled in vain.
        if inner
            .pump_state
            .as_ref()
            .is_some_and(|p| p.woken.swap(false, AtomicOrdering::AcqRel))
        {
            inner.sched.unblock_all();
        }
        let now = Instant::now();
        if let Some(since) = inner.conn_blocked_since {
            // A safety net for a misjudged block (a peer granting no initial
            // stream credit): after 50 ms, passes run again regardless.
            if now.duration_since(since) < Duration::from_millis(50) {
                return;
            }
            inner.conn_blocked_since = None;
            inner.sched.unblock_all();
        }
        self.adjust_window(inner, now);
        if self.pass(inner, &waker, now) == PassEnd::Budget {
            waker.wake();
        }
    }

    /// Moves chunks from the scheduler into quinn, in scheduling order,
    /// until the scheduler has nothing ready or the budget is spent.
    fn pass(&self, inner: &mut Inner<S>, waker: &Waker, now: Instant) -> PassEnd {
        let end = self.pass_inner(inner, waker, now);
        self.arm_probe(inner, waker);
        end
    }

    /// After a pass: (re)arms or drops the probe timer, registering the
    /// pump's waker with it.
    fn arm_probe(&self, inner: &mut Inner<S>, waker: &Waker) {
        let Some(probe) = inner.probe.as_mut() else {
            return;
        };
        if probe.is_elapsed() {
            // Fired and consumed by this pass: back off for the next one.
            inner.probe_delay = (inner.probe_delay * 2).min(PROBE_MAX);
            let at = tokio::time::Instant::now() + inner.probe_delay;
            probe.as_mut().reset(at);
        }
        let mut cx = Context::from_waker(waker);
        if probe.as_mut().poll(&mut cx).is_ready() {
            waker.wake_by_ref();
        }
    }

    fn pass_inner(&self, inner: &mut Inner<S>, waker: &Waker, now: Instant) -> PassEnd {
        let mut cx = Context::from_waker(waker);
        let mut decisions = 0u32;
        // Whether a stream was already refused in this pass (the one the
        // queue prefers among the refused), and whether a later one gave up
        // its claim on credit.
        let mut refused = false;
        let mut withdrew = false;
        let mut wrote = false;
        while let Some(chunk) = inner.sched.pop(self.cfg.quantum, now) {
            decisions += 1;
            let id = chunk.stream;
            let Some(slot) = inner.slots.get_mut(&id) else {
                inner.sched.remove(id);
                continue;
            };
            slot.stats.max_wait = slot.stats.max_wait.max(chunk.waited);
            let mut written = 0usize;
            let mut failure = None;
            let mut blocked = false;
            let mut ended = false;
            loop {
                let rest = chunk.data.slice(written..);
                match slot.send.poll_send(&mut cx, &rest, chunk.fin) {
                    Poll::Ready(Ok(n)) => {
                        written += n;
                        if written == chunk.data.len() {
                            ended = chunk.fin;
                            break;
                        }
                        if n == 0 {
                            blocked = true;
                            break;
                        }
                    }
                    Poll::Ready(Err(f)) => {
                        failure = Some(f);
                        break;
                    }
                    Poll::Pending => {
                        blocked = true;
                        break;
                    }
                }
            }
            if written > 0 {
                wrote = true;
                if slot.stats.first_write.is_none() {
                    slot.stats.first_write = Some(now);
                    if let Some(mark) = slot.stats.ready_mark {
                        slot.stats.push_bytes_ahead = inner.push_written - mark;
                    }
                }
                slot.stats.written += written as u64;
                if slot.push {
                    inner.push_written += written as u64;
                }
            }
            if let Some(f) = failure {
                let dropped = inner.sched.remove(id);
                slot.stats.dropped += (dropped + chunk.data.len() - written) as u64;
                slot.failure = Some(f);
                if let Some(w) = slot.writer.take() {
                    w.wake();
                }
                continue;
            }
            if blocked {
                // A stream that never wrote a byte cannot be short of its
                // own flow-control credit (peers grant an initial stream
                // window), so quinn refused for the whole connection: its
                // send window or the peer's connection credit. Every other
                // stream would be refused too; stop here instead of popping
                // and re-blocking them all. quinn wakes the pump (whose
                // waker it was given) when the connection can send again.
                let connection_blocked =
                    S::FRESH_REFUSAL_IS_CONNECTION_WIDE && written == 0 && slot.stats.written == 0;
                // Only the first refused stream keeps its claim on credit;
                // credit that arrives goes to it, in the queue's order.
                if refused {
                    withdrew |= slot.send.withdraw();
                }
                refused = true;
                let _ = inner
                    .sched
                    .unsend(id, chunk.data.slice(written..), chunk.fin, now);
                inner.sched.block(id);
                if connection_blocked {
                    inner.conn_blocked_since = Some(now);
                    Self::note_probe(inner, wrote, withdrew);
                    return PassEnd::Idle;
                }
            } else if ended {
                slot.finished = true;
                slot.stats.fin_write = Some(now);
                slot.stats.first_write.get_or_insert(now);
                inner.sched.remove(id);
                if let Some(w) = slot.writer.take() {
                    w.wake();
                }
                continue;
            }
            if inner.sched.queued(id) <= self.cfg.stream_buffer {
                if let Some(w) = slot.writer.take() {
                    w.wake();
                }
            }
            if decisions >= 256 {
                Self::note_probe(inner, wrote, withdrew);
                return PassEnd::Budget;
            }
        }
        Self::note_probe(inner, wrote, withdrew);
        PassEnd::Idle
    }

    /// Records whether the next pass needs a probe timer.
    fn note_probe(inner: &mut Inner<S>, wrote: bool, withdrew: bool) {
        if wrote {
            inner.probe_delay = PROBE_MIN;
        }
        if !withdrew {
            inner.probe = None;
        } else if inner.probe.is_none() {
            let at = tokio::time::Instant::now() + inner.probe_delay;
            inner.probe = Some(Box::pin(tokio::time::sleep_until(at)));
        }
    }

    /// Runs the pump until [`SendQueue::close`].
    pub async fn run_pump(self: Arc<Self>) {
        loop {
            match std::future::poll_fn(|cx| self.poll_pump(cx)).await {
                PumpStep::Closed => return,
                // tokio runs a yielded task after the tasks already waiting
                // to run (the handlers of requests that arrived together).
                PumpStep::Defer => tokio::task::yield_now().await,
            }
        }
    }
}

/// Why the pump's poll returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PumpStep {
    /// The queue is closed.
    Closed,
    /// Requests are starting: yield to their handlers, then pass.
    Defer,
}

/// A request announced to the queue before its stream is registered (see
/// [`SendQueue::announce`]); dropping it withdraws the announcement, and
/// registering the stream replaces it.
pub struct Announced<S: StreamSink>(Option<Arc<SendQueue<S>>>);

impl<S: StreamSink> Drop for Announced<S> {
    fn drop(&mut self) {
        if let Some(q) = self.0.take() {
            let mut inner = q.lock();
            inner.starting = inner.starting.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgency_maps_to_quinn_priority_order() {
        let p: Vec<i32> = (0..=7)
            .map(|u| quinn_priority(Priority::new(u, false), false))
            .collect();
        assert!(p.windows(2).all(|w| w[0] > w[1]));
        assert!(CONTROL_PRIORITY > p[0]);
        for u in 0..7 {
            let push = quinn_priority(Priority::new(u, false), true);
            assert!(push < quinn_priority(Priority::new(u, false), false));
            assert!(push > quinn_priority(Priority::new(u + 1, false), false));
        }
        assert_eq!(quinn_priority(Priority::default(), false), 0);
    }

    /// A transport stream that takes everything and logs what it took, in
    /// order, for the ordering tests below.
    struct Recorder(StreamKey, Arc<parking_lot::Mutex<Vec<StreamKey>>>);

    impl StreamSink for Recorder {
        fn poll_send(
            &mut self,
            _cx: &mut Context<'_>,
            data: &Bytes,
            _fin: bool,
        ) -> Poll<Result<usize, WriteFailure>> {
            self.1.lock().push(self.0);
            Poll::Ready(Ok(data.len()))
        }
        fn reset(&mut self, _code: u64) {}
    }

    fn queue() -> Arc<SendQueue<Recorder>> {
        SendQueue::new(
            Box::new(NoWindow),
            SendConfig::default(),
            Arc::new(Gauges::default()),
        )
    }

    /// Three requests arrive together; the handler of the least urgent runs
    /// first (as tokio runs the task spawned last first) and queues 64 KB.
    /// The most urgent response still goes first: the queue waits until
    /// every request that arrived has queued its response.
    #[tokio::test(flavor = "current_thread")]
    async fn requests_arriving_together_go_by_urgency() {
        let q = queue();
        let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let pump = tokio::spawn(q.clone().run_pump());
        tokio::task::yield_now().await;
        for (id, u) in [(0u64, 0u8), (4, 1), (8, 5)] {
            q.register(
                id,
                Recorder(id, log.clone()),
                Order::request(id),
                Priority::new(u, false),
            );
        }
        let mut handlers = Vec::new();
        for id in [8u64, 0, 4] {
            let q = q.clone();
            handlers.push(tokio::spawn(async move {
                q.enqueue_last(id, Bytes::from(vec![0u8; 64 * 1024]))
                    .unwrap();
            }));
        }
        for h in handlers {
            h.await.unwrap();
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let order: Vec<StreamKey> = log.lock().clone();
        assert_eq!(order.first(), Some(&0), "{order:?}");
        let firsts: Vec<StreamKey> = order.iter().fold(Vec::new(), |mut v, id| {
            if !v.contains(id) {
                v.push(*id);
            }
            v
        });
        assert_eq!(firsts, vec![0, 4, 8]);
        q.close("done");
        pump.await.unwrap();
    }

    /// A request that has not queued anything (a slow backend) holds
    /// nothing up; an announcement withdrawn restores the direct path.
    #[tokio::test(flavor = "current_thread")]
    async fn a_thinking_request_delays_nothing() {
        let q = queue();
        let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let pump = tokio::spawn(q.clone().run_pump());
        tokio::task::yield_now().await;
        q.register(
            0,
            Recorder(0, log.clone()),
            Order::request(0),
            Priority::new(0, false),
        );
        q.register(
            4,
            Recorder(4, log.clone()),
            Order::request(4),
            Priority::new(5, false),
        );
        q.enqueue_last(4, Bytes::from_static(b"ready")).unwrap();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(*log.lock(), vec![4]);
        assert_eq!(q.lock().starting, 1);
        q.release(0);
        q.release(4);
        assert_eq!(q.lock().starting, 0);
        let a = q.announce();
        assert_eq!(q.lock().starting, 1);
        drop(a);
        assert_eq!(q.lock().starting, 0);
        // With nothing starting, an enqueue is written at once, inline.
        q.register(
            8,
            Recorder(8, log.clone()),
            Order::request(8),
            Priority::new(3, false),
        );
        let a = q.announce();
        drop(a);
        q.enqueue_last(8, Bytes::from_static(b"now")).unwrap_or(());
        assert_eq!(*log.lock(), vec![4, 8]);
        q.close("done");
        pump.await.unwrap();
    }
}
