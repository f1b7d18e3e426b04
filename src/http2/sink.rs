//! h2 as the send queue's transport.
//!
//! h2 orders frames of different streams first come, first served and
//! ignores PRIORITY frames, so the queue decides by handing h2 data only for
//! the stream it picked, and only as much as h2 has flow-control capacity
//! for (reserve, poll, send), never more: data sent beyond capacity would be
//! buffered inside h2 and leave in h2's order, not ours. For the same
//! reason, streams hand h2 only a frame's worth between two of its flushes
//! ([`H2_BUDGET`], more for a stream alone; see [`super::watch`]): with a
//! browser's large flow-control windows, capacity alone would let h2 hold
//! every response at once and interleave them frame by frame.

use std::task::{Context, Poll};

use bytes::Bytes;

use std::sync::Arc;

use super::watch::WriteWatch;
#[cfg(doc)]
use super::watch::H2_BUDGET;
use crate::sendq::{SendQueue, StreamSink, WriteFailure};
use crate::wire::frame::code;

/// The send queue of an HTTP/2 connection.
pub type H2Queue = SendQueue<H2Sink>;

/// An h2 response (or pushed response) stream written by the queue, and
/// its connection's write watch (which keeps the budget).
pub struct H2Sink(pub h2::SendStream<Bytes>, pub Arc<WriteWatch>);

/// The HTTP/2 error code for one of the HTTP/3 codes the queue uses.
pub fn h2_reason(h3_code: u64) -> h2::Reason {
    match h3_code {
        code::H3_NO_ERROR => h2::Reason::NO_ERROR,
        code::H3_REQUEST_CANCELLED => h2::Reason::CANCEL,
        code::H3_REQUEST_REJECTED => h2::Reason::REFUSED_STREAM,
        code::H3_EXCESSIVE_LOAD => h2::Reason::ENHANCE_YOUR_CALM,
        _ => h2::Reason::INTERNAL_ERROR,
    }
}

/// The HTTP/3 code the queue uses for an HTTP/2 reason (the queue and the
/// log speak HTTP/3 codes; RFC 9114 section A.4 gives the correspondence).
pub fn h3_code(reason: h2::Reason) -> u64 {
    match reason {
        h2::Reason::NO_ERROR => code::H3_NO_ERROR,
        h2::Reason::CANCEL => code::H3_REQUEST_CANCELLED,
        h2::Reason::REFUSED_STREAM => code::H3_REQUEST_REJECTED,
        h2::Reason::ENHANCE_YOUR_CALM => code::H3_EXCESSIVE_LOAD,
        h2::Reason::PROTOCOL_ERROR => code::H3_GENERAL_PROTOCOL_ERROR,
        h2::Reason::STREAM_CLOSED => code::H3_STREAM_CREATION_ERROR,
        h2::Reason::FRAME_SIZE_ERROR => code::H3_FRAME_ERROR,
        _ => code::H3_INTERNAL_ERROR,
    }
}

fn failure(e: h2::Error) -> WriteFailure {
    match e.reason() {
        Some(r) if e.is_remote() => WriteFailure::Stopped(h3_code(r)),
        Some(r) => WriteFailure::Reset(h3_code(r)),
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
                self.0.send_data(Bytes::new(), true).map_err(failure)?;
            }
            return Poll::Ready(Ok(0));
        }
        let id = self.0.stream_id().as_u32();
        let budget = self.1.budget(id, cx);
        if budget == 0 {
            // h2 still holds what it was given; the next flush wakes us.
            return Poll::Pending;
        }
        let want = (data.len() as u64).min(budget) as usize;
        let mut cap = self.0.capacity();
        if cap == 0 {
            self.0.reserve_capacity(want);
            cap = self.0.capacity();
        }
        if cap == 0 {
            match self.0.poll_capacity(cx) {
                Poll::Ready(Some(Ok(n))) => cap = n,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(failure(e))),
                // The stream was reset or closed by the peer.
                Poll::Ready(None) => {
                    return Poll::Ready(Err(WriteFailure::Stopped(code::H3_REQUEST_CANCELLED)))
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
        self.0.send_data(data.slice(..take), end).map_err(failure)?;
        self.1.handed(id, take as u64);
        // Give back any capacity requested beyond what was sent, so h2 does
        // not assign it to this stream ahead of one the queue picks next.
        self.0.reserve_capacity(0);
        Poll::Ready(Ok(take))
    }

    fn reset(&mut self, error_code: u64) {
        self.0.send_reset(h2_reason(error_code));
    }

    fn withdraw(&mut self) -> bool {
        // h2 hands connection credit to streams with reservations first
        // come, first served; only the stream the queue prefers keeps one.
        self.0.reserve_capacity(0);
        true
    }

    // h2 may have assigned credit to other streams, and a pushed stream can
    // wait for the client's concurrency limit before it opens: a fresh
    // stream's refusal says nothing about the rest.
    const FRESH_REFUSAL_IS_CONNECTION_WIDE: bool = false;
}
