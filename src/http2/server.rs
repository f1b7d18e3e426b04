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

use super::sink::{h2_reason, H2Queue, H2Sink};
use super::watch::{Watched, WriteWatch};
use crate::config::{SchedulerMode, ServeOptions};
use crate::push::{ConnPushState, ConnView, PlanInput, PushItem};
use crate::reply::{self, BodyReader, CoreOptions, Reply, RequestHead};
use crate::reqlog::{self, Outcome};
use crate::sched::{Order, StreamKey};
use crate::sendq::{Announced, NoWindow};
use crate::stats::PushCounters;
use crate::stats::ServerStats;
use crate::wire::frame::code;

/// Options of the TCP side beyond the shared ones.
#[derive(Debug, Clone, Default)]
pub struct TcpOptions {
    /// TCP_NOTSENT_LOWAT for accepted sockets (None: kernel default).
    pub notsent_lowat: Option<u32>,
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
    /// A duplicate of the socket, for TCP_INFO.
    socket: Option<socket2::Socket>,
    /// What h2 has written to TLS.
    written: Arc<WriteWatch>,
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
    let socket = socket2::SockRef::from(&sock).try_clone().ok();
    let tls = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(sock))
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let alpn = tls.get_ref().1.alpn_protocol().map(|a| a.to_vec());
    let core = CoreOptions {
        alt_svc: tcp.alt_svc.clone(),
    };
    if alpn.as_deref() == Some(b"h2") {
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
            written: Arc::new(WriteWatch::default()),
        });
        run_h2(tls, ctx, shutdown).await
    } else {
        super::h1::serve_connection(tls, remote, opts, core, stats, shutdown).await
    }
}

