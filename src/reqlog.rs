//! The per-request log line, the same for HTTP/3, HTTP/2 and HTTP/1.1.

use std::net::SocketAddr;
use std::time::Duration;

use crate::reply::{Reply, RequestHead};
use crate::stats::PushCounters;

/// What a request produced, filled in by the protocol code.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Body bytes handed to the transport.
    pub bytes: u64,
    /// Time to the first response byte handed to the transport.
    pub ttfb: Option<Duration>,
    /// Time to the last byte (FIN) handed to the transport.
    pub done: Option<Duration>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Link values hinted with 103.
    pub hints: usize,
    /// Pushes promised.
    pub pushes: usize,
    /// Pushed bytes handed to the transport ahead of this ready response.
    pub push_bytes_ahead: u64,
    /// The request arrived before the handshake completed (0-RTT).
    pub early: bool,
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2}", d.as_secs_f64() * 1e3))
        .unwrap_or_else(|| "-".to_string())
}

/// Emits the `pushlab::request` line.
pub fn log_request(
    proto: &'static str,
    remote: SocketAddr,
    stream: u64,
    head: &RequestHead,
    reply: &Reply,
    o: &Outcome,
    conn_pushes: PushCounters,
) {
    tracing::info!(
        target: "pushlab::request",
        proto,
        remote = %remote,
        stream,
        method = %head.method,
        path = %head.target,
        status = reply.status.as_u16(),
        bytes = o.bytes,
        urgency = reply.priority.urgency,
        incremental = reply.priority.incremental,
        priority_header = reply.client_priority.as_deref().unwrap_or("-"),
        ttfb_ms = %ms(o.ttfb),
        duration_ms = %ms(o.done),
        hints = o.hints,
        pushes = o.pushes,
        push_bytes_ahead = o.push_bytes_ahead,
        conn_promised = conn_pushes.promised,
        conn_pushed = conn_pushes.completed,
        conn_push_cancelled = conn_pushes.cancelled_by_client,
        conn_refused_bytes = conn_pushes.refused_bytes,
        early = o.early,
        error = o.error.as_deref().unwrap_or("-"),
        "request"
    );
}
