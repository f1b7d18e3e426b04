//! Runs the page-load model over a real HTTP/2 or HTTP/3 connection:
//! sends what the model asks for, feeds it responses, 103s and pushes as
//! they arrive, and wakes it when a script finishes running.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::cache::HttpCache;
use super::model::{Cpu, Page, PageSummary, PromiseAnswer};
use crate::client::{ClientOptions, Conn, Proto, Response};

/// What to load and how.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `https://host:port/path`.
    pub url: String,
    /// HTTP/2 or HTTP/3.
    pub proto: Proto,
    /// Accept server push (HTTP/3: MAX_PUSH_ID; HTTP/2: ENABLE_PUSH).
    pub accept_push: bool,
    /// The main thread's speed.
    pub cpu: Cpu,
    /// Give up after this long.
    pub timeout: Duration,
    /// Connection settings (certificate trust and the like).
    pub client: ClientOptions,
}

/// One page load, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageLoad {
    /// The URL loaded.
    pub url: String,
    /// The protocol.
    pub protocol: Proto,
    /// When the connection attempt started, wall clock (ms since the Unix
    /// epoch): navigation start is this plus `handshake_ms`.
    #[serde(default)]
    pub started_unix_ms: f64,
    /// Connection set-up (before navigation start; all other times are
    /// since navigation start).
    pub handshake_ms: f64,
    /// The model's account.
    #[serde(flatten)]
    pub summary: PageSummary,
    /// Why the load did not complete, if it did not.
    pub error: Option<String>,
    /// Main-thread time per script, when a real browser's trace gave it
    /// (`--browser chromium` with script tracing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scripts: Vec<super::chromium::ScriptTime>,
    /// The first rendering update, when a real browser's trace gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_render: Option<super::chromium::RenderTime>,
    /// The rendering update a web font arriving after the first one
    /// caused, when a real browser's trace gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font_render: Option<super::chromium::RenderTime>,
    /// Per resource, the main-thread time of handing its response to the
    /// page, when a real browser's trace gave it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<super::chromium::DeliveryTime>,
}

/// The page's host, port and path (the query dropped: the page model
/// keys resources by path), by the client's own URL parser.
fn split_url(url: &str) -> Result<(String, u16, String), String> {
    let (host, port, target) = crate::client::parse_url(url).map_err(|e| e.to_string())?;
    let path = target.split('?').next().unwrap_or("/").to_string();
    Ok((host, port, path))
}

/// The client options of the browser's connections: Chromium's receive
/// windows, bodies kept (the model reads them), no pushes or 103s asked
/// for (the page's main connection adds them).
fn browser_client_options(opts: &LoadOptions) -> ClientOptions {
    let mut copts = opts.client.clone();
    copts.keep_bodies = true;
    copts.hash_bodies = false;
    // On the wire like Chromium: zero-length connection IDs. With quinn's
    // 8-byte ones, the demo's 103 and document (9,405 bytes of stream)
    // needed a ninth packet that waited one round trip for quinn's 12,000
    // byte initial window; Chromium's fit in eight.
    copts.zero_length_cid = true;
    copts.max_push_id = None;
    copts.informational = None;
    copts.body_chunks = None;
    copts.timeout = opts.timeout;
    // Chromium's receive windows (HTTP/2: 15 MB for the session, 6 MB
    // per stream; its QUIC stack uses the same): flow control must not
    // be what limits a page load, as the protocols' 64 KB defaults would.
    copts.receive_window.get_or_insert(CHROME_SESSION_WINDOW);
    copts
        .stream_receive_window
        .get_or_insert(CHROME_STREAM_WINDOW);
    copts
}

/// Chromium's HTTP/2 session receive window.
pub const CHROME_SESSION_WINDOW: u64 = 15 * 1024 * 1024;
/// Chromium's HTTP/2 stream receive window.
pub const CHROME_STREAM_WINDOW: u64 = 6 * 1024 * 1024;

enum Event {
    Chunk(u64, Bytes),
    Response(String, Box<Response>),
    Informational(u64, crate::client::Informational),
    Pushes,
    Tick,
    Timeout,
}

/// The connection for requests without credentials, opened at the first.
type AnonConn = Arc<tokio::sync::OnceCell<Result<Arc<Conn>, String>>>;

