//! HTTP/1.1 over TLS, answered minimally: one request at a time on a
//! keep-alive connection, GET and HEAD through the shared core, no request
//! bodies, no push or 103. Enough for clients that do not speak HTTP/2 to
//! load the site and learn about HTTP/3 from `alt-svc`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::config::ServeOptions;
use crate::reply::{self, BodyReader, CoreOptions, RequestHead};
use crate::reqlog::{self, Outcome};
use crate::stats::ServerStats;

/// Why a request head could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// More bytes than allowed before the end of the head.
    #[error("request head larger than {0} bytes")]
    TooLarge(usize),
    /// Not HTTP/1.x.
    #[error("malformed request head: {0}")]
    Malformed(String),
}

/// A parsed request head and whether the connection may stay open.
#[derive(Debug)]
pub struct Head {
    /// Method, target and fields.
    pub request: RequestHead,
    /// Bytes the head took.
    pub len: usize,
    /// Keep the connection open after the response.
    pub keep_alive: bool,
    /// The request announces a body (which is not read: the connection closes).
    pub has_body: bool,
}

/// Parses a request head from `buf`; `Ok(None)` when more bytes are needed.
pub fn parse_head(buf: &[u8], limit: usize) -> Result<Option<Head>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; 100];
    let mut req = httparse::Request::new(&mut fields);
    let status = req
        .parse(buf)
        .map_err(|e| HeadError::Malformed(e.to_string()))?;
    let len = match status {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial if buf.len() > limit => return Err(HeadError::TooLarge(limit)),
        httparse::Status::Partial => return Ok(None),
    };
    if len > limit {
        return Err(HeadError::TooLarge(limit));
    }
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|e| HeadError::Malformed(e.to_string()))?;
    let mut headers = HeaderMap::new();
    for f in req.headers.iter() {
        let name = http::HeaderName::from_bytes(f.name.as_bytes())
            .map_err(|e| HeadError::Malformed(e.to_string()))?;
        let value = http::HeaderValue::from_bytes(f.value)
            .map_err(|e| HeadError::Malformed(e.to_string()))?;
        headers.append(name, value);
    }
    let version = req.version.unwrap_or(1);
    let conn = headers
        .get(http::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase())
        .unwrap_or_default();
    let keep_alive = if version == 0 {
        conn.contains("keep-alive")
    } else {
        !conn.contains("close")
    };
    let has_body = headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    Ok(Some(Head {
        request: RequestHead {
            method,
            target: req.path.unwrap_or("/").to_string(),
            headers,
        },
        len,
        keep_alive,
        has_body,
    }))
}

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

/// Serves HTTP/1.1 requests on one connection until it closes.
pub async fn serve_connection<T: AsyncRead + AsyncWrite + Unpin>(
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
        let arrived = Instant::now();
        let reply = reply::respond(&opts.site, &head.request, &core_opts);
        if !reply.think.is_zero() {
            tokio::time::sleep(reply.think).await;
        }
        let keep = head.keep_alive && !head.has_body && !*shutdown.borrow();
        let mut s = status_line(reply.status);
        for (n, v) in &reply.headers {
            s.push_str(n.as_str());
            s.push_str(": ");
            s.push_str(&String::from_utf8_lossy(v.as_bytes()));
            s.push_str("\r\n");
        }
        if !reply.headers.contains_key(http::header::CONTENT_LENGTH) {
            s.push_str("content-length: 0\r\n");
        }
        s.push_str(if keep {
            "connection: keep-alive\r\n\r\n"
        } else {
            "connection: close\r\n\r\n"
        });
        let mut o = Outcome::default();
        let result: Result<(), String> = async {
            io.write_all(s.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            o.ttfb = Some(arrived.elapsed());
            let mut reader = BodyReader::new(reply.body.clone());
            while let Some(chunk) = reader
                .next(opts.body_chunk)
                .await
                .map_err(|e| e.to_string())?
            {
                tokio::time::timeout(opts.stall_timeout, io.write_all(&chunk))
                    .await
                    .map_err(|_| format!("no progress for {:?}", opts.stall_timeout))?
                    .map_err(|e| e.to_string())?;
                o.bytes += chunk.len() as u64;
            }
            io.flush().await.map_err(|e| e.to_string())?;
            o.done = Some(arrived.elapsed());
            Ok(())
        }
        .await;
        if let Err(e) = &result {
            o.error = Some(e.clone());
        }
        stats.requests.fetch_add(1, Ordering::Relaxed);
        if o.error.is_some() {
            stats.failed.fetch_add(1, Ordering::Relaxed);
        }
        reqlog::log_request(
            "h1",
            remote,
            n_req,
            &head.request,
            &reply,
            &o,
            Default::default(),
        );
        if result.is_err() || !keep {
            let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
            return result;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads() {
        let h = parse_head(b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n", 1000)
            .unwrap()
            .unwrap();
        assert_eq!(h.request.target, "/a?b");
        assert!(h.keep_alive && !h.has_body);
        let h = parse_head(b"HEAD / HTTP/1.0\r\n\r\n", 1000)
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        let h = parse_head(
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            1000,
        )
        .unwrap()
        .unwrap();
        assert!(h.has_body && !h.keep_alive);
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n", 1000)
            .unwrap()
            .is_none());
        // A run of token characters could still be a (long) method: it is
        // "too large", not malformed, once it passes the limit.
        assert_eq!(
            parse_head(&[b'a'; 2000], 1000).unwrap_err(),
            HeadError::TooLarge(1000)
        );
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n", "y".repeat(2000));
        assert_eq!(
            parse_head(long.as_bytes(), 1000).unwrap_err(),
            HeadError::TooLarge(1000)
        );
        assert!(matches!(
            parse_head(b"\x00\x01\x02 / HTTP/1.1\r\n\r\n", 100),
            Err(HeadError::Malformed(_))
        ));
    }
}
