//! The `hq-interop` side of the QUIC server: each bidirectional stream is
//! one HTTP/0.9 request for a file of the site, answered through the same
//! request-handling core as HTTP/3 (a missing or refused file resets the
//! stream).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tracing::{debug, info};

use crate::config::ServeOptions;
use crate::reply::{self, BodyReader, RequestHead};
use crate::stats::ServerStats;
use crate::wire::hq::{parse_request, MAX_REQUEST_LINE};

/// The application error code for a refused request (H3_REQUEST_REJECTED's
/// value; hq-interop defines none).
const REFUSED: u32 = 0x10b;

/// Serves one `hq-interop` connection until it closes.
pub async fn serve_connection(
    conn: quinn::Connection,
    opts: Arc<ServeOptions>,
    stats: Arc<ServerStats>,
) {
    let remote = conn.remote_address();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            r = conn.accept_bi() => match r {
                Ok((send, recv)) => {
                    let (opts, stats) = (opts.clone(), stats.clone());
                    tasks.spawn(async move { request(send, recv, opts, stats, remote).await });
                }
                Err(e) => {
                    debug!(%remote, %e, "hq-interop connection ended");
                    break;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tasks.abort_all();
}

async fn request(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    opts: Arc<ServeOptions>,
    stats: Arc<ServerStats>,
    remote: std::net::SocketAddr,
) {
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let line = match recv.read_to_end(MAX_REQUEST_LINE).await {
        Ok(b) => b,
        Err(e) => {
            debug!(%remote, %e, "hq-interop: unreadable request");
            let _ = send.reset(quinn::VarInt::from_u32(REFUSED));
            stats.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let path = match parse_request(&line) {
        Ok(p) => p,
        Err(e) => {
            debug!(%remote, %e, "hq-interop: bad request");
            let _ = send.reset(quinn::VarInt::from_u32(REFUSED));
            stats.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let head = RequestHead {
        method: http::Method::GET,
        target: path.clone(),
        headers: http::HeaderMap::new(),
    };
    let reply = reply::respond(&opts.site, &head, &opts.core);
    if reply.status != http::StatusCode::OK {
        let _ = send.reset(quinn::VarInt::from_u32(REFUSED));
        info!(target: "pushlab::request", proto = "hq-interop", %remote, path = %path, status = reply.status.as_u16(), "request refused");
        return;
    }
    let mut reader = BodyReader::new(reply.body.clone());
    let mut sent = 0u64;
    loop {
        match reader.next(opts.body_chunk).await {
            Ok(Some(chunk)) => {
                let n = chunk.len() as u64;
                if send.write_chunk(chunk).await.is_err() {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                sent += n;
            }
            Ok(None) => break,
            Err(e) => {
                debug!(%remote, %e, "hq-interop: reading the body");
                let _ = send.reset(quinn::VarInt::from_u32(REFUSED));
                stats.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
    let _ = send.finish();
    let _ = send.stopped().await;
    info!(target: "pushlab::request", proto = "hq-interop", %remote, path = %path, status = 200, bytes = sent, "request");
}
