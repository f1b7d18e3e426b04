//! Server-wide counters, shared by every protocol.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::sendq::Gauges;

/// Per-connection push counters (what the request log shows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushCounters {
    /// PUSH_PROMISE frames sent.
    pub promised: u64,
    /// Pushed responses whose FIN was handed to quinn.
    pub completed: u64,
    /// Pushes the client cancelled (CANCEL_PUSH or STOP_SENDING).
    pub cancelled_by_client: u64,
    /// Pushes the server cancelled itself.
    pub cancelled_by_server: u64,
    /// Pushed bytes the client refused: queued or unsent when it cancelled.
    pub refused_bytes: u64,
    /// Pushed bytes handed to quinn.
    pub pushed_bytes: u64,
}

/// How a push ended, as the counters see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushEnd {
    /// Its last byte was handed to the transport.
    Completed,
    /// The client refused it (CANCEL_PUSH, STOP_SENDING, RST_STREAM) or
    /// the connection went.
    ClientRefused,
    /// The server gave up on it (a stall, a body it could not read, a
    /// promise it could not keep).
    ServerGaveUp,
}

impl PushCounters {
    /// Counts a push's end: `written` bytes handed to the transport and
    /// `refused` planned bytes that never went. `already_counted`: the
    /// cancellation was counted when it happened (a CANCEL_PUSH).
    pub fn record(&mut self, end: PushEnd, written: u64, refused: u64, already_counted: bool) {
        self.pushed_bytes += written;
        match end {
            PushEnd::Completed => self.completed += 1,
            PushEnd::ClientRefused => {
                if !already_counted {
                    self.cancelled_by_client += 1;
                }
                self.refused_bytes += refused;
            }
            PushEnd::ServerGaveUp => {
                if !already_counted {
                    self.cancelled_by_server += 1;
                }
            }
        }
    }
}

/// Server-wide counters.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Requests answered.
    pub requests: AtomicU64,
    /// Stateless Retries sent.
    pub retries: AtomicU64,
    /// Connections accepted with 0-RTT enabled whose handshake was still
    /// running when the first request arrived.
    pub early_connections: AtomicU64,
    /// Requests that arrived in 0-RTT early data.
    pub early_requests: AtomicU64,
    /// Requests refused with 425 Too Early.
    pub too_early: AtomicU64,
    /// Key updates the server initiated.
    pub key_updates: AtomicU64,
    /// Connections that negotiated `hq-interop`.
    pub hq_connections: AtomicU64,
    /// Requests that failed (reset, stall, connection loss).
    pub failed: AtomicU64,
    /// Queue totals over all connections.
    pub queues: Arc<Gauges>,
    /// Push counters of closed connections, summed.
    pub pushes: parking_lot::Mutex<PushCounters>,
    /// The live connections' transport and queue state, for traces.
    pub probes: crate::trace::Probes,
}

impl ServerStats {
    /// Adds a closed connection's push counters to the totals.
    pub fn add_pushes(&self, c: PushCounters) {
        let mut t = self.pushes.lock();
        t.promised += c.promised;
        t.completed += c.completed;
        t.cancelled_by_client += c.cancelled_by_client;
        t.cancelled_by_server += c.cancelled_by_server;
        t.refused_bytes += c.refused_bytes;
        t.pushed_bytes += c.pushed_bytes;
    }
}