/// A connection as the emulated browser holds it: the protocol client and
/// the 103 responses it reports, for one or several page loads (which
/// share its push cache), and the connection a browser opens beside it
/// for requests without credentials.
pub struct BrowserConn {
    conn: Arc<Conn>,
    anon: AnonConn,
    host: String,
    port: u16,
    proto: Proto,
    anon_opts: ClientOptions,
    informational: mpsc::UnboundedReceiver<(u64, crate::client::Informational)>,
    chunks: mpsc::UnboundedReceiver<(u64, Bytes)>,
    /// When the connection attempt started (ms since the Unix epoch).
    pub started_unix_ms: f64,
    /// How long the handshake took (ms).
    pub handshake_ms: f64,
    /// Pushes of earlier loads on this connection (push ids): not reported
    /// to a later page as its own.
    earlier_pushes: std::collections::HashSet<u64>,
    /// Pushed bytes received by earlier loads.
    earlier_push_bytes: u64,
    /// Pushes earlier loads received and did not use: still in the
    /// connection's push cache (push ids).
    carried: Vec<u64>,
}

/// What warming a connection did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Warmup {
    /// Transfers made.
    pub transfers: usize,
    /// Body bytes received.
    pub bytes: u64,
    /// How long it took (ms).
    pub ms: f64,
    /// Whether the condition was met (false: gave up after the limit).
    pub reached: bool,
}

impl BrowserConn {
    /// Connects as the browser would for `opts` (its receive windows,
    /// pushes accepted or not).
    pub async fn connect(opts: &LoadOptions) -> Result<BrowserConn, String> {
        let started_unix_ms = unix_ms();
        let (host, port, _) = split_url(&opts.url)?;
        let (itx, irx) = mpsc::unbounded_channel();
        let (ctx, crx) = mpsc::unbounded_channel();
        let anon_opts = browser_client_options(opts);
        let mut copts = anon_opts.clone();
        copts.body_chunks = Some(ctx);
        copts.max_push_id = opts.accept_push.then_some(1000);
        copts.informational = Some(itx);
        let t0 = Instant::now();
        let conn = Conn::connect(opts.proto, &host, port, copts)
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        Ok(BrowserConn {
            conn: Arc::new(conn),
            anon: Default::default(),
            host,
            port,
            proto: opts.proto,
            anon_opts,
            informational: irx,
            chunks: crx,
            started_unix_ms,
            handshake_ms: t0.elapsed().as_secs_f64() * 1e3,
            earlier_pushes: Default::default(),
            earlier_push_bytes: 0,
            carried: Vec::new(),
        })
    }

    /// Warms the connection: GETs `path` (a resource outside the page)
    /// again and again until `reached()` says so (the caller watches the
    /// server's congestion window), at most `max_transfers` times. The
    /// bodies are read and dropped.
    pub async fn warm_up(
        &mut self,
        path: &str,
        max_transfers: usize,
        reached: &dyn Fn() -> bool,
    ) -> Result<Warmup, String> {
        let t0 = Instant::now();
        let mut w = Warmup::default();
        while !reached() {
            if w.transfers >= max_transfers {
                w.ms = t0.elapsed().as_secs_f64() * 1e3;
                return Ok(w);
            }
            let p = self
                .conn
                .send_request("GET", path, &[])
                .await
                .map_err(|e| format!("warming: {e}"))?;
            let r = self.conn.read_response(p).await;
            if let Some(e) = r.error {
                return Err(format!("warming: {path}: {e}"));
            }
            if r.status != 200 {
                return Err(format!("warming: {path}: status {}", r.status));
            }
            w.transfers += 1;
            w.bytes += r.body.map(|b| b.len() as u64).unwrap_or(0);
        }
        w.reached = true;
        w.ms = t0.elapsed().as_secs_f64() * 1e3;
        // Promises made meanwhile belong to no page.
        self.forget_pushes();
        Ok(w)
    }

    fn forget_pushes(&mut self) {
        self.earlier_pushes
            .extend(self.conn.pushes().into_iter().map(|p| p.push_id));
        self.earlier_push_bytes = self.conn.push_bytes();
    }

