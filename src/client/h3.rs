//! pushlab's HTTP/3 client: its own framing and QPACK over quinn, because
//! the h3 client can neither receive pushes nor send MAX_PUSH_ID or
//! PRIORITY_UPDATE. It records every frame of interest with its time, so
//! tests and benchmarks can check orders and delays.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

mod push;

use super::ClientError;
use super::Pacer;
pub use super::{ClientOptions, Informational, Pushed, Response};
use crate::wire::frame::{self, code, setting, stream_type, Event, Frame, FrameDecoder};
use crate::wire::{qpack, varint};
use push::{abort_cancelled, read_push_body};

#[derive(Default)]
struct Shared {
    /// The MAX_PUSH_ID this client has sent (None: never).
    max_push_id: Option<u64>,
    pushes: HashMap<u64, Pushed>,
    server_settings: Vec<(u64, u64)>,
    goaway: Option<u64>,
    error: Option<String>,
}

/// An HTTP/3 connection.
pub struct Client {
    /// The QUIC connection.
    pub conn: quinn::Connection,
    endpoint: quinn::Endpoint,
    control: tokio::sync::Mutex<quinn::SendStream>,
    shared: Arc<Mutex<Shared>>,
    changed: Arc<Notify>,
    start: Instant,
    authority: String,
    opts: ClientOptions,
    pacer: Option<Arc<Pacer>>,
    /// Pushed body bytes received so far.
    push_bytes: Arc<std::sync::atomic::AtomicU64>,
    /// Handshake duration.
    pub handshake: Duration,
    zero_rtt: tokio::sync::Mutex<Option<quinn::ZeroRttAccepted>>,
    zero_rtt_outcome: std::sync::OnceLock<bool>,
}

/// A QUIC client configuration for these options, to reuse across
/// connections (session resumption, 0-RTT).
pub fn session(opts: &ClientOptions) -> Result<super::Session, ClientError> {
    config(opts, None)
}

/// The client configuration for `opts`, writing quinn's qlog events to
/// `qlog` (for one connection only: the stream is not shared).
fn config(
    opts: &ClientOptions,
    qlog: Option<&std::path::Path>,
) -> Result<super::Session, ClientError> {
    let alpn: Vec<&[u8]> = opts.alpn.iter().map(|a| a.as_slice()).collect();
    let provider = if opts.chacha20 {
        crate::http3::transport::chacha20_provider()
    } else {
        crate::tls::provider()
    };
    let mut tls =
        crate::tls::client_config_with(provider, opts.insecure, opts.ca.as_deref(), &alpn)?;
    tls.enable_early_data = true;
    let crypto = if opts.chacha20 {
        let initial = crate::http3::transport::initial_suite()
            .ok_or_else(|| ClientError::Connect("no AES-128-GCM suite for Initials".into()))?;
        quinn::crypto::rustls::QuicClientConfig::with_initial(Arc::new(tls), initial)
    } else {
        quinn::crypto::rustls::QuicClientConfig::try_from(tls)
    }
    .map_err(|e| ClientError::Connect(e.to_string()))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    let mut t = quinn::TransportConfig::default();
    if let Some(w) = opts.receive_window {
        t.receive_window(quinn::VarInt::from_u64(w).unwrap_or(quinn::VarInt::MAX));
    }
    if let Some(w) = opts.stream_receive_window {
        t.stream_receive_window(quinn::VarInt::from_u64(w).unwrap_or(quinn::VarInt::MAX));
    }
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(1000));
    if let Some(d) = opts.idle_timeout {
        let idle = quinn::IdleTimeout::try_from(d)
            .map_err(|_| ClientError::Connect(format!("idle timeout {d:?} too long")))?;
        t.max_idle_timeout(Some(idle));
    }
    if let Some(path) = qlog {
        let file = std::fs::File::create(path)
            .map_err(|e| ClientError::Connect(format!("qlog {}: {e}", path.display())))?;
        let mut q = quinn::QlogConfig::default();
        q.writer(Box::new(std::io::BufWriter::new(file)))
            .title(Some("pushlab client".into()));
        t.qlog_stream(q.into_stream());
    }
    cfg.transport_config(Arc::new(t));
    Ok(super::Session(cfg))
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

