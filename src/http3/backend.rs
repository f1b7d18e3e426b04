//! pushlab's own QUIC backend for h3 (the role h3-quinn plays), over quinn.
//!
//! What it adds to h3-quinn, and why it exists:
//! - response bytes of request streams go through the connection's
//!   [`H3Queue`] instead of straight into quinn, so the scheduler decides
//!   their order;
//! - the client's control stream is read on its way to h3, to capture the
//!   frames h3 0.0.8 ignores: MAX_PUSH_ID, CANCEL_PUSH and PRIORITY_UPDATE;
//! - request streams are watched for frames that may only appear on the
//!   control stream (PRIORITY_UPDATE), which h3 would skip silently;
//! - frames can be injected into a request stream between h3's frames
//!   (PUSH_PROMISE), because the bytes pass through the queue in order.
//!
//! Unidirectional streams h3 opens itself (control, QPACK) bypass the
//! queue and get the highest quinn priority.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use h3::quic::{self, ConnectionErrorIncoming, StreamErrorIncoming, StreamId, WriteBuf};
use quinn::VarInt;

use super::control::ControlSink;
use super::control_out::{ControlOut, InjectFrame};
use super::sink::{H3Queue, QuinnSink};
use crate::priority::Priority;
use crate::sched::transport::CONTROL_PRIORITY;
use crate::sched::{Order, StreamKey};
use crate::sendq::{Abandon, WriteFailure};
use crate::wire::frame::{self, code, stream_type, Event, FrameDecoder};
use crate::wire::varint;

fn conn_error(e: quinn::ConnectionError) -> ConnectionErrorIncoming {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => ConnectionErrorIncoming::ApplicationClose {
            error_code: c.error_code.into_inner(),
        },
        quinn::ConnectionError::TimedOut => ConnectionErrorIncoming::Timeout,
        other => ConnectionErrorIncoming::Undefined(Arc::new(other)),
    }
}

fn failure_to_stream_error(f: WriteFailure) -> StreamErrorIncoming {
    match f {
        WriteFailure::Stopped(s) => StreamErrorIncoming::StreamTerminated { error_code: s.code },
        WriteFailure::ConnectionLost(e) => StreamErrorIncoming::ConnectionErrorIncoming {
            connection_error: ConnectionErrorIncoming::InternalError(e),
        },
        WriteFailure::Abandoned(why) => StreamErrorIncoming::StreamTerminated {
            error_code: super::sink::h3_code(why),
        },
    }
}

fn sid(id: u64) -> StreamId {
    match StreamId::try_from(id & varint::MAX) {
        Ok(s) => s,
        // StreamId only refuses values above 2^62 - 1, excluded by the mask.
        Err(_) => unreachable!("a 62-bit value is a valid stream id"),
    }
}

type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send + Sync>>;
type AcceptBiFut = BoxFut<Result<(quinn::SendStream, quinn::RecvStream), quinn::ConnectionError>>;
type AcceptUniFut = BoxFut<Result<quinn::RecvStream, quinn::ConnectionError>>;

