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
use http::HeaderMap;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::backend;
use super::control::ControlSink;
use super::control_out::ControlOut;
use super::push::{self, PushContext};
use super::sink::{h3_code, send_data_frame, H3Queue, QuinnWindow};
use super::transport::Handshake;
use crate::config::{SchedulerMode, ServeOptions};
use crate::pipeline::{self, Exchange, Respond, SendError};
use crate::push::{ConnPushState, PushItem};
use crate::reply::RequestHead;
use crate::reqlog::Outcome;
use crate::sched::inflight::InflightMode;
use crate::sendq::Abandon;
use crate::stats::ServerStats;

/// The QUIC transport configuration for the server.
pub fn transport_config(opts: &ServeOptions) -> quinn::TransportConfig {
    let window_floor =
        matches!(&opts.mode, SchedulerMode::Queue(c) if c.inflight != InflightMode::Off);
    let mut t = super::transport::transport(
        &opts.quic,
        opts.max_concurrent_bidi,
        opts.idle_timeout,
        window_floor,
    );
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

/// A transport config that writes this connection's qlog into `dir`; the
/// file is created off the runtime's threads (`tokio::fs`), in the
/// connection's own task, never in the accept loop.
async fn qlog_config(
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
    let file = match tokio::fs::File::create(&path).await {
        Ok(f) => f.into_std().await,
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

/// Accepts `incoming`, with a qlog writer when `--qlog-dir` is set; `None`
/// when quinn refuses it.
async fn accept(
    incoming: quinn::Incoming,
    remote: SocketAddr,
    server_config: &quinn::ServerConfig,
    opts: &ServeOptions,
) -> Option<quinn::Connecting> {
    let qlog = match &opts.qlog_dir {
        Some(dir) => qlog_config(dir, remote, opts).await,
        None => None,
    };
    let accepted = match qlog {
        Some(t) => {
            let mut sc = server_config.clone();
            sc.transport_config(Arc::new(t));
            incoming.accept_with(Arc::new(sc))
        }
        None => incoming.accept(),
    };
    match accepted {
        Ok(c) => Some(c),
        Err(e) => {
            debug!(%remote, %e, "refused connection");
            None
        }
    }
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
                let opts = opts.clone();
                let stats = stats.clone();
                let shutdown = shutdown.clone();
                let server_config = server_config.clone();
                conns.spawn(async move {
                    let Some(connecting) = accept(incoming, remote, &server_config, &opts).await
                    else {
                        return;
                    };
                    stats.connections.fetch_add(1, Ordering::Relaxed);
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
                        super::hq::serve_connection(conn, opts, stats, shutdown).await;
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
            let probe: Arc<dyn crate::trace::ConnProbe> = Arc::new(super::sink::H3Probe {
                conn: conn.clone(),
                queue: queue.clone(),
                congestion: opts.quic.congestion,
            });
            stats.probes.register(&probe);
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
            drop(probe);
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
    let (head, authority) = RequestHead::from_parts(req.into_parts().0);
    // A request that declares content is read to its end before it is
    // answered: the backend checks the DATA against the content-length on
    // the way (RFC 9114 section 4.1.2) and resets a malformed request's
    // stream, so that no response goes out for it.
    if head.headers.contains_key(http::header::CONTENT_LENGTH) {
        let _ = tokio::time::timeout(ctx.opts.stall_timeout, async {
            while let Ok(Some(_)) = stream.recv_data().await {}
        })
        .await;
    }
    let early = !ctx.handshake.is_complete();
    let reply = match crate::reply::connection_specific_field(&head.headers) {
        Some(why) => crate::reply::malformed(&head, &why, &ctx.opts.core),
        None => pipeline::reply_to(&ctx.opts, &ctx.opts.core, &ctx.stats, &head, early),
    };
    if let Some(q) = &ctx.queue {
        // The core already parsed the client's field.
        q.set_header_priority(
            stream_id,
            reply.client_priority_parsed,
            reply.server_priority(),
        );
    }
    let plan = pipeline::plan(
        &ctx.opts,
        &head,
        &reply,
        push::conn_view(
            &ctx.conn,
            ctx.control.as_deref(),
            ctx.opts.policy.wants_transport_stats(),
        ),
        &ctx.push_state,
    );
    let mut outcome = Outcome {
        early,
        ..Outcome::default()
    };
    let mut ex = H3Response {
        stream: &mut stream,
        ctx: &ctx,
        stream_id,
        authority: authority.as_deref(),
        promised: Vec::new(),
        started: Vec::new(),
        head_at: None,
    };
    let r = Respond::new(&reply, &plan, arrived, &ctx.opts);
    let result = pipeline::respond(&mut ex, &r, &mut outcome).await;
    outcome.pushes = ex.started.len() + ex.promised.len();
    let head_at = ex.head_at;
    // Pushes run on; the request is done once its own response is.
    drop(ex);
    match result {
        Ok(()) => {
            if ctx.queue.is_none() {
                outcome.ttfb = head_at.map(|t| t.saturating_duration_since(arrived));
                outcome.done = Some(arrived.elapsed());
                // Plain h3-quinn (`--scheduler off`) drops what it did not
                // read with STOP_SENDING code 0: read the rest first.
                drain_plain(&mut stream).await;
            }
        }
        Err(e) => outcome.error = Some(e.to_string()),
    }
    // The rest of the request stream is read by the backend once the stream
    // is dropped (every frame checked), or the client is asked to stop.
    // Timing from the queue when it exists (first byte and FIN handed to quinn).
    if let Some(q) = &ctx.queue {
        if let Some(s) = q.stats(stream_id) {
            outcome.ttfb = s.first_write.map(|t| t.saturating_duration_since(arrived));
            outcome.done = s.fin_write.map(|t| t.saturating_duration_since(arrived));
            outcome.push_bytes_ahead = s.push_bytes_ahead;
        }
    }
    drop(stream);
    let pushes = ctx
        .control
        .as_ref()
        .map(|c| c.push_counters())
        .unwrap_or_default();
    pipeline::finish_request(
        &ctx.stats,
        "h3",
        ctx.conn.remote_address(),
        stream_id,
        &head,
        &reply,
        &outcome,
        pushes,
    );
}

/// Consumes the rest of a request on plain h3-quinn (its FIN) so the
/// stream closes cleanly; a client that keeps its side open is asked to
/// stop. (pushlab's own backend does this itself when the stream is
/// dropped, checking every frame.)
async fn drain_plain<S>(stream: &mut h3::server::RequestStream<S, Bytes>)
where
    S: quic::SendStream<Bytes> + quic::RecvStream,
{
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
}

/// An HTTP/3 response on its request stream: HEADERS, 103 and FIN through
/// h3 (over pushlab's backend, into the send queue), body DATA frames
/// straight into the queue (or through h3 with `--scheduler off`), pushes
/// promised on the stream and started after the final HEADERS.
struct H3Response<'a, S: quic::SendStream<Bytes> + quic::RecvStream> {
    stream: &'a mut h3::server::RequestStream<S, Bytes>,
    ctx: &'a Arc<ConnCtx>,
    stream_id: u64,
    authority: Option<&'a str>,
    /// Promised, not started.
    promised: Vec<push::PreparedPush>,
    /// Started push tasks.
    started: Vec<tokio::task::JoinHandle<()>>,
    /// When the final HEADERS went to h3.
    head_at: Option<Instant>,
}

impl<S> Exchange for H3Response<'_, S>
where
    S: quic::SendStream<Bytes> + quic::RecvStream + Send,
{
    async fn send_hints(&mut self, fields: HeaderMap) -> Result<(), SendError> {
        let mut resp = http::Response::new(());
        *resp.status_mut() = http::StatusCode::EARLY_HINTS;
        *resp.headers_mut() = fields;
        self.stream
            .send_response(resp)
            .await
            .map_err(|e| SendError::protocol("sending 103", e))
    }

    fn promise(&mut self, pushes: &[PushItem]) {
        let (Some(q), Some(c)) = (&self.ctx.queue, &self.ctx.control) else {
            return;
        };
        if pushes.is_empty() {
            return;
        }
        let pctx = PushContext {
            queue: q.clone(),
            control: c.clone(),
            conn: self.ctx.conn.clone(),
            site: self.ctx.opts.site.clone(),
            core: self.ctx.opts.core.clone(),
            body_chunk: self.ctx.opts.body_chunk,
            stall_timeout: self.ctx.opts.stall_timeout,
        };
        self.promised = push::promise_pushes(&pctx, self.stream_id, self.authority, pushes);
    }

    fn start_pushes(&mut self) {
        self.started
            .extend(self.promised.drain(..).filter_map(|p| p.start()));
    }

    async fn send_head(&mut self, head: http::Response<()>, _end: bool) -> Result<(), SendError> {
        self.stream
            .send_response(head)
            .await
            .map_err(|e| SendError::protocol("sending response", e))?;
        self.head_at = Some(Instant::now());
        Ok(())
    }

    async fn head_sent(&mut self) {
        self.start_pushes();
    }

    async fn send_chunk(&mut self, chunk: Bytes, _last: bool) -> Result<(), SendError> {
        match &self.ctx.queue {
            // With the queue, body bytes go straight into it as DATA frames
            // (no copy through h3's write buffer); h3 wrote the HEADERS
            // before and will write the FIN after, all through the same
            // queue, in order.
            Some(q) => Ok(send_data_frame(q, self.stream_id, chunk).await?),
            None => self
                .stream
                .send_data(chunk)
                .await
                .map_err(|e| SendError::protocol("sending body", e)),
        }
    }

    async fn finish(&mut self) -> Result<(), SendError> {
        self.stream
            .finish()
            .await
            .map_err(|e| SendError::protocol("finishing", e))
    }

    fn abandon(&mut self, why: Abandon) {
        self.stream.stop_stream(h3::error::Code::from(h3_code(why)));
    }
}
