//! h2 as the send queue's transport.
//!
//! h2 orders frames of different streams first come, first served and
//! ignores PRIORITY frames, so the queue decides by handing h2 data only for
//! the stream it picked, and only as much as h2 has flow-control capacity
//! for (reserve, poll, send), never more: data sent beyond capacity would be
//! buffered inside h2 and leave in h2's order, not ours. For the same
//! reason, streams hand h2 only a frame's worth between two of its flushes
//! ([`FlushBudget`], more for a stream alone; see [`super::watch`]): with a
//! browser's large flow-control windows, capacity alone would let h2 hold
//! every response at once and interleave them frame by frame.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::gate::TcpGate;
use super::watch::WriteWatch;
#[cfg(doc)]
use crate::sched::budget::FlushBudget;
use crate::sendq::{Abandon, PeerStop, SendQueue, StreamSink, WriteFailure};

/// The send queue of an HTTP/2 connection.
pub type H2Queue = SendQueue<H2Sink>;

/// An h2 response (or pushed response) stream written by the queue.
pub struct H2Sink {
    stream: h2::SendStream<Bytes>,
    /// The connection's write watch (which keeps the budget).
    watch: Arc<WriteWatch>,
    /// The connection's in-flight gate, with `--tcp-inflight`.
    gate: Option<Arc<TcpGate>>,
    /// Wakes a send the gate refused.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Wakes a send held for other streams' HEADERS.
    heads_timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl H2Sink {
    /// A sink for `stream` on the connection whose writes `watch` sees.
    pub fn new(
        stream: h2::SendStream<Bytes>,
        watch: Arc<WriteWatch>,
        gate: Option<Arc<TcpGate>>,
    ) -> Self {
        H2Sink {
            stream,
            watch,
            gate,
            timer: None,
            heads_timer: None,
        }
    }
}

/// The HTTP/2 error code for a reason the queue abandons a stream.
pub fn h2_reason(why: Abandon) -> h2::Reason {
    match why {
        Abandon::Cancelled => h2::Reason::CANCEL,
        Abandon::Internal => h2::Reason::INTERNAL_ERROR,
        Abandon::Code(c) => h2::Reason::from(u32::try_from(c).unwrap_or(0x2)),
    }
}

fn peer_stop(reason: h2::Reason) -> PeerStop {
    PeerStop {
        code: u64::from(u32::from(reason)),
        name: format!("{reason:?}"),
    }
}

fn failure(e: h2::Error) -> WriteFailure {
    match e.reason() {
        Some(r) if e.is_remote() => WriteFailure::Stopped(peer_stop(r)),
        Some(h2::Reason::CANCEL) => WriteFailure::Abandoned(Abandon::Cancelled),
        Some(r) => WriteFailure::Abandoned(Abandon::Code(u64::from(u32::from(r)))),
        None => WriteFailure::ConnectionLost(e.to_string()),
    }
}

impl StreamSink for H2Sink {
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        data: &Bytes,
        fin: bool,
    ) -> Poll<Result<usize, WriteFailure>> {
        if data.is_empty() {
            if fin {
                self.stream.send_data(Bytes::new(), true).map_err(failure)?;
            }
            return Poll::Ready(Ok(0));
        }
        let id = self.stream.stream_id().as_u32();
        let budget = self.watch.budget(id, cx);
        if budget == 0 {
            // h2 still holds what it was given, or other streams' HEADERS;
            // the next flush wakes us. While HEADERS wait, a timer wakes us
            // too: h2 may hold them without flushing (a pushed stream
            // waiting for the client's concurrency limit).
            if self.watch.heads_waiting(id) {
                let t = self.heads_timer.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep(std::time::Duration::from_millis(5)))
                });
                if std::future::Future::poll(t.as_mut(), cx).is_ready() {
                    self.heads_timer = None;
                    cx.waker().wake_by_ref();
                }
            }
            return Poll::Pending;
        }
        let mut want = (data.len() as u64).min(budget);
        if let Some(gate) = &self.gate {
            match gate.poll_room(cx, &mut self.timer, want) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(room)) => want = want.min(room),
                Poll::Ready(None) => {}
            }
        }
        let want = want as usize;
        let mut cap = self.stream.capacity();
        if cap == 0 {
            self.stream.reserve_capacity(want);
            cap = self.stream.capacity();
        }
        if cap == 0 {
            match self.stream.poll_capacity(cx) {
                Poll::Ready(Some(Ok(n))) => cap = n,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(failure(e))),
                // The stream was reset or closed by the peer.
                Poll::Ready(None) => {
                    return Poll::Ready(Err(WriteFailure::Stopped(peer_stop(h2::Reason::CANCEL))))
                }
                // The reservation stays, so h2 wakes us when capacity comes.
                Poll::Pending => return Poll::Pending,
            }
        }
        let take = cap.min(want);
        if take == 0 {
            return Poll::Pending;
        }
        let end = fin && take == data.len();
        self.stream
            .send_data(data.slice(..take), end)
            .map_err(failure)?;
        self.watch.handed(id, take as u64);
        // Give back any capacity requested beyond what was sent, so h2 does
        // not assign it to this stream ahead of one the queue picks next.
        self.stream.reserve_capacity(0);
        Poll::Ready(Ok(take))
    }

    fn reset(&mut self, why: Abandon) {
        self.stream.send_reset(h2_reason(why));
    }

    fn withdraw(&mut self) -> bool {
        // h2 hands connection credit to streams with reservations first
        // come, first served; only the stream the queue prefers keeps one.
        self.stream.reserve_capacity(0);
        true
    }

    // h2 may have assigned credit to other streams, and a pushed stream can
    // wait for the client's concurrency limit before it opens: a fresh
    // stream's refusal says nothing about the rest.
    const FRESH_REFUSAL_IS_CONNECTION_WIDE: bool = false;
}