macro_rules! ready_or_return {
    ($e:expr) => {
        match $e {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
    };
}

/// The connection object h3 drives.
///
/// quinn's accept and open futures register for wake-ups only while they
/// live, so each is kept until it completes rather than re-created per poll.
pub struct Connection {
    conn: quinn::Connection,
    queue: Arc<H3Queue>,
    control: Arc<ControlSink>,
    accept_bi: Option<AcceptBiFut>,
    accept_uni: Option<AcceptUniFut>,
    opener: Opener,
}

impl Connection {
    /// Wraps a quinn connection whose response bytes go through `queue`;
    /// frames given to `control_out` are written on h3's control stream.
    pub fn new(
        conn: quinn::Connection,
        queue: Arc<H3Queue>,
        control: Arc<ControlSink>,
        control_out: Arc<ControlOut>,
    ) -> Self {
        Connection {
            opener: Opener::new(conn.clone(), control_out),
            conn,
            queue,
            control,
            accept_bi: None,
            accept_uni: None,
        }
    }
}

impl quic::Connection<Bytes> for Connection {
    type RecvStream = RecvStream;
    type OpenStreams = Opener;

    fn poll_accept_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::RecvStream, ConnectionErrorIncoming>> {
        let conn = self.conn.clone();
        let fut = self
            .accept_uni
            .get_or_insert_with(|| Box::pin(async move { conn.accept_uni().await }));
        let polled = fut.as_mut().poll(cx);
        if polled.is_ready() {
            self.accept_uni = None;
        }
        let recv = match polled {
            Poll::Ready(Ok(r)) => r,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(conn_error(e))),
            Poll::Pending => return Poll::Pending,
        };
        Poll::Ready(Ok(RecvStream::new(
            recv,
            Sniffer::UniType(Vec::new()),
            self.control.clone(),
        )))
    }

    fn poll_accept_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::BidiStream, ConnectionErrorIncoming>> {
        let conn = self.conn.clone();
        let fut = self
            .accept_bi
            .get_or_insert_with(|| Box::pin(async move { conn.accept_bi().await }));
        let polled = fut.as_mut().poll(cx);
        if polled.is_ready() {
            self.accept_bi = None;
        }
        let (send, recv) = match polled {
            Poll::Ready(Ok(s)) => s,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(conn_error(e))),
            Poll::Pending => return Poll::Pending,
        };
        let group = send.id().index();
        let sid: StreamKey = send.id().into();
        let id = self.queue.register(
            sid,
            QuinnSink(send),
            Order::request(group),
            Priority::default(),
        );
        self.control.note_request_stream(id);
        Poll::Ready(Ok(BidiStream {
            send: SendStream::Queued(QueuedSend {
                id,
                queue: self.queue.clone(),
                finishing: false,
            }),
            recv: RecvStream::new(
                recv,
                Sniffer::Request(FrameDecoder::headers_only()),
                self.control.clone(),
            ),
        }))
    }

    fn opener(&self) -> Self::OpenStreams {
        Opener::new(self.conn.clone(), self.opener.control_out.clone())
    }
}

impl quic::OpenStreams<Bytes> for Connection {
    type BidiStream = BidiStream;
    type SendStream = SendStream;

    fn poll_open_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::BidiStream, StreamErrorIncoming>> {
        self.opener.poll_open_bidi(cx)
    }

    fn poll_open_send(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::SendStream, StreamErrorIncoming>> {
        self.opener.poll_open_send(cx)
    }

    fn close(&mut self, code: h3::error::Code, reason: &[u8]) {
        self.conn.close(
            VarInt::from_u64(code.value()).unwrap_or(VarInt::MAX),
            reason,
        );
    }
}

type OpenBiFut = BoxFut<Result<(quinn::SendStream, quinn::RecvStream), quinn::ConnectionError>>;
type OpenUniFut = BoxFut<Result<quinn::SendStream, quinn::ConnectionError>>;

/// Opens streams for h3 (its control and QPACK streams).
pub struct Opener {
    conn: quinn::Connection,
    open_bi: Option<OpenBiFut>,
    open_uni: Option<OpenUniFut>,
    control_out: Arc<ControlOut>,
}

impl Opener {
    fn new(conn: quinn::Connection, control_out: Arc<ControlOut>) -> Self {
        Opener {
            conn,
            open_bi: None,
            open_uni: None,
            control_out,
        }
    }
}

impl quic::OpenStreams<Bytes> for Opener {
    type BidiStream = BidiStream;
    type SendStream = SendStream;

    fn poll_open_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::BidiStream, StreamErrorIncoming>> {
        // A server never opens bidirectional streams in HTTP/3; kept for the trait.
        let conn = self.conn.clone();
        let fut = self
            .open_bi
            .get_or_insert_with(|| Box::pin(async move { conn.open_bi().await }));
        let polled = fut.as_mut().poll(cx);
        if polled.is_ready() {
            self.open_bi = None;
        }
        let (send, recv) = match polled {
            Poll::Ready(Ok(s)) => s,
            Poll::Ready(Err(e)) => {
                return Poll::Ready(Err(StreamErrorIncoming::ConnectionErrorIncoming {
                    connection_error: conn_error(e),
                }))
            }
            Poll::Pending => return Poll::Pending,
        };
        Poll::Ready(Ok(BidiStream {
            send: SendStream::Direct(Box::new(DirectSend::new(send, self.control_out.clone()))),
            recv: RecvStream::plain(recv),
        }))
    }

