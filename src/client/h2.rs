//! pushlab's HTTP/2 client (`pushlab get --http2`), on the h2 crate over
//! TLS: receives pushes (SETTINGS_ENABLE_PUSH=1 when asked) and 103
//! responses, and reports them in the same form as the HTTP/3 client.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::wire::h2scan::{DataPiece, DataTap};

use super::{ClientOptions, Informational, Pacer, Pushed, Response};

/// Errors of the HTTP/2 client.
#[derive(Debug, thiserror::Error)]
pub enum H2ClientError {
    /// Name resolution or connecting failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// TLS configuration.
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The server did not agree on HTTP/2.
    #[error("the server did not negotiate h2 (ALPN: {0})")]
    NoH2(String),
    /// An HTTP/2 error.
    #[error("HTTP/2: {0}")]
    H2(#[from] h2::Error),
    /// A request that cannot be built.
    #[error("request: {0}")]
    Request(String),
    /// No answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// Wraps the TLS stream h2 reads, and follows the frames it carries with
/// a [`DataTap`]: DATA content is handed on (to `chunks`) and its first
/// arrival per stream noted as the bytes come out of TLS, not once h2 has
/// a whole frame. A browser's HTTP/2 stack does the same; h2 alone would
/// show the emulated browser a 16 KiB frame only after its last byte.
struct Tapped<S> {
    inner: S,
    tap: DataTap,
    /// To the forwarder: (promises before, stream, content).
    chunks: Option<tokio::sync::mpsc::UnboundedSender<(u64, u64, Bytes)>>,
    first_data: Arc<Mutex<HashMap<u32, Instant>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tapped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if r.is_ready() && buf.filled().len() > before {
            let now = Instant::now();
            let this = &mut *self;
            let mut first = this.first_data.lock().unwrap_or_else(|e| e.into_inner());
            let chunks = &this.chunks;
            // A frame the tap cannot follow is h2's to refuse (it reads
            // the same bytes); the tap just stops reporting.
            let _ = this
                .tap
                .push(&buf.filled()[before..], &mut |p: DataPiece<'_>| {
                    tracing::trace!(
                        target: "pushlab::h2frames",
                        stream = p.stream,
                        bytes = p.bytes.len(),
                        end = p.end_stream,
                        "DATA read"
                    );
                    if p.bytes.is_empty() {
                        return;
                    }
                    first.entry(p.stream).or_insert(now);
                    if let Some(tx) = chunks {
                        let _ = tx.send((
                            p.promises_before,
                            u64::from(p.stream),
                            Bytes::copy_from_slice(p.bytes),
                        ));
                    }
                });
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tapped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// How long DATA content waits for what came before it on the wire to be
/// recorded (h2 refused a promise, or nothing reads the stream).
const ORDER_WAIT: Duration = Duration::from_millis(100);

/// What the forwarder waits for before it hands a stream's DATA on.
#[derive(Default)]
struct Order {
    /// PUSH_PROMISEs recorded (by the watchers).
    promises: std::sync::atomic::AtomicU64,
    /// Request streams whose final header fields were handed on.
    heads: Mutex<std::collections::HashSet<u32>>,
}

/// Hands tapped DATA content on to `out` in wire order with the rest: each
/// piece once the promises that came before it are recorded and, on a
/// request stream, once its response's header fields were handed on. h2
/// hands promises and headers to other tasks, and a page must learn of a
/// push, and of the cookies its document sets, before it reads the part
/// of the document that follows them.
fn forward_chunks(
    out: tokio::sync::mpsc::UnboundedSender<(u64, Bytes)>,
    order: Arc<Order>,
    changed: Arc<Notify>,
) -> tokio::sync::mpsc::UnboundedSender<(u64, u64, Bytes)> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, u64, Bytes)>();
    tokio::spawn(async move {
        // Promises, and streams' headers, given up on: not waited for again.
        let mut forgiven = 0u64;
        let mut headless = std::collections::HashSet::new();
        while let Some((need, stream, bytes)) = rx.recv().await {
            let deadline = tokio::time::Instant::now() + ORDER_WAIT;
            let id = u32::try_from(stream).unwrap_or(u32::MAX);
            loop {
                let notified = changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let have = order.promises.load(std::sync::atomic::Ordering::Acquire) + forgiven;
                let head = id % 2 == 0
                    || headless.contains(&id)
                    || order
                        .heads
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .contains(&id);
                if have >= need && head {
                    break;
                }
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    forgiven += need.saturating_sub(have);
                    if !head {
                        headless.insert(id);
                    }
                    break;
                }
            }
            if out.send((stream, bytes)).is_err() {
                return;
            }
        }
    });
    tx
}

