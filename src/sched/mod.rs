//! The user-space send queue: which stream's bytes go to the transport next.
//!
//! A pure data structure in the style of quinn-proto's stream scheduler: no
//! sockets, no clock, no async runtime and no HTTP library. Time is passed in
//! only to measure how long bytes waited. The protocol glue (the HTTP/3 QUIC
//! backend, the HTTP/2 path) enqueues response bytes here and repeatedly asks
//! [`Scheduler::pop`] for the next small chunk to hand to the transport, so a
//! response that becomes ready later can overtake megabytes of less urgent
//! data still waiting here.
//!
//! Streams are identified by an opaque [`StreamKey`] (the QUIC stream ID on
//! HTTP/3, the stream ID on HTTP/2). Each stream has a [`Priority`] (RFC 9218
//! urgency and incremental) and an [`Order`], its place in request order; a
//! pushed response is ordered right after the response that promised it, in
//! evaluation order, and before any later request.
//!
//! Policies ([`Policy`]) decide the order:
//! - [`Policy::Rfc9218`]: lower urgency value first; within one urgency,
//!   non-incremental responses one at a time in request order, then
//!   incremental ones round-robin, one quantum per turn;
//! - [`Policy::Fifo`]: responses one at a time in request order, priorities
//!   ignored (a server without prioritisation that serves first come, first
//!   served);
//! - [`Policy::RoundRobin`]: every stream with data gets one quantum per turn,
//!   priorities ignored (what many QUIC stacks do by default).

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use priority_queue::PriorityQueue;

use crate::priority::Priority;

/// Identifies a stream inside one connection's scheduler.
pub type StreamKey = u64;

/// A cheap hasher for stream keys. Keys are transport stream IDs, bounded
/// by the connection's stream limits, so hash flooding is not a concern and
/// SipHash's cost (visible in profiles) buys nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        let x = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 29);
    }
}

/// Builds [`KeyHasher`]s.
pub type KeyBuild = BuildHasherDefault<KeyHasher>;

/// Where a response sits in request order.
///
/// A request gets `Order { group: n, sub: 0 }` with `n` increasing with the
/// order of requests (the stream ID does that on HTTP/2 and HTTP/3). A push
/// promised by that request gets `sub` 1, 2, ... in the evaluation order of
/// the pushed resources, so it follows its parent and precedes the next
/// request: A, then A's pushes C and D, then B (Rules of Thumb, rule 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Order {
    /// Request sequence.
    pub group: u64,
    /// 0 for the request's own response, 1.. for its pushes.
    pub sub: u32,
}

impl Order {
    /// The order of a request's own response.
    pub fn request(group: u64) -> Self {
        Order { group, sub: 0 }
    }

    /// The order of the `index`-th (0-based) push promised by the request at `parent`.
    pub fn push_of(parent: Order, index: u32) -> Self {
        Order {
            group: parent.group,
            sub: index.saturating_add(1),
        }
    }
}

/// A scheduling policy, chosen with `--scheduler`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// RFC 9218 section 10 (the default).
    Rfc9218,
    /// Request order, one response at a time, priorities ignored.
    Fifo,
    /// One quantum per stream per turn, priorities ignored.
    RoundRobin,
}

impl Policy {
    /// Every policy with its command-line name.
    pub const ALL: [(Policy, &'static str); 3] = [
        (Policy::Rfc9218, "rfc9218"),
        (Policy::Fifo, "fifo"),
        (Policy::RoundRobin, "round-robin"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Policy {
    type Err = SchedError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(p, _)| *p)
            .ok_or_else(|| SchedError::UnknownPolicy(s.to_string()))
    }
}

/// Misuse of the scheduler by the glue code (never caused by a peer directly).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedError {
    /// `open` was called twice for the same stream.
    #[error("stream {0} is already open in the scheduler")]
    AlreadyOpen(StreamKey),
    /// The stream was never opened, or was removed.
    #[error("stream {0} is not known to the scheduler")]
    UnknownStream(StreamKey),
    /// Data was enqueued after the stream was finished.
    #[error("stream {0} was already finished")]
    AfterFin(StreamKey),
    /// A policy name that does not exist.
    #[error("unknown scheduler policy {0:?} (expected rfc9218, fifo or round-robin)")]
    UnknownPolicy(String),
}

/// The next piece of a stream to hand to the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The stream the bytes belong to.
    pub stream: StreamKey,
    /// At most the `max` bytes asked for; empty only when it carries just the FIN.
    pub data: Bytes,
    /// Whether this chunk ends the stream.
    pub fin: bool,
    /// How long the first byte of `data` waited in the queue.
    pub waited: Duration,
    /// True for the first chunk ever popped from this stream.
    pub first: bool,
}

