//! quinn as the send queue's transport: [`QuinnSink`] for streams and
//! [`QuinnWindow`] for the connection's send window.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use quinn::VarInt;

use crate::sched::inflight::PathSample;
use crate::sched::StreamKey;
use crate::sendq::{Abandon, PeerStop, SendQueue, StreamSink, WindowControl, WriteFailure};
use crate::wire::frame::{self, code};

/// The send queue of an HTTP/3 connection.
pub type H3Queue = SendQueue<QuinnSink>;

/// The HTTP/3 error code for a reason the queue abandons a stream.
pub fn h3_code(why: Abandon) -> u64 {
    match why {
        Abandon::Cancelled => code::H3_REQUEST_CANCELLED,
        Abandon::Internal => code::H3_INTERNAL_ERROR,
        Abandon::Code(c) => c,
    }
}

/// Queues one DATA frame carrying `payload` (no copy: the frame header and
/// the payload go in as two pieces) and waits until the stream's queue is
/// below its bound again.
//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.1
//# DATA frames (type=0x00) convey arbitrary, variable-length sequences of
//# bytes associated with HTTP request or response content.
pub async fn send_data_frame(
    queue: &H3Queue,
    id: StreamKey,
    payload: Bytes,
) -> Result<(), WriteFailure> {
    let header = frame::data_header(payload.len() as u64);
    queue.enqueue_all(id, [header, payload])?;
    std::future::poll_fn(|cx| queue.poll_writable(id, cx)).await
}

/// A quinn send stream written by the queue.
pub struct QuinnSink(pub quinn::SendStream);

impl StreamSink for QuinnSink {
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        data: &Bytes,
        fin: bool,
    ) -> Poll<Result<usize, WriteFailure>> {
        let mut written = 0;
        while written < data.len() {
            match Pin::new(&mut self.0).poll_write(cx, &data[written..]) {
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(match e {
                        quinn::WriteError::Stopped(c) => WriteFailure::Stopped(PeerStop {
                            code: c.into_inner(),
                            name: code::name(c.into_inner()).to_string(),
                        }),
                        quinn::WriteError::ConnectionLost(e) => {
                            WriteFailure::ConnectionLost(e.to_string())
                        }
                        quinn::WriteError::ClosedStream | quinn::WriteError::ZeroRttRejected => {
                            WriteFailure::Abandoned(Abandon::Internal)
                        }
                    }))
                }
                Poll::Pending if written == 0 => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        if fin && written == data.len() {
            let _ = self.0.finish();
        }
        Poll::Ready(Ok(written))
    }

    fn reset(&mut self, why: Abandon) {
        let _ = self
            .0
            .reset(VarInt::from_u64(h3_code(why)).unwrap_or(VarInt::MAX));
    }

    fn set_priority(&mut self, priority: i32) {
        let _ = self.0.set_priority(priority);
    }
}

/// quinn's connection send window: it bounds the stream bytes written and
/// not yet acknowledged (buffered in quinn or in flight).
pub struct QuinnWindow(pub quinn::Connection);

impl WindowControl for QuinnWindow {
    fn path(&self) -> Option<PathSample> {
        let s = self.0.stats();
        Some(PathSample {
            cwnd: s.path.cwnd,
            srtt: s.path.rtt,
            sent_bytes: s.udp_tx.bytes,
            ack_rate: super::cc::observed(&self.0).and_then(|o| o.ack_rate),
        })
    }

    fn set_window(&self, bytes: u64, _limited: bool) {
        self.0.set_send_window(bytes);
    }
}

/// A connection's state for traces: quinn's path statistics and the send
/// queue's.
pub struct H3Probe {
    /// The connection.
    pub conn: quinn::Connection,
    /// Its send queue.
    pub queue: std::sync::Arc<H3Queue>,
    /// Its congestion controller.
    pub congestion: crate::config::Congestion,
}

impl crate::trace::ConnProbe for H3Probe {
    fn state(&self) -> crate::trace::ConnState {
        let s = self.conn.stats();
        let q = self.queue.trace_state();
        let cc = super::cc::observed(&self.conn);
        crate::trace::ConnState {
            protocol: "h3".into(),
            cwnd: s.path.cwnd,
            srtt_us: s.path.rtt.as_micros() as u64,
            min_rtt_us: Some(s.path.min_rtt.as_micros() as u64),
            sent_bytes: Some(s.udp_tx.bytes),
            in_flight: cc.map(|c| c.in_flight),
            app_limited: cc.map(|c| c.app_limited),
            transport_unsent: None,
            writer_held: None,
            delivery_rate: cc.and_then(|c| c.ack_rate),
            retrans: Some(s.path.lost_packets),
            rtos: None,
            spurious_retrans: None,
            ca_state: None,
            peer_window: None,
            segments_in_flight: None,
            cwnd_segments: None,
            congestion_control: Some(self.congestion.name().to_string()),
            queued: q.queued,
            send_window: q.send_window,
            bdp_estimate: q.bdp_estimate,
            window_limited: q.window_limited,
            transport_full: q.transport_full,
        }
    }
}
