//! An `hq-interop` (HTTP/0.9 over QUIC) client: one bidirectional stream
//! per file, `GET /path\r\n`, the bytes back. What the QUIC interop
//! runner's test cases use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use super::ClientError;
use super::ClientOptions;

/// One file fetched over hq-interop.
#[derive(Debug, Clone, Serialize)]
pub struct HqResponse {
    /// The path asked for.
    pub path: String,
    /// Bytes received.
    pub len: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// The bytes, when kept.
    #[serde(skip)]
    pub body: Option<Bytes>,
    /// Milliseconds from the request to the end.
    pub ms: f64,
    /// Why it failed (a reset stream is a missing file).
    pub error: Option<String>,
}

/// Fetches `paths` concurrently over one hq-interop connection; returns
/// them in order with the handshake time.
pub async fn fetch(
    host: &str,
    port: u16,
    paths: &[String],
    mut opts: ClientOptions,
) -> Result<(Duration, Vec<HqResponse>), ClientError> {
    let addr: SocketAddr = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| ClientError::Url(host.into(), "does not resolve".into()))?;
    opts.alpn = vec![b"hq-interop".to_vec()];
    let cfg = match &opts.session {
        Some(s) => s.0.clone(),
        None => super::h3::session(&opts)?.0,
    };
    let bind = if addr.is_ipv6() {
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
    };
    let mut endpoint = quinn::Endpoint::client(bind)?;
    endpoint.set_default_client_config(cfg);
    let name = if host.parse::<std::net::IpAddr>().is_ok() {
        "localhost"
    } else {
        host
    };
    let start = Instant::now();
    let connecting = endpoint
        .connect(addr, name)
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    let conn = tokio::time::timeout(opts.timeout, connecting)
        .await
        .map_err(|_| ClientError::Timeout(opts.timeout))?
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    let handshake = start.elapsed();
    let keep = opts.keep_bodies;
    let sem = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::new();
    for path in paths {
        let (conn, path, sem) = (conn.clone(), path.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            let t = Instant::now();
            // The body is hashed as it arrives and kept only when asked:
            // fetching a large file without keeping it holds one chunk.
            let result = async {
                let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
                send.write_all(format!("GET {path}\r\n").as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                send.finish().map_err(|e| e.to_string())?;
                let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
                let mut kept = keep.then(bytes::BytesMut::new);
                let mut len = 0u64;
                while let Some(chunk) = recv
                    .read_chunk(usize::MAX, true)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    hasher.update(&chunk.bytes);
                    len += chunk.bytes.len() as u64;
                    if let Some(k) = kept.as_mut() {
                        k.extend_from_slice(&chunk.bytes);
                    }
                }
                Ok::<_, String>((len, hasher.finish(), kept))
            }
            .await;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            match result {
                Ok((len, digest, kept)) => HqResponse {
                    path,
                    len,
                    sha256: crate::hex::encode(digest.as_ref()),
                    body: kept.map(|k| k.freeze()),
                    ms,
                    error: None,
                },
                Err(e) => HqResponse {
                    path,
                    len: 0,
                    sha256: String::new(),
                    body: None,
                    ms,
                    error: Some(e),
                },
            }
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(
            t.await
                .map_err(|e| ClientError::Connect(format!("request task: {e}")))?,
        );
    }
    conn.close(quinn::VarInt::from_u32(0), b"");
    let _ = tokio::time::timeout(Duration::from_millis(500), endpoint.wait_idle()).await;
    Ok((handshake, out))
}
