//! The TCP side: TLS 1.3 with ALPN `h2` (HTTP/2 over h2, with the same send
//! queue, push and hint policies, site and core as HTTP/3) or `http/1.1`
//! (answered minimally). Every response advertises HTTP/3 with `alt-svc`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use super::gate::{TcpGate, TcpWindow};
use futures_util::FutureExt;

use super::sink::{h2_reason, H2Queue, H2Sink};
use super::watch::{PushSlot, Watched, WriteWatch};
use crate::config::{SchedulerMode, ServeOptions};
use crate::pipeline::{self, Exchange, Respond, SendError};
use crate::priority::Priority;
use crate::push::{ConnPushState, ConnView, PushItem};
use crate::reply::{CoreOptions, Reply, RequestHead};
use crate::reqlog::Outcome;
use crate::sched::inflight::InflightMode;
use crate::sched::{Order, StreamKey};
use crate::sendq::{Abandon, Announced, NoWindow, WindowControl};
use crate::stats::{PushCounters, ServerStats};

/// Options of the TCP side beyond the shared ones.
#[derive(Debug, Clone)]
pub struct TcpOptions {
    /// TCP_NOTSENT_LOWAT for accepted sockets (None: kernel default).
    pub notsent_lowat: Option<u32>,
    /// TCP congestion control for accepted sockets (None: kernel default).
    pub cc: Option<String>,
    /// Kernel TCP pacing for accepted sockets.
    pub pacing: bool,
    /// In-flight control for preemptible bytes ([`super::gate`]).
    pub inflight: InflightMode,
    /// The `alt-svc` value advertising HTTP/3 (None when HTTP/3 is off).
    pub alt_svc: Option<String>,
}

/// Per-connection state for HTTP/2 request tasks.
struct H2Conn {
    opts: Arc<ServeOptions>,
    core: CoreOptions,
    remote: SocketAddr,
    queue: Option<Arc<H2Queue>>,
    stats: Arc<ServerStats>,
    push_state: ConnPushState,
    /// False once h2 refused a push (the client sent SETTINGS_ENABLE_PUSH=0).
    push_allowed: AtomicBool,
    pushes: Mutex<PushCounters>,
    /// A duplicate of the socket, for TCP_INFO (shared with the gate).
    socket: Option<Arc<socket2::Socket>>,
    /// The socket's TCP congestion control.
    congestion: Option<String>,
    /// What h2 has written to TLS.
    written: Arc<WriteWatch>,
    /// The in-flight gate, with `--tcp-inflight`.
    gate: Option<Arc<TcpGate>>,
}

impl H2Conn {
    fn conn_view(&self, with_stats: bool) -> ConnView {
        let info = if with_stats {
            self.socket
                .as_ref()
                .and_then(|s| crate::netinfo::tcp_info(s).ok())
        } else {
            None
        };
        ConnView {
            protocol: "h2",
            push_allowed: self.push_allowed.load(Ordering::Relaxed),
            cwnd: info.map(|i| i.cwnd_bytes),
            in_flight: info.map(|i| i.in_flight_bytes),
        }
    }
}

impl crate::trace::ConnProbe for H2Conn {
    fn state(&self) -> crate::trace::ConnState {
        let tcp = self
            .socket
            .as_ref()
            .and_then(|s| crate::netinfo::tcp_info(s).ok());
        let info = tcp.unwrap_or_default();
        let q = self.queue.as_ref().map(|q| q.trace_state());
        let written = self.written.data.load(Ordering::Relaxed);
        crate::trace::ConnState {
            protocol: "h2".into(),
            cwnd: info.cwnd_bytes,
            srtt_us: u64::from(info.rtt_us),
            min_rtt_us: info.min_rtt_us.map(u64::from),
            sent_bytes: info.bytes_sent,
            in_flight: Some(info.unacked_bytes()),
            app_limited: None,
            transport_unsent: info.notsent_bytes,
            writer_held: q.map(|q| q.handed.saturating_sub(written)),
            delivery_rate: info.delivery_rate,
            retrans: tcp.map(|i| u64::from(i.total_retrans)),
            rtos: info.total_rto.map(u64::from),
            spurious_retrans: info.dsack_dups.map(u64::from),
            ca_state: tcp.map(|i| crate::netinfo::ca_state_name(i.ca_state).to_string()),
            peer_window: info.snd_wnd.map(u64::from),
            segments_in_flight: tcp
                .filter(|i| i.mss > 0)
                .map(|i| i.in_flight_bytes / u64::from(i.mss)),
            cwnd_segments: tcp
                .filter(|i| i.mss > 0)
                .map(|i| i.cwnd_bytes / u64::from(i.mss)),
            congestion_control: self.congestion.clone(),
            queued: q.map_or(0, |q| q.queued),
            send_window: q.and_then(|q| q.send_window),
            bdp_estimate: q.and_then(|q| q.bdp_estimate),
            window_limited: q.is_some_and(|q| q.window_limited),
            transport_full: false,
        }
    }
}

