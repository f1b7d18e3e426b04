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
use crate::wire::frame::{self, code, stream_type, Event, Frame, FrameDecoder};
use crate::wire::streamcheck::{
    DecoderStream, EncoderStream, Malformed, RequestFrames, RequestMessage,
};
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
    /// Unidirectional streams whose type is known and that h3 handles
    /// (control and unknown types), with the type bytes already read.
    typed_tx: tokio::sync::mpsc::UnboundedSender<(quinn::RecvStream, Bytes)>,
    typed_rx: tokio::sync::mpsc::UnboundedReceiver<(quinn::RecvStream, Bytes)>,
    qpack_seen: Arc<QpackSeen>,
}

/// Which of the client's QPACK streams have been opened.
#[derive(Default)]
struct QpackSeen {
    encoder: std::sync::atomic::AtomicBool,
    decoder: std::sync::atomic::AtomicBool,
}

/// Reads a new unidirectional stream's type. Control streams and unknown
/// types go on to h3 (`typed`); the streams h3 0.0.8 accepts but never
/// reads (QPACK encoder and decoder) are read and checked here; a push
/// stream from a client is an error.
async fn classify_uni(
    mut recv: quinn::RecvStream,
    mut head: Vec<u8>,
    typed: tokio::sync::mpsc::UnboundedSender<(quinn::RecvStream, Bytes)>,
    control: Arc<ControlSink>,
    seen: Arc<QpackSeen>,
) {
    let t = loop {
        if let Ok((t, _)) = varint::decode(&head) {
            break t;
        }
        // One byte at a time: nothing past the type is taken from h3.
        match recv.read_chunk(1, true).await {
            Ok(Some(c)) => head.extend_from_slice(&c.bytes),
            //= https://www.rfc-editor.org/rfc/rfc9114#section-6.2
            //# A receiver MUST tolerate unidirectional streams being closed or
            //# reset prior to the reception of the unidirectional stream
            //# header.
            _ => return,
        }
    };
    match t {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-6.2.2
        //# Only servers can push; if a server receives a client-initiated push
        //# stream, this MUST be treated as a connection error of type
        //# H3_STREAM_CREATION_ERROR.
        stream_type::PUSH => control.connection_error(
            code::H3_STREAM_CREATION_ERROR,
            "a push stream from a client",
        ),
        stream_type::QPACK_ENCODER | stream_type::QPACK_DECODER => {
            let encoder = t == stream_type::QPACK_ENCODER;
            let flag = if encoder {
                &seen.encoder
            } else {
                &seen.decoder
            };
            //= https://www.rfc-editor.org/rfc/rfc9204#section-4.2
            //# Each endpoint MUST initiate, at most, one encoder stream and, at
            //# most, one decoder stream.  Receipt of a second instance of either
            //# stream type MUST be treated as a connection error of type
            //# H3_STREAM_CREATION_ERROR.
            if flag.swap(true, std::sync::atomic::Ordering::Relaxed) {
                control.connection_error(
                    code::H3_STREAM_CREATION_ERROR,
                    if encoder {
                        "a second QPACK encoder stream"
                    } else {
                        "a second QPACK decoder stream"
                    },
                );
                return;
            }
            read_qpack_stream(recv, encoder, control).await;
        }
        _ => {
            let _ = typed.send((recv, Bytes::from(head)));
        }
    }
}