    /// After a page: its pushes are earlier ones now, and those it left
    /// unused (`unused`, by path) stay in the push cache for the next.
    fn after_page(&mut self, unused: &[String]) {
        let pushes = self.conn.pushes();
        self.carried = unused
            .iter()
            .filter_map(|path| {
                pushes
                    .iter()
                    .filter(|p| &p.path == path && p.complete && !p.cancelled)
                    .map(|p| p.push_id)
                    .next_back()
            })
            .collect();
        self.forget_pushes();
    }

    /// Closes the connection, and the one without credentials if it was
    /// opened (waiting for loads' readers to let go).
    pub async fn close(self) {
        if let Some(Ok(anon)) = Arc::try_unwrap(self.anon).ok().and_then(|c| c.into_inner()) {
            if let Ok(conn) = Arc::try_unwrap(anon) {
                conn.close().await;
            }
        }
        if let Ok(conn) = Arc::try_unwrap(self.conn) {
            conn.close().await;
        }
    }
}

/// Loads a page with `cache` (empty for a cold visit, the previous visit's
/// for a warm one) on a new connection, closed afterwards; returns the
/// record and the cache after the visit.
pub async fn load_page(opts: &LoadOptions, cache: HttpCache) -> (PageLoad, HttpCache) {
    let mut bc = match BrowserConn::connect(opts).await {
        Ok(bc) => bc,
        Err(e) => return (not_loaded(opts, cache.clone(), e), cache),
    };
    let handshake_ms = bc.handshake_ms;
    let out = load_on(&mut bc, opts, cache, handshake_ms).await;
    bc.close().await;
    out
}

/// The record of a load that did not start (now), and why.
pub fn not_loaded(opts: &LoadOptions, cache: HttpCache, why: String) -> PageLoad {
    not_loaded_at(opts, unix_ms(), cache, why)
}

fn not_loaded_at(
    opts: &LoadOptions,
    started_unix_ms: f64,
    cache: HttpCache,
    why: String,
) -> PageLoad {
    PageLoad {
        url: opts.url.clone(),
        protocol: opts.proto,
        started_unix_ms,
        handshake_ms: 0.0,
        summary: Page::new("/", cache, opts.cpu).summary(),
        error: Some(why),
        scripts: Vec::new(),
        first_render: None,
        font_render: None,
        deliveries: Vec::new(),
    }
}