/// Accepts TCP connections until `shutdown`, then drains (bounded).
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    opts: Arc<ServeOptions>,
    tcp: TcpOptions,
    stats: Arc<ServerStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let tcp = Arc::new(tcp);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => {
                let (sock, remote) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        warn!(%e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                stats.connections.fetch_add(1, Ordering::Relaxed);
                let (acceptor, opts, tcp, stats, shutdown) =
                    (acceptor.clone(), opts.clone(), tcp.clone(), stats.clone(), shutdown.clone());
                conns.spawn(async move {
                    if let Err(e) = connection(sock, remote, acceptor, opts, tcp, stats, shutdown).await {
                        debug!(%remote, %e, "TCP connection ended");
                    }
                });
            }
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    crate::pipeline::drain_connections(
        &mut conns,
        opts.shutdown_timeout + Duration::from_millis(500),
        "TCP",
    )
    .await;
}

async fn connection(
    sock: TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    opts: Arc<ServeOptions>,
    tcp: Arc<TcpOptions>,
    stats: Arc<ServerStats>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let _ = sock.set_nodelay(true);
    if let Some(lowat) = tcp.notsent_lowat {
        crate::netinfo::set_notsent_lowat(&sock, lowat)
            .map_err(|e| format!("TCP_NOTSENT_LOWAT: {e}"))?;
    }
    if let Some(cc) = &tcp.cc {
        socket2::SockRef::from(&sock)
            .set_tcp_congestion(cc.as_bytes())
            .map_err(|e| format!("TCP_CONGESTION {cc}: {e}"))?;
    }
    if tcp.pacing {
        crate::netinfo::enable_tcp_pacing(&socket2::SockRef::from(&sock))
            .map_err(|e| format!("SO_MAX_PACING_RATE: {e}"))?;
    }
    let congestion = crate::netinfo::congestion_control(&socket2::SockRef::from(&sock)).ok();
    let socket = socket2::SockRef::from(&sock).try_clone().ok().map(Arc::new);
    let tls = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(sock))
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let alpn = tls.get_ref().1.alpn_protocol().map(|a| a.to_vec());
    let core = CoreOptions {
        alt_svc: tcp.alt_svc.clone(),
    };
    if alpn.as_deref() == Some(b"h2") {
        let written = Arc::new(WriteWatch::default());
        let gate = match (&opts.mode, tcp.inflight) {
            (_, InflightMode::Off) | (SchedulerMode::Off, _) => None,
            (SchedulerMode::Queue(_), _) => {
                socket.clone().map(|s| TcpGate::new(s, written.clone()))
            }
        };
        let ctx = Arc::new(H2Conn {
            opts,
            core,
            remote,
            queue: None,
            stats,
            push_state: ConnPushState::default(),
            push_allowed: AtomicBool::new(true),
            pushes: Mutex::new(PushCounters::default()),
            socket,
            congestion,
            written,
            gate,
        });
        run_h2(tls, ctx, tcp.inflight, shutdown).await
    } else {
        crate::http1::serve_connection(tls, remote, opts, core, stats, shutdown).await
    }
}