#[derive(Default)]
struct Shared {
    pushes: HashMap<u32, Pushed>,
    /// Tasks waiting for PUSH_PROMISEs on a request; each holds a stream
    /// reference, which keeps h2's connection from ending.
    watchers: Vec<tokio::task::AbortHandle>,
    /// The task reading each accepted push (by promised stream ID).
    readers: HashMap<u32, tokio::task::AbortHandle>,
}

/// An HTTP/2 connection.
pub struct H2Client {
    send: h2::client::SendRequest<Bytes>,
    shared: Arc<Mutex<Shared>>,
    changed: Arc<Notify>,
    start: Instant,
    authority: String,
    opts: ClientOptions,
    push_bytes: Arc<std::sync::atomic::AtomicU64>,
    pacer: Option<Arc<Pacer>>,
    /// When each stream's first DATA content arrived (from the tap).
    first_data: Arc<Mutex<HashMap<u32, Instant>>>,
    /// What the DATA forwarder waits for.
    order: Arc<Order>,
    /// Handshake duration (TCP + TLS + HTTP/2 preface).
    pub handshake: Duration,
    conn_task: tokio::task::JoinHandle<()>,
}

/// A request whose response has not been read yet.
pub struct PendingH2 {
    fut: h2::client::ResponseFuture,
    _body: h2::SendStream<Bytes>,
    response: Response,
    sent: Instant,
}

impl PendingH2 {
    /// The request's stream ID.
    pub fn stream_id(&self) -> u64 {
        self.response.stream_id
    }
}

fn header_list(h: &http::HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Reads a body to its end, releasing flow-control capacity as it goes.
async fn read_body(
    mut body: h2::RecvStream,
    keep: bool,
    hash: bool,
    mut first: impl FnMut(),
    count: &std::sync::atomic::AtomicU64,
    pacer: Option<&Pacer>,
) -> Result<(u64, String, Option<Bytes>), h2::Error> {
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut kept = BytesMut::new();
    let mut len = 0u64;
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        if len == 0 && !chunk.is_empty() {
            first();
        }
        // With a read rate, the window is given back only as fast as the
        // rate allows, so the server sees a slow reader.
        if let Some(p) = pacer {
            p.add(chunk.len() as u64);
            p.wait().await;
        }
        let _ = body.flow_control().release_capacity(chunk.len());
        len += chunk.len() as u64;
        count.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if hash {
            hasher.update(&chunk);
        }
        if keep {
            kept.extend_from_slice(&chunk);
        }
    }
    Ok((
        len,
        crate::hex::encode(hasher.finish().as_ref()),
        keep.then(|| kept.freeze()),
    ))
}

