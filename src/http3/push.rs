//! Carrying out pushes on HTTP/3 (RFC 9114 section 4.6): PUSH_PROMISE on
//! the request stream, then a push stream whose bytes go through the same
//! send queue as every response, placed right after its parent.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use tokio::task::JoinHandle;
use tracing::debug;

use super::control::ControlSink;
use super::sink::{send_data_frame, H3Queue, QuinnSink};
use crate::pipeline::{self, Exchange, SendError};
use crate::priority::Priority;
use crate::push::{ConnView, PushItem};
use crate::reply::{self, CoreOptions};
use crate::sched::{Order, StreamKey};
use crate::sendq::Abandon;
use crate::site::Site;
use crate::stats::PushEnd;
use crate::wire::frame::{self, stream_type, Frame};
use crate::wire::{qpack, varint};

/// What the push code needs from the connection.
#[derive(Clone)]
pub struct PushContext {
    /// The connection's send queue.
    pub queue: Arc<H3Queue>,
    /// Push ID state.
    pub control: Arc<ControlSink>,
    /// The QUIC connection (to open push streams).
    pub conn: quinn::Connection,
    /// The site.
    pub site: Arc<Site>,
    /// Core options.
    pub core: CoreOptions,
    /// Body bytes per DATA frame.
    pub body_chunk: usize,
    /// A push that makes no progress this long is reset.
    pub stall_timeout: Duration,
}

/// What a push policy may know about an HTTP/3 connection (`control` is
/// absent with `--scheduler off`: no push then).
pub fn conn_view(
    conn: &quinn::Connection,
    control: Option<&ControlSink>,
    with_stats: bool,
) -> ConnView {
    ConnView {
        protocol: "h3",
        push_allowed: control.is_some_and(|c| c.push_enabled()),
        cwnd: with_stats.then(|| conn.stats().path.cwnd),
        in_flight: None,
    }
}

fn encode_fields(
    status: Option<StatusCode>,
    pseudo: &[(&str, &str)],
    headers: &HeaderMap,
) -> Bytes {
    let status_s = status.map(|s| s.as_u16().to_string());
    let mut fields: Vec<(&[u8], &[u8])> = Vec::new();
    if let Some(s) = &status_s {
        fields.push((b":status", s.as_bytes()));
    }
    for (n, v) in pseudo {
        fields.push((n.as_bytes(), v.as_bytes()));
    }
    for (n, v) in headers {
        fields.push((n.as_str().as_bytes(), v.as_bytes()));
    }
    qpack::encode(fields)
}

/// A promise whose PUSH_PROMISE is queued on the parent stream.
struct Promised {
    ctx: PushContext,
    push_id: u64,
    path: String,
    reply: reply::Reply,
    order: Order,
    prio: Priority,
}

/// A promised push, ready to start. Dropped without being started (the
/// parent failed), the promise is cancelled with CANCEL_PUSH.
pub struct PreparedPush {
    inner: Option<Promised>,
}

impl PreparedPush {
    /// Opens the push stream and sends the pushed response, in a task.
    pub fn start(mut self) -> Option<JoinHandle<()>> {
        let p = self.inner.take()?;
        Some(tokio::spawn(open_and_send(p)))
    }
}

impl Drop for PreparedPush {
    fn drop(&mut self) {
        if let Some(p) = self.inner.take() {
            p.ctx.control.cancel_by_server(p.push_id);
        }
    }
}

/// Opens the push stream (only now, so promising costs the parent nothing
/// but the PUSH_PROMISE frames), registers it right after its parent in the
/// queue, and sends the pushed response.
async fn open_and_send(p: Promised) {
    let ctx = p.ctx;
    if ctx.control.is_cancelled(p.push_id) {
        return;
    }
    let send = match tokio::time::timeout(ctx.stall_timeout, ctx.conn.open_uni()).await {
        Ok(Ok(s)) => s,
        _ => {
            cancel_promise(&ctx, p.push_id);
            return;
        }
    };
    let id: StreamKey = send.id().into();
    let key = ctx.queue.register(id, QuinnSink(send), p.order, p.prio);
    if !ctx.control.attach_push_stream(p.push_id, key) {
        // Cancelled while the stream was being opened.
        ctx.queue.reset(key, Abandon::Cancelled);
        ctx.queue.release(key);
        return;
    }
    send_pushed(ctx, key, p.push_id, p.path, p.reply).await;
}