async fn run_h2(
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    mut ctx: Arc<H2Conn>,
    tcp_inflight: InflightMode,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let quantum = match &ctx.opts.mode {
        SchedulerMode::Queue(c) => c.quantum,
        SchedulerMode::Off => 400 * 1024,
    };
    let mut conn = h2::server::Builder::new()
        .max_concurrent_streams(ctx.opts.max_concurrent_bidi.min(u64::from(u32::MAX)) as u32)
        .max_header_list_size(ctx.opts.max_field_section_size.min(u64::from(u32::MAX)) as u32)
        // Keep what h2 buffers per stream to two scheduling quanta: one
        // being written while the queue hands over the next (with one, a
        // stream idles between writes; 100 KB responses ran 5% slower).
        .max_send_buffer_size(quantum * 2)
        .handshake::<_, Bytes>(Watched::new(tls, ctx.written.clone()))
        .await
        .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
    let pump = if let SchedulerMode::Queue(cfg) = &ctx.opts.mode {
        let mut cfg = cfg.clone();
        let window: Box<dyn WindowControl> = match &ctx.gate {
            Some(g) => {
                cfg.inflight = tcp_inflight;
                Box::new(TcpWindow(g.clone()))
            }
            None => {
                cfg.inflight = InflightMode::Off;
                Box::new(NoWindow)
            }
        };
        let queue = H2Queue::new(window, cfg, ctx.stats.queues.clone());
        if let Some(c) = Arc::get_mut(&mut ctx) {
            c.queue = Some(queue.clone());
        }
        Some((queue.clone(), tokio::spawn(queue.run_pump())))
    } else {
        None
    };
    let probe: Arc<dyn crate::trace::ConnProbe> = ctx.clone();
    ctx.stats.probes.register(&probe);
    let mut requests = JoinSet::new();
    let mut draining = false;
    loop {
        tokio::select! {
            r = conn.accept() => match r {
                Some(Ok(first)) => {
                    // Every request h2 has already decoded (those that
                    // arrived together) is announced before any handler
                    // runs, so that the queue holds back writes until all
                    // of them have queued their responses (see announce):
                    // a handler spawned now may run at once on the other
                    // worker.
                    let mut batch = vec![first];
                    let mut ended = None;
                    loop {
                        match conn.accept().now_or_never() {
                            Some(Some(Ok(next))) => batch.push(next),
                            Some(Some(Err(e))) => {
                                ended = Some(Some(e));
                                break;
                            }
                            Some(None) => {
                                ended = Some(None);
                                break;
                            }
                            None => break,
                        }
                    }
                    let announced: Vec<_> = batch
                        .iter()
                        .map(|_| ctx.queue.as_ref().map(|q| q.announce()))
                        .collect();
                    for ((req, respond), a) in batch.into_iter().zip(announced) {
                        requests.spawn(handle(req, respond, ctx.clone(), a));
                    }
                    match ended {
                        Some(Some(e)) => {
                            debug!(remote = %ctx.remote, %e, "HTTP/2 connection error");
                            break;
                        }
                        Some(None) => break,
                        None => {}
                    }
                }
                Some(Err(e)) => {
                    debug!(remote = %ctx.remote, %e, "HTTP/2 connection error");
                    break;
                }
                None => break,
            },
            _ = shutdown.changed(), if !draining => {
                draining = true;
                conn.graceful_shutdown();
            }
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
        }
    }
    // Let handlers see the end.
    if let Some((queue, pump)) = pump {
        queue.close("connection finished");
        let _ = pump.await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while requests.join_next().await.is_some() {}
    })
    .await;
    let pc = *ctx.pushes.lock();
    ctx.stats.add_pushes(pc);
    Ok(())
}

/// A response body on its way into h2: through the queue, or straight into
/// h2 without one. The last chunk carries END_STREAM (no empty DATA frame
/// after it).
struct H2Body {
    key: StreamKey,
    /// The h2 stream when there is no queue.
    direct: Option<h2::SendStream<Bytes>>,
    /// END_STREAM has been sent.
    ended: bool,
}

impl H2Body {
    async fn send_chunk(
        &mut self,
        ctx: &H2Conn,
        chunk: Bytes,
        last: bool,
    ) -> Result<(), SendError> {
        let key = self.key;
        match (&ctx.queue, self.direct.as_mut()) {
            (Some(q), _) if last => {
                q.enqueue_last(key, chunk)?;
                std::future::poll_fn(|cx| q.poll_finished(key, cx)).await?;
            }
            (Some(q), _) => {
                q.enqueue(key, chunk)?;
                std::future::poll_fn(|cx| q.poll_writable(key, cx)).await?;
            }
            (None, Some(s)) => send_direct(s, chunk, last).await?,
            (None, None) => return Err(SendError::protocol("sending body", "no stream")),
        }
        self.ended |= last;
        Ok(())
    }

