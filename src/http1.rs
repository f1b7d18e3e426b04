//! HTTP/1.1 over TLS, answered minimally: one request at a time on a
//! keep-alive connection, GET and HEAD through the shared pipeline, no
//! request bodies, no push or 103. Enough for clients that do not speak
//! HTTP/2 to load the site and learn about HTTP/3 from `alt-svc`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::config::ServeOptions;
use crate::pipeline::{self, Exchange, Respond, SendError};
use crate::push::Plan;
use crate::reply::{CoreOptions, RequestHead};
use crate::reqlog::Outcome;
use crate::sendq::Abandon;
use crate::stats::ServerStats;
use crate::wire::http1::{parse_head, HeadError};

fn status_line(status: StatusCode) -> String {
    format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

async fn simple<W: AsyncWrite + Unpin>(
    io: &mut W,
    status: StatusCode,
    alt_svc: Option<&str>,
) -> std::io::Result<()> {
    let mut s = status_line(status);
    if let Some(a) = alt_svc {
        s.push_str(&format!("alt-svc: {a}\r\n"));
    }
    s.push_str("content-length: 0\r\nconnection: close\r\n\r\n");
    io.write_all(s.as_bytes()).await
}

/// One HTTP/1.1 response on the connection.
struct H1Response<'a, T> {
    io: &'a mut T,
    /// Keep the connection open afterwards.
    keep: bool,
    head_at: Option<Instant>,
}

impl<T: AsyncWrite + Unpin + Send> Exchange for H1Response<'_, T> {
    async fn send_hints(&mut self, _fields: HeaderMap) -> Result<(), SendError> {
        // No 103 on HTTP/1.1 here (no policy runs on this path).
        Ok(())
    }

    async fn send_head(&mut self, head: Response<()>, _end: bool) -> Result<(), SendError> {
        let mut s = status_line(head.status());
        for (n, v) in head.headers() {
            s.push_str(n.as_str());
            s.push_str(": ");
            s.push_str(&String::from_utf8_lossy(v.as_bytes()));
            s.push_str("\r\n");
        }
        if !head.headers().contains_key(http::header::CONTENT_LENGTH) {
            s.push_str("content-length: 0\r\n");
        }
        s.push_str(if self.keep {
            "connection: keep-alive\r\n\r\n"
        } else {
            "connection: close\r\n\r\n"
        });
        self.io
            .write_all(s.as_bytes())
            .await
            .map_err(|e| SendError::protocol("sending response", e))?;
        self.head_at = Some(Instant::now());
        Ok(())
    }

    async fn send_chunk(&mut self, chunk: Bytes, _last: bool) -> Result<(), SendError> {
        self.io
            .write_all(&chunk)
            .await
            .map_err(|e| SendError::protocol("sending body", e))
    }

    async fn finish(&mut self) -> Result<(), SendError> {
        self.io
            .flush()
            .await
            .map_err(|e| SendError::protocol("flushing", e))
    }

    fn abandon(&mut self, _why: Abandon) {
        // The connection closes after a failed response.
        self.keep = false;
    }
}

/// Serves HTTP/1.1 requests on one connection until it closes.
pub async fn serve_connection<T: AsyncRead + AsyncWrite + Unpin + Send>(
    mut io: T,
    remote: SocketAddr,
    opts: Arc<ServeOptions>,
    core_opts: CoreOptions,
    stats: Arc<ServerStats>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let limit = opts.max_field_section_size as usize;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut n_req = 0u64;
    loop {
        // Read a head (bounded, with an idle timeout between requests).
        let head = loop {
            match parse_head(&buf, limit) {
                Ok(Some(h)) => break h,
                Ok(None) => {}
                Err(HeadError::TooLarge(_)) => {
                    let _ = simple(
                        &mut io,
                        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                        core_opts.alt_svc.as_deref(),
                    )
                    .await;
                    return Ok(());
                }
                Err(e) => {
                    let _ = simple(
                        &mut io,
                        StatusCode::BAD_REQUEST,
                        core_opts.alt_svc.as_deref(),
                    )
                    .await;
                    return Err(e.to_string());
                }
            }
            let mut chunk = [0u8; 4096];
            let n = match tokio::time::timeout(opts.idle_timeout, io.read(&mut chunk)).await {
                Ok(Ok(0)) | Err(_) => return Ok(()),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e.to_string()),
            };
            buf.extend_from_slice(&chunk[..n]);
        };
        buf.drain(..head.len);
        n_req += 1;
        let (keep_alive, has_body) = (head.keep_alive, head.has_body);
        let head = RequestHead {
            method: head.method,
            target: head.target,
            headers: head.headers,
        };
        let arrived = Instant::now();
        let reply = pipeline::reply_to(&opts, &core_opts, &stats, &head, false);
        let keep = keep_alive && !has_body && !*shutdown.borrow();
        let mut ex = H1Response {
            io: &mut io,
            keep,
            head_at: None,
        };
        let mut o = Outcome::default();
        let no_plan = Plan::default();
        let r = Respond::new(&reply, &no_plan, arrived, &opts);
        let result = pipeline::respond(&mut ex, &r, &mut o).await;
        o.ttfb = ex.head_at.map(|t| t.saturating_duration_since(arrived));
        let keep = ex.keep;
        match &result {
            Ok(()) => o.done = Some(arrived.elapsed()),
            Err(e) => o.error = Some(e.to_string()),
        }
        pipeline::finish_request(
            &stats,
            "h1",
            remote,
            n_req,
            &head,
            &reply,
            &o,
            Default::default(),
        );
        if result.is_err() || !keep {
            let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
            return result.map_err(|e| e.to_string());
        }
    }
}
