//! The request pipeline shared by HTTP/1.1, HTTP/2, HTTP/3 and hq-interop.
//!
//! Every protocol answers a request the same way: a head comes in, the core
//! plans the reply ([`reply_to`]), the push policy adds hints and pushes
//! ([`plan`]), and [`respond`] carries the plan out through the protocol's
//! [`Exchange`]: 103 Early Hints, think time (pushes fill it), the final
//! head, the body in chunks ([`send_body`]: one loop, one stall policy),
//! the end of the stream. [`finish_request`] counts and logs it, and pushed
//! responses go through the same body loop and end in [`record_push`].
//!
//! The protocol files only translate: each implements [`Exchange`] for its
//! streams (h3 over pushlab's backend, h2, HTTP/1.1 on a TLS stream, hq on a
//! quinn stream) and decides when its promised pushes start.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

use crate::config::ServeOptions;
use crate::push::{ConnPushState, ConnView, Plan, PlanInput, PushItem};
use crate::reply::{self, BodyReader, CoreOptions, Reply, ReplyBody, RequestHead};
use crate::reqlog::{self, Outcome};
use crate::sendq::{Abandon, WriteFailure};
use crate::stats::{PushCounters, PushEnd, ServerStats};

/// Why a response or a push did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The send queue could not take or deliver the bytes.
    #[error("{0}")]
    Write(#[from] WriteFailure),
    /// The protocol library refused (its own message).
    #[error("{what}: {message}")]
    Protocol {
        /// What was being sent.
        what: &'static str,
        /// The library's message.
        message: String,
    },
    /// No progress for the stall timeout: the stream was reset.
    #[error("no progress for {0:?}, stream reset")]
    Stalled(Duration),
    /// The body's source failed.
    #[error("reading body: {0}")]
    Body(std::io::Error),
}

impl SendError {
    /// A protocol library's error while sending `what`.
    pub fn protocol(what: &'static str, e: impl std::fmt::Display) -> Self {
        SendError::Protocol {
            what,
            message: e.to_string(),
        }
    }

    /// How a push that ended with this error counts: the server gave up on
    /// a stall or a failure of its own; otherwise the client refused it
    /// (STOP_SENDING, RST_STREAM, CANCEL_PUSH, or the connection went).
    pub fn push_end(&self) -> PushEnd {
        match self {
            SendError::Stalled(_) | SendError::Body(_) => PushEnd::ServerGaveUp,
            SendError::Write(WriteFailure::Abandoned(_)) => PushEnd::ServerGaveUp,
            SendError::Write(_) | SendError::Protocol { .. } => PushEnd::ClientRefused,
        }
    }
}