/// Promises each push in order (PUSH_PROMISE on the parent stream) and
/// returns them ready to start. Stops early when the client's MAX_PUSH_ID
/// is reached.
///
/// The caller starts them after the parent's HEADERS are queued when the
/// parent is ready at once, so the parent goes first; or right away when
/// the parent has think time, so pushes fill the idle time.
pub fn promise_pushes(
    ctx: &PushContext,
    parent: StreamKey,
    authority: Option<&str>,
    items: &[PushItem],
) -> Vec<PreparedPush> {
    let mut tasks = Vec::new();
    let parent_prio = ctx.queue.priority(parent).unwrap_or_default();
    //= https://www.rfc-editor.org/rfc/rfc9114#section-4.6
    //# The server MUST include a value in the :authority pseudo-header
    //# field for which the server is authoritative.
    // The parent request's authority is one the client sent to this server;
    // without it there is nothing authoritative to promise, so no push.
    let Some(authority) = authority else {
        debug!("request without :authority: not pushing");
        return tasks;
    };
    for (index, item) in items.iter().enumerate() {
        let Some((headers, reply)) = crate::push::promised(&ctx.site, &ctx.core, item) else {
            debug!(path = %item.path, "not pushing: not a 200 response");
            continue;
        };
        let Some(push_id) = ctx.control.allocate_push(&item.path) else {
            debug!(path = %item.path, "no push ID available (MAX_PUSH_ID)");
            break;
        };
        //= https://www.rfc-editor.org/rfc/rfc9114#section-4.6
        //# The push ID is used in one or more PUSH_PROMISE frames that carry
        //# the control data and header fields of the request message.  These
        //# frames are sent on the request stream that generated the push.
        //# This allows the server push to be associated with a client
        //# request.
        let promised = encode_fields(
            None,
            &[
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", authority),
                (":path", &item.path),
            ],
            &headers,
        );
        let pp = frame::encode(&Frame::PushPromise {
            push_id,
            block: promised,
        });
        if ctx.queue.enqueue(parent, pp).is_err() {
            ctx.control.cancel_by_server(push_id);
            break;
        }
        let order = Order::push_of(Order::request(parent / 4), index as u32);
        let prio = Priority::of_push(item.priority, parent_prio);
        tasks.push(PreparedPush {
            inner: Some(Promised {
                ctx: ctx.clone(),
                push_id,
                path: item.path.clone(),
                reply,
                order,
                prio,
            }),
        });
    }
    tasks
}

fn cancel_promise(ctx: &PushContext, push_id: u64) {
    //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
    //# A server sends a CANCEL_PUSH frame to indicate that it will not be
    //# fulfilling a promise that was previously sent.
    // A server that cannot open the stream tells the client with CANCEL_PUSH
    // on its control stream; h3 owns that stream, so pushlab only records it
    // and the client sees the promise go unfulfilled until the connection ends.
    ctx.control.cancel_by_server(push_id);
}

/// Bytes a body of `total` bytes takes as DATA frames of `chunk` bytes.
fn framed_len(total: u64, chunk: u64) -> u64 {
    let frame = |n: u64| 1 + varint::size(n) as u64 + n;
    let full = total / chunk;
    let rem = total % chunk;
    full * frame(chunk) + if rem > 0 { frame(rem) } else { 0 }
}

/// A pushed response on its push stream, written through the queue.
struct H3Push {
    ctx: PushContext,
    key: StreamKey,
    push_id: u64,
    /// Bytes of the stream header and HEADERS frame.
    head_len: u64,
}

impl Exchange for H3Push {
    async fn send_hints(&mut self, _fields: HeaderMap) -> Result<(), SendError> {
        // A pushed response has no interim responses.
        Ok(())
    }

    async fn send_head(&mut self, head: http::Response<()>, _end: bool) -> Result<(), SendError> {
        let mut header = BytesMut::new();
        //= https://www.rfc-editor.org/rfc/rfc9114#section-6.2.2
        //# A push stream is indicated by a stream type of 0x01, followed by the
        //# push ID of the promise that it fulfills, encoded as a variable-length
        //# integer.
        varint::put(stream_type::PUSH, &mut header);
        varint::put(self.push_id, &mut header);
        let block = encode_fields(Some(head.status()), &[], head.headers());
        frame::encode_raw(frame::ty::HEADERS, &block, &mut header);
        self.head_len = header.len() as u64;
        let q = &self.ctx.queue;
        q.enqueue(self.key, header.freeze())?;
        Ok(poll_fn(|cx| q.poll_writable(self.key, cx)).await?)
    }

    async fn send_chunk(&mut self, chunk: Bytes, _last: bool) -> Result<(), SendError> {
        Ok(send_data_frame(&self.ctx.queue, self.key, chunk).await?)
    }

    async fn finish(&mut self) -> Result<(), SendError> {
        let q = &self.ctx.queue;
        q.finish(self.key)?;
        Ok(poll_fn(|cx| q.poll_finished(self.key, cx)).await?)
    }

    fn abandon(&mut self, why: Abandon) {
        self.ctx.queue.reset(self.key, why);
    }
}

async fn send_pushed(
    ctx: PushContext,
    key: StreamKey,
    push_id: u64,
    path: String,
    reply: reply::Reply,
) {
    let started = std::time::Instant::now();
    let (chunk, stall) = (ctx.body_chunk, ctx.stall_timeout);
    let mut ex = H3Push {
        ctx,
        key,
        push_id,
        head_len: 0,
    };
    let mut sent_body = 0u64;
    let result = pipeline::push_response(&mut ex, &reply, chunk, stall, &mut sent_body).await;
    let H3Push { ctx, head_len, .. } = ex;
    let stats = ctx.queue.release(key);
    let written = stats.map(|s| s.written).unwrap_or(0);
    let end = pipeline::record_push(
        &pipeline::PushLog {
            proto: "h3",
            remote: ctx.conn.remote_address(),
            id: push_id,
            stream: key,
            path: &path,
            status: reply.status,
            body_bytes: sent_body,
            wire_bytes: Some(written),
            started,
        },
        &result,
    );
    let planned = head_len + framed_len(reply.body.len(), ctx.body_chunk.max(1) as u64);
    let refused = if end == PushEnd::Completed {
        0
    } else {
        planned.saturating_sub(written)
    };
    ctx.control.push_finished(push_id, end, written, refused);
}