/// Loads a page on an open connection. Navigation starts now;
/// `handshake_ms` is what the record says preceded it (the handshake on a
/// new connection, 0 on one already open).
pub async fn load_on(
    bc: &mut BrowserConn,
    opts: &LoadOptions,
    cache: HttpCache,
    handshake_ms: f64,
) -> (PageLoad, HttpCache) {
    let started_unix_ms = if handshake_ms > 0.0 {
        bc.started_unix_ms
    } else {
        unix_ms()
    };
    let path = match split_url(&opts.url) {
        Ok((_, _, path)) => path,
        Err(e) => {
            return (
                not_loaded_at(opts, started_unix_ms, cache.clone(), e),
                cache,
            )
        }
    };
    let conn = bc.conn.clone();
    let irx = &mut bc.informational;
    let crx = &mut bc.chunks;
    // 103s and body bytes of an earlier load's streams are not this page's.
    while irx.try_recv().is_ok() {}
    while crx.try_recv().is_ok() {}
    let nav = Instant::now();
    // Client times are relative to the connection's start.
    let nav_offset = conn.elapsed_ms();
    let ms = || nav.elapsed().as_secs_f64() * 1e3;
    let mut page = Page::new(&path, cache, opts.cpu);
    // The connection's push cache: what earlier pages left unused.
    for p in conn.pushes() {
        if bc.carried.contains(&p.push_id) {
            if let Some(body) = p.body.clone() {
                page.carry_push(&p.path, &p.promised_headers, &p.headers, body);
            }
        }
    }
    let (rtx, mut rrx) = mpsc::unbounded_channel::<(String, Response)>();
    let mut streams: HashMap<u64, String> = HashMap::new();
    let mut pushes_seen: HashMap<u64, bool> =
        bc.earlier_pushes.iter().map(|&id| (id, true)).collect();
    let mut readers = tokio::task::JoinSet::new();
    let changes = conn.push_changes();
    let deadline = tokio::time::Instant::from_std(nav + opts.timeout);
    let mut error = None;
    // A 103's stream and how long the network thread is then busy, until
    // that stream's final head arrives.
    let mut busy_after_head: Option<(u64, f64)> = None;
    loop {
        for req in page.take_requests() {
            if req.anonymous {
                let anon = AnonRequest {
                    cell: bc.anon.clone(),
                    proto: bc.proto,
                    host: bc.host.clone(),
                    port: bc.port,
                    opts: bc.anon_opts.clone(),
                    nav,
                    nav_offset,
                };
                let tx = rtx.clone();
                readers.spawn(async move {
                    let path = req.path.clone();
                    let r = anon.fetch(&req.path, &req.headers).await;
                    let _ = tx.send((path, r));
                });
                continue;
            }
            match conn.send_request("GET", &req.path, &req.headers).await {
                Ok(p) => {
                    streams.insert(p.stream_id(), req.path.clone());
                    let (conn, tx, path) = (conn.clone(), rtx.clone(), req.path);
                    readers.spawn(async move {
                        let r = conn.read_response(p).await;
                        let _ = tx.send((path, r));
                    });
                }
                Err(e) => {
                    page.advance(ms());
                    page.on_response(
                        &req.path,
                        0,
                        &[],
                        Bytes::new(),
                        None,
                        ms(),
                        Some(format!("sending: {e}")),
                    );
                }
            }
        }
        if page.finished() {
            break;
        }
        let notified = changes.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let cancels = sync_pushes(&conn, &mut page, &mut pushes_seen, nav_offset, ms());
        cancel_pushes(&conn, &cancels).await;
        let wake = page.next_wakeup();
        let tick = async {
            match wake {
                Some(w) => {
                    tokio::time::sleep(Duration::from_secs_f64((w - ms()).max(0.0) / 1e3)).await
                }
                None => std::future::pending().await,
            }
        };
        // In arrival order where several are ready: a 103 comes before its
        // final response, a promise before the response that refers to it.
        let ev = tokio::select! {
            biased;
            Some((sid, info)) = irx.recv() => Event::Informational(sid, info),
            Some((sid, chunk)) = crx.recv() => Event::Chunk(sid, chunk),
            _ = &mut notified => Event::Pushes,
            Some((path, r)) = rrx.recv() => Event::Response(path, Box::new(r)),
            _ = tick => Event::Tick,
            _ = tokio::time::sleep_until(deadline) => Event::Timeout,
        };
        let now = ms();
        page.advance(now);
        // The final head (or body) of a stream this event brought.
        let mut head_in = None;
        // Promises first: a request the event leads to may find its push.
        let cancels = sync_pushes(&conn, &mut page, &mut pushes_seen, nav_offset, now);
        cancel_pushes(&conn, &cancels).await;
        match ev {
            Event::Response(path, r) => {
                if let Some((sid, _)) = busy_after_head {
                    if streams.get(&sid) == Some(&path) {
                        head_in = Some(sid);
                    }
                }
                let base = r.sent_ms - nav_offset;
                // The connection's clock and navigation's are read a moment
                // apart: a time past now is now, and the first byte is never
                // after the last.
                let done = r.done_ms.map(|d| base + d).unwrap_or(now).min(now);
                let first = r
                    .first_byte_ms
                    .or(r.headers_ms)
                    .map(|f| (base + f).min(done));
                page.on_response(
                    &path,
                    r.status,
                    &r.headers,
                    r.body.clone().unwrap_or_default(),
                    first,
                    done,
                    r.error.clone(),
                );
            }
            Event::Chunk(sid, chunk) => {
                if let Some(path) = streams.get(&sid) {
                    page.on_body_chunk(path, &chunk);
                }
                head_in = Some(sid);
            }
            Event::Informational(sid, info) => {
                if let Some(path) = streams.get(&sid).cloned() {
                    if info.status < 200 {
                        let busy_ms = page.on_informational(&path, info.status, &info.headers);
                        if busy_ms > 0.0 {
                            busy_after_head = Some((sid, busy_ms));
                        }
                    } else {
                        page.on_response_head(&path, info.status, &info.headers);
                        head_in = Some(sid);
                    }
                }
            }
            Event::Pushes | Event::Tick => {}
            Event::Timeout => {
                error = Some(format!("page not loaded in {:?}", opts.timeout));
                break;
            }
        }
        // After a 103 whose preloads go to the network, the network thread
        // is busy and reads nothing once the document's head is in: block
        // this thread, and with it the connection's packet processing
        // (compare runs each load on a current-thread runtime; `pushlab
        // load` has no hint delay).
        if let (Some(sid), Some((hinted, busy_ms))) = (head_in, busy_after_head) {
            if sid == hinted {
                busy_after_head = None;
                std::thread::sleep(Duration::from_secs_f64(busy_ms / 1e3));
            }
        }
    }
    // The page has loaded; pushes still arriving only waste bandwidth, and
    // count as such: linger (at most 5 s) while they finish.
    if error.is_none() {
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            conn.wait_pushes(Duration::from_millis(500)),
        )
        .await;
    }
    let cancels = sync_pushes(&conn, &mut page, &mut pushes_seen, nav_offset, ms());
    cancel_pushes(&conn, &cancels).await;
    let incomplete = conn
        .push_bytes()
        .saturating_sub(bc.earlier_push_bytes)
        .saturating_sub(page.push_bytes_reported());
    page.add_incomplete_push_bytes(incomplete);
    let summary = page.summary();
    let cache = page.cache().clone();
    readers.abort_all();
    while readers.join_next().await.is_some() {}
    drop(conn);
    bc.after_page(&page.unused_pushes());
    if error.is_none() {
        error = summary
            .resources
            .first()
            .and_then(|d| d.error.clone())
            .map(|e| format!("document: {e}"));
    }
    (
        PageLoad {
            url: opts.url.clone(),
            protocol: opts.proto,
            started_unix_ms,
            handshake_ms,
            summary,
            error,
            scripts: Vec::new(),
            first_render: None,
            font_render: None,
            deliveries: Vec::new(),
        },
        cache,
    )
}