async fn run_h2(
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    mut ctx: Arc<H2Conn>,
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
        let queue = H2Queue::new(Box::new(NoWindow), cfg.clone(), ctx.stats.queues.clone());
        if let Some(c) = Arc::get_mut(&mut ctx) {
            c.queue = Some(queue.clone());
        }
        Some((queue.clone(), tokio::spawn(queue.run_pump())))
    } else {
        None
    };
    let mut requests = JoinSet::new();
    let mut draining = false;
    loop {
        tokio::select! {
            r = conn.accept() => match r {
                Some(Ok((req, respond))) => {
                    // Announced here, in arrival order, so that the queue
                    // holds back writes until every request that arrived
                    // together has queued its response (see announce).
                    let announced = ctx.queue.as_ref().map(|q| q.announce());
                    requests.spawn(handle(req, respond, ctx.clone(), announced));
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

/// Writes a body through the queue (or straight into h2 without it). The
/// last chunk carries END_STREAM (no empty DATA frame after it).
async fn send_body(
    ctx: &H2Conn,
    key: StreamKey,
    mut direct: Option<h2::SendStream<Bytes>>,
    body: reply::ReplyBody,
    out: &mut u64,
) -> Result<(), String> {
    let mut reader = BodyReader::new(body);
    let stall = ctx.opts.stall_timeout;
    let stalled = |_| format!("no progress for {stall:?}");
    loop {
        let chunk = reader
            .next(ctx.opts.body_chunk)
            .await
            .map_err(|e| format!("reading body: {e}"))?;
        let Some(chunk) = chunk else { break };
        let last = reader.remaining() == 0;
        let n = chunk.len() as u64;
        match (&ctx.queue, direct.as_mut()) {
            (Some(q), _) if last => {
                q.enqueue_last(key, chunk).map_err(|e| e.to_string())?;
                tokio::time::timeout(stall, std::future::poll_fn(|cx| q.poll_finished(key, cx)))
                    .await
                    .map_err(stalled)?
                    .map_err(|e| e.to_string())?;
                *out += n;
                return Ok(());
            }
            (Some(q), _) => tokio::time::timeout(stall, async {
                q.enqueue(key, chunk)?;
                std::future::poll_fn(|cx| q.poll_writable(key, cx)).await
            })
            .await
            .map_err(stalled)?
            .map_err(|e| e.to_string())?,
            (None, Some(s)) => tokio::time::timeout(stall, send_direct(s, chunk, last))
                .await
                .map_err(stalled)??,
            (None, None) => return Err("no stream".to_string()),
        }
        *out += n;
        if last {
            return Ok(());
        }
    }
    // The body ended short of its announced length, or was empty.
    match (&ctx.queue, direct.as_mut()) {
        (Some(q), _) => {
            q.finish(key).map_err(|e| e.to_string())?;
            tokio::time::timeout(stall, std::future::poll_fn(|cx| q.poll_finished(key, cx)))
                .await
                .map_err(stalled)?
                .map_err(|e| e.to_string())
        }
        (None, Some(s)) => s.send_data(Bytes::new(), true).map_err(|e| e.to_string()),
        (None, None) => Ok(()),
    }
}

/// Without the queue: h2's own flow control and ordering.
async fn send_direct(
    s: &mut h2::SendStream<Bytes>,
    mut data: Bytes,
    fin: bool,
) -> Result<(), String> {
    while !data.is_empty() {
        s.reserve_capacity(data.len());
        let cap = match std::future::poll_fn(|cx| s.poll_capacity(cx)).await {
            Some(Ok(n)) => n,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("stream closed".into()),
        };
        let part = data.split_to(cap.min(data.len()));
        let end = fin && data.is_empty();
        s.send_data(part, end).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn response_of(reply: &Reply, extra: &[(String, String)]) -> Response<()> {
    let mut resp = Response::new(());
    *resp.status_mut() = reply.status;
    *resp.headers_mut() = reply.headers.clone();
    for (n, v) in extra {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(n.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

/// Registers a stream in the queue (when there is one).
fn register(
    ctx: &H2Conn,
    stream: h2::SendStream<Bytes>,
    order: Order,
    reply: &Reply,
) -> (StreamKey, Option<h2::SendStream<Bytes>>) {
    let key = StreamKey::from(stream.stream_id().as_u32());
    match &ctx.queue {
        Some(q) => {
            q.register(
                key,
                H2Sink(stream, ctx.written.clone()),
                order,
                reply.client_priority_parsed,
            );
            let server = reply
                .resource
                .as_ref()
                .map(|r| r.server_priority)
                .unwrap_or_default();
            q.set_header_priority(key, reply.client_priority_parsed, server);
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
    priority: Option<crate::priority::Priority>,
}

async fn run_push(
    ctx: Arc<H2Conn>,
    job: PushJob,
    parent: Order,
    parent_stream: u32,
    announced: Option<Announced<H2Sink>>,
) {
    let PushJob {
        mut pushed,
        reply,
        path,
        index,
        priority,
    } = job;
    let started = Instant::now();
    let eos = reply.body.is_empty();
    let result: Result<u64, String> = async {
        // A push the client has already cancelled is not started: h2 0.4
        // queues a pushed response's HEADERS as "pending open", and a
        // client's RST_STREAM that arrives in that state is taken for a
        // frame on an idle stream, a connection error (PROTOCOL_ERROR),
        // though RFC 9113 allows it on a reserved stream. Letting h2 read
        // what has arrived first narrows that window; it cannot close it.
        tokio::task::yield_now().await;
        let reset =
            pushed.poll_reset(&mut std::task::Context::from_waker(std::task::Waker::noop()));
        if let std::task::Poll::Ready(r) = reset {
            return Err(match r {
                Ok(reason) => format!("cancelled by the client before it started ({reason})"),
                Err(e) => e.to_string(),
            });
        }
        let stream = pushed
            .send_response(response_of(&reply, &[]), eos)
            .map_err(|e| e.to_string())?;
        if eos {
            return Ok(0);
        }
        let (key, direct) = register(&ctx, stream, Order::push_of(parent, index), &reply);
        drop(announced);
        if let Some(q) = &ctx.queue {
            // As over HTTP/3: the push's own priority, kept behind its
            // parent's (or the parent's, when the policy gives none).
            let pp = q
                .priority(StreamKey::from(parent_stream))
                .unwrap_or_default();
            q.set_priority(key, priority.map_or(pp, |p| p.behind(pp)));
        }
        let mut sent = 0;
        let r = send_body(&ctx, key, direct, reply.body.clone(), &mut sent).await;
        if let Some(q) = &ctx.queue {
            if r.is_err() {
                q.reset(key, code::H3_REQUEST_CANCELLED);
            }
            q.release(key);
        }
        r.map(|()| sent)
    }
    .await;
    let mut pc = ctx.pushes.lock();
    let outcome = match &result {
        Ok(n) => {
            pc.completed += 1;
            pc.pushed_bytes += n;
            "completed".to_string()
        }
        Err(e) => {
            pc.cancelled_by_client += 1;
            pc.refused_bytes += reply.body.len();
            format!("refused or failed: {e}")
        }
    };
    drop(pc);
    tracing::info!(
        target: "pushlab::push",
        proto = "h2",
        remote = %ctx.remote,
        path = %path,
        status = reply.status.as_u16(),
        body_bytes = result.as_ref().copied().unwrap_or(0),
        duration_ms = %format!("{:.2}", started.elapsed().as_secs_f64() * 1e3),
        outcome = %outcome,
        "push"
    );
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

async fn handle(
    req: Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    ctx: Arc<H2Conn>,
    announced: Option<Announced<H2Sink>>,
) {
    let arrived = Instant::now();
    let stream_id = u64::from(respond.stream_id().as_u32());
    let (parts, _body) = req.into_parts();
    let authority = parts.uri.authority().map(|a| a.to_string());
    let head = RequestHead {
        method: parts.method.clone(),
        target: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into()),
        headers: parts.headers,
    };
    let reply = reply::respond(&ctx.opts.site, &head, &ctx.core);
    let order = Order::request(stream_id / 2);
    let mut o = Outcome::default();
    let policy = &ctx.opts.policy;
    let plan_for = |allowed: bool| {
        let mut view = ctx.conn_view(policy.wants_transport_stats());
        view.push_allowed &= allowed;
        policy.plan(&PlanInput {
            site: &ctx.opts.site,
            request: &head,
            reply: &reply,
            conn: view,
            state: &ctx.push_state,
        })
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
    let result: Result<(), String> = async {
        if !plan.hints.is_empty() {
            let mut early = Response::new(());
            *early.status_mut() = StatusCode::EARLY_HINTS;
            for l in &plan.hints {
                if let Ok(v) = http::HeaderValue::from_str(l) {
                    early.headers_mut().append(http::header::LINK, v);
                }
            }
            respond
                .send_informational(early)
                .map_err(|e| format!("sending 103: {e}"))?;
            o.hints = plan.hints.len();
        }
        let start_pushes = |jobs: &mut Vec<PushJob>, started: &mut Vec<_>| {
            for j in jobs.drain(..) {
                // Announced now, so the queue waits for every push to
                // register before writing the first (see announce).
                let announced = ctx.queue.as_ref().map(|q| q.announce());
                started.push(tokio::spawn(run_push(
                    ctx.clone(),
                    j,
                    order,
                    stream_id as u32,
                    announced,
                )));
            }
        };
        let mut started = Vec::new();
        if !reply.think.is_zero() {
            start_pushes(&mut jobs, &mut started);
            let elapsed = arrived.elapsed();
            if reply.think > elapsed {
                tokio::time::sleep(reply.think - elapsed).await;
            }
        }
        let eos = reply.body.is_empty();
        let sid = respond.stream_id().as_u32();
        let wait_written = !jobs.is_empty();
        if wait_written {
            ctx.written.watch(sid);
        }
        let stream = respond
            .send_response(response_of(&reply, &plan.response_headers), eos)
            .map_err(|e| {
                ctx.written.forget(sid);
                format!("sending response: {e}")
            })?;
        // The HEADERS went straight into h2.
        o.ttfb = Some(arrived.elapsed());
        if eos {
            o.done = o.ttfb;
        }
        // h2 interleaves streams frame by frame, and the PUSH_PROMISE frames
        // wait in the parent stream's queue inside h2: pushes that start now
        // would go out between them, ahead of the parent's HEADERS. So they
        // start once the parent's whole response has been written by h2
        // (or at once, when think time leaves the connection idle).
        if eos {
            // HEADERS ended the stream (HEAD, 304, an empty body): nothing
            // for the queue.
            drop(stream);
            parent_written(&ctx, sid, wait_written).await;
            start_pushes(&mut jobs, &mut started);
            return Ok(());
        }
        let (key, direct) = register(&ctx, stream, order, &reply);
        // The registered stream now stands for the announced request.
        drop(announced);
        let r = send_body(&ctx, key, direct, reply.body.clone(), &mut o.bytes).await;
        parent_written(&ctx, sid, wait_written).await;
        start_pushes(&mut jobs, &mut started);
        if let Some(q) = &ctx.queue {
            if let Some(s) = q.stats(key) {
                o.done = s.fin_write.map(|t| t.saturating_duration_since(arrived));
                o.push_bytes_ahead = s.push_bytes_ahead;
            }
            if r.is_err() {
                q.reset(key, code::H3_REQUEST_CANCELLED);
            }
            q.release(key);
        } else {
            o.done = Some(arrived.elapsed());
        }
        r
    }
    .await;
    if let Err(e) = result {
        if matches!(e.as_str(), s if s.contains("no progress")) {
            respond.send_reset(h2_reason(code::H3_REQUEST_CANCELLED));
        }
        o.error = Some(e);
    }
    ctx.stats.requests.fetch_add(1, Ordering::Relaxed);
    if o.error.is_some() {
        ctx.stats.failed.fetch_add(1, Ordering::Relaxed);
    }
    let pc = *ctx.pushes.lock();
    reqlog::log_request("h2", ctx.remote, stream_id, &head, &reply, &o, pc);
}