    fn poll_open_send(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::SendStream, StreamErrorIncoming>> {
        let conn = self.conn.clone();
        let fut = self
            .open_uni
            .get_or_insert_with(|| Box::pin(async move { conn.open_uni().await }));
        let polled = fut.as_mut().poll(cx);
        if polled.is_ready() {
            self.open_uni = None;
        }
        let send = match polled {
            Poll::Ready(Ok(s)) => s,
            Poll::Ready(Err(e)) => {
                return Poll::Ready(Err(StreamErrorIncoming::ConnectionErrorIncoming {
                    connection_error: conn_error(e),
                }))
            }
            Poll::Pending => return Poll::Pending,
        };
        let _ = send.set_priority(CONTROL_PRIORITY);
        Poll::Ready(Ok(SendStream::Direct(Box::new(DirectSend::new(
            send,
            self.control_out.clone(),
        )))))
    }

    fn close(&mut self, code: h3::error::Code, reason: &[u8]) {
        self.conn.close(
            VarInt::from_u64(code.value()).unwrap_or(VarInt::MAX),
            reason,
        );
    }
}

/// A request stream: the send half goes through the queue.
pub struct BidiStream {
    send: SendStream,
    recv: RecvStream,
}

impl quic::BidiStream<Bytes> for BidiStream {
    type SendStream = SendStream;
    type RecvStream = RecvStream;

    fn split(self) -> (Self::SendStream, Self::RecvStream) {
        (self.send, self.recv)
    }
}

impl quic::SendStream<Bytes> for BidiStream {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        self.send.poll_ready(cx)
    }
    fn send_data<T: Into<WriteBuf<Bytes>>>(&mut self, data: T) -> Result<(), StreamErrorIncoming> {
        self.send.send_data(data)
    }
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        self.send.poll_finish(cx)
    }
    fn reset(&mut self, reset_code: u64) {
        self.send.reset(reset_code)
    }
    fn send_id(&self) -> StreamId {
        self.send.send_id()
    }
}

impl quic::RecvStream for BidiStream {
    type Buf = Bytes;
    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, StreamErrorIncoming>> {
        self.recv.poll_data(cx)
    }
    fn stop_sending(&mut self, error_code: u64) {
        self.recv.stop_sending(error_code)
    }
    fn recv_id(&self) -> StreamId {
        self.recv.recv_id()
    }
}

/// A send stream: through the queue (responses) or straight to quinn (h3's own).
pub enum SendStream {
    /// Response bytes, scheduled by the connection's [`H3Queue`].
    Queued(QueuedSend),
    /// h3's control and QPACK streams.
    Direct(Box<DirectSend>),
}

/// The queued half of a request stream.
pub struct QueuedSend {
    id: StreamKey,
    queue: Arc<H3Queue>,
    finishing: bool,
}

impl QueuedSend {
    /// The QUIC stream ID.
    pub fn id(&self) -> StreamKey {
        self.id
    }
}

impl Drop for QueuedSend {
    fn drop(&mut self) {
        // A stream dropped before its FIN was written is reset by the
        // queue rather than left to look complete.
        self.queue.release(self.id);
    }
}

/// A send stream written directly to quinn (h3's control and QPACK streams).
pub struct DirectSend {
    inner: Arc<parking_lot::Mutex<DirectInner>>,
    control_out: Arc<ControlOut>,
    first_write: bool,
}

/// The state of a direct stream, shared with [`ControlOut`] when it is the
/// control stream.
pub struct DirectInner {
    send: quinn::SendStream,
    /// The frame h3 is writing.
    h3: Option<WriteBuf<Bytes>>,
    /// Whether part of `h3` already went out (then it must finish first).
    h3_started: bool,
    /// Frames pushlab injects (CANCEL_PUSH), written between h3's frames.
    injected: std::collections::VecDeque<Bytes>,
}

fn write_error(e: quinn::WriteError) -> StreamErrorIncoming {
    match e {
        quinn::WriteError::Stopped(c) => StreamErrorIncoming::StreamTerminated {
            error_code: c.into_inner(),
        },
        quinn::WriteError::ConnectionLost(e) => StreamErrorIncoming::ConnectionErrorIncoming {
            connection_error: conn_error(e),
        },
        other => StreamErrorIncoming::Unknown(Box::new(other)),
    }
}

impl DirectInner {
    fn new(send: quinn::SendStream) -> Self {
        DirectInner {
            send,
            h3: None,
            h3_started: false,
            injected: std::collections::VecDeque::new(),
        }
    }

