//! The HTTP/3 server: accepts QUIC connections, runs h3 over pushlab's
//! backend (or plain h3-quinn for `--scheduler off`), and hands each request
//! to the shared core.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use h3::quic;
use h3::server::RequestResolver;
use http::{HeaderMap, Method};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::backend::{self, ControlOut};
use super::control::ControlSink;
use super::push::{self, PushContext};
use super::sink::{H3Queue, QuinnWindow};
use super::transport::Handshake;
use crate::config::{SchedulerMode, ServeOptions};
use crate::push::{ConnPushState, PlanInput};
use crate::reply::{self, Reply, RequestHead};
use crate::reqlog::{self, Outcome};
use crate::stats::ServerStats;

/// The QUIC transport configuration for the server.
pub fn transport_config(opts: &ServeOptions) -> quinn::TransportConfig {
    let mut t =
        super::transport::transport(&opts.quic, opts.max_concurrent_bidi, opts.idle_timeout);
    if let SchedulerMode::Queue(_) = opts.mode {
        // The queue decides the order, also between streams of one urgency:
        // quinn sends what it was given in the order it was written. With
        // quinn's default fair queuing, two non-incremental responses of
        // one urgency that were both inside quinn's window went out
        // round-robin, packet by packet, against RFC 9218 section 4.2.
        t.send_fairness(false);
    }
    t
}

/// Builds the quinn server configuration.
pub fn quinn_server_config(
    tls: rustls::ServerConfig,
    opts: &ServeOptions,
) -> Result<quinn::ServerConfig, rustls::Error> {
    super::transport::quinn_server_config(tls, &opts.quic, transport_config(opts))
}

fn qlog_config(
    dir: &std::path::Path,
    remote: SocketAddr,
    opts: &ServeOptions,
) -> Option<quinn::TransportConfig> {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let name = format!("{ms}-{}-{}.sqlog", remote.ip(), remote.port()).replace(':', "_");
    let path = dir.join(name);
    let file = match std::fs::File::create(&path) {
        Ok(f) => f,
        Err(e) => {
            warn!(path = %path.display(), %e, "cannot create qlog file");
            return None;
        }
    };
    let mut q = quinn::QlogConfig::default();
    q.writer(Box::new(std::io::BufWriter::new(file)))
        .title(Some(format!("pushlab server, client {remote}")));
    let mut t = transport_config(opts);
    t.qlog_stream(q.into_stream());
    Some(t)
}

/// Serves HTTP/3 (and `hq-interop`) on `endpoint` until `shutdown` turns
/// true, then drains. With `retry`, every new client address is first
/// validated with a stateless Retry.
pub async fn serve(
    endpoint: quinn::Endpoint,
    server_config: quinn::ServerConfig,
    opts: Arc<ServeOptions>,
    stats: Arc<ServerStats>,
    mut shutdown: watch::Receiver<bool>,
    retry: bool,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                let remote = incoming.remote_address();
                //= https://www.rfc-editor.org/rfc/rfc9000#section-8.1.2
                //# Upon receiving the client's Initial packet, the server can
                //# request address validation by sending a Retry packet
                //# (Section 17.2.5) containing a token.
                // `may_retry`: this Initial carried no Retry token yet (a
                // token that fails validation never gets this far: quinn
                // closes with INVALID_TOKEN).
                if retry && incoming.may_retry() {
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = incoming.retry() {
                        debug!(%remote, %e, "retry not possible");
                    }
                    continue;
                }
                let connecting = match &opts.qlog_dir {
                    Some(dir) => match qlog_config(dir, remote, &opts) {
                        Some(t) => {
                            let mut sc = server_config.clone();
                            sc.transport_config(Arc::new(t));
                            incoming.accept_with(Arc::new(sc))
                        }
                        None => incoming.accept(),
                    },
                    None => incoming.accept(),
                };
                let connecting = match connecting {
                    Ok(c) => c,
                    Err(e) => {
                        debug!(%remote, %e, "refused connection");
                        continue;
                    }
                };
                stats.connections.fetch_add(1, Ordering::Relaxed);
                let opts = opts.clone();
                let stats = stats.clone();
                let shutdown = shutdown.clone();
                conns.spawn(async move {
                    let (conn, handshake) = if opts.quic.zero_rtt {
                        // Serve streams before the handshake completes: they
                        // carry 0-RTT data (the server side always succeeds).
                        match connecting.into_0rtt() {
                            Ok((conn, accepted)) => (conn, Handshake::early(accepted)),
                            Err(connecting) => match connecting.await {
                                Ok(conn) => (conn, Handshake::complete()),
                                Err(e) => return debug!(%remote, %e, "handshake failed"),
                            },
                        }
                    } else {
                        match connecting.await {
                            Ok(conn) => (conn, Handshake::complete()),
                            Err(e) => return debug!(%remote, %e, "handshake failed"),
                        }
                    };
                    let alpn = conn
                        .handshake_data()
                        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
                        .and_then(|d| d.protocol);
                    if let Some(every) = opts.quic.key_update_every {
                        tokio::spawn(key_updates(conn.clone(), every, stats.clone()));
                    }
                    if alpn.as_deref() == Some(b"hq-interop".as_slice()) {
                        stats.hq_connections.fetch_add(1, Ordering::Relaxed);
                        super::hq::serve_connection(conn, opts, stats).await;
                    } else {
                        run_connection(conn, opts, stats, shutdown, handshake).await;
                    }
                });
            }
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    // Graceful: connection tasks saw the shutdown too; give them a bounded wait.
    crate::pipeline::drain_connections(
        &mut conns,
        opts.shutdown_timeout + Duration::from_millis(500),
        "QUIC",
    )
    .await;
    endpoint.close(quinn::VarInt::from_u32(0x100), b"shutdown");
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
}

