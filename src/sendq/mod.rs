//! The connection's send queue, shared by HTTP/3 and HTTP/2 and neutral
//! between them (no protocol's framing or error codes here): owns the
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
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::priority::{Priority, PriorityParams};
use crate::sched::arrivals::Arrivals;
use crate::sched::inflight::{InflightBudget, InflightMode};
use crate::sched::transport::transport_priority;
use crate::sched::{KeyBuild, Order, Policy, Scheduler, StreamKey};

mod gauges;
mod pump;
mod sink;
#[cfg(test)]
mod tests;

pub use gauges::Gauges;
use gauges::Locked;
use pump::{PumpWaker, PROBE_MIN};
pub use sink::{Abandon, NoWindow, PeerStop, StreamSink, WindowControl, WriteFailure};

/// How the send queue behaves; see `pushlab serve --help`.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Scheduling policy.
    pub policy: Policy,
    /// Bytes per scheduling decision.
    pub quantum: usize,
    /// Bytes quinn may hold beyond the congestion window.
    pub lowat: u64,
    /// How preemptible bytes (pushes, less urgent responses) are kept out
    /// of the path's bottleneck queue; see [`crate::sched::inflight`].
    pub inflight: InflightMode,
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
            inflight: InflightMode::default(),
            stream_buffer: 128 * 1024,
            quinn_priorities: true,
            max_buffered_updates: 256,
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
    /// Of those, times it was set below congestion window + lowat by the
    /// in-flight limit for preemptible bytes.
    pub window_limited: u64,
}

/// The queue's side of a trace sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceState {
    /// Bytes in the user-space queue.
    pub queued: u64,
    /// The send window last set in the transport (None: it has none).
    pub send_window: Option<u64>,
    /// The in-flight budget's BDP estimate.
    pub bdp_estimate: Option<u64>,
    /// Whether the window is limited for preemptible bytes now.
    pub window_limited: bool,
    /// Whether the transport refused data for the whole connection at the
    /// last pass (its send window is full).
    pub transport_full: bool,
    /// Bytes handed to the transport's streams so far, all streams.
    pub handed: u64,
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
    /// The in-flight limit for preemptible bytes and its path estimates.
    inflight: InflightBudget,
    /// Whether the window was last set for preemptible bytes.
    window_preemptible: bool,
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
    /// Armed while the in-flight limit is still rising towards its target
    /// and preemptible bytes wait for it, or while the pacer holds them:
    /// nothing else may wake the pump (no ACK frees window when few bytes
    /// are in flight).
    ramp: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    /// Paces preemptible bytes while a response waits.
    pacer: crate::sched::inflight::Pacer,
    /// When the pacer will let the next packet's worth go, if a pass
    /// stopped for it.
    pace_at: Option<Instant>,
    counters: QueueCounters,
    /// Pushed bytes handed to quinn on this connection.
    push_written: u64,
    /// Bytes handed to the transport on this connection, all streams.
    handed: u64,
    /// What the gauges currently hold for this connection.
    reported_queued: i64,
    reported_streams: i64,
    /// Requests that arrived together and have not queued anything yet.
    arrivals: Arrivals,
}

/// One connection's send queue. Shared by the backend streams, the push
/// code and the pump task.
pub struct SendQueue<S: StreamSink> {
    cfg: SendConfig,
    window: Box<dyn WindowControl>,
    inner: Mutex<Inner<S>>,
    gauges: Arc<Gauges>,
}

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
                inflight: InflightBudget::new(cfg.inflight),
                window_preemptible: false,
                conn_blocked_since: None,
                probe: None,
                probe_delay: PROBE_MIN,
                ramp: None,
                pacer: Default::default(),
                pace_at: None,
                counters: QueueCounters::default(),
                push_written: 0,
                handed: 0,
                reported_queued: 0,
                reported_streams: 0,
                arrivals: Arrivals::default(),
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
            quinn_prio = transport_priority(effective, order.sub > 0);
            if quinn_prio != 0 {
                send.set_priority(quinn_prio);
            }
        }
        // Cannot fail: stream IDs are unique per connection.
        let _ = inner.sched.open(id, effective, order);
        let starting = order.sub == 0;
        if starting {
            inner.arrivals.arrived();
        }
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
        self.lock().arrivals.arrived();
        Announced(Some(self.clone()))
    }

    fn started(inner: &mut Inner<S>, id: StreamKey) {
        if let Some(slot) = inner.slots.get_mut(&id) {
            if std::mem::take(&mut slot.starting) {
                inner.arrivals.started();
            }
        }
    }

    fn apply_priority(&self, inner: &mut Inner<S>, id: StreamKey) {
        if let Some(slot) = inner.slots.get_mut(&id) {
            let effective = slot.prio.server.merge_onto(slot.prio.client);
            if self.cfg.quinn_priorities && self.cfg.policy == Policy::Rfc9218 {
                let qp = transport_priority(effective, slot.push);
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
            .ok_or(WriteFailure::Abandoned(Abandon::Internal))?;
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
                .map_err(|_| WriteFailure::Abandoned(Abandon::Internal))?;
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
            return Poll::Ready(Err(WriteFailure::Abandoned(Abandon::Internal)));
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
            .ok_or(WriteFailure::Abandoned(Abandon::Internal))?;
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
            return Poll::Ready(Err(WriteFailure::Abandoned(Abandon::Internal)));
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
    pub fn reset(&self, id: StreamKey, why: Abandon) -> usize {
        let mut inner = self.lock();
        Self::started(&mut inner, id);
        let dropped = inner.sched.remove(id);
        if let Some(slot) = inner.slots.get_mut(&id) {
            slot.stats.dropped += dropped as u64;
            if !slot.finished && slot.failure.is_none() {
                slot.send.reset(why);
                slot.failure = Some(WriteFailure::Abandoned(why));
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
            slot.send.reset(Abandon::Internal);
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

    /// The queue's side of a trace sample (see [`TraceState`]).
    pub fn trace_state(&self) -> TraceState {
        let inner = self.lock();
        TraceState {
            queued: inner.sched.total_queued() as u64,
            send_window: (inner.send_window > 0).then_some(inner.send_window),
            bdp_estimate: inner.inflight.bdp(),
            window_limited: inner.window_preemptible && inner.inflight.mode() != InflightMode::Off,
            transport_full: inner.conn_blocked_since.is_some(),
            handed: inner.handed,
        }
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
}

/// A request announced to the queue before its stream is registered (see
/// [`SendQueue::announce`]); dropping it withdraws the announcement, and
/// registering the stream replaces it.
pub struct Announced<S: StreamSink>(Option<Arc<SendQueue<S>>>);

impl<S: StreamSink> Drop for Announced<S> {
    fn drop(&mut self) {
        if let Some(q) = self.0.take() {
            let mut inner = q.lock();
            inner.arrivals.started();
        }
    }
}