    /// Ends a body that ended short of its announced length, or was empty.
    async fn finish(&mut self, ctx: &H2Conn) -> Result<(), SendError> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        let key = self.key;
        match (&ctx.queue, self.direct.as_mut()) {
            (Some(q), _) => {
                q.finish(key)?;
                Ok(std::future::poll_fn(|cx| q.poll_finished(key, cx)).await?)
            }
            (None, Some(s)) => s
                .send_data(Bytes::new(), true)
                .map_err(|e| SendError::protocol("finishing", e)),
            (None, None) => Ok(()),
        }
    }

    /// A chunk for a body whose stream may not have been opened (an error then).
    async fn chunk_into(
        body: Option<&mut Self>,
        ctx: &H2Conn,
        chunk: Bytes,
        last: bool,
    ) -> Result<(), SendError> {
        match body {
            Some(b) => b.send_chunk(ctx, chunk, last).await,
            None => Err(SendError::protocol("sending body", "no stream")),
        }
    }

    /// Ends a body if its stream was opened; nothing to end otherwise.
    async fn finish_if_open(body: Option<&mut Self>, ctx: &H2Conn) -> Result<(), SendError> {
        match body {
            Some(b) => b.finish(ctx).await,
            None => Ok(()),
        }
    }

    fn abandon(&mut self, ctx: &H2Conn, why: Abandon) {
        match (&ctx.queue, self.direct.as_mut()) {
            (Some(q), _) => {
                q.reset(self.key, why);
            }
            (None, Some(s)) => s.send_reset(h2_reason(why)),
            (None, None) => {}
        }
    }
}

/// Without the queue: h2's own flow control and ordering.
async fn send_direct(
    s: &mut h2::SendStream<Bytes>,
    mut data: Bytes,
    fin: bool,
) -> Result<(), SendError> {
    while !data.is_empty() {
        s.reserve_capacity(data.len());
        let cap = match std::future::poll_fn(|cx| s.poll_capacity(cx)).await {
            Some(Ok(n)) => n,
            Some(Err(e)) => return Err(SendError::protocol("sending body", e)),
            None => return Err(SendError::protocol("sending body", "stream closed")),
        };
        let part = data.split_to(cap.min(data.len()));
        let end = fin && data.is_empty();
        s.send_data(part, end)
            .map_err(|e| SendError::protocol("sending body", e))?;
    }
    Ok(())
}

/// Registers a stream in the queue (when there is one).
fn register(
    ctx: &H2Conn,
    stream: h2::SendStream<Bytes>,
    order: Order,
    client: Priority,
    server: crate::priority::PriorityParams,
) -> (StreamKey, Option<h2::SendStream<Bytes>>) {
    let key = StreamKey::from(stream.stream_id().as_u32());
    match &ctx.queue {
        Some(q) => {
            let sink = H2Sink::new(stream, ctx.written.clone(), ctx.gate.clone());
            q.register(key, sink, order, client);
            q.set_header_priority(key, client, server);
            (key, None)
        }
        None => (key, Some(stream)),
    }
}

struct PushJob {
    pushed: h2::server::SendPushedResponse<Bytes>,
    reply: Reply,
    path: String,
    index: u32,
    /// The policy's priority for the push (None: the parent's).
    priority: Option<Priority>,
}

/// A pushed response: HEADERS on the promised stream, then the body
/// through the queue, kept behind its parent.
struct H2Push {
    ctx: Arc<H2Conn>,
    pushed: h2::server::SendPushedResponse<Bytes>,
    order: Order,
    parent_stream: u32,
    /// The policy's priority for the push (None: the parent's).
    priority: Option<Priority>,
    client_priority: Priority,
    server_priority: crate::priority::PriorityParams,
    announced: Option<Announced<H2Sink>>,
    /// Registered once the HEADERS went without END_STREAM.
    body: Option<H2Body>,
    /// Its place among the pushed streams the client allows open.
    slot: Option<PushSlot>,
}

impl Exchange for H2Push {
    async fn send_hints(&mut self, _fields: http::HeaderMap) -> Result<(), SendError> {
        // A pushed response has no interim responses.
        Ok(())
    }