/// The wall clock in ms since the Unix epoch (0 if the clock is before it).
pub fn unix_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0)
}

/// Reports new promises and finished pushes to the model; returns the
/// push ids the model cancels (their bytes, if any come, count as wasted:
/// they are never reported as finished).
fn sync_pushes(
    conn: &Conn,
    page: &mut Page,
    seen: &mut HashMap<u64, bool>,
    nav_offset: f64,
    now: f64,
) -> Vec<u64> {
    let mut cancels = Vec::new();
    for p in conn.pushes() {
        let reported_done = match seen.get(&p.push_id) {
            Some(done) => *done,
            None => {
                let at = p.promised_ms.map(|t| t - nav_offset).unwrap_or(now);
                match page.on_promise_at(&p.path, at, &p.promised_headers) {
                    PromiseAnswer::Accept => {
                        seen.insert(p.push_id, false);
                        false
                    }
                    PromiseAnswer::Cancel(_) => {
                        cancels.push(p.push_id);
                        seen.insert(p.push_id, true);
                        true
                    }
                }
            }
        };
        let finished = p.complete || p.cancelled || p.error.is_some();
        if finished && !reported_done {
            seen.insert(p.push_id, true);
            let done = p.done_ms.map(|t| t - nav_offset).unwrap_or(now).min(now);
            let first = p.stream_ms.map(|t| t - nav_offset).unwrap_or(now).min(done);
            let body = if p.complete { p.body.clone() } else { None };
            page.on_push_done(&p.path, &p.headers, body, p.body_len, first, done);
        }
    }
    cancels
}

/// Cancels pushes the model refused (a failure to send the cancel leaves
/// the push arriving, and wasted).
async fn cancel_pushes(conn: &Conn, ids: &[u64]) {
    for &id in ids {
        if let Err(e) = conn.cancel_push(id).await {
            tracing::debug!(push_id = id, error = %e, "cancelling a push");
        }
    }
}

/// A request without credentials, on the browser's second connection
/// (opened by the first such request).
struct AnonRequest {
    cell: AnonConn,
    proto: Proto,
    host: String,
    port: u16,
    opts: ClientOptions,
    nav: Instant,
    /// The main connection's clock at navigation start (ms).
    nav_offset: f64,
}