fn fields_to_strings(fields: &[qpack::Field]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

impl Client {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connects to `host:port` (resolved) and sets up HTTP/3.
    pub async fn connect(
        host: &str,
        port: u16,
        opts: ClientOptions,
    ) -> Result<Client, ClientError> {
        let addr: SocketAddr = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| ClientError::Url(host.into(), "does not resolve".into()))?;
        let cfg = match &opts.session {
            Some(s) => s.0.clone(),
            None => config(&opts, opts.qlog.as_deref())?.0,
        };
        let bind: SocketAddr = if addr.is_ipv6() {
            "[::]:0"
                .parse()
                .map_err(|_| ClientError::Connect("bind".into()))?
        } else {
            "0.0.0.0:0"
                .parse()
                .map_err(|_| ClientError::Connect("bind".into()))?
        };
        let mut endpoint = if opts.zero_length_cid {
            let mut ec = quinn::EndpointConfig::default();
            ec.cid_generator(|| Box::new(quinn_proto::RandomConnectionIdGenerator::new(0)));
            let socket = std::net::UdpSocket::bind(bind)?;
            quinn::Endpoint::new(ec, None, socket, Arc::new(quinn::TokioRuntime))?
        } else {
            quinn::Endpoint::client(bind)?
        };
        endpoint.set_default_client_config(cfg);
        let server_name = if host.parse::<std::net::IpAddr>().is_ok() {
            "localhost"
        } else {
            host
        };
        let start = Instant::now();
        let connecting = endpoint
            .connect(addr, server_name)
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        // With a resumable session, 0-RTT: requests go out before the
        // handshake completes (and are lost if the server rejects them).
        let (conn, zero_rtt) = match opts.zero_rtt {
            true => match connecting.into_0rtt() {
                Ok((conn, accepted)) => (conn, Some(accepted)),
                Err(connecting) => (Self::finish(connecting, opts.timeout).await?, None),
            },
            false => (Self::finish(connecting, opts.timeout).await?, None),
        };
        let handshake = start.elapsed();
        // Our control stream: type, SETTINGS, then MAX_PUSH_ID if pushes are welcome.
        let mut control = conn.open_uni().await?;
        control.set_priority(100).ok();
        let mut buf = BytesMut::new();
        varint::put(stream_type::CONTROL, &mut buf);
        //= https://www.rfc-editor.org/rfc/rfc9114#section-6.2.1
        //# Each side MUST initiate a single control stream at the beginning of
        //# the connection and send its SETTINGS frame as the first frame on
        //# this stream.
        buf.extend_from_slice(&frame::encode(&Frame::Settings(vec![
            (setting::QPACK_MAX_TABLE_CAPACITY, 0),
            (setting::QPACK_BLOCKED_STREAMS, 0),
            (setting::MAX_FIELD_SECTION_SIZE, opts.max_field_section_size),
        ])));
        if let Some(n) = opts.max_push_id {
            buf.extend_from_slice(&frame::encode(&Frame::MaxPushId(n)));
        }
        control.write_all(&buf).await?;
        let authority = if port == 443 {
            host.to_string()
        } else if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let client = Client {
            conn: conn.clone(),
            endpoint,
            control: tokio::sync::Mutex::new(control),
            shared: Arc::new(Mutex::new(Shared {
                max_push_id: opts.max_push_id,
                ..Shared::default()
            })),
            changed: Arc::new(Notify::new()),
            start,
            authority,
            pacer: opts.read_rate.map(|rate| {
                Arc::new(Pacer {
                    rate,
                    start: Instant::now(),
                    read: std::sync::atomic::AtomicU64::new(0),
                })
            }),
            opts,
            push_bytes: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            handshake,
            zero_rtt: tokio::sync::Mutex::new(zero_rtt),
            zero_rtt_outcome: std::sync::OnceLock::new(),
        };
        client.spawn_uni_acceptor();
        Ok(client)
    }

    async fn finish(
        connecting: quinn::Connecting,
        timeout: Duration,
    ) -> Result<quinn::Connection, ClientError> {
        tokio::time::timeout(timeout, connecting)
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
            .map_err(|e| ClientError::Connect(e.to_string()))
    }

    /// Whether the requests sent in 0-RTT were accepted (waits for the
    /// handshake); `None` when none were sent in 0-RTT.
    pub async fn zero_rtt_accepted(&self) -> Option<bool> {
        if let Some(v) = self.zero_rtt_outcome.get() {
            return Some(*v);
        }
        let accepted = self.zero_rtt.lock().await.take()?;
        let v = accepted.await;
        let _ = self.zero_rtt_outcome.set(v);
        Some(v)
    }

    /// Initiates a TLS key update (the next packet uses the new keys).
    pub fn force_key_update(&self) {
        self.conn.force_key_update();
    }

    /// Moves the connection to a new local UDP port (as after a NAT
    /// rebinding); the server validates the new path.
    pub fn rebind(&self) -> Result<std::net::SocketAddr, ClientError> {
        let local = self.endpoint.local_addr()?;
        let bind: SocketAddr = if local.is_ipv6() {
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
        } else {
            SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
        };
        let socket = std::net::UdpSocket::bind(bind)?;
        let new = socket.local_addr()?;
        self.endpoint.rebind(socket)?;
        Ok(new)
    }

    fn spawn_uni_acceptor(&self) {
        let conn = self.conn.clone();
        let shared = self.shared.clone();
        let changed = self.changed.clone();
        let start = self.start;
        let keep = self.opts.keep_bodies;
        let limit = self.opts.max_field_section_size;
        let refuse = self.opts.refuse_pushes;
        let pacer = self.pacer.clone();
        let push_bytes = self.push_bytes.clone();
        tokio::spawn(async move {
            while let Ok(recv) = conn.accept_uni().await {
                let shared = shared.clone();
                let changed = changed.clone();
                let conn = conn.clone();
                let pacer = pacer.clone();
                let push_bytes = push_bytes.clone();
                tokio::spawn(async move {
                    let opts = UniOpts {
                        start,
                        keep,
                        limit,
                        refuse,
                        pacer,
                        push_bytes,
                    };
                    let r = read_uni(recv, &shared, &changed, opts).await;
                    if let Err(ClientError::Protocol(c, why)) = r {
                        shared.lock().unwrap_or_else(|e| e.into_inner()).error = Some(why.clone());
                        conn.close(
                            quinn::VarInt::from_u64(c).unwrap_or(quinn::VarInt::MAX),
                            why.as_bytes(),
                        );
                    }
                    changed.notify_waiters();
                });
            }
            changed.notify_waiters();
        });
    }

    /// Sends a raw frame on the client's control stream (for experiments and
    /// tests that exercise the server's handling of odd input).
    pub async fn send_control_frame(&self, f: &Frame) -> Result<(), ClientError> {
        if let Frame::MaxPushId(n) = f {
            let mut sh = self.lock();
            sh.max_push_id = Some(sh.max_push_id.map_or(*n, |m| m.max(*n)));
        }
        self.control
            .lock()
            .await
            .write_all(&frame::encode(f))
            .await?;
        Ok(())
    }

    /// Sends a PRIORITY_UPDATE for a request stream.
    pub async fn priority_update(&self, stream_id: u64, value: &str) -> Result<(), ClientError> {
        self.send_control_frame(&Frame::PriorityUpdate {
            push: false,
            id: stream_id,
            value: Bytes::copy_from_slice(value.as_bytes()),
        })
        .await
    }

    /// Sends CANCEL_PUSH for a push ID.
    pub async fn cancel_push(&self, push_id: u64) -> Result<(), ClientError> {
        self.send_control_frame(&Frame::CancelPush(push_id)).await
    }

    /// Cancels a promised push: marks it cancelled (its push stream, open
    /// or not yet, is stopped) and sends CANCEL_PUSH.
    //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
    //# When a client sends a CANCEL_PUSH frame, it is indicating that it
    //# does not wish to receive the promised resource.
    pub async fn cancel_promised(&self, push_id: u64) -> Result<(), ClientError> {
        {
            let mut sh = self.lock();
            let e = sh.pushes.entry(push_id).or_insert_with(|| Pushed {
                push_id,
                ..Default::default()
            });
            if e.cancelled || e.complete {
                return Ok(());
            }
            e.cancelled = true;
            e.done_ms.get_or_insert(ms_since(self.start));
        }
        self.changed.notify_waiters();
        self.cancel_push(push_id).await
    }

    /// Opens a request stream and sends a GET (or `method`) with extra header fields.
    pub async fn send_request(
        &self,
        method: &str,
        path: &str,
        extra: &[(String, String)],
    ) -> Result<PendingResponse, ClientError> {
        let (mut send, recv) = self.conn.open_bi().await?;
        let mut fields: Vec<(&[u8], &[u8])> = vec![
            (b":method", method.as_bytes()),
            (b":scheme", b"https"),
            (b":authority", self.authority.as_bytes()),
            (b":path", path.as_bytes()),
            (b"user-agent", crate::reply::SERVER.as_bytes()),
        ];
        for (n, v) in extra {
            fields.push((n.as_bytes(), v.as_bytes()));
        }
        let block = qpack::encode(fields);
        let sent = Instant::now();
        send.write_all(&frame::encode(&Frame::Headers(block)))
            .await?;
        send.finish().ok();
        let stream_id: u64 = send.id().into();
        Ok(PendingResponse {
            recv,
            _send: send,
            response: Response {
                stream_id,
                path: path.to_string(),
                sent_ms: sent.saturating_duration_since(self.start).as_secs_f64() * 1e3,
                ..Default::default()
            },
            sent,
        })
    }

    /// Opens a request stream and writes raw bytes on it (for tests that
    /// send frames a well-behaved client would not).
    pub async fn send_raw(&self, bytes: &[u8], fin: bool) -> Result<PendingResponse, ClientError> {
        let (mut send, recv) = self.conn.open_bi().await?;
        let sent = Instant::now();
        send.write_all(bytes).await?;
        if fin {
            send.finish().ok();
        }
        let stream_id: u64 = send.id().into();
        Ok(PendingResponse {
            recv,
            _send: send,
            response: Response {
                stream_id,
                path: String::new(),
                sent_ms: sent.saturating_duration_since(self.start).as_secs_f64() * 1e3,
                ..Default::default()
            },
            sent,
        })
    }

    /// The application error code the connection was closed with, by either side.
    pub fn close_code(&self) -> Option<u64> {
        match self.conn.close_reason()? {
            quinn::ConnectionError::ApplicationClosed(c) => Some(c.error_code.into_inner()),
            _ => None,
        }
    }

    /// Reads a response to its end, recording promises.
    pub async fn read_response(&self, mut p: PendingResponse) -> Response {
        let r = self.read_response_inner(&mut p).await;
        if let Err(e) = r {
            p.response.error = Some(e.to_string());
        }
        p.response
    }

    async fn read_response_inner(&self, p: &mut PendingResponse) -> Result<(), ClientError> {
        let mut dec = FrameDecoder::new(self.opts.max_field_section_size as usize + 1024);
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        let mut body = BytesMut::new();
        let mut events = Vec::new();
        let mut final_seen = false;
        loop {
            if let Some(p) = &self.pacer {
                p.wait().await;
            }
            let max = match self.opts.read_rate {
                Some(rate) => ((rate / 100).max(1200)) as usize,
                None => usize::MAX,
            };
            let chunk = p.recv.read_chunk(max, true).await?;
            let Some(chunk) = chunk else { break };
            if let Some(pacer) = &self.pacer {
                pacer.add(chunk.bytes.len() as u64);
            }
            dec.push(chunk.bytes, &mut events)
                .map_err(|e| ClientError::Protocol(e.code(), e.to_string()))?;
            for ev in events.drain(..) {
                match ev {
                    Event::Frame(Frame::Headers(block)) => {
                        let fields = qpack::decode(&block, self.opts.max_field_section_size)
                            .map_err(|e| {
                                ClientError::Protocol(
                                    code::QPACK_DECOMPRESSION_FAILED,
                                    e.to_string(),
                                )
                            })?;
                        let fs = fields_to_strings(&fields);
                        let status: u16 = fs
                            .iter()
                            .find(|(n, _)| n == ":status")
                            .and_then(|(_, v)| v.parse().ok())
                            .unwrap_or(0);
                        let headers: Vec<(String, String)> = fs
                            .into_iter()
                            .filter(|(n, _)| !n.starts_with(':'))
                            .collect();
                        if final_seen {
                            // Trailers: ignored.
                            continue;
                        }
                        if (100..200).contains(&status) {
                            let info = Informational {
                                status,
                                headers,
                                at_ms: p.sent.elapsed().as_secs_f64() * 1e3,
                            };
                            if let Some(tx) = &self.opts.informational {
                                let _ = tx.send((p.response.stream_id, info.clone()));
                            }
                            p.response.informational.push(info);
                        } else {
                            final_seen = true;
                            p.response.push_bytes_before_headers =
                                self.push_bytes.load(std::sync::atomic::Ordering::Relaxed);
                            p.response.status = status;
                            p.response.headers_ms = Some(p.sent.elapsed().as_secs_f64() * 1e3);
                            if let Some(tx) = &self.opts.informational {
                                let head = Informational {
                                    status,
                                    headers: headers.clone(),
                                    at_ms: p.sent.elapsed().as_secs_f64() * 1e3,
                                };
                                let _ = tx.send((p.response.stream_id, head));
                            }
                            p.response.headers = headers;
                        }
                    }
                    Event::Frame(Frame::PushPromise { push_id, block }) => {
                        let fields = qpack::decode(&block, self.opts.max_field_section_size)
                            .map_err(|e| {
                                ClientError::Protocol(
                                    code::QPACK_DECOMPRESSION_FAILED,
                                    e.to_string(),
                                )
                            })?;
                        self.on_promise(push_id, p.response.stream_id, fields_to_strings(&fields))
                            .await?;
                        p.response.promises.push(push_id);
                    }
                    Event::Frame(Frame::Unknown { .. }) => {}
                    Event::Frame(other) => {
                        return Err(ClientError::Protocol(
                            code::H3_FRAME_UNEXPECTED,
                            format!("unexpected frame on a request stream: {other:?}"),
                        ))
                    }
                    Event::DataStart(_) => {
                        if !final_seen {
                            return Err(ClientError::Protocol(
                                code::H3_FRAME_UNEXPECTED,
                                "DATA before HEADERS".into(),
                            ));
                        }
                    }
                    Event::Data(d) => {
                        if p.response.first_byte_ms.is_none() {
                            p.response.first_byte_ms = Some(p.sent.elapsed().as_secs_f64() * 1e3);
                        }
                        if self.opts.hash_bodies {
                            hasher.update(&d);
                        }
                        p.response.body_len += d.len() as u64;
                        if self.opts.keep_bodies {
                            body.extend_from_slice(&d);
                        }
                        if let Some(tx) = &self.opts.body_chunks {
                            let _ = tx.send((p.response.stream_id, d.clone()));
                        }
                    }
                    Event::Skipped { .. } => {}
                }
            }
        }
        dec.finish()
            .map_err(|e| ClientError::Protocol(e.code(), e.to_string()))?;
        p.response.done_ms = Some(p.sent.elapsed().as_secs_f64() * 1e3);
        p.response.sha256 = crate::hex::encode(hasher.finish().as_ref());
        if self.opts.keep_bodies {
            p.response.body = Some(body.freeze());
        }
        if !final_seen {
            return Err(ClientError::Protocol(
                code::H3_REQUEST_INCOMPLETE,
                "stream ended without a final response".into(),
            ));
        }
        Ok(())
    }

    async fn on_promise(
        &self,
        push_id: u64,
        stream: u64,
        fields: Vec<(String, String)>,
    ) -> Result<(), ClientError> {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.5
        //# A client MUST treat receipt of a PUSH_PROMISE frame that contains a
        //# larger push ID than the client has advertised as a connection error
        //# of H3_ID_ERROR.
        if self.lock().max_push_id.is_none_or(|m| push_id > m) {
            self.conn.close(
                quinn::VarInt::from_u64(code::H3_ID_ERROR).unwrap_or(quinn::VarInt::MAX),
                b"push ID beyond MAX_PUSH_ID",
            );
            return Err(ClientError::Protocol(
                code::H3_ID_ERROR,
                format!("push ID {push_id} beyond MAX_PUSH_ID"),
            ));
        }
        let path = fields
            .iter()
            .find(|(n, _)| n == ":path")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let cancel = self
            .opts
            .cancel_push
            .as_ref()
            .is_some_and(|s| path.contains(s.as_str()));
        {
            let mut sh = self.lock();
            let e = sh.pushes.entry(push_id).or_insert_with(|| Pushed {
                push_id,
                ..Default::default()
            });
            e.path = path;
            e.promised_headers = fields;
            e.promised_on = Some(stream);
            e.promised_ms = Some(ms_since(self.start));
            if cancel {
                e.cancelled = true;
            }
        }
        self.changed.notify_waiters();
        if cancel {
            self.cancel_push(push_id).await?;
        }
        Ok(())
    }

    /// Snapshot of the pushes seen so far.
    pub fn pushes(&self) -> Vec<Pushed> {
        let mut v: Vec<Pushed> = self.lock().pushes.values().cloned().collect();
        v.sort_by_key(|p| p.push_id);
        v
    }

    /// Pushed body bytes received so far, complete pushes or not.
    pub fn push_bytes(&self) -> u64 {
        self.push_bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notified whenever pushes change (promised, headers, completed).
    pub fn push_changes(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// Waits until every promised push has finished or was cancelled, or
    /// until nothing changed for `quiet`.
    pub async fn wait_pushes(&self, quiet: Duration) {
        super::wait_settled(&self.changed, quiet, || {
            self.lock()
                .pushes
                .values()
                .any(|p| p.done_ms.is_none() && !p.cancelled)
        })
        .await
    }

    /// The server's SETTINGS.
    pub fn server_settings(&self) -> Vec<(u64, u64)> {
        self.lock().server_settings.clone()
    }

    /// GOAWAY received from the server, if any.
    pub fn goaway(&self) -> Option<u64> {
        self.lock().goaway
    }

    /// A protocol error the client detected on a server stream.
    pub fn error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    /// Milliseconds since the connection started.
    pub fn elapsed_ms(&self) -> f64 {
        ms_since(self.start)
    }

    /// Closes the connection cleanly and waits briefly for the close to be sent.
    pub async fn close(self) {
        self.conn.close(
            quinn::VarInt::from_u64(code::H3_NO_ERROR).unwrap_or(quinn::VarInt::MAX),
            b"",
        );
        let _ = tokio::time::timeout(Duration::from_millis(500), self.endpoint.wait_idle()).await;
    }
}

/// A request whose response has not been read yet.
pub struct PendingResponse {
    recv: quinn::RecvStream,
    _send: quinn::SendStream,
    response: Response,
    sent: Instant,
}

impl PendingResponse {
    /// The request stream ID.
    pub fn stream_id(&self) -> u64 {
        self.response.stream_id
    }

    /// Aborts the request: STOP_SENDING with H3_REQUEST_CANCELLED.
    pub fn cancel(mut self) {
        let _ = self.recv.stop(
            quinn::VarInt::from_u64(code::H3_REQUEST_CANCELLED).unwrap_or(quinn::VarInt::MAX),
        );
    }
}

/// How unidirectional streams from the server are read.
struct UniOpts {
    start: Instant,
    keep: bool,
    limit: u64,
    refuse: bool,
    pacer: Option<Arc<Pacer>>,
    push_bytes: Arc<std::sync::atomic::AtomicU64>,
}

async fn read_uni(
    mut recv: quinn::RecvStream,
    shared: &Arc<Mutex<Shared>>,
    changed: &Notify,
    opts: UniOpts,
) -> Result<(), ClientError> {
    let UniOpts {
        start,
        keep,
        limit,
        refuse,
        pacer,
        push_bytes,
    } = opts;
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    let opened = ms_since(start);
    // Stream type, then (for push) the push ID.
    let mut head = BytesMut::new();
    let (ty, n) = loop {
        match varint::decode(&head) {
            Ok(v) => break v,
            Err(_) => match recv.read_chunk(8, true).await? {
                Some(c) => head.extend_from_slice(&c.bytes),
                None => return Ok(()),
            },
        }
    };
    let mut rest = head.split_off(n);
    match ty {
        stream_type::CONTROL => {
            let mut dec = FrameDecoder::new(64 * 1024);
            let mut events = Vec::new();
            let mut first = true;
            let mut input = rest.freeze();
            loop {
                dec.push(input, &mut events)
                    .map_err(|e| ClientError::Protocol(e.code(), e.to_string()))?;
                for ev in events.drain(..) {
                    let f = match ev {
                        Event::Frame(f) => f,
                        _ => {
                            return Err(ClientError::Protocol(
                                code::H3_FRAME_UNEXPECTED,
                                "DATA on the control stream".into(),
                            ))
                        }
                    };
                    if first && !matches!(f, Frame::Settings(_)) {
                        return Err(ClientError::Protocol(
                            code::H3_MISSING_SETTINGS,
                            "control stream must start with SETTINGS".into(),
                        ));
                    }
                    first = false;
                    match f {
                        Frame::Settings(s) => lock().server_settings = s,
                        Frame::Goaway(id) => lock().goaway = Some(id),
                        //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
                        //# If a client receives a PRIORITY_UPDATE frame, this MUST
                        //# be treated as a connection error of type
                        //# H3_FRAME_UNEXPECTED.
                        Frame::PriorityUpdate { .. }
                        | Frame::MaxPushId(_)
                        | Frame::Headers(_)
                        | Frame::PushPromise { .. } => {
                            return Err(ClientError::Protocol(
                                code::H3_FRAME_UNEXPECTED,
                                format!("{f:?} on the server control stream"),
                            ))
                        }
                        Frame::CancelPush(id) => {
                            let mut sh = lock();
                            let e = sh.pushes.entry(id).or_insert_with(|| Pushed {
                                push_id: id,
                                ..Default::default()
                            });
                            e.error = Some("cancelled by server".into());
                            e.done_ms = Some(ms_since(start));
                        }
                        Frame::Unknown { .. } => {}
                    }
                    changed.notify_waiters();
                }
                match recv.read_chunk(usize::MAX, true).await {
                    Ok(Some(c)) => input = c.bytes,
                    Ok(None) => {
                        return Err(ClientError::Protocol(
                            code::H3_CLOSED_CRITICAL_STREAM,
                            "server closed its control stream".into(),
                        ))
                    }
                    Err(quinn::ReadError::ConnectionLost(_)) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        stream_type::PUSH => {
            let push_id = loop {
                match varint::decode(&rest) {
                    Ok((id, n)) => {
                        let _ = rest.split_to(n);
                        break id;
                    }
                    Err(_) => match recv.read_chunk(usize::MAX, true).await? {
                        Some(c) => rest.extend_from_slice(&c.bytes),
                        None => return Ok(()),
                    },
                }
            };
            let cancelled = {
                let mut sh = lock();
                let e = sh.pushes.entry(push_id).or_insert_with(|| Pushed {
                    push_id,
                    ..Default::default()
                });
                e.stream_ms = Some(opened);
                e.cancelled
            };
            changed.notify_waiters();
            if refuse {
                let mut sh = lock();
                if let Some(e) = sh.pushes.get_mut(&push_id) {
                    e.cancelled = true;
                    e.error = Some("refused with STOP_SENDING".into());
                }
            }
            if cancelled || refuse {
                abort_cancelled(&mut recv);
                return Ok(());
            }
            let result = read_push_body(
                &mut recv,
                rest.freeze(),
                push_id,
                shared,
                pacer.clone(),
                &push_bytes,
                keep,
                limit,
            )
            .await;
            {
                let mut sh = lock();
                if let Some(e) = sh.pushes.get_mut(&push_id) {
                    e.done_ms = Some(ms_since(start));
                    match &result {
                        Ok(()) => e.complete = !e.cancelled,
                        Err(err) => e.error = Some(err.to_string()),
                    }
                }
            }
            match result {
                Err(ClientError::Protocol(c, w)) => Err(ClientError::Protocol(c, w)),
                _ => Ok(()),
            }
        }
        stream_type::QPACK_ENCODER | stream_type::QPACK_DECODER => {
            // The server may not use a dynamic table (capacity 0); drain.
            while recv.read_chunk(usize::MAX, true).await?.is_some() {}
            Ok(())
        }
        _ => {
            //= https://www.rfc-editor.org/rfc/rfc9114#section-6.2
            //# Recipients of unknown stream types MUST either abort reading of
            //# the stream or discard incoming data without further processing.
            let _ = recv.stop(
                quinn::VarInt::from_u64(code::H3_STREAM_CREATION_ERROR)
                    .unwrap_or(quinn::VarInt::MAX),
            );
            Ok(())
        }
    }
}