    async fn send_head(&mut self, head: Response<()>, end: bool) -> Result<(), SendError> {
        // h2 0.4 queues a pushed response's HEADERS as "pending open" until
        // the client's SETTINGS_MAX_CONCURRENT_STREAMS lets the stream open,
        // and a client's RST_STREAM that arrives in that state is taken for
        // a frame on an idle stream, a connection error (PROTOCOL_ERROR),
        // though RFC 9113 allows it on a reserved stream. So the HEADERS
        // wait here, the stream reserved, until the client allows one more
        // pushed stream open; a cancel meanwhile ends the push.
        //= https://www.rfc-editor.org/rfc/rfc9113#section-8.4
        //# Advertising a SETTINGS_MAX_CONCURRENT_STREAMS value of zero
        //# prevents the server from opening the streams necessary to push
        //# responses.  However, this does not prevent the server from
        //# reserving streams using PUSH_PROMISE frames.
        let written = self.ctx.written.clone();
        let pushed = &mut self.pushed;
        let slot = tokio::select! {
            slot = written.push_slot() => slot,
            r = std::future::poll_fn(|cx| pushed.poll_reset(cx)) => {
                return Err(SendError::protocol(
                    "cancelled by the client before it started",
                    match r {
                        Ok(reason) => format!("{reason:?}"),
                        Err(e) => e.to_string(),
                    },
                ));
            }
        };
        self.slot = Some(slot);
        // Even with a slot, h2 holds the HEADERS "pending open" until its
        // next flush: letting it read what has arrived first narrows that
        // window; it cannot close it.
        tokio::task::yield_now().await;
        let reset = self
            .pushed
            .poll_reset(&mut std::task::Context::from_waker(std::task::Waker::noop()));
        if let std::task::Poll::Ready(r) = reset {
            return Err(SendError::protocol(
                "cancelled by the client before it started",
                match r {
                    Ok(reason) => format!("{reason:?}"),
                    Err(e) => e.to_string(),
                },
            ));
        }
        let pushed_id = self.pushed.stream_id().as_u32();
        if !end && self.ctx.queue.is_some() {
            self.ctx.written.head_queued(pushed_id);
        }
        let stream = self.pushed.send_response(head, end).map_err(|e| {
            self.ctx.written.forget(pushed_id);
            SendError::protocol("sending pushed response", e)
        })?;
        if end {
            // HEADERS ended the stream: nothing for the queue.
            return Ok(());
        }
        let (key, direct) = register(
            &self.ctx,
            stream,
            self.order,
            self.client_priority,
            self.server_priority,
        );
        self.announced = None;
        if let Some(q) = &self.ctx.queue {
            // As over HTTP/3: the push's own priority, kept behind its
            // parent's (or the parent's, when the policy gives none).
            let pp = q
                .priority(StreamKey::from(self.parent_stream))
                .unwrap_or_default();
            q.set_priority(key, Priority::of_push(self.priority, pp));
        }
        self.body = Some(H2Body {
            key,
            direct,
            ended: false,
        });
        Ok(())
    }

    async fn send_chunk(&mut self, chunk: Bytes, last: bool) -> Result<(), SendError> {
        H2Body::chunk_into(self.body.as_mut(), &self.ctx, chunk, last).await
    }

    async fn finish(&mut self) -> Result<(), SendError> {
        H2Body::finish_if_open(self.body.as_mut(), &self.ctx).await
    }

    fn abandon(&mut self, why: Abandon) {
        if let Some(b) = self.body.as_mut() {
            b.abandon(&self.ctx, why);
        }
    }
}

async fn run_push(
    ctx: Arc<H2Conn>,
    job: PushJob,
    parent: Order,
    parent_stream: u32,
    announced: Option<Announced<H2Sink>>,
) {
    let PushJob {
        pushed,
        reply,
        path,
        index,
        priority,
    } = job;
    let started = Instant::now();
    let id = u64::from(pushed.stream_id().as_u32());
    let mut ex = H2Push {
        ctx: ctx.clone(),
        pushed,
        order: Order::push_of(parent, index),
        parent_stream,
        priority,
        client_priority: reply.client_priority_parsed,
        server_priority: reply.server_priority(),
        announced,
        body: None,
        slot: None,
    };
    let mut sent = 0;
    let (chunk, stall) = (ctx.opts.body_chunk, ctx.opts.stall_timeout);
    let result = pipeline::push_response(&mut ex, &reply, chunk, stall, &mut sent).await;
    if let (Some(q), Some(b)) = (&ctx.queue, ex.body.as_ref()) {
        if result.is_err() {
            q.reset(b.key, Abandon::Cancelled);
        }
        q.release(b.key);
    }
    drop(ex);
    let end = pipeline::record_push(
        &pipeline::PushLog {
            proto: "h2",
            remote: ctx.remote,
            id,
            stream: id,
            path: &path,
            status: reply.status,
            body_bytes: sent,
            wire_bytes: None,
            started,
        },
        &result,
    );
    let refused = if result.is_ok() { 0 } else { reply.body.len() };
    ctx.pushes.lock().record(end, sent, refused, false);
}