/// One response (or pushed response) on its way out: the protocol's half
/// of the pipeline. Each method hands bytes to the protocol library or the
/// send queue and waits only while the transport's buffer is full; the
/// pipeline bounds every wait with the stall timeout.
pub trait Exchange: Send {
    /// Sends a 103 (Early Hints) head with these fields.
    fn send_hints(
        &mut self,
        fields: HeaderMap,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
    /// Promises the plan's pushes, right after the hints (HTTP/3:
    /// PUSH_PROMISE frames on the request stream). HTTP/2 promises before
    /// choosing hints instead: only a refused PUSH_PROMISE tells it that the
    /// client disabled push, which changes what the policy hints.
    fn promise(&mut self, _pushes: &[PushItem]) {}
    /// Starts the pushes promised so far (think time leaves the connection
    /// idle: pushes fill it).
    fn start_pushes(&mut self) {}
    /// Sends the final head; `end` when no body follows.
    fn send_head(
        &mut self,
        head: Response<()>,
        end: bool,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
    /// Called once the final head went out (HTTP/3 starts pushes here, so
    /// the parent's HEADERS go first).
    fn head_sent(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// Writes one body chunk; `last` when no chunk follows.
    fn send_chunk(
        &mut self,
        chunk: Bytes,
        last: bool,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
    /// Ends the body (if the last chunk did not) and waits until the end
    /// has been handed to the transport.
    fn finish(&mut self) -> impl Future<Output = Result<(), SendError>> + Send;
    /// Called once the whole response went out (HTTP/2 starts pushes here,
    /// once h2 has written the parent's last frame).
    fn body_sent(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// Abruptly ends the stream: it made no progress, or its body could not
    /// be read.
    fn abandon(&mut self, why: Abandon);
}

/// A step of sending that made no progress for the stall timeout.
struct Stall(Duration);

/// Bounds one step of sending with the stall timeout.
async fn bounded_step<T>(
    step: impl Future<Output = Result<T, SendError>>,
    stall: Duration,
) -> Result<T, Result<SendError, Stall>> {
    match tokio::time::timeout(stall, step).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Ok(e)),
        Err(_) => Err(Err(Stall(stall))),
    }
}

/// A failed step's error; a stalled one abandons the stream first.
fn stalled<E: Exchange>(ex: &mut E, e: Result<SendError, Stall>) -> SendError {
    match e {
        Ok(e) => e,
        Err(Stall(d)) => {
            ex.abandon(Abandon::Cancelled);
            SendError::Stalled(d)
        }
    }
}

/// Writes a reply body in chunks of `chunk` bytes and ends the stream: the
/// one body loop of every protocol, with the one stall policy (a chunk or
/// the end that makes no progress for `stall` abandons the stream).
pub async fn send_body<E: Exchange>(
    ex: &mut E,
    body: &ReplyBody,
    chunk: usize,
    stall: Duration,
    sent: &mut u64,
) -> Result<(), SendError> {
    let mut reader = BodyReader::new(body.clone());
    loop {
        let next = match reader.next(chunk.max(1)).await {
            Ok(n) => n,
            Err(e) => {
                ex.abandon(Abandon::Internal);
                return Err(SendError::Body(e));
            }
        };
        let Some(data) = next else { break };
        let last = reader.remaining() == 0;
        let n = data.len() as u64;
        let step = ex.send_chunk(data, last);
        bounded_step(step, stall)
            .await
            .map_err(|e| stalled(ex, e))?;
        *sent += n;
    }
    let step = ex.finish();
    bounded_step(step, stall).await.map_err(|e| stalled(ex, e))
}

/// The reply to a request, counted: requests in 0-RTT early data and the
/// 425 (Too Early) refusals among them.
pub fn reply_to(
    opts: &ServeOptions,
    core: &CoreOptions,
    stats: &ServerStats,
    head: &RequestHead,
    early: bool,
) -> Reply {
    use std::sync::atomic::Ordering;
    if early {
        stats.early_requests.fetch_add(1, Ordering::Relaxed);
    }
    let reply = reply::respond_early(&opts.site, head, core, early);
    if reply.status == StatusCode::TOO_EARLY {
        stats.too_early.fetch_add(1, Ordering::Relaxed);
    }
    reply
}

/// What the push policy adds to a reply (hints, pushes, header fields).
pub fn plan(
    opts: &ServeOptions,
    head: &RequestHead,
    reply: &Reply,
    conn: ConnView,
    state: &ConnPushState,
) -> Plan {
    let mut plan = opts.policy.plan(&PlanInput {
        site: &opts.site,
        request: head,
        reply,
        conn,
        state,
    });
    // Hints announce the body of a GET; a custom policy that hints for
    // HEAD or a refused method is not followed there.
    if head.method != http::Method::GET {
        plan.hints.clear();
    }
    plan
}

/// The 103 (Early Hints) fields for the policy's `Link` values.
//= https://www.rfc-editor.org/rfc/rfc8297#section-2
//# The 103 (Early Hints) informational status code indicates to the
//# client that the server is likely to send a final response with the
//# header fields included in the informational response.
pub fn hint_fields(links: &[String]) -> HeaderMap {
    let mut fields = HeaderMap::new();
    for link in links {
        if let Ok(v) = HeaderValue::from_str(link) {
            fields.append(http::header::LINK, v);
        }
    }
    fields
}

/// The final response head: the reply's fields plus those the policy adds.
pub fn final_head(reply: &Reply, extra: &[(String, String)]) -> Response<()> {
    let mut resp = Response::new(());
    *resp.status_mut() = reply.status;
    *resp.headers_mut() = reply.headers.clone();
    for (n, v) in extra {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

/// Everything [`respond`] needs besides the exchange.
pub struct Respond<'a> {
    /// The reply.
    pub reply: &'a Reply,
    /// The policy's plan for it.
    pub plan: &'a Plan,
    /// When the request arrived (think time counts from here).
    pub arrived: Instant,
    /// Body bytes per chunk.
    pub chunk: usize,
    /// The stall timeout.
    pub stall: Duration,
}

impl<'a> Respond<'a> {
    /// A reply to carry out with the server's chunk size and stall timeout.
    pub fn new(reply: &'a Reply, plan: &'a Plan, arrived: Instant, opts: &ServeOptions) -> Self {
        Respond {
            reply,
            plan,
            arrived,
            chunk: opts.body_chunk,
            stall: opts.stall_timeout,
        }
    }
}

/// Carries out a planned reply: 103 with the hints, think time (pushes
/// start to fill it), the final head, the body, the end of the stream.
/// Fills `o.hints` and `o.bytes`.
pub async fn respond<E: Exchange>(
    ex: &mut E,
    r: &Respond<'_>,
    o: &mut Outcome,
) -> Result<(), SendError> {
    // Hints go first: never after the final response.
    if !r.plan.hints.is_empty() {
        let fields = hint_fields(&r.plan.hints);
        let step = ex.send_hints(fields);
        bounded_step(step, r.stall)
            .await
            .map_err(|e| stalled(ex, e))?;
        o.hints = r.plan.hints.len();
    }
    ex.promise(&r.plan.pushes);
    // With think time the pushes fill the idle time; otherwise they start
    // once the parent's response is on its way, so the parent goes first.
    if !r.reply.think.is_zero() {
        ex.start_pushes();
        tokio::time::sleep_until((r.arrived + r.reply.think).into()).await;
    }
    let head = final_head(r.reply, &r.plan.response_headers);
    let step = ex.send_head(head, r.reply.body.is_empty());
    bounded_step(step, r.stall)
        .await
        .map_err(|e| stalled(ex, e))?;
    ex.head_sent().await;
    let sent = send_body(ex, &r.reply.body, r.chunk, r.stall, &mut o.bytes).await;
    ex.body_sent().await;
    sent
}

/// Sends a pushed response: its head, then its body through the same loop
/// and stall policy as every response (a push has no hints and no think
/// time of its own).
pub async fn push_response<E: Exchange>(
    ex: &mut E,
    reply: &Reply,
    chunk: usize,
    stall: Duration,
    sent: &mut u64,
) -> Result<(), SendError> {
    let step = ex.send_head(final_head(reply, &[]), reply.body.is_empty());
    bounded_step(step, stall)
        .await
        .map_err(|e| stalled(ex, e))?;
    send_body(ex, &reply.body, chunk, stall, sent).await
}

/// One request's end: counted in the server's statistics and logged as
/// the `pushlab::request` line.
#[allow(clippy::too_many_arguments)]
pub fn finish_request(
    stats: &ServerStats,
    proto: &'static str,
    remote: SocketAddr,
    stream: u64,
    head: &RequestHead,
    reply: &Reply,
    o: &Outcome,
    conn_pushes: PushCounters,
) {
    use std::sync::atomic::Ordering;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    if o.error.is_some() {
        stats.failed.fetch_add(1, Ordering::Relaxed);
    }
    reqlog::log_request(proto, remote, stream, head, reply, o, conn_pushes);
}

/// A pushed response's end, as the `pushlab::push` log line.
pub struct PushLog<'a> {
    /// `"h3"` or `"h2"`.
    pub proto: &'static str,
    /// The client.
    pub remote: SocketAddr,
    /// The push ID (HTTP/3) or promised stream (HTTP/2).
    pub id: u64,
    /// The promised path.
    pub path: &'a str,
    /// The pushed response's status.
    pub status: StatusCode,
    /// The stream that carried it.
    pub stream: u64,
    /// Body bytes sent.
    pub body_bytes: u64,
    /// Bytes handed to the transport, framing included, where known.
    pub wire_bytes: Option<u64>,
    /// When the push started.
    pub started: Instant,
}

/// Logs a push's end and returns how it counts.
pub fn record_push(log: &PushLog<'_>, result: &Result<(), SendError>) -> PushEnd {
    let (end, outcome) = match result {
        Ok(()) => (PushEnd::Completed, "completed".to_string()),
        Err(e) => (e.push_end(), e.to_string()),
    };
    tracing::info!(
        target: "pushlab::push",
        proto = log.proto,
        remote = %log.remote,
        id = log.id,
        stream = log.stream,
        path = %log.path,
        status = log.status.as_u16(),
        body_bytes = log.body_bytes,
        wire_bytes = ?log.wire_bytes,
        duration_ms = %format!("{:.2}", log.started.elapsed().as_secs_f64() * 1e3),
        end = ?end,
        outcome = %outcome,
        "push"
    );
    end
}

/// After a shutdown signal: waits for connection tasks to finish, at most
/// `limit`, then aborts the rest.
pub async fn drain_connections(conns: &mut tokio::task::JoinSet<()>, limit: Duration, what: &str) {
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            r = conns.join_next() => if r.is_none() { break },
            _ = &mut deadline => {
                tracing::warn!(remaining = conns.len(), "shutdown timeout: closing remaining {what} connections");
                conns.abort_all();
                break;
            }
        }
    }
}