/// Initiates a key update whenever `every` more packets were sent (quinn
/// ignores the call while the previous update's keys are still in use).
async fn key_updates(conn: quinn::Connection, every: u64, stats: Arc<ServerStats>) {
    let every = every.max(1);
    let mut next = every;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    loop {
        tokio::select! {
            _ = conn.closed() => return,
            _ = tick.tick() => {}
        }
        let sent = conn.stats().path.sent_packets;
        if sent >= next {
            //= https://www.rfc-editor.org/rfc/rfc9001#section-6
            //# Once the handshake is confirmed (see Section 4.1.2), an endpoint
            //# MAY initiate a key update.
            conn.force_key_update();
            stats.key_updates.fetch_add(1, Ordering::Relaxed);
            next = sent + every;
        }
    }
}

/// Per-connection context handed to request tasks.
pub struct ConnCtx {
    /// Options.
    pub opts: Arc<ServeOptions>,
    /// The QUIC connection.
    pub conn: quinn::Connection,
    /// The send queue (absent with `--scheduler off`).
    pub queue: Option<Arc<H3Queue>>,
    /// Control stream state (absent with `--scheduler off`).
    pub control: Option<Arc<ControlSink>>,
    /// Server-wide counters.
    pub stats: Arc<ServerStats>,
    /// Per-connection state of the push policy.
    pub push_state: ConnPushState,
    /// Whether the handshake is complete (requests before are 0-RTT).
    pub handshake: Arc<Handshake>,
}