/// Promises pushes with PUSH_PROMISE; returns the jobs that send them. Stops
/// when h2 refuses (the client disabled push).
fn promise(
    ctx: &H2Conn,
    respond: &mut h2::server::SendResponse<Bytes>,
    authority: &str,
    items: &[PushItem],
) -> Vec<PushJob> {
    let mut jobs = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some((headers, reply)) = crate::push::promised(&ctx.opts.site, &ctx.core, item) else {
            continue;
        };
        //= https://www.rfc-editor.org/rfc/rfc9113#section-8.4
        //# Promised requests MUST be safe (see Section 9.2.1 of [HTTP]) and
        //# cacheable (see Section 9.2.3 of [HTTP]).
        let Ok(uri) = format!("https://{authority}{}", item.path).parse::<http::Uri>() else {
            continue;
        };
        let mut req = Request::new(());
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        match respond.push_request(req) {
            Ok(pushed) => {
                ctx.pushes.lock().promised += 1;
                jobs.push(PushJob {
                    pushed,
                    reply,
                    path: item.path.clone(),
                    index: index as u32,
                    priority: item.priority,
                });
            }
            Err(e) => {
                debug!(remote = %ctx.remote, %e, "push refused by h2");
                ctx.push_allowed.store(false, Ordering::Relaxed);
                break;
            }
        }
    }
    jobs
}

/// Waits (bounded) until h2 has written the last frame of a parent stream
/// whose pushes are about to start.
async fn parent_written(ctx: &H2Conn, sid: u32, wait: bool) {
    if wait
        && tokio::time::timeout(ctx.opts.stall_timeout, ctx.written.ended(sid))
            .await
            .is_err()
    {
        ctx.written.forget(sid);
    }
}

/// An HTTP/2 response: 103 and HEADERS through h2, the body through the
/// queue; pushes start once h2 has written the parent's last frame.
struct H2Response<'a> {
    ctx: &'a Arc<H2Conn>,
    respond: &'a mut h2::server::SendResponse<Bytes>,
    reply: &'a Reply,
    order: Order,
    announced: Option<Announced<H2Sink>>,
    /// Promised, not started.
    jobs: Vec<PushJob>,
    /// Started push tasks (they run on after the response).
    started: Vec<tokio::task::JoinHandle<()>>,
    /// Whether pushes wait for the parent's last frame to be written.
    wait_written: bool,
    /// Registered once the HEADERS went without END_STREAM.
    body: Option<H2Body>,
    /// HEADERS ended the stream.
    headers_only: bool,
    head_at: Option<Instant>,
}

