//! What the send queue writes into, and how a write can fail. Failure
//! reasons are the queue's own; each transport's sink maps them to its
//! protocol's error codes.

use std::task::{Context, Poll};

use bytes::Bytes;

use crate::sched::inflight::PathSample;

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
    /// Abruptly ends the stream; the sink picks its protocol's code.
    fn reset(&mut self, why: Abandon);
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

/// The transport's connection send window (the most unacknowledged bytes
/// it may hold), which the queue keeps small: congestion window plus `lowat`
/// for urgent bytes, the in-flight limit for preemptible ones
/// ([`crate::sched::inflight`]). Consulted at most every 2 ms, and whenever
/// what is sent next turns urgent.
pub trait WindowControl: Send + Sync {
    /// The path now; `None` for transports without such a window.
    fn path(&self) -> Option<PathSample>;
    /// Sets the connection send window; `limited` when it is the in-flight
    /// limit for preemptible bytes rather than the full window (transports
    /// that cannot hold back bytes themselves, like TCP, gate only then).
    fn set_window(&self, bytes: u64, limited: bool);
}

/// For transports without a window to adjust.
pub struct NoWindow;

impl WindowControl for NoWindow {
    fn path(&self) -> Option<PathSample> {
        None
    }

    fn set_window(&self, _bytes: u64, _limited: bool) {}
}

/// Why the server abandons a stream. Each sink maps it to its protocol's
/// error code (HTTP/3: H3_REQUEST_CANCELLED, H3_INTERNAL_ERROR; HTTP/2:
/// CANCEL, INTERNAL_ERROR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandon {
    /// The response is no longer wanted: a cancelled push, a stalled
    /// response.
    Cancelled,
    /// The server could not go on (a stream released unfinished, a body
    /// that could not be read).
    Internal,
    /// A code the protocol layer chose itself (h3 resetting a stream); the
    /// queue carries it without reading it, and only that protocol's sink
    /// interprets it.
    Code(u64),
}

/// The peer's request to stop a stream (STOP_SENDING on QUIC, RST_STREAM on
/// HTTP/2), with its code as the peer's protocol names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStop {
    /// The error code on the wire.
    pub code: u64,
    /// Its name in the protocol (for logs).
    pub name: String,
}

/// Why a stream can no longer be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFailure {
    /// The peer stopped the stream.
    Stopped(PeerStop),
    /// The connection is gone.
    ConnectionLost(String),
    /// The server reset or released the stream.
    Abandoned(Abandon),
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteFailure::Stopped(s) => write!(f, "peer stopped the stream ({})", s.name),
            WriteFailure::ConnectionLost(e) => write!(f, "connection lost: {e}"),
            WriteFailure::Abandoned(Abandon::Cancelled) => {
                f.write_str("stream reset locally (cancelled)")
            }
            WriteFailure::Abandoned(Abandon::Internal) => {
                f.write_str("stream reset locally (internal error)")
            }
            WriteFailure::Abandoned(Abandon::Code(c)) => {
                write!(f, "stream reset locally (code {c:#x})")
            }
        }
    }
}

impl std::error::Error for WriteFailure {}