/// The heap key. Larger means "send sooner"; the policy fills the fields so
/// that a plain lexicographic comparison of `(urgency, class, a, b, stream)`
/// in ascending order gives the send order, and `Ord` reverses it for the
/// max-heap.
///
/// Field order matters: it is the comparison order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rank {
    /// RFC 9218 urgency; 0 for policies that ignore it.
    urgency: u8,
    /// 0 for non-incremental, 1 for incremental (RFC 9218); 0 otherwise.
    class: u8,
    /// Primary position: request order, round-robin turn, or enqueue sequence.
    a: u64,
    /// Secondary position: breaks ties of `a`.
    b: u64,
    /// Last resort, making every rank unique and pops deterministic.
    stream: StreamKey,
}

impl Ord for Rank {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: the smallest tuple is the most urgent, and the priority
        // queue pops its greatest element.
        (other.urgency, other.class, other.a, other.b, other.stream).cmp(&(
            self.urgency,
            self.class,
            self.a,
            self.b,
            self.stream,
        ))
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Bytes waiting in one stream, with when they were enqueued.
#[derive(Debug)]
struct Pending {
    data: Bytes,
    at: Instant,
}

#[derive(Debug)]
struct Entry {
    prio: Priority,
    order: Order,
    pending: VecDeque<Pending>,
    /// Sum of `pending` lengths.
    queued: usize,
    /// The application finished the stream (no more data will come).
    fin: bool,
    /// The FIN was popped (handed to the transport).
    fin_popped: bool,
    /// The transport cannot take data for this stream right now.
    blocked: bool,
    /// Round-robin position: the sequence number of its last turn.
    turn: u64,
    /// Whether any chunk was popped yet.
    started: bool,
    /// Bytes popped so far.
    sent: u64,
}

impl Entry {
    fn eligible(&self) -> bool {
        !self.blocked && (self.queued > 0 || (self.fin && !self.fin_popped))
    }
}

/// Counters describing the scheduler's work so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedStats {
    /// Number of chunks popped (scheduling decisions).
    pub decisions: u64,
    /// Bytes popped.
    pub bytes: u64,
    /// Bytes dropped by [`Scheduler::remove`] before they were popped.
    pub dropped: u64,
    /// Largest total of queued bytes seen.
    pub peak_queued: usize,
}

/// One connection's send queue. See the module documentation.
pub struct Scheduler {
    policy: Policy,
    /// Streams that have something to send and are not blocked.
    ready: PriorityQueue<StreamKey, Rank, KeyBuild>,
    streams: HashMap<StreamKey, Entry, KeyBuild>,
    /// Streams currently blocked.
    blocked: Vec<StreamKey>,
    /// Monotonic counter for round-robin turns.
    seq: u64,
    total_queued: usize,
    stats: SchedStats,
    /// Open responses (not pushes) whose last byte has not been popped, by
    /// urgency: what [`Scheduler::next_is_preemptible`] compares against.
    open_requests: [u32; 8],
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("policy", &self.policy)
            .field("streams", &self.streams.len())
            .field("ready", &self.ready.len())
            .field("total_queued", &self.total_queued)
            .finish()
    }
}

