//! The `hq-interop` side of the QUIC server: each bidirectional stream is
//! one HTTP/0.9 request for a file of the site, answered through the same
//! request pipeline as HTTP/3 (a missing or refused file resets the
//! stream).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::config::ServeOptions;
use crate::pipeline::{self, Exchange, Respond, SendError};
use crate::push::Plan;
use crate::reply::RequestHead;
use crate::reqlog::Outcome;
use crate::sendq::Abandon;
use crate::stats::ServerStats;
use crate::wire::hq::{parse_request, MAX_REQUEST_LINE};

/// The application error code for a refused request (H3_REQUEST_REJECTED's
/// value; hq-interop defines none).
const REFUSED: u32 = 0x10b;

/// Serves one `hq-interop` connection until it closes, or until `shutdown`
/// turns true: then no new stream is taken, the requests in progress get
/// the shutdown timeout to finish, and the connection closes with code 0
/// (hq-interop has no GOAWAY).
pub async fn serve_connection(
    conn: quinn::Connection,
    opts: Arc<ServeOptions>,
    stats: Arc<ServerStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let remote = conn.remote_address();
    let mut tasks = tokio::task::JoinSet::new();
    let mut draining = *shutdown.borrow();
    loop {
        tokio::select! {
            r = conn.accept_bi(), if !draining => match r {
                Ok((send, recv)) => {
                    let (opts, stats) = (opts.clone(), stats.clone());
                    tasks.spawn(async move { request(send, recv, opts, stats, remote).await });
                }
                Err(e) => {
                    debug!(%remote, %e, "hq-interop connection ended");
                    tasks.abort_all();
                    return;
                }
            },
            _ = shutdown.changed(), if !draining => draining = true,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = std::future::ready(()), if draining && tasks.is_empty() => break,
        }
    }
    let wait = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(opts.shutdown_timeout, wait)
        .await
        .is_err()
    {
        warn!(%remote, "hq-interop: requests did not finish in time");
    }
    tasks.abort_all();
    conn.close(quinn::VarInt::from_u32(0), b"server shutting down");
}

/// An HTTP/0.9 response: the body alone, then FIN.
struct HqResponse {
    send: quinn::SendStream,
    /// How long a write may make no progress (`--stall-timeout`).
    stall: Duration,
}

impl Exchange for HqResponse {
    async fn send_hints(&mut self, _fields: http::HeaderMap) -> Result<(), SendError> {
        Ok(())
    }

    async fn send_head(&mut self, _head: http::Response<()>, _end: bool) -> Result<(), SendError> {
        // HTTP/0.9 has no response head.
        Ok(())
    }

    async fn send_chunk(&mut self, chunk: Bytes, _last: bool) -> Result<(), SendError> {
        match tokio::time::timeout(self.stall, self.send.write_chunk(chunk)).await {
            Ok(r) => r.map_err(|e| SendError::protocol("sending body", e)),
            Err(_) => {
                // The client reads nothing (no flow-control credit).
                let _ = self.send.reset(quinn::VarInt::from_u32(REFUSED));
                Err(SendError::protocol("sending body", "stalled"))
            }
        }
    }

    async fn finish(&mut self) -> Result<(), SendError> {
        self.send
            .finish()
            .map_err(|e| SendError::protocol("finishing", e))?;
        // Until the client has everything (or stopped reading), for at
        // most the stall timeout.
        let _ = tokio::time::timeout(self.stall, self.send.stopped()).await;
        Ok(())
    }

    fn abandon(&mut self, _why: Abandon) {
        let _ = self.send.reset(quinn::VarInt::from_u32(REFUSED));
    }
}

async fn request(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    opts: Arc<ServeOptions>,
    stats: Arc<ServerStats>,
    remote: std::net::SocketAddr,
) {
    let id = send.id().index();
    let arrived = Instant::now();
    let line =
        match tokio::time::timeout(opts.stall_timeout, recv.read_to_end(MAX_REQUEST_LINE)).await {
            Ok(Ok(b)) => b,
            Err(_) => {
                return refuse(
                    &mut send,
                    &stats,
                    remote,
                    "request line not ended within the stall timeout",
                )
            }
            Ok(Err(e)) => {
                return refuse(
                    &mut send,
                    &stats,
                    remote,
                    &format!("unreadable request: {e}"),
                )
            }
        };
    let path = match parse_request(&line) {
        Ok(p) => p,
        Err(e) => return refuse(&mut send, &stats, remote, &format!("bad request: {e}")),
    };
    let head = RequestHead {
        method: http::Method::GET,
        target: path,
        headers: http::HeaderMap::new(),
    };
    let reply = pipeline::reply_to(&opts, &opts.core, &stats, &head, false);
    let mut o = Outcome::default();
    if reply.status != http::StatusCode::OK {
        // No status line in HTTP/0.9: a refusal is a reset stream.
        let _ = send.reset(quinn::VarInt::from_u32(REFUSED));
    } else {
        let mut ex = HqResponse {
            send,
            stall: opts.stall_timeout,
        };
        let no_plan = Plan::default();
        let r = Respond::new(&reply, &no_plan, arrived, &opts);
        match pipeline::respond(&mut ex, &r, &mut o).await {
            Ok(()) => o.done = Some(arrived.elapsed()),
            Err(e) => o.error = Some(e.to_string()),
        }
    }
    pipeline::finish_request(
        &stats,
        "hq-interop",
        remote,
        id,
        &head,
        &reply,
        &o,
        Default::default(),
    );
}

/// A request without a usable request line: counted as failed, the stream
/// reset.
fn refuse(
    send: &mut quinn::SendStream,
    stats: &ServerStats,
    remote: std::net::SocketAddr,
    why: &str,
) {
    debug!(%remote, why, "hq-interop: request refused");
    let _ = send.reset(quinn::VarInt::from_u32(REFUSED));
    stats.requests.fetch_add(1, Ordering::Relaxed);
    stats.failed.fetch_add(1, Ordering::Relaxed);
}
