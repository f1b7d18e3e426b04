//! The pump: moves chunks from the scheduler into the transport, in
//! scheduling order, from its own task or inline from a writer's.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::{Inner, SendQueue, StreamSink};
use crate::sched::arrivals::PumpDecision;
use crate::sched::inflight::{self, InflightMode};

/// The pump task's waker as given to transports: records that the pump was
/// woken, so that passes run from writers' tasks leave the retrying of
/// blocked streams to it.
pub(super) struct PumpWaker {
    pub(super) woken: AtomicBool,
    pub(super) task: Waker,
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
pub(super) const PROBE_MIN: Duration = Duration::from_millis(2);
const PROBE_MAX: Duration = Duration::from_millis(100);
/// How often the window follows a rising in-flight limit.
const RAMP_TICK: Duration = Duration::from_millis(4);
/// The least the pacer hands over at once: one full-size packet's payload.
const PACE_STEP: u64 = 1200;

/// How a pump pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PassEnd {
    /// Nothing ready to send (empty, or every ready stream blocked).
    Idle,
    /// Stopped after its budget of decisions; more may be ready.
    Budget,
}

/// Whether the in-flight limit applies to what goes next: it is on, and the
/// next bytes are preemptible. With nothing ready to go the answer stays
/// what it was: an empty queue writes nothing, and the first bytes queued
/// decide. (Counting an empty queue as preemptible put the limit on each
/// time a lone bulk response's producer fell behind the pump: 17.8-18.8
/// Mbit/s link throughput on tests/netem.rs's 20 Mbit/s link, against
/// 19.3-19.5 this way and before the limit existed, 6 runs each.)
fn next_preemptible<S>(inner: &Inner<S>) -> bool {
    inner.inflight.mode() != InflightMode::Off
        && inner
            .sched
            .next_is_preemptible()
            .unwrap_or(inner.window_preemptible)
}

/// Whether a response that may preempt the bytes going now is open: one
/// registered and not yet sent to its end, or a request announced and not
/// yet registered (HTTP/2 registers a response's stream when its head is
/// sent, after the think time: counting only registered ones, the document
/// thinking for 1000 ms was invisible, the limit stayed in startup's twice
/// the estimate, and the document waited 145 ms behind the queue that
/// built on India-3G, measured).
fn response_waiting<S>(inner: &Inner<S>) -> bool {
    inner.sched.response_open() || inner.arrivals.starting() > 0
}