impl H2Client {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connects over TLS with ALPN h2.
    pub async fn connect(
        host: &str,
        port: u16,
        opts: ClientOptions,
    ) -> Result<H2Client, H2ClientError> {
        let start = Instant::now();
        let addr: SocketAddr = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("{host} does not resolve")))?;
        let tcp = tokio::time::timeout(opts.timeout, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| H2ClientError::Timeout(opts.timeout))??;
        let _ = tcp.set_nodelay(true);
        let tls = crate::tls::client_config(opts.insecure, opts.ca.as_deref(), &[b"h2"])?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
        let name = if host.parse::<std::net::IpAddr>().is_ok() {
            "localhost"
        } else {
            host
        };
        let server_name = rustls::pki_types::ServerName::try_from(name.to_string())
            .map_err(|e| H2ClientError::Request(e.to_string()))?;
        let stream = connector.connect(server_name, tcp).await?;
        let alpn = stream
            .get_ref()
            .1
            .alpn_protocol()
            .map(|a| String::from_utf8_lossy(a).into_owned());
        if alpn.as_deref() != Some("h2") {
            return Err(H2ClientError::NoH2(alpn.unwrap_or_else(|| "none".into())));
        }
        let mut builder = h2::client::Builder::new();
        builder.enable_push(opts.max_push_id.is_some());
        if let Some(w) = opts.stream_receive_window {
            builder.initial_window_size(w.min(u64::from(u32::MAX >> 1)) as u32);
        }
        if let Some(w) = opts.receive_window {
            builder.initial_connection_window_size(w.min(u64::from(u32::MAX >> 1)) as u32);
        }
        let first_data = Arc::new(Mutex::new(HashMap::new()));
        let changed = Arc::new(Notify::new());
        let order = Arc::new(Order::default());
        let chunks = opts
            .body_chunks
            .clone()
            .map(|out| forward_chunks(out, order.clone(), changed.clone()));
        let stream = Tapped {
            inner: stream,
            tap: DataTap::new(),
            chunks,
            first_data: first_data.clone(),
        };
        let (send, conn) = builder.handshake::<_, Bytes>(stream).await?;
        let conn_task = tokio::spawn(async move {
            let _ = conn.await;
        });
        let send = send.ready().await?;
        let authority = if port == 443 {
            host.to_string()
        } else {
            format!("{host}:{port}")
        };
        let opts_pacer = opts.read_rate.map(|rate| {
            Arc::new(Pacer {
                rate,
                start: Instant::now(),
                read: std::sync::atomic::AtomicU64::new(0),
            })
        });
        Ok(H2Client {
            send,
            shared: Arc::new(Mutex::new(Shared::default())),
            changed,
            order,
            start,
            authority,
            handshake: start.elapsed(),
            opts,
            push_bytes: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            conn_task,
            pacer: opts_pacer,
            first_data,
        })
    }

    /// Sends a request (no body) with extra header fields.
    pub async fn send_request(
        &self,
        method: &str,
        path: &str,
        extra: &[(String, String)],
    ) -> Result<PendingH2, H2ClientError> {
        let uri: http::Uri = format!("https://{}{path}", self.authority)
            .parse()
            .map_err(|e: http::uri::InvalidUri| H2ClientError::Request(e.to_string()))?;
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::USER_AGENT, crate::reply::SERVER);
        for (n, v) in extra {
            req = req.header(n.as_str(), v.as_str());
        }
        let req = req
            .body(())
            .map_err(|e| H2ClientError::Request(e.to_string()))?;
        let mut send = self.send.clone().ready().await?;
        let sent = Instant::now();
        let (mut fut, body) = send.send_request(req, true)?;
        let stream_id = u64::from(fut.stream_id().as_u32());
        if self.opts.max_push_id.is_some() {
            self.watch_pushes(fut.push_promises(), stream_id);
        }
        Ok(PendingH2 {
            fut,
            _body: body,
            response: Response {
                stream_id,
                path: path.to_string(),
                sent_ms: sent.saturating_duration_since(self.start).as_secs_f64() * 1e3,
                ..Default::default()
            },
            sent,
        })
    }

    fn watch_pushes(&self, mut promises: h2::client::PushPromises, parent: u64) {
        let shared = self.shared.clone();
        let changed = self.changed.clone();
        let start = self.start;
        let keep = self.opts.keep_bodies;
        let hash = self.opts.hash_bodies;
        let cancel = self.opts.cancel_push.clone();
        let refuse = self.opts.refuse_pushes;
        let count = self.push_bytes.clone();
        let pacer = self.pacer.clone();
        let first_data = self.first_data.clone();
        let order = self.order.clone();
        let watcher = tokio::spawn(async move {
            while let Some(Ok(p)) = promises.push_promise().await {
                let (req, fut) = p.into_parts();
                let id = fut.stream_id().as_u32();
                let path = req.uri().path().to_string();
                let cancelled =
                    refuse || cancel.as_ref().is_some_and(|c| path.contains(c.as_str()));
                {
                    let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
                    sh.pushes.insert(
                        id,
                        Pushed {
                            push_id: u64::from(id),
                            path,
                            promised_headers: header_list(req.headers()),
                            promised_on: Some(parent),
                            promised_ms: Some(start.elapsed().as_secs_f64() * 1e3),
                            cancelled,
                            ..Default::default()
                        },
                    );
                }
                order
                    .promises
                    .fetch_add(1, std::sync::atomic::Ordering::Release);
                changed.notify_waiters();
                if cancelled {
                    // Dropping the response future resets the pushed stream (CANCEL).
                    drop(fut);
                    continue;
                }
                let (shared, changed, count, pacer, first_data) = (
                    shared.clone(),
                    changed.clone(),
                    count.clone(),
                    pacer.clone(),
                    first_data.clone(),
                );
                let shared_r = shared.clone();
                let reader = tokio::spawn(async move {
                    let result = async {
                        let resp = fut.await?;
                        let (parts, body) = resp.into_parts();
                        {
                            let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
                            if let Some(e) = sh.pushes.get_mut(&id) {
                                e.status = parts.status.as_u16();
                                e.headers = header_list(&parts.headers);
                                e.stream_ms = Some(start.elapsed().as_secs_f64() * 1e3);
                            }
                        }
                        read_body(body, keep, hash, || {}, &count, pacer.as_deref()).await
                    }
                    .await;
                    // Pushes report their headers' time, not the tap's.
                    first_data
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&id);
                    let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(e) = sh.pushes.get_mut(&id) {
                        e.done_ms = Some(start.elapsed().as_secs_f64() * 1e3);
                        match result {
                            Ok((len, sha, body)) => {
                                e.body_len = len;
                                e.sha256 = sha;
                                e.body = body;
                                e.complete = true;
                            }
                            Err(err) => e.error = Some(err.to_string()),
                        }
                    }
                    sh.readers.remove(&id);
                    drop(sh);
                    changed.notify_waiters();
                });
                shared_r
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .readers
                    .insert(id, reader.abort_handle());
            }
        });
        self.lock().watchers.push(watcher.abort_handle());
    }

    /// Cancels a promised push: its reader stops, and dropping the stream
    /// makes h2 reset it.
    //= https://www.rfc-editor.org/rfc/rfc9113#section-8.4.2
    //# Once a client receives a PUSH_PROMISE frame and chooses to accept the
    //# pushed response, the client SHOULD NOT issue any requests for the
    //# promised response until after the promised stream has closed.
    //#
    //# If the client determines, for any reason, that it does not wish to
    //# receive the pushed response from the server or if the server takes
    //# too long to begin sending the promised response, the client can send
    //# a RST_STREAM frame, using either the CANCEL or REFUSED_STREAM code
    //# and referencing the pushed stream's identifier.
    pub fn cancel_push(&self, id: u32) {
        let mut sh = self.lock();
        if let Some(r) = sh.readers.remove(&id) {
            r.abort();
        }
        if let Some(e) = sh.pushes.get_mut(&id) {
            if !e.complete && !e.cancelled {
                e.cancelled = true;
                e.done_ms
                    .get_or_insert(self.start.elapsed().as_secs_f64() * 1e3);
            }
        }
        drop(sh);
        self.changed.notify_waiters();
    }

    /// Drops the connection abruptly: no GOAWAY, no RST_STREAM, the socket
    /// just closes (a client that crashed or lost its network).
    pub fn abort(&self) {
        self.conn_task.abort();
    }

    /// Closes the connection: h2 sends GOAWAY once no request handle is
    /// left and the open streams ended; after `linger` it is dropped
    /// regardless.
    pub async fn close(self, linger: Duration) {
        for w in self.lock().watchers.drain(..) {
            w.abort();
        }
        let H2Client {
            send, conn_task, ..
        } = self;
        drop(send);
        let abort = conn_task.abort_handle();
        if tokio::time::timeout(linger, conn_task).await.is_err() {
            abort.abort();
        }
    }

    /// Reads a response (its 103s first) to its end.
    pub async fn read_response(&self, p: PendingH2) -> Response {
        let PendingH2 {
            mut fut,
            _body,
            mut response,
            sent,
        } = p;
        let result: Result<(), h2::Error> = async {
            let mut infos = Vec::new();
            let resp = std::future::poll_fn(|cx| {
                loop {
                    match fut.poll_informational(cx) {
                        Poll::Ready(Some(Ok(r))) => {
                            let info = Informational {
                                status: r.status().as_u16(),
                                headers: header_list(r.headers()),
                                at_ms: sent.elapsed().as_secs_f64() * 1e3,
                            };
                            if let Some(tx) = &self.opts.informational {
                                let _ = tx.send((response.stream_id, info.clone()));
                            }
                            infos.push(info);
                        }
                        Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                        _ => break,
                    }
                }
                Pin::new(&mut fut).poll(cx)
            })
            .await?;
            response.informational = infos;
            let (parts, body) = resp.into_parts();
            response.status = parts.status.as_u16();
            response.headers = header_list(&parts.headers);
            response.headers_ms = Some(sent.elapsed().as_secs_f64() * 1e3);
            if let Some(tx) = &self.opts.informational {
                let head = Informational {
                    status: response.status,
                    headers: response.headers.clone(),
                    at_ms: sent.elapsed().as_secs_f64() * 1e3,
                };
                let _ = tx.send((response.stream_id, head));
            }
            self.order
                .heads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(response.stream_id as u32);
            self.changed.notify_waiters();
            response.push_bytes_before_headers =
                self.push_bytes.load(std::sync::atomic::Ordering::Relaxed);
            let mut first = None;
            let (len, sha, kept) = read_body(
                body,
                self.opts.keep_bodies,
                self.opts.hash_bodies,
                || first = Some(sent.elapsed().as_secs_f64() * 1e3),
                &std::sync::atomic::AtomicU64::new(0),
                self.pacer.as_deref(),
            )
            .await?;
            // The tap saw the first byte arrive; h2 hands it on only with
            // the rest of its frame.
            let tapped = self
                .first_data
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(response.stream_id as u32))
                .map(|t| t.saturating_duration_since(sent).as_secs_f64() * 1e3);
            response.first_byte_ms = match (tapped, first) {
                (Some(t), Some(f)) => Some(t.min(f)),
                (t, f) => t.or(f),
            };
            response.body_len = len;
            response.sha256 = sha;
            response.body = kept;
            response.done_ms = Some(sent.elapsed().as_secs_f64() * 1e3);
            Ok(())
        }
        .await;
        if let Err(e) = result {
            response.error = Some(e.to_string());
        }
        response
    }

    /// Pushed body bytes received so far, complete pushes or not.
    pub fn push_bytes(&self) -> u64 {
        self.push_bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notified whenever pushes change (promised, headers, completed).
    pub fn push_changes(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// Waits until every promised push finished or was cancelled, or until
    /// nothing changed for `quiet`.
    pub async fn wait_pushes(&self, quiet: Duration) {
        super::wait_settled(&self.changed, quiet, || {
            self.lock()
                .pushes
                .values()
                .any(|p| p.done_ms.is_none() && !p.cancelled)
        })
        .await
    }

    /// The pushes seen so far, by promised stream ID.
    pub fn pushes(&self) -> Vec<Pushed> {
        let mut v: Vec<Pushed> = self.lock().pushes.values().cloned().collect();
        v.sort_by_key(|p| p.push_id);
        v
    }

    /// Milliseconds since the connection started.
    pub fn elapsed_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1e3
    }
}