    fn flush_injected(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        while let Some(head) = self.injected.front_mut() {
            match Pin::new(&mut self.send).poll_write(cx, head) {
                Poll::Ready(Ok(n)) => {
                    head.advance(n);
                    if head.is_empty() {
                        self.injected.pop_front();
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(write_error(e))),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    fn flush_h3(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        if let Some(data) = self.h3.as_mut() {
            while data.has_remaining() {
                match Pin::new(&mut self.send).poll_write(cx, data.chunk()) {
                    Poll::Ready(Ok(n)) => {
                        self.h3_started = true;
                        data.advance(n);
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(write_error(e))),
                    Poll::Pending => return Poll::Pending,
                }
            }
        }
        self.h3 = None;
        self.h3_started = false;
        Poll::Ready(Ok(()))
    }

    /// h3's frame in progress first (it must not be split), then injected
    /// frames, then h3's next frame.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        if self.h3_started {
            ready_or_return!(self.flush_h3(cx));
        }
        ready_or_return!(self.flush_injected(cx));
        self.flush_h3(cx)
    }
}

/// The control stream's writer, as [`ControlOut`] sees it.
impl InjectFrame for parking_lot::Mutex<DirectInner> {
    fn inject(self: Arc<Self>, frame: Bytes) {
        let mut g = self.lock();
        g.injected.push_back(frame);
        if g.h3_started {
            // h3's poll_ready writes it right after the frame in progress.
            return;
        }
        drop(g);
        // Flush in a task of its own so a blocked write is retried when quinn
        // wakes it; usually this completes at the first poll.
        tokio::spawn(std::future::poll_fn(move |cx| {
            let mut g = self.lock();
            if g.h3_started {
                return Poll::Ready(());
            }
            g.flush_injected(cx).map(|_| ())
        }));
    }
}

impl DirectSend {
    fn new(send: quinn::SendStream, control_out: Arc<ControlOut>) -> Self {
        DirectSend {
            inner: Arc::new(parking_lot::Mutex::new(DirectInner::new(send))),
            control_out,
            first_write: true,
        }
    }
}

impl quic::SendStream<Bytes> for SendStream {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        match self {
            SendStream::Queued(q) => q
                .queue
                .poll_writable(q.id, cx)
                .map_err(failure_to_stream_error),
            SendStream::Direct(d) => d.inner.lock().poll_ready(cx),
        }
    }

    fn send_data<T: Into<WriteBuf<Bytes>>>(&mut self, data: T) -> Result<(), StreamErrorIncoming> {
        match self {
            SendStream::Queued(q) => {
                let mut buf: WriteBuf<Bytes> = data.into();
                let bytes = buf.copy_to_bytes(buf.remaining());
                q.queue
                    .enqueue(q.id, bytes)
                    .map_err(failure_to_stream_error)
            }
            SendStream::Direct(d) => {
                let buf: WriteBuf<Bytes> = data.into();
                if d.first_write {
                    d.first_write = false;
                    // The stream whose first byte is type 0x00 is h3's
                    // control stream: let pushlab inject frames into it.
                    if buf.chunk().first() == Some(&(stream_type::CONTROL as u8)) {
                        d.control_out.attach(d.inner.clone());
                    }
                }
                let mut g = d.inner.lock();
                if g.h3.is_some() {
                    return Err(StreamErrorIncoming::ConnectionErrorIncoming {
                        connection_error: ConnectionErrorIncoming::InternalError(
                            "send_data called while the stream was not ready".into(),
                        ),
                    });
                }
                g.h3 = Some(buf);
                g.h3_started = false;
                Ok(())
            }
        }
    }

    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        match self {
            SendStream::Queued(q) => {
                if !q.finishing {
                    q.queue.finish(q.id).map_err(failure_to_stream_error)?;
                    q.finishing = true;
                }
                q.queue
                    .poll_finished(q.id, cx)
                    .map_err(failure_to_stream_error)
            }
            SendStream::Direct(d) => Poll::Ready(
                d.inner
                    .lock()
                    .send
                    .finish()
                    .map_err(|e| StreamErrorIncoming::Unknown(Box::new(e))),
            ),
        }
    }

    fn reset(&mut self, reset_code: u64) {
        match self {
            SendStream::Queued(q) => {
                q.queue.reset(q.id, Abandon::Code(reset_code));
            }
            SendStream::Direct(d) => {
                let _ = d
                    .inner
                    .lock()
                    .send
                    .reset(VarInt::from_u64(reset_code).unwrap_or(VarInt::MAX));
            }
        }
    }

    fn send_id(&self) -> StreamId {
        match self {
            SendStream::Queued(q) => sid(q.id),
            SendStream::Direct(d) => sid(d.inner.lock().send.id().into()),
        }
    }
}

/// What the receive side watches for.
#[derive(Debug)]
enum Sniffer {
    /// A unidirectional stream whose type varint is not complete yet.
    UniType(Vec<u8>),
    /// The client's control stream: frames are parsed and reported.
    Control(FrameDecoder),
    /// A request stream: frame types are checked, payloads skipped.
    Request(FrameDecoder),
    /// Nothing to watch.
    None,
}