/// Reads the client's QPACK encoder or decoder stream for its life.
async fn read_qpack_stream(mut recv: quinn::RecvStream, encoder: bool, control: Arc<ControlSink>) {
    let (mut enc, mut dec) = (EncoderStream, DecoderStream::default());
    loop {
        match recv.read_chunk(usize::MAX, true).await {
            Ok(Some(c)) => {
                let checked = if encoder {
                    enc.push(&c.bytes)
                } else {
                    dec.push(&c.bytes)
                };
                if let Err(v) = checked {
                    control.connection_error(v.code, v.reason);
                    return;
                }
            }
            //= https://www.rfc-editor.org/rfc/rfc9204#section-4.2
            //# Closure of either unidirectional stream type MUST be treated as a
            //# connection error of type H3_CLOSED_CRITICAL_STREAM.
            Ok(None) | Err(quinn::ReadError::Reset(_)) => {
                control.connection_error(
                    code::H3_CLOSED_CRITICAL_STREAM,
                    if encoder {
                        "the client closed its QPACK encoder stream"
                    } else {
                        "the client closed its QPACK decoder stream"
                    },
                );
                return;
            }
            // The connection is gone.
            Err(_) => return,
        }
    }
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
        let (typed_tx, typed_rx) = tokio::sync::mpsc::unbounded_channel();
        Connection {
            opener: Opener::new(conn.clone(), control_out),
            conn,
            queue,
            control,
            accept_bi: None,
            accept_uni: None,
            typed_tx,
            typed_rx,
            qpack_seen: Arc::default(),
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
        // New streams: each has its type read in a task of its own.
        loop {
            let conn = self.conn.clone();
            let fut = self
                .accept_uni
                .get_or_insert_with(|| Box::pin(async move { conn.accept_uni().await }));
            let polled = fut.as_mut().poll(cx);
            if polled.is_ready() {
                self.accept_uni = None;
            }
            match polled {
                Poll::Ready(Ok(mut r)) => {
                    // Usually the type byte is already there: a control
                    // stream then reaches h3 at once, as it would without
                    // this detour (a MAX_PUSH_ID on it must not lose the
                    // race with the first request).
                    let first = match pin!(r.read_chunk(1, true)).poll(cx) {
                        Poll::Ready(Ok(Some(c))) => c.bytes.to_vec(),
                        Poll::Ready(_) => continue,
                        Poll::Pending => Vec::new(),
                    };
                    match first.first().map(|b| (b >> 6, *b)) {
                        Some((0, t))
                            if !matches!(
                                u64::from(t),
                                stream_type::PUSH
                                    | stream_type::QPACK_ENCODER
                                    | stream_type::QPACK_DECODER
                            ) =>
                        {
                            let mut stream = RecvStream::new(
                                r,
                                Sniffer::UniType(Vec::new()),
                                self.control.clone(),
                            );
                            stream.replay = Some(Bytes::from(first));
                            return Poll::Ready(Ok(stream));
                        }
                        _ => {
                            tokio::spawn(classify_uni(
                                r,
                                first,
                                self.typed_tx.clone(),
                                self.control.clone(),
                                self.qpack_seen.clone(),
                            ));
                        }
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(conn_error(e))),
                Poll::Pending => break,
            }
        }
        // Streams for h3, their type bytes replayed first.
        match self.typed_rx.poll_recv(cx) {
            Poll::Ready(Some((recv, head))) => {
                let mut r =
                    RecvStream::new(recv, Sniffer::UniType(Vec::new()), self.control.clone());
                r.replay = Some(head);
                Poll::Ready(Ok(r))
            }
            // The sender lives in `self`: the channel cannot close.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
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
            recv: {
                let mut r = RecvStream::new(
                    recv,
                    Sniffer::Request(
                        FrameDecoder::request(CHECKED_SECTION),
                        RequestFrames::new(),
                        RequestMessage::new(),
                    ),
                    self.control.clone(),
                );
                r.response = Some((Arc::downgrade(&self.queue), id));
                r
            },
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
    /// A request stream: frame types are checked, header sections decoded
    /// and checked, DATA lengths summed; payloads not kept.
    Request(FrameDecoder, RequestFrames, RequestMessage),
    /// Nothing to watch.
    None,
}

/// A receive stream whose bytes are watched on their way to h3.
pub struct RecvStream {
    /// The quinn stream (taken when a drain or the drop takes it over).
    recv: Option<quinn::RecvStream>,
    /// Its stream ID.
    id: u64,
    /// The rest of the stream is being read after h3 let go of it, or
    /// reading was stopped on purpose: the drop only stops it.
    draining: bool,
    sniffer: Sniffer,
    control: Option<Arc<ControlSink>>,
    failed: bool,
    /// The peer's FIN was read.
    ended: bool,
    /// Bytes already read from the stream (its type), given out first.
    replay: Option<Bytes>,
    /// A request stream's response, reset if the request is malformed.
    /// Weak: a request task waiting in the queue is referenced by the queue
    /// (its waker), and its stream must not keep the queue alive in turn.
    response: Option<(std::sync::Weak<H3Queue>, StreamKey)>,
}

/// Header sections up to this size are decoded on the way to h3 and checked
/// (RFC 9114 section 4.3); larger ones are h3's to refuse.
const CHECKED_SECTION: usize = 64 * 1024;

/// How long the rest of a request stream is read after its response is
/// done (h3 let go of it), before the client is asked to stop sending.
const DRAIN: std::time::Duration = std::time::Duration::from_millis(250);

impl Drop for RecvStream {
    fn drop(&mut self) {
        let Some(recv) = self.recv.take() else {
            return;
        };
        if self.ended {
            return;
        }
        // A request stream h3 is done with: read on to its end, checking
        // every frame (RFC 9114 4.1 and 7), or ask the client to stop.
        let request = matches!(self.sniffer, Sniffer::Request(..));
        if request && !self.failed && !self.draining {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let rest = RecvStream {
                    recv: Some(recv),
                    sniffer: std::mem::replace(&mut self.sniffer, Sniffer::None),
                    control: self.control.take(),
                    failed: false,
                    ended: false,
                    replay: None,
                    draining: true,
                    id: self.id,
                    response: self.response.take(),
                };
                rt.spawn(rest.drain());
                return;
            }
        }
        //= https://www.rfc-editor.org/rfc/rfc9114#section-4.1
        //# The error code H3_NO_ERROR SHOULD be used when requesting that the
        //# client stop sending on the request stream.
        // (quinn would send STOP_SENDING with code 0, which means nothing
        // in HTTP/3.)
        let mut recv = recv;
        let _ = recv.stop(VarInt::from_u64(code::H3_NO_ERROR).unwrap_or(VarInt::MAX));
    }
}

impl RecvStream {
    fn new(recv: quinn::RecvStream, sniffer: Sniffer, control: Arc<ControlSink>) -> Self {
        RecvStream {
            id: recv.id().into(),
            recv: Some(recv),
            sniffer,
            control: Some(control),
            failed: false,
            ended: false,
            replay: None,
            draining: false,
            response: None,
        }
    }

    fn plain(recv: quinn::RecvStream) -> Self {
        RecvStream {
            id: recv.id().into(),
            recv: Some(recv),
            sniffer: Sniffer::None,
            control: None,
            failed: false,
            ended: false,
            replay: None,
            draining: false,
            response: None,
        }
    }

    /// Reads the rest of a request stream through the checks, for at most
    /// [`DRAIN`]; dropped after, which sends STOP_SENDING unless it ended.
    async fn drain(mut self) {
        let deadline = tokio::time::Instant::now() + DRAIN;
        while !self.ended && !self.failed {
            let Some(recv) = self.recv.as_mut() else {
                return;
            };
            match tokio::time::timeout_at(deadline, recv.read_chunk(usize::MAX, true)).await {
                Ok(Ok(Some(c))) => self.observe(&c.bytes),
                Ok(Ok(None)) => {
                    self.ended = true;
                    self.check_end();
                }
                // Reset by the client, or the connection is gone.
                Ok(Err(_)) => self.ended = true,
                Err(_) => return,
            }
        }
    }

    /// The stream ended: a request stream must not end inside a frame, nor
    /// short of its content-length.
    fn check_end(&mut self) {
        if let (Sniffer::Request(d, frames, message), Some(control), false) =
            (&self.sniffer, &self.control, self.failed)
        {
            if let Err(v) = frames.on_end(d.at_boundary()) {
                control.connection_error(v.code, v.reason);
                self.failed = true;
            } else if let Err(m) = message.on_end() {
                self.malformed(m);
            }
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc9114#section-4.1.2
    //# Malformed requests or responses that are detected MUST be treated as
    //# a stream error of type H3_MESSAGE_ERROR.
    /// A malformed request: both directions of its stream are reset with
    /// H3_MESSAGE_ERROR; the connection goes on.
    fn malformed(&mut self, m: Malformed) {
        tracing::debug!(stream = self.id, why = m.0, "malformed request");
        self.failed = true;
        self.draining = true;
        let code = VarInt::from_u64(code::H3_MESSAGE_ERROR).unwrap_or(VarInt::MAX);
        if let Some(recv) = self.recv.as_mut() {
            let _ = recv.stop(code);
        }
        if let Some((queue, id)) = &self.response {
            if let Some(queue) = queue.upgrade() {
                queue.reset(*id, Abandon::Code(code::H3_MESSAGE_ERROR));
            }
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
            Sniffer::Control(d) | Sniffer::Request(d, _, _) => d.push(rest, &mut events),
            _ => return,
        };
        for ev in events {
            // Every frame of a request stream, the ones after the HEADERS of
            // a GET included, against RFC 9114 4.1 and 7.2; its field
            // sections and content length against 4.1.2 and 4.3.
            let checked = match (ev, &mut self.sniffer) {
                (Event::Frame(f), Sniffer::Control(_)) => {
                    control.on_control_frame(f);
                    Ok(Ok(()))
                }
                (Event::Frame(Frame::Headers(block)), Sniffer::Request(_, frames, message)) => {
                    frames
                        .on_frame(frame::ty::HEADERS)
                        .map(|()| message.on_headers(&block))
                }
                (Event::Skipped { ty, len }, Sniffer::Request(_, frames, message)) => {
                    frames.on_frame(ty).map(|()| {
                        if ty == frame::ty::DATA {
                            message.on_data(len)
                        } else {
                            Ok(())
                        }
                    })
                }
                _ => Ok(Ok(())),
            };
            match checked {
                Ok(Ok(())) => {}
                Ok(Err(m)) => {
                    self.malformed(m);
                    return;
                }
                Err(v) => {
                    control.connection_error(v.code, v.reason);
                    self.failed = true;
                    return;
                }
            }
        }
        let on_control = matches!(self.sniffer, Sniffer::Control(_));
        if let Err(e) = result {
            // h3 0.0.8 lets some of these pass on request streams (a
            // reserved HTTP/2 frame type after the HEADERS, for one).
            let _ = on_control;
            control.connection_error(e.code(), &e.to_string());
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
        if let Some(head) = self.replay.take() {
            self.observe(&head);
            return Poll::Ready(Ok(Some(head)));
        }
        let Some(recv) = self.recv.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        let chunk = match pin!(recv.read_chunk(usize::MAX, true)).poll(cx) {
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
                self.check_end();
                Poll::Ready(Ok(None))
            }
        }
    }

    fn stop_sending(&mut self, error_code: u64) {
        if let Some(recv) = self.recv.as_mut() {
            let _ = recv.stop(VarInt::from_u64(error_code).unwrap_or(VarInt::MAX));
        }
        // Asked to stop: nothing more is read, on drop either.
        self.draining = true;
    }

    fn recv_id(&self) -> StreamId {
        sid(self.id)
    }
}