async fn run_connection(
    conn: quinn::Connection,
    opts: Arc<ServeOptions>,
    stats: Arc<ServerStats>,
    shutdown: watch::Receiver<bool>,
    handshake: Arc<Handshake>,
) {
    let remote = conn.remote_address();
    debug!(%remote, "connection established");
    match opts.mode.clone() {
        SchedulerMode::Off => {
            let ctx = Arc::new(ConnCtx {
                opts: opts.clone(),
                conn: conn.clone(),
                queue: None,
                control: None,
                stats,
                push_state: ConnPushState::default(),
                handshake: handshake.clone(),
            });
            let h3c = h3::server::builder()
                .max_field_section_size(opts.max_field_section_size)
                .build(h3_quinn::Connection::new(conn.clone()))
                .await;
            match h3c {
                Ok(h3c) => accept_loop(h3c, ctx, shutdown).await,
                Err(e) => debug!(%remote, %e, "h3 setup failed"),
            }
        }
        SchedulerMode::Queue(cfg) => {
            let queue = H3Queue::new(
                Box::new(QuinnWindow(conn.clone())),
                cfg,
                stats.queues.clone(),
            );
            let control_out = ControlOut::new();
            let control = ControlSink::new(
                conn.clone(),
                queue.clone(),
                opts.max_concurrent_bidi,
                control_out.clone(),
            );
            let pump = {
                let (queue, conn) = (queue.clone(), conn.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = queue.clone().run_pump() => {}
                        e = conn.closed() => queue.close(&e.to_string()),
                    }
                })
            };
            let ctx = Arc::new(ConnCtx {
                opts: opts.clone(),
                conn: conn.clone(),
                queue: Some(queue.clone()),
                control: Some(control.clone()),
                stats,
                push_state: ConnPushState::default(),
                handshake: handshake.clone(),
            });
            let backend =
                backend::Connection::new(conn.clone(), queue.clone(), control.clone(), control_out);
            let h3c = h3::server::builder()
                .max_field_section_size(opts.max_field_section_size)
                .build(backend)
                .await;
            match h3c {
                Ok(h3c) => accept_loop(h3c, ctx.clone(), shutdown).await,
                Err(e) => debug!(%remote, %e, "h3 setup failed"),
            }
            queue.close("connection finished");
            let _ = pump.await;
            let pc = control.push_counters();
            ctx.stats.add_pushes(pc);
            let qc = queue.counters();
            debug!(
                %remote,
                promised = pc.promised,
                pushes_completed = pc.completed,
                pushes_cancelled = pc.cancelled_by_client,
                refused_bytes = pc.refused_bytes,
                priority_updates = qc.priority_updates,
                invalid_priority_updates = qc.priority_updates_invalid,
                "connection closed"
            );
        }
    }
}

async fn accept_loop<C>(
    mut h3c: h3::server::Connection<C, Bytes>,
    ctx: Arc<ConnCtx>,
    mut shutdown: watch::Receiver<bool>,
) where
    C: quic::Connection<Bytes> + Send + 'static,
    C::BidiStream: Send + 'static,
    <C::BidiStream as quic::RecvStream>::Buf: Send,
    C::OpenStreams: Send,
    C::RecvStream: Send,
{
    let remote = ctx.conn.remote_address();
    let mut requests = JoinSet::new();
    let mut draining = *shutdown.borrow();
    if draining {
        let _ = h3c.shutdown(0).await;
    }
    loop {
        tokio::select! {
            r = h3c.accept() => match r {
                Ok(Some(resolver)) => {
                    let ctx = ctx.clone();
                    requests.spawn(handle_request(resolver, ctx));
                }
                Ok(None) => break,
                Err(e) => {
                    if !e.is_h3_no_error() {
                        debug!(%remote, %e, "connection ended");
                    }
                    break;
                }
            },
            _ = shutdown.changed(), if !draining => {
                draining = true;
                //= https://www.rfc-editor.org/rfc/rfc9114#section-5.2
                //# Endpoints initiate the graceful shutdown of an HTTP/3
                //# connection by sending a GOAWAY frame.
                if let Err(e) = h3c.shutdown(1).await {
                    debug!(%remote, %e, "GOAWAY failed");
                }
            }
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
            // h3 only ends accept() on the peer's GOAWAY; after ours, the
            // connection is done once its in-flight requests are.
            _ = tokio::time::sleep(Duration::from_millis(50)), if draining && requests.is_empty() => break,
        }
    }
    let wait = async { while requests.join_next().await.is_some() {} };
    if tokio::time::timeout(ctx.opts.shutdown_timeout, wait)
        .await
        .is_err()
    {
        warn!(%remote, "in-flight responses did not finish in time");
    }
    ctx.conn.close(quinn::VarInt::from_u32(0x100), b"");
}