impl<S: StreamSink> SendQueue<S> {
    /// Keeps the transport's send window at congestion window + low-water
    /// mark (quinn) while urgent bytes are next, and at the in-flight limit
    /// while preemptible ones are: at most every 2 ms, and at once when
    /// what goes next changes between the two. Returns true when it raised
    /// the window.
    pub(super) fn adjust_window(&self, inner: &mut Inner<S>, now: Instant) -> bool {
        let preemptible = next_preemptible(inner);
        let flipped = preemptible != inner.window_preemptible;
        if let Some(last) = inner.last_window_check {
            if !flipped && now.duration_since(last) < Duration::from_millis(2) {
                return false;
            }
        }
        inner.last_window_check = Some(now);
        let Some(path) = self.window.path() else {
            return false;
        };
        let busy = inner.sched.total_queued() > 0;
        let waiting = preemptible && response_waiting(inner);
        inner.inflight.observe(now, path, busy, waiting);
        let limit = inner.inflight.ramped_limit(now, waiting);
        let next = match (preemptible, waiting) {
            (false, _) => inflight::Next::Urgent,
            (true, false) => inflight::Next::Preemptible,
            (true, true) => inflight::Next::PreemptibleWhileWaiting,
        };
        let want = inflight::send_window(path.cwnd, self.cfg.lowat, limit, next);
        let full = path.cwnd.saturating_add(self.cfg.lowat);
        inner.window_preemptible = preemptible;
        let cur = inner.send_window;
        // Avoid churning on small changes of the full window; the limit is
        // kept exactly.
        let change = if want < full || flipped {
            want != cur
        } else {
            cur == 0 || want > cur + cur / 8 || want + want / 8 < cur
        };
        if !change {
            return false;
        }
        self.window.set_window(want, want < full);
        inner.send_window = want;
        inner.counters.window_updates += 1;
        if want < full {
            inner.counters.window_limited += 1;
        }
        want > cur
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
        let has_ready = inner.sched.has_ready();
        let now = Instant::now();
        if inner.arrivals.on_pump(has_ready, now) == PumpDecision::Defer {
            return Poll::Ready(PumpStep::Defer);
        }
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
    pub(super) fn pass_inline(&self, inner: &mut Inner<S>) {
        if !inner.arrivals.inline_allowed() {
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
        if self.adjust_window(inner, now) && inner.conn_blocked_since.is_some() {
            // Urgent bytes are next and the window grew for them: what
            // blocked the connection may not block them.
            inner.conn_blocked_since = None;
            inner.sched.unblock_all();
        }
        if let Some(since) = inner.conn_blocked_since {
            // A safety net for a misjudged block (a peer granting no initial
            // stream credit): after 50 ms, passes run again regardless.
            if now.duration_since(since) < Duration::from_millis(50) {
                return;
            }
            inner.conn_blocked_since = None;
            inner.sched.unblock_all();
        }
        if self.pass(inner, &waker, now) == PassEnd::Budget {
            waker.wake();
        }
    }

    /// Moves chunks from the scheduler into quinn, in scheduling order,
    /// until the scheduler has nothing ready or the budget is spent.
    fn pass(&self, inner: &mut Inner<S>, waker: &Waker, now: Instant) -> PassEnd {
        let end = self.pass_inner(inner, waker, now);
        self.arm_probe(inner, waker);
        self.arm_tick(inner, waker);
        end
    }

    /// While the in-flight limit ramps up and preemptible bytes wait, wakes
    /// the pump every [`RAMP_TICK`] so the window follows the ramp; while
    /// the pacer holds them, when it lets them go.
    fn arm_tick(&self, inner: &mut Inner<S>, waker: &Waker) {
        let waiting_bytes = inner.window_preemptible && inner.sched.total_queued() > 0;
        let ramp = (waiting_bytes && inner.inflight.ramping()).then(|| Instant::now() + RAMP_TICK);
        let Some(at) = ramp.into_iter().chain(inner.pace_at).min() else {
            inner.ramp = None;
            return;
        };
        let at = tokio::time::Instant::from_std(at);
        let timer = inner
            .ramp
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        if timer.is_elapsed() || timer.deadline() > at {
            timer.as_mut().reset(at);
        }
        let mut cx = Context::from_waker(waker);
        if timer.as_mut().poll(&mut cx).is_ready() {
            waker.wake_by_ref();
        }
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
        inner.pace_at = None;
        loop {
            // What goes next turned from urgent to preemptible (or back):
            // the window follows before its bytes are written.
            let preemptible = next_preemptible(inner);
            if preemptible != inner.window_preemptible && self.adjust_window(inner, now) {
                inner.sched.unblock_all();
            }
            // Preemptible bytes while a response waits go at the pacer's
            // rate (sched::inflight::Pacer).
            let pace = if preemptible && inner.sched.has_ready() {
                inner.inflight.pacing_rate(response_waiting(inner))
            } else {
                None
            };
            let max = match pace {
                Some(rate) => {
                    let avail = inner.pacer.available(now, rate);
                    if avail < PACE_STEP {
                        inner.pace_at = Some(inner.pacer.ready_at(now, PACE_STEP, rate));
                        break;
                    }
                    (avail as usize).min(self.cfg.quantum)
                }
                None => {
                    inner.pacer.reset();
                    self.cfg.quantum
                }
            };
            let Some(chunk) = inner.sched.pop(max, now) else {
                break;
            };
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
                inner.handed += written as u64;
                if pace.is_some() {
                    inner.pacer.spend(written as u64);
                }
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
pub(super) enum PumpStep {
    /// The queue is closed.
    Closed,
    /// Requests are starting: yield to their handlers, then pass.
    Defer,
}