impl AnonRequest {
    /// Sends the request and reads its response, with times on the main
    /// connection's clock (what the load loop expects).
    async fn fetch(self, path: &str, headers: &[(String, String)]) -> Response {
        let failed = |e: String| Response {
            path: path.to_string(),
            sent_ms: self.nav_offset + self.nav.elapsed().as_secs_f64() * 1e3,
            error: Some(e),
            ..Default::default()
        };
        let conn = self
            .cell
            .get_or_init(|| async {
                Conn::connect(self.proto, &self.host, self.port, self.opts.clone())
                    .await
                    .map(Arc::new)
                    .map_err(|e| format!("connecting without credentials: {e}"))
            })
            .await;
        let conn = match conn {
            Ok(c) => c.clone(),
            Err(e) => return failed(e.clone()),
        };
        // The second connection's start, in ms since navigation start.
        let start = self.nav.elapsed().as_secs_f64() * 1e3 - conn.elapsed_ms();
        let p = match conn.send_request("GET", path, headers).await {
            Ok(p) => p,
            Err(e) => return failed(format!("sending without credentials: {e}")),
        };
        let mut r = conn.read_response(p).await;
        r.sent_ms += start + self.nav_offset;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_url("https://10.1.2.3:4433/slow.html?x=1").unwrap(),
            ("10.1.2.3".into(), 4433, "/slow.html".into())
        );
        assert_eq!(
            split_url("https://example.com").unwrap(),
            ("example.com".into(), 443, "/".into())
        );
        assert!(split_url("http://example.com/").is_err());
        assert!(split_url("not a url").is_err());
    }

    /// The client's first Initial: the length of the source connection ID
    /// it chose (RFC 9000 long header: flags, version, DCID length and
    /// DCID, SCID length).
    async fn initial_scid_len(zero_length_cid: bool) -> u8 {
        let sink = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = sink.local_addr().unwrap().port();
        let opts = LoadOptions {
            url: format!("https://127.0.0.1:{port}/"),
            proto: Proto::H3,
            accept_push: false,
            cpu: Cpu::default(),
            timeout: Duration::from_secs(2),
            client: ClientOptions {
                insecure: true,
                timeout: Duration::from_secs(2),
                ..ClientOptions::default()
            },
        };
        let mut copts = browser_client_options(&opts);
        copts.zero_length_cid = zero_length_cid;
        let client = tokio::spawn(async move {
            let _ = crate::client::h3::Client::connect("127.0.0.1", port, copts).await;
        });
        let mut buf = vec![0u8; 1500];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sink.recv_from(&mut buf))
            .await
            .expect("no Initial")
            .unwrap();
        client.abort();
        //= https://www.rfc-editor.org/rfc/rfc9000#section-17.2
        //# Long Header Packet {
        //#   Header Form (1) = 1,
        //#   Fixed Bit (1) = 1,
        //#   Long Packet Type (2),
        //#   Type-Specific Bits (4),
        //#   Version (32),
        //#   Destination Connection ID Length (8),
        //#   Destination Connection ID (0..160),
        //#   Source Connection ID Length (8),
        //#   Source Connection ID (0..160),
        //#   Type-Specific Payload (..),
        //# }
        assert!(n > 7 && buf[0] & 0x80 != 0, "not a long header");
        let dcid = buf[5] as usize;
        buf[6 + dcid]
    }

    /// The emulated browser is on the wire like Chromium: zero-length
    /// connection IDs (Chromium's `initial_source_connection_id` is
    /// empty), not quinn's 8 bytes.
    #[tokio::test]
    async fn the_browser_uses_zero_length_connection_ids_like_chromium() {
        let opts = LoadOptions {
            url: "https://127.0.0.1:1/".into(),
            proto: Proto::H3,
            accept_push: false,
            cpu: Cpu::default(),
            timeout: Duration::from_secs(1),
            client: ClientOptions::default(),
        };
        assert!(browser_client_options(&opts).zero_length_cid);
        assert_eq!(initial_scid_len(true).await, 0);
        assert_eq!(initial_scid_len(false).await, 8);
    }
}