async fn handle_request<C>(resolver: RequestResolver<C, Bytes>, ctx: Arc<ConnCtx>)
where
    C: quic::Connection<Bytes>,
    C::BidiStream: Send + 'static,
{
    let (req, mut stream) = match resolver.resolve_request().await {
        Ok(r) => r,
        Err(e) => {
            debug!(remote = %ctx.conn.remote_address(), %e, "request not resolved");
            return;
        }
    };
    let arrived = Instant::now();
    let stream_id: u64 = stream.id().into_inner();
    let (parts, ()) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    let authority = parts.uri.authority().map(|a| a.to_string());
    let head = RequestHead {
        method: parts.method.clone(),
        target,
        headers: parts.headers,
    };
    let early = !ctx.handshake.is_complete();
    if early {
        ctx.stats.early_requests.fetch_add(1, Ordering::Relaxed);
    }
    let reply = reply::respond_early(&ctx.opts.site, &head, &ctx.opts.core, early);
    if reply.status == http::StatusCode::TOO_EARLY {
        ctx.stats.too_early.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(q) = &ctx.queue {
        let server = reply
            .resource
            .as_ref()
            .map(|r| r.server_priority)
            .unwrap_or_default();
        // The core already parsed the client's field.
        let client = reply.client_priority_parsed;
        q.set_header_priority(stream_id, client, server);
    }
    let mut outcome = Outcome {
        early,
        ..Outcome::default()
    };
    let result = respond(
        &mut stream,
        &ctx,
        &head,
        authority.as_deref(),
        &reply,
        stream_id,
        arrived,
        &mut outcome,
    )
    .await;
    if let Err(e) = result {
        outcome.error = Some(e);
    }
    // Timing from the queue when it exists (first byte and FIN handed to quinn).
    if let Some(q) = &ctx.queue {
        if let Some(s) = q.stats(stream_id) {
            outcome.ttfb = s.first_write.map(|t| t.saturating_duration_since(arrived));
            outcome.done = s.fin_write.map(|t| t.saturating_duration_since(arrived));
            outcome.push_bytes_ahead = s.push_bytes_ahead;
        }
    }
    drop(stream);
    log_request(&ctx, &head, &reply, stream_id, &outcome);
}

#[allow(clippy::too_many_arguments)]
async fn respond<S>(
    stream: &mut h3::server::RequestStream<S, Bytes>,
    ctx: &Arc<ConnCtx>,
    head: &RequestHead,
    authority: Option<&str>,
    reply: &Reply,
    stream_id: u64,
    arrived: Instant,
    outcome: &mut Outcome,
) -> Result<(), String>
where
    S: quic::SendStream<Bytes> + quic::RecvStream,
{
    // Early hints and pushes, as the policy decides (never after the final response).
    let plan = ctx.opts.policy.plan(&PlanInput {
        site: &ctx.opts.site,
        request: head,
        reply,
        conn: push::conn_view(ctx, ctx.opts.policy.wants_transport_stats()),
        state: &ctx.push_state,
    });
    if !plan.hints.is_empty() && head.method == Method::GET {
        let mut hints = HeaderMap::new();
        for link in &plan.hints {
            if let Ok(v) = http::HeaderValue::from_str(link) {
                hints.append(http::header::LINK, v);
            }
        }
        //= https://www.rfc-editor.org/rfc/rfc8297#section-2
        //# The 103 (Early Hints) informational status code indicates to the
        //# client that the server is likely to send a final response with the
        //# header fields included in the informational response.
        let mut resp = http::Response::builder().status(http::StatusCode::EARLY_HINTS);
        if let Some(h) = resp.headers_mut() {
            *h = hints;
        }
        let resp = resp.body(()).map_err(|e| e.to_string())?;
        stream
            .send_response(resp)
            .await
            .map_err(|e| format!("sending 103: {e}"))?;
        outcome.hints = plan.hints.len();
    }
    let mut push_tasks = Vec::new();
    if let (Some(q), Some(c)) = (&ctx.queue, &ctx.control) {
        if !plan.pushes.is_empty() {
            let pctx = PushContext {
                queue: q.clone(),
                control: c.clone(),
                conn: ctx.conn.clone(),
                site: ctx.opts.site.clone(),
                core: ctx.opts.core.clone(),
                body_chunk: ctx.opts.body_chunk,
                stall_timeout: ctx.opts.stall_timeout,
            };
            push_tasks = push::promise_pushes(&pctx, stream_id, authority, &plan.pushes);
            outcome.pushes = push_tasks.len();
        }
    }
    // With think time the pushes fill the idle time; otherwise they start
    // once the parent's HEADERS are queued, so the parent goes first.
    let mut started = Vec::new();
    if !reply.think.is_zero() {
        started.extend(push_tasks.drain(..).filter_map(|p| p.start()));
    }
    if !reply.think.is_zero() {
        let elapsed = arrived.elapsed();
        if reply.think > elapsed {
            tokio::time::sleep(reply.think - elapsed).await;
        }
    }
    let mut resp = http::Response::builder().status(reply.status);
    if let Some(h) = resp.headers_mut() {
        *h = reply.headers.clone();
        for (n, v) in &plan.response_headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(n.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                h.append(n, v);
            }
        }
    }
    let resp = resp.body(()).map_err(|e| e.to_string())?;
    stream
        .send_response(resp)
        .await
        .map_err(|e| format!("sending response: {e}"))?;
    started.extend(push_tasks.drain(..).filter_map(|p| p.start()));
    if ctx.queue.is_none() {
        outcome.ttfb = Some(arrived.elapsed());
    }
    let mut reader = reply::BodyReader::new(reply.body.clone());
    loop {
        let chunk = reader
            .next(ctx.opts.body_chunk)
            .await
            .map_err(|e| format!("reading body: {e}"))?;
        let Some(chunk) = chunk else { break };
        let n = chunk.len() as u64;
        // With the queue, body bytes go straight into it as DATA frames
        // (no copy through h3's write buffer); h3 wrote the HEADERS before
        // and will write the FIN after, all through the same queue, in order.
        let sent = match &ctx.queue {
            Some(q) => {
                tokio::time::timeout(ctx.opts.stall_timeout, q.send_data_frame(stream_id, chunk))
                    .await
                    .map(|r| r.map_err(|e| e.to_string()))
            }
            None => tokio::time::timeout(ctx.opts.stall_timeout, stream.send_data(chunk))
                .await
                .map(|r| r.map_err(|e| e.to_string())),
        };
        match sent {
            Ok(Ok(())) => outcome.bytes += n,
            Ok(Err(e)) => return Err(format!("sending body: {e}")),
            Err(_) => {
                stream.stop_stream(h3::error::Code::H3_REQUEST_CANCELLED);
                return Err(format!(
                    "no progress for {:?}, stream reset",
                    ctx.opts.stall_timeout
                ));
            }
        }
    }
    match tokio::time::timeout(ctx.opts.stall_timeout, stream.finish()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("finishing: {e}")),
        Err(_) => {
            stream.stop_stream(h3::error::Code::H3_REQUEST_CANCELLED);
            return Err(format!(
                "no progress for {:?}, stream reset",
                ctx.opts.stall_timeout
            ));
        }
    }
    if ctx.queue.is_none() {
        outcome.done = Some(arrived.elapsed());
    }
    // Consume the rest of the request (its FIN) so the stream closes cleanly;
    // a client that keeps its side open is asked to stop with H3_NO_ERROR.
    //= https://www.rfc-editor.org/rfc/rfc9114#section-4.1
    //# The error code H3_NO_ERROR SHOULD be used when requesting that the
    //# client stop sending on the request stream.
    let drained = tokio::time::timeout(Duration::from_millis(250), async {
        while let Ok(Some(_)) = stream.recv_data().await {}
    })
    .await;
    if drained.is_err() {
        stream.stop_sending(h3::error::Code::H3_NO_ERROR);
    }
    // Pushes run on; the request is done once its own response is.
    drop(started);
    Ok(())
}

fn log_request(ctx: &ConnCtx, head: &RequestHead, reply: &Reply, stream_id: u64, o: &Outcome) {
    ctx.stats.requests.fetch_add(1, Ordering::Relaxed);
    if o.error.is_some() {
        ctx.stats.failed.fetch_add(1, Ordering::Relaxed);
    }
    let pc = ctx
        .control
        .as_ref()
        .map(|c| c.push_counters())
        .unwrap_or_default();
    reqlog::log_request(
        "h3",
        ctx.conn.remote_address(),
        stream_id,
        head,
        reply,
        o,
        pc,
    );
}