/// A receive stream whose bytes are watched on their way to h3.
pub struct RecvStream {
    recv: quinn::RecvStream,
    sniffer: Sniffer,
    control: Option<Arc<ControlSink>>,
    failed: bool,
    /// The peer's FIN was read.
    ended: bool,
}

impl Drop for RecvStream {
    fn drop(&mut self) {
        // quinn would send STOP_SENDING with code 0, which means nothing in
        // HTTP/3; say H3_NO_ERROR instead.
        if !self.ended {
            let _ = self
                .recv
                .stop(VarInt::from_u64(code::H3_NO_ERROR).unwrap_or(VarInt::MAX));
        }
    }
}

impl RecvStream {
    fn new(recv: quinn::RecvStream, sniffer: Sniffer, control: Arc<ControlSink>) -> Self {
        RecvStream {
            recv,
            sniffer,
            control: Some(control),
            failed: false,
            ended: false,
        }
    }

    fn plain(recv: quinn::RecvStream) -> Self {
        RecvStream {
            recv,
            sniffer: Sniffer::None,
            control: None,
            failed: false,
            ended: false,
        }
    }

    fn observe(&mut self, data: &Bytes) {
        let Some(control) = self.control.clone() else {
            return;
        };
        if self.failed {
            return;
        }
        let mut rest = data.clone();
        if let Sniffer::UniType(buf) = &mut self.sniffer {
            let before = buf.len();
            buf.extend_from_slice(&rest[..rest.len().min(8)]);
            match varint::decode(buf) {
                Ok((t, n)) => {
                    rest.advance(n - before);
                    self.sniffer = if t == stream_type::CONTROL {
                        control.note_control_stream();
                        Sniffer::Control(FrameDecoder::new(control.max_control_frame()))
                    } else {
                        Sniffer::None
                    };
                }
                Err(_) => return,
            }
        }
        let mut events = Vec::new();
        let result = match &mut self.sniffer {
            Sniffer::Control(d) | Sniffer::Request(d) => d.push(rest, &mut events),
            _ => return,
        };
        let on_control = matches!(self.sniffer, Sniffer::Control(_));
        for ev in events {
            match ev {
                Event::Frame(f) if on_control => control.on_control_frame(f),
                //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
                //# Receiving a PRIORITY_UPDATE frame on a stream other than
                //# the client control stream MUST be treated as a
                //# connection error of type H3_FRAME_UNEXPECTED.
                Event::Skipped { ty, .. }
                    if !on_control
                        && (ty == frame::ty::PRIORITY_UPDATE_REQUEST
                            || ty == frame::ty::PRIORITY_UPDATE_PUSH) =>
                {
                    control.connection_error(
                        code::H3_FRAME_UNEXPECTED,
                        "PRIORITY_UPDATE on a request stream",
                    );
                    self.failed = true;
                }
                _ => {}
            }
        }
        if let Err(e) = result {
            // On a request stream h3 reports frame errors itself.
            if on_control {
                control.connection_error(e.code(), &e.to_string());
            }
            self.failed = true;
        }
    }
}

impl quic::RecvStream for RecvStream {
    type Buf = Bytes;

    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, StreamErrorIncoming>> {
        let chunk = match pin!(self.recv.read_chunk(usize::MAX, true)).poll(cx) {
            Poll::Ready(Ok(c)) => c,
            Poll::Ready(Err(e)) => {
                return Poll::Ready(Err(match e {
                    quinn::ReadError::Reset(c) => StreamErrorIncoming::StreamTerminated {
                        error_code: c.into_inner(),
                    },
                    quinn::ReadError::ConnectionLost(e) => {
                        StreamErrorIncoming::ConnectionErrorIncoming {
                            connection_error: conn_error(e),
                        }
                    }
                    other => StreamErrorIncoming::Unknown(Box::new(other)),
                }))
            }
            Poll::Pending => return Poll::Pending,
        };
        match chunk {
            Some(c) => {
                self.observe(&c.bytes);
                Poll::Ready(Ok(Some(c.bytes)))
            }
            None => {
                self.ended = true;
                Poll::Ready(Ok(None))
            }
        }
    }

    fn stop_sending(&mut self, error_code: u64) {
        let _ = self
            .recv
            .stop(VarInt::from_u64(error_code).unwrap_or(VarInt::MAX));
    }

    fn recv_id(&self) -> StreamId {
        sid(self.recv.id().into())
    }
}