impl Exchange for H2Response<'_> {
    async fn send_hints(&mut self, fields: http::HeaderMap) -> Result<(), SendError> {
        let mut early = Response::new(());
        *early.status_mut() = StatusCode::EARLY_HINTS;
        *early.headers_mut() = fields;
        self.respond
            .send_informational(early)
            .map_err(|e| SendError::protocol("sending 103", e))
    }

    fn start_pushes(&mut self) {
        let parent_stream = self.respond.stream_id().as_u32();
        for j in self.jobs.drain(..) {
            // Announced now, so the queue waits for every push to register
            // before writing the first (see announce).
            let announced = self.ctx.queue.as_ref().map(|q| q.announce());
            self.started.push(tokio::spawn(run_push(
                self.ctx.clone(),
                j,
                self.order,
                parent_stream,
                announced,
            )));
        }
    }

    async fn send_head(&mut self, head: Response<()>, end: bool) -> Result<(), SendError> {
        let sid = self.respond.stream_id().as_u32();
        self.wait_written = !self.jobs.is_empty();
        if self.wait_written {
            self.ctx.written.watch(sid);
        }
        if !end && self.ctx.queue.is_some() {
            self.ctx.written.head_queued(sid);
        }
        let stream = self.respond.send_response(head, end).map_err(|e| {
            self.ctx.written.forget(sid);
            SendError::protocol("sending response", e)
        })?;
        // The HEADERS went straight into h2.
        self.head_at = Some(Instant::now());
        if end {
            // HEADERS ended the stream (HEAD, 304, an empty body): nothing
            // for the queue.
            self.headers_only = true;
            return Ok(());
        }
        let (key, direct) = register(
            self.ctx,
            stream,
            self.order,
            self.reply.client_priority_parsed,
            self.reply.server_priority(),
        );
        // The registered stream now stands for the announced request.
        self.announced = None;
        self.body = Some(H2Body {
            key,
            direct,
            ended: false,
        });
        Ok(())
    }

    async fn send_chunk(&mut self, chunk: Bytes, last: bool) -> Result<(), SendError> {
        H2Body::chunk_into(self.body.as_mut(), self.ctx, chunk, last).await
    }

    async fn finish(&mut self) -> Result<(), SendError> {
        H2Body::finish_if_open(self.body.as_mut(), self.ctx).await
    }

    // h2 interleaves streams frame by frame, and the PUSH_PROMISE frames
    // wait in the parent stream's queue inside h2: pushes that start now
    // would go out between them, ahead of the parent's HEADERS. So they
    // start once the parent's whole response has been written by h2 (or at
    // once, when think time leaves the connection idle).
    async fn body_sent(&mut self) {
        let sid = self.respond.stream_id().as_u32();
        parent_written(self.ctx, sid, self.wait_written).await;
        self.start_pushes();
    }

    fn abandon(&mut self, why: Abandon) {
        if let Some(b) = self.body.as_mut().filter(|b| !b.ended) {
            b.abandon(self.ctx, why);
        }
        self.respond.send_reset(h2_reason(why));
    }
}

async fn handle(
    req: Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    ctx: Arc<H2Conn>,
    announced: Option<Announced<H2Sink>>,
) {
    let arrived = Instant::now();
    let stream_id = u64::from(respond.stream_id().as_u32());
    let (head, authority) = RequestHead::from_parts(req.into_parts().0);
    let reply = pipeline::reply_to(&ctx.opts, &ctx.core, &ctx.stats, &head, false);
    let order = Order::request(stream_id / 2);
    let mut o = Outcome::default();
    let plan_for = |allowed: bool| {
        let mut view = ctx.conn_view(ctx.opts.policy.wants_transport_stats());
        view.push_allowed &= allowed;
        pipeline::plan(&ctx.opts, &head, &reply, view, &ctx.push_state)
    };
    let mut plan = plan_for(true);
    // Pushes first: if the client disabled push, the plan is made again
    // without them (so push-preload hints everything instead).
    let mut jobs = Vec::new();
    if !plan.pushes.is_empty() && ctx.push_allowed.load(Ordering::Relaxed) {
        if let Some(a) = &authority {
            jobs = promise(&ctx, &mut respond, a, &plan.pushes);
        }
        if jobs.len() < plan.pushes.len() && !ctx.push_allowed.load(Ordering::Relaxed) {
            plan = plan_for(false);
        }
    }
    o.pushes = jobs.len();
    let mut ex = H2Response {
        ctx: &ctx,
        respond: &mut respond,
        reply: &reply,
        order,
        announced,
        jobs,
        started: Vec::new(),
        wait_written: false,
        body: None,
        headers_only: false,
        head_at: None,
    };
    let r = Respond::new(&reply, &plan, arrived, &ctx.opts);
    let result = pipeline::respond(&mut ex, &r, &mut o).await;
    o.ttfb = ex.head_at.map(|t| t.saturating_duration_since(arrived));
    let body = ex.body.take();
    let headers_only = ex.headers_only;
    drop(ex);
    match (&ctx.queue, &body) {
        (Some(q), Some(b)) => {
            if let Some(s) = q.stats(b.key) {
                o.done = s.fin_write.map(|t| t.saturating_duration_since(arrived));
                o.push_bytes_ahead = s.push_bytes_ahead;
            }
            if result.is_err() {
                q.reset(b.key, Abandon::Cancelled);
            }
            q.release(b.key);
        }
        // HEADERS ended the stream.
        _ if headers_only => o.done = o.ttfb,
        (None, _) => o.done = Some(arrived.elapsed()),
        _ => {}
    }
    if let Err(e) = result {
        o.error = Some(e.to_string());
    }
    let pushes = *ctx.pushes.lock();
    pipeline::finish_request(
        &ctx.stats, "h2", ctx.remote, stream_id, &head, &reply, &o, pushes,
    );
}