impl Scheduler {
    /// An empty scheduler with the given policy.
    pub fn new(policy: Policy) -> Self {
        Scheduler {
            policy,
            ready: PriorityQueue::with_default_hasher(),
            streams: HashMap::default(),
            blocked: Vec::new(),
            seq: 0,
            total_queued: 0,
            stats: SchedStats::default(),
            open_requests: [0; 8],
        }
    }

    /// The policy in use.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Counts an entry in (`add`) or out of `open_requests` if it is an
    /// open response.
    fn count_open(&mut self, stream: StreamKey, add: bool) {
        let Some(e) = self.streams.get(&stream) else {
            return;
        };
        if e.order.sub != 0 || e.fin_popped {
            return;
        }
        let n = &mut self.open_requests[usize::from(e.prio.urgency.min(7))];
        *n = if add { *n + 1 } else { n.saturating_sub(1) };
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Registers a stream before any data is enqueued on it.
    pub fn open(
        &mut self,
        stream: StreamKey,
        prio: Priority,
        order: Order,
    ) -> Result<(), SchedError> {
        if self.streams.contains_key(&stream) {
            return Err(SchedError::AlreadyOpen(stream));
        }
        self.streams.insert(
            stream,
            Entry {
                prio,
                order,
                pending: VecDeque::new(),
                queued: 0,
                fin: false,
                fin_popped: false,
                blocked: false,
                turn: 0,
                started: false,
                sent: 0,
            },
        );
        self.count_open(stream, true);
        Ok(())
    }

    /// Whether the stream is registered.
    pub fn contains(&self, stream: StreamKey) -> bool {
        self.streams.contains_key(&stream)
    }

    /// Appends bytes to a stream.
    pub fn enqueue(
        &mut self,
        stream: StreamKey,
        data: Bytes,
        now: Instant,
    ) -> Result<(), SchedError> {
        let entry = self
            .streams
            .get_mut(&stream)
            .ok_or(SchedError::UnknownStream(stream))?;
        if entry.fin {
            return Err(SchedError::AfterFin(stream));
        }
        if data.is_empty() {
            return Ok(());
        }
        entry.queued += data.len();
        self.total_queued += data.len();
        entry.pending.push_back(Pending { data, at: now });
        self.stats.peak_queued = self.stats.peak_queued.max(self.total_queued);
        self.refresh(stream, false);
        Ok(())
    }

    /// Marks the end of a stream: once its queued bytes are popped, a chunk
    /// with `fin` set is returned.
    pub fn finish(&mut self, stream: StreamKey) -> Result<(), SchedError> {
        let entry = self
            .streams
            .get_mut(&stream)
            .ok_or(SchedError::UnknownStream(stream))?;
        entry.fin = true;
        self.refresh(stream, false);
        Ok(())
    }

    /// Changes a stream's priority; takes effect at the next pop. Returns
    /// false for an unknown stream.
    pub fn set_priority(&mut self, stream: StreamKey, prio: Priority) -> bool {
        if !self.streams.contains_key(&stream) {
            return false;
        }
        self.count_open(stream, false);
        if let Some(entry) = self.streams.get_mut(&stream) {
            entry.prio = prio;
        }
        self.count_open(stream, true);
        self.refresh(stream, false);
        true
    }

    /// A stream's current priority.
    pub fn priority(&self, stream: StreamKey) -> Option<Priority> {
        self.streams.get(&stream).map(|e| e.prio)
    }

    /// Takes a stream out of consideration until [`Scheduler::unblock`]
    /// (the transport's flow control cannot take its bytes now).
    pub fn block(&mut self, stream: StreamKey) {
        if let Some(entry) = self.streams.get_mut(&stream) {
            if !entry.blocked {
                entry.blocked = true;
                self.blocked.push(stream);
            }
            self.ready.remove(&stream);
        }
    }

    /// Makes a blocked stream eligible again.
    pub fn unblock(&mut self, stream: StreamKey) {
        if let Some(entry) = self.streams.get_mut(&stream) {
            if entry.blocked {
                entry.blocked = false;
                self.blocked.retain(|s| *s != stream);
                self.refresh(stream, false);
            }
        }
    }

    /// Makes every blocked stream eligible again; returns how many were blocked.
    pub fn unblock_all(&mut self) -> usize {
        let blocked = std::mem::take(&mut self.blocked);
        let n = blocked.len();
        for stream in blocked {
            if let Some(entry) = self.streams.get_mut(&stream) {
                entry.blocked = false;
                self.refresh(stream, false);
            }
        }
        n
    }

    /// Recomputes a stream's place in the ready queue. `served` is true
    /// right after the stream had its turn (round-robin moves it to the back).
    fn refresh(&mut self, stream: StreamKey, served: bool) {
        let policy = self.policy;
        let Some(entry) = self.streams.get(&stream) else {
            self.ready.remove(&stream);
            return;
        };
        if !entry.eligible() {
            self.ready.remove(&stream);
            return;
        }
        let was_ready = self.ready.contains(&stream);
        let round_robin = match policy {
            Policy::Rfc9218 => entry.prio.incremental,
            Policy::RoundRobin => true,
            Policy::Fifo => false,
        };
        if round_robin && (served || !was_ready) {
            // Joins, or goes back to, the end of the line.
            let turn = self.next_seq();
            if let Some(entry) = self.streams.get_mut(&stream) {
                entry.turn = turn;
            }
        }
        let Some(entry) = self.streams.get(&stream) else {
            return;
        };
        let rank = Self::rank(policy, stream, entry);
        self.ready.push(stream, rank);
    }

    fn rank(policy: Policy, stream: StreamKey, e: &Entry) -> Rank {
        let order = (e.order.group << 20) | u64::from(e.order.sub.min(0xF_FFFF));
        match policy {
            //= https://www.rfc-editor.org/rfc/rfc9218#section-10
            //# It is RECOMMENDED that, when possible, servers respect the
            //# urgency parameter (Section 4.1), sending higher-urgency responses
            //# before lower-urgency responses.
            Policy::Rfc9218 if !e.prio.incremental => Rank {
                urgency: e.prio.urgency,
                class: 0,
                //= https://www.rfc-editor.org/rfc/rfc9218#section-10
                //# Non-incremental responses of the same urgency SHOULD be
                //# served by prioritizing bandwidth allocation in ascending
                //# order of the stream ID, which corresponds to the order in
                //# which clients make requests.
                a: order,
                b: 0,
                stream,
            },
            //= https://www.rfc-editor.org/rfc/rfc9218#section-10
            //# Incremental responses of the same urgency SHOULD be served by
            //# sharing bandwidth among them.
            // Non-incremental before incremental within one urgency, as quiche
            // does: the client can use neither response until the
            // non-incremental one is complete, so finishing it first costs
            // the incremental one least.
            Policy::Rfc9218 => Rank {
                urgency: e.prio.urgency,
                class: 1,
                a: e.turn,
                b: order,
                stream,
            },
            Policy::Fifo => Rank {
                urgency: 0,
                class: 0,
                a: order,
                b: 0,
                stream,
            },
            Policy::RoundRobin => Rank {
                urgency: 0,
                class: 0,
                a: e.turn,
                b: order,
                stream,
            },
        }
    }

    /// The stream that [`Scheduler::pop`] would serve next, if any.
    pub fn peek(&self) -> Option<StreamKey> {
        self.ready.peek().map(|(k, _)| *k)
    }

    /// Whether the stream served next carries bytes a more urgent response
    /// may need to overtake: a push, or a response less urgent than another
    /// open response (one waiting for its think time, say). `None` when
    /// nothing is ready. See [`inflight`].
    pub fn next_is_preemptible(&self) -> Option<bool> {
        let next = self.peek()?;
        let e = self.streams.get(&next)?;
        if e.order.sub > 0 {
            return Some(true);
        }
        let more_urgent = &self.open_requests[..usize::from(e.prio.urgency.min(7))];
        Some(more_urgent.iter().any(|&n| n > 0))
    }

    /// Whether a response (not a push) is open and its last byte not yet
    /// popped: one that may become ready while preemptible bytes go.
    pub fn response_open(&self) -> bool {
        self.open_requests.iter().any(|&n| n > 0)
    }

    /// Takes up to `max` bytes (at least one byte when data is queued) from
    /// the most deserving stream.
    pub fn pop(&mut self, max: usize, now: Instant) -> Option<Chunk> {
        let max = max.max(1);
        let (stream, _) = self.ready.pop()?;
        let entry = self.streams.get_mut(&stream)?;
        let first = !entry.started;
        entry.started = true;
        let mut data = Bytes::new();
        let mut waited = Duration::ZERO;
        if let Some(head) = entry.pending.front_mut() {
            waited = now.saturating_duration_since(head.at);
            if head.data.len() <= max {
                data = head.data.clone();
                entry.pending.pop_front();
            } else {
                data = head.data.split_to(max);
            }
        }
        entry.queued -= data.len();
        entry.sent += data.len() as u64;
        self.total_queued -= data.len();
        let fin = entry.fin && entry.queued == 0;
        if fin {
            self.count_open(stream, false);
            if let Some(entry) = self.streams.get_mut(&stream) {
                entry.fin_popped = true;
            }
        }
        self.stats.decisions += 1;
        self.stats.bytes += data.len() as u64;
        self.refresh(stream, true);
        Some(Chunk {
            stream,
            data,
            fin,
            waited,
            first,
        })
    }

    /// Gives back the part of a popped chunk that the transport did not
    /// take. It goes back to the front of its stream, so order within the
    /// stream is kept.
    pub fn unsend(
        &mut self,
        stream: StreamKey,
        data: Bytes,
        fin: bool,
        now: Instant,
    ) -> Result<(), SchedError> {
        let entry = self
            .streams
            .get_mut(&stream)
            .ok_or(SchedError::UnknownStream(stream))?;
        if !data.is_empty() {
            entry.queued += data.len();
            entry.sent -= (data.len() as u64).min(entry.sent);
            self.total_queued += data.len();
            self.stats.bytes -= (data.len() as u64).min(self.stats.bytes);
            entry.pending.push_front(Pending { data, at: now });
        }
        if fin && entry.fin_popped {
            entry.fin_popped = false;
            self.count_open(stream, true);
        }
        self.refresh(stream, false);
        Ok(())
    }

    /// Forgets a stream (finished, reset or cancelled); returns the number
    /// of queued bytes dropped.
    pub fn remove(&mut self, stream: StreamKey) -> usize {
        self.ready.remove(&stream);
        self.count_open(stream, false);
        match self.streams.remove(&stream) {
            Some(entry) => {
                if entry.blocked {
                    self.blocked.retain(|s| *s != stream);
                }
                self.total_queued -= entry.queued;
                self.stats.dropped += entry.queued as u64;
                entry.queued
            }
            None => 0,
        }
    }

    /// Bytes queued on one stream.
    pub fn queued(&self, stream: StreamKey) -> usize {
        self.streams.get(&stream).map(|e| e.queued).unwrap_or(0)
    }

    /// Bytes popped from one stream so far.
    pub fn sent(&self, stream: StreamKey) -> u64 {
        self.streams.get(&stream).map(|e| e.sent).unwrap_or(0)
    }

    /// True once the stream's FIN has been popped and nothing is queued.
    pub fn is_drained(&self, stream: StreamKey) -> bool {
        self.streams
            .get(&stream)
            .map(|e| e.fin_popped && e.queued == 0)
            .unwrap_or(true)
    }

    /// Bytes queued on all streams.
    pub fn total_queued(&self) -> usize {
        self.total_queued
    }

    /// Number of registered streams.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// True when no stream is registered.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// True when some stream could be popped now.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Counters so far.
    pub fn stats(&self) -> SchedStats {
        self.stats
    }
}

#[cfg(test)]
mod tests;

pub mod arrivals;
pub mod budget;
pub mod dispersion;
pub mod inflight;
pub mod transport;
