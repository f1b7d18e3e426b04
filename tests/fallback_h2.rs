//! The HTTP/2 fallback (h2 over TLS 1.3 on TCP, on the same port as
//! HTTP/3) driven by pushlab's own HTTP/2 client: the same site, push and
//! hint policies, send queue and priorities as HTTP/3; `alt-svc` on every
//! response; HTTP/1.1 answered minimally; `--no-h2` / `--no-h3`; and bad
//! input (hostile paths, other methods, oversized headers, refused and
//! reset pushes, clients that stop reading).

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use pushlab::client::{ClientOptions, Conn, Proto, Response};
use pushlab::config::{SchedulerMode, ServeOptions};
use pushlab::sched::Policy;
use pushlab::sendq::SendConfig;
use pushlab::server::{RunningServer, ServerOptions};
use pushlab::site::Site;
use pushlab::tls::Identity;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn push_opts() -> ClientOptions {
    ClientOptions {
        max_push_id: Some(1000),
        ..opts()
    }
}

async fn h2(srv: &RunningServer, o: ClientOptions) -> Conn {
    Conn::connect(Proto::H2, "127.0.0.1", srv.addr.port(), o)
        .await
        .expect("HTTP/2 connects")
}

async fn get_with(c: &Conn, method: &str, path: &str, extra: &[(String, String)]) -> Response {
    match c.send_request(method, path, extra).await {
        Ok(p) => c.read_response(p).await,
        Err(e) => Response {
            path: path.to_string(),
            error: Some(format!("not sent: {e}")),
            ..Default::default()
        },
    }
}

async fn get(c: &Conn, path: &str) -> Response {
    get_with(c, "GET", path, &[]).await
}

/// The demo page and every subresource arrive byte-exact over HTTP/2, each
/// with `alt-svc` naming the HTTP/3 port (the same port).
#[tokio::test]
async fn demo_site_over_h2_is_byte_exact_with_alt_svc() {
    let srv = server(ServeOptions::default()).await;
    let c = h2(&srv, opts()).await;
    let mut paths = vec!["/index.html".to_string()];
    paths.extend(Site::demo().graph().evaluation_order("/index.html"));
    for path in &paths {
        let r = get(&c, path).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.error);
        assert_eq!(r.sha256, demo_sha(path), "{path} byte-exact");
        assert_eq!(
            header(&r.headers, "alt-svc"),
            Some(format!("h3=\":{}\"; ma=86400", srv.addr.port()).as_str()),
            "{path}"
        );
    }
    let r = get(&c, "/").await;
    assert_eq!(r.sha256, demo_sha("/index.html"));
    c.close().await;
    srv.shutdown().await;
}

/// push-all over HTTP/2: every subresource is promised on the document's
/// stream before its HEADERS, in evaluation order, and every pushed body
/// arrives byte-exact with its headers.
#[tokio::test]
async fn push_all_over_h2_delivers_every_subresource() {
    let srv = server(with_policy("push-all")).await;
    let c = h2(&srv, push_opts()).await;
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200, "{:?}", r.error);
    c.wait_pushes(Duration::from_secs(3)).await;
    let mut pushes = c.pushes();
    pushes.sort_by_key(|p| p.push_id);
    let order = Site::demo().graph().evaluation_order("/index.html");
    assert_eq!(pushes.len(), order.len());
    for (p, path) in pushes.iter().zip(&order) {
        assert_eq!(&p.path, path, "promised stream {} in order", p.push_id);
        assert_eq!(p.push_id % 2, 0, "server-initiated stream IDs are even");
        assert!(p.complete, "{} complete: {:?}", p.path, p.error);
        assert_eq!(p.status, 200);
        assert_eq!(p.sha256, demo_sha(path), "{path} byte-exact");
        assert!(header(&p.headers, "content-type").is_some());
        assert_eq!(p.promised_on, Some(r.stream_id));
        assert!(p.promised_ms.unwrap() <= r.sent_ms + r.headers_ms.unwrap() + 0.5);
    }
    c.close().await;
    let stats = eventually(Duration::from_secs(3), || {
        srv.stats.pushes.lock().completed == order.len() as u64
    })
    .await;
    assert!(stats, "server counted {:?}", *srv.stats.pushes.lock());
    srv.shutdown().await;
}

/// A client that sent SETTINGS_ENABLE_PUSH=0 gets no PUSH_PROMISE; under
/// push-preload everything is hinted in a 103 instead.
#[tokio::test]
async fn no_push_when_client_disables_it() {
    let srv = server(with_policy("push-all")).await;
    let c = h2(&srv, opts()).await;
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.sha256, demo_sha("/index.html"));
    c.close().await;
    srv.shutdown().await;
    let srv = server(with_policy("push-preload")).await;
    let c = h2(&srv, opts()).await;
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.informational.len(), 1);
    assert_eq!(links(&r.informational[0].headers).len(), 5);
    c.close().await;
    let stats = srv.stats.clone();
    srv.shutdown().await;
    assert_eq!(stats.pushes.lock().promised, 0);
}

/// preload over HTTP/2: one 103 with the same Link values as over HTTP/3,
/// sent at once although the document has 300 ms of think time.
#[tokio::test]
async fn early_hints_over_h2() {
    let srv = server(with_policy("preload")).await;
    let c = h2(&srv, opts()).await;
    let r = get(&c, "/slow.html").await;
    assert_eq!(r.status, 200, "{:?}", r.error);
    assert_eq!(r.informational.len(), 1);
    let hint = &r.informational[0];
    assert_eq!(hint.status, 103);
    assert!(hint.at_ms < 100.0, "103 at {:.1} ms", hint.at_ms);
    assert!(r.headers_ms.unwrap() >= 295.0, "200 after the think time");
    assert_eq!(
        links(&hint.headers),
        vec![
            "</css/style.css>; rel=preload; as=style",
            "</css/theme.css>; rel=preload; as=style",
            "</fonts/body.woff2>; rel=preload; as=font; crossorigin",
            "</js/app.js>; rel=preload; as=script",
            "</js/lazy.js>; rel=preload; as=script",
        ]
    );
    assert!(links(&r.headers).is_empty());
    for (m, p) in [("GET", "/css/style.css"), ("HEAD", "/")] {
        let r = get_with(&c, m, p, &[]).await;
        assert!(r.informational.is_empty(), "{m} {p}");
    }
    c.close().await;
    srv.shutdown().await;
}

/// Responses without a body end the stream with their HEADERS and arrive
/// intact: HEAD (with the GET's length), a 304 to a matching
/// `If-None-Match`, and a 404 for HEAD.
#[tokio::test]
async fn bodiless_responses_over_h2() {
    let srv = server(ServeOptions::default()).await;
    let c = h2(&srv, opts()).await;
    let r = get_with(&c, "HEAD", "/css/style.css", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.error);
    assert_eq!(r.body_len, 0);
    assert_eq!(header(&r.headers, "content-length"), Some("14000"));
    let etag = header(&get(&c, "/").await.headers, "etag")
        .expect("etag")
        .to_string();
    let r = get_with(&c, "GET", "/", &[("if-none-match".into(), etag)]).await;
    assert_eq!(r.status, 304, "{:?}", r.error);
    assert!(r.error.is_none());
    let r = get_with(&c, "HEAD", "/missing", &[]).await;
    assert_eq!(r.status, 404, "{:?}", r.error);
    assert_eq!(get(&c, "/").await.status, 200, "connection still serves");
    c.close().await;
    srv.shutdown().await;
}

/// Pushes the client resets (RST_STREAM CANCEL on one, or on all) stop at
/// once on the server, which counts them; the page and the other pushes
/// complete and the connection keeps serving.
#[tokio::test]
async fn reset_and_refused_pushes() {
    let srv = server(with_policy("push-all")).await;
    let c = h2(
        &srv,
        ClientOptions {
            cancel_push: Some("hero".into()),
            ..push_opts()
        },
    )
    .await;
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200);
    c.wait_pushes(Duration::from_secs(3)).await;
    let pushes = c.pushes();
    let order = Site::demo().graph().evaluation_order("/index.html");
    assert_eq!(pushes.len(), order.len());
    for p in &pushes {
        if p.path.contains("hero") {
            assert!(p.cancelled && !p.complete);
        } else {
            assert!(p.complete, "{}: {:?}", p.path, p.error);
            assert_eq!(p.sha256, demo_sha(&p.path));
        }
    }
    let r = get(&c, "/css/style.css").await;
    assert_eq!(r.status, 200, "connection still serves");
    c.close().await;

    let c = h2(
        &srv,
        ClientOptions {
            refuse_pushes: true,
            ..push_opts()
        },
    )
    .await;
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.sha256, demo_sha("/index.html"));
    c.wait_pushes(Duration::from_secs(1)).await;
    assert!(c.pushes().iter().all(|p| p.cancelled && !p.complete));
    let r = get(&c, "/js/app.js").await;
    assert_eq!(r.status, 200, "connection still serves");
    c.close().await;
    let counted = eventually(Duration::from_secs(3), || {
        let pc = *srv.stats.pushes.lock();
        pc.completed == order.len() as u64 - 1 && pc.cancelled_by_client >= 1
    })
    .await;
    assert!(counted, "server counted {:?}", *srv.stats.pushes.lock());
    srv.shutdown().await;
}

/// Traversal attempts never reach outside the site (400 or 404, never a
/// 200), exactly as over HTTP/3; other methods get 405.
#[tokio::test]
async fn hostile_paths_and_methods() {
    let srv = server(ServeOptions::default()).await;
    let c = h2(&srv, opts()).await;
    for (path, want) in [
        ("/../../etc/passwd", 400),
        ("/%2e%2e/%2e%2e/etc/passwd", 400),
        ("/css/..%2f..%2fetc%2fpasswd", 400),
        ("/..%5c..%5cetc%5cpasswd", 400),
        ("/etc/passwd%00.html", 400),
        ("/%zz", 400),
        ("/etc/passwd", 404),
        ("//etc/passwd", 404),
        ("/./index.html", 400),
    ] {
        let r = get(&c, path).await;
        assert_eq!(r.status, want, "{path}: {:?}", r.error);
    }
    // Targets the URI parser refuses never reach the server as such.
    for path in ["/a b", "/\\..\\..\\etc\\passwd"] {
        let r = get(&c, path).await;
        assert_ne!(r.status, 200, "{path}");
    }
    for m in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let r = get_with(&c, m, "/", &[]).await;
        assert_eq!(r.status, 405, "{m}: {:?}", r.error);
        assert!(header(&r.headers, "allow").is_some());
    }
    assert_eq!(get(&c, "/").await.status, 200);
    c.close().await;
    srv.shutdown().await;
}

/// A header section over the limit (SETTINGS_MAX_HEADER_LIST_SIZE) is
/// refused (431 or a stream reset) without harming the connection.
#[tokio::test]
async fn oversized_header_sections_are_refused() {
    let srv = server(ServeOptions {
        max_field_section_size: 8 * 1024,
        ..ServeOptions::default()
    })
    .await;
    let c = h2(&srv, opts()).await;
    let big = vec![("x-big".to_string(), "a".repeat(20_000))];
    let r = get_with(&c, "GET", "/", &big).await;
    assert_ne!(r.status, 200, "oversized request served");
    assert!(
        r.status == 431 || r.error.is_some(),
        "{} {:?}",
        r.status,
        r.error
    );
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200, "connection still serves: {:?}", r.error);
    c.close().await;
    srv.shutdown().await;
}

/// A client that stops reading holds at most about one stream buffer per
/// response in the server's queue (the rest waits in h2's flow control),
/// another connection is served meanwhile, and an abrupt close frees
/// everything.
#[tokio::test]
async fn stalled_reader_is_bounded_and_freed() {
    let _serial = serial().await;
    let srv = server(ServeOptions::default()).await;
    let stalled = h2(&srv, opts()).await;
    let mut pending = Vec::new();
    for _ in 0..8 {
        pending.push(
            stalled
                .send_request("GET", "/bytes/100000000", &[])
                .await
                .unwrap(),
        );
    }
    let queued = || srv.stats.queues.queued_bytes.load(Ordering::Relaxed);
    assert!(
        eventually(Duration::from_secs(3), || queued() > 0).await,
        "the responses are really queued"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        queued() <= 8 * (128 + 17) * 1024,
        "queued {} bytes",
        queued()
    );
    let other = h2(&srv, opts()).await;
    let r = get(&other, "/files/1M.bin").await;
    assert_eq!(r.body_len, 1_000_000, "{:?}", r.error);
    other.close().await;
    drop(pending);
    if let Conn::H2(c) = &stalled {
        c.abort();
    }
    let freed = eventually(Duration::from_secs(5), || {
        queued() == 0 && srv.stats.queues.streams.load(Ordering::Relaxed) == 0
    })
    .await;
    assert!(freed, "queues freed after the close ({} bytes)", queued());
    srv.shutdown().await;
}

/// The `priority` header orders HTTP/2 responses in the user-space queue as
/// it does HTTP/3 ones: with a slow reader the urgent response completes
/// first although it was requested last.
#[tokio::test]
async fn priority_header_orders_h2_responses() {
    let _serial = serial().await;
    let srv = server(ServeOptions {
        mode: SchedulerMode::Queue(SendConfig {
            policy: Policy::Rfc9218,
            ..SendConfig::default()
        }),
        ..ServeOptions::default()
    })
    .await;
    let c = Arc::new(
        h2(
            &srv,
            ClientOptions {
                receive_window: Some(64 * 1024),
                stream_receive_window: Some(4 << 20),
                read_rate: Some(4_000_000),
                ..opts()
            },
        )
        .await,
    );
    let mut tasks = Vec::new();
    for (path, prio) in [
        ("/bytes/400000", "u=5"),
        ("/bytes/400000", "u=5"),
        ("/bytes/60000", "u=1"),
    ] {
        let p = c
            .send_request("GET", path, &[("priority".into(), prio.into())])
            .await
            .unwrap();
        let c2 = c.clone();
        tasks.push(tokio::spawn(async move { c2.read_response(p).await }));
    }
    let mut ends = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{:?}", r.error);
        ends.push(r.sent_ms + r.done_ms.unwrap());
    }
    let (a, b, u) = (ends[0], ends[1], ends[2]);
    assert!(u < a && u < b, "urgent {u:.0} ms, a {a:.0}, b {b:.0}");
    assert!(a < b, "same urgency in request order: a {a:.0}, b {b:.0}");
    srv.shutdown().await;
}

/// Reads one HTTP/1.1 response (headers and a Content-Length body).
async fn read_h1<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    head_only: bool,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut buf = Vec::new();
    let end = loop {
        let mut b = [0u8; 4096];
        let n = s.read(&mut b).await.expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&b[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect();
    let len: usize = header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end..].to_vec();
    let want = if head_only { 0 } else { len };
    while body.len() < want {
        let mut b = [0u8; 65536];
        let n = s.read(&mut b).await.expect("read body");
        assert!(n > 0, "body cut short");
        body.extend_from_slice(&b[..n]);
    }
    assert_eq!(body.len(), want, "no bytes beyond the response");
    (status, headers, body)
}

/// ALPN `http/1.1` is answered minimally: keep-alive GET and HEAD, 404 for
/// a missing file, 400 for traversal, and `alt-svc` on every response.
#[tokio::test]
async fn http11_is_answered_minimally() {
    let srv = server(ServeOptions::default()).await;
    let tls = pushlab::tls::client_config(true, None, &[b"http/1.1"]).unwrap();
    let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut s = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let alt = format!("h3=\":{}\"; ma=86400", srv.addr.port());
    for (method, path, want, head_only) in [
        ("GET", "/", 200, false),
        ("HEAD", "/css/style.css", 200, true),
        ("GET", "/css/style.css", 200, false),
        ("GET", "/missing.html", 404, false),
        ("GET", "/../etc/passwd", 400, false),
    ] {
        s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (status, headers, body) = read_h1(&mut s, head_only).await;
        assert_eq!(status, want, "{method} {path}");
        assert_eq!(header(&headers, "alt-svc"), Some(alt.as_str()));
        if want == 200 && !head_only {
            let file = if path == "/" { "/index.html" } else { path };
            assert_eq!(sha256_hex(&body), demo_sha(file), "{path} byte-exact");
        }
    }
    srv.shutdown().await;
}

/// `--no-h2` leaves TCP closed; `--no-h3` leaves UDP closed and drops the
/// `alt-svc` advertisement.
#[tokio::test]
async fn either_protocol_can_be_turned_off() {
    let start = |h2: bool, h3: bool| async move {
        RunningServer::start(ServerOptions {
            h2,
            h3,
            ..ServerOptions::new(
                "127.0.0.1:0".parse().unwrap(),
                Identity::self_signed().unwrap(),
                ServeOptions::default(),
            )
        })
        .await
        .expect("server starts")
    };
    let short = || ClientOptions {
        timeout: Duration::from_millis(800),
        ..opts()
    };
    let srv = start(false, true).await;
    assert!(
        Conn::connect(Proto::H2, "127.0.0.1", srv.addr.port(), short())
            .await
            .is_err()
    );
    let c = Conn::connect(Proto::H3, "127.0.0.1", srv.addr.port(), short())
        .await
        .expect("HTTP/3 still on");
    assert_eq!(get(&c, "/").await.status, 200);
    c.close().await;
    srv.shutdown().await;

    let srv = start(true, false).await;
    assert!(
        Conn::connect(Proto::H3, "127.0.0.1", srv.addr.port(), short())
            .await
            .is_err()
    );
    let c = h2(&srv, opts()).await;
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        header(&r.headers, "alt-svc"),
        None,
        "no HTTP/3 to advertise"
    );
    c.close().await;
    srv.shutdown().await;
}

/// HTTP/3 responses advertise HTTP/3 on their own port, as HTTP/2's do
/// (Chromium forced onto QUIC learns from it that the origin supports
/// request priorities), unless `h3_alt_svc` is off.
#[tokio::test]
async fn h3_responses_carry_alt_svc_unless_turned_off() {
    for on in [true, false] {
        let srv = RunningServer::start(ServerOptions {
            h3_alt_svc: on,
            ..ServerOptions::new(
                "127.0.0.1:0".parse().unwrap(),
                Identity::self_signed().unwrap(),
                ServeOptions::default(),
            )
        })
        .await
        .expect("server starts");
        let c = Conn::connect(Proto::H3, "127.0.0.1", srv.addr.port(), opts())
            .await
            .expect("connects");
        let want = on.then(|| format!("h3=\":{}\"; ma=86400", srv.addr.port()));
        for path in ["/", "/missing"] {
            let r = get(&c, path).await;
            assert_eq!(
                header(&r.headers, "alt-svc"),
                want.as_deref(),
                "{path}, on={on}"
            );
        }
        c.close().await;
        // HTTP/2 advertises HTTP/3 either way.
        let c = h2(&srv, opts()).await;
        assert!(header(&get(&c, "/").await.headers, "alt-svc").is_some());
        c.close().await;
        srv.shutdown().await;
    }
}

/// With `--tcp-notsent-lowat` the socket option is set on accepted
/// connections and responses still arrive whole.
#[tokio::test]
async fn notsent_lowat_serves_whole_responses() {
    let srv = RunningServer::start(ServerOptions {
        tcp_notsent_lowat: Some(16 * 1024),
        ..ServerOptions::new(
            "127.0.0.1:0".parse().unwrap(),
            Identity::self_signed().unwrap(),
            with_policy("push-all"),
        )
    })
    .await
    .unwrap();
    let c = h2(&srv, push_opts()).await;
    let r = get(&c, "/files/1M.bin").await;
    assert_eq!(r.body_len, 1_000_000, "{:?}", r.error);
    let r = get(&c, "/").await;
    assert_eq!(r.sha256, demo_sha("/index.html"));
    c.wait_pushes(Duration::from_secs(3)).await;
    assert!(c.pushes().iter().all(|p| p.complete));
    c.close().await;
    srv.shutdown().await;
}

/// A server on loopback with `tweak` applied to its options.
async fn start_with(
    tweak: impl FnOnce(&mut ServerOptions),
) -> Result<RunningServer, pushlab::server::ServeError> {
    let mut o = ServerOptions::new(
        "127.0.0.1:0".parse().expect("address"),
        Identity::self_signed().expect("certificate"),
        ServeOptions::default(),
    );
    tweak(&mut o);
    RunningServer::start(o).await
}

/// `--tcp-cc`: the HTTP/2 connections use the TCP congestion control asked
/// for (the connection's trace state reads it back from the kernel), and
/// one the kernel does not offer is refused when the server starts, naming
/// those it does.
#[tokio::test]
async fn tcp_congestion_control_is_set_or_refused() {
    let bad = start_with(|o| o.tcp_cc = Some("no-such-cc".into())).await;
    let e = bad.err().expect("refused").to_string();
    assert!(e.contains("no-such-cc") && e.contains("available: "), "{e}");
    let srv = start_with(|o| o.tcp_cc = Some("reno".into()))
        .await
        .expect("server starts");
    let c = h2(&srv, opts()).await;
    let r = get(&c, "/index.html").await;
    assert_eq!(r.status, 200);
    let states = srv.stats.probes.sample();
    let h2 = states
        .iter()
        .find(|s| s.protocol == "h2")
        .expect("the HTTP/2 connection's state");
    assert_eq!(h2.congestion_control.as_deref(), Some("reno"));
    assert_eq!(h2.ca_state.as_deref(), Some("open"));
    assert!(h2.retrans.is_some() && h2.peer_window.is_some_and(|w| w > 0));
    c.close().await;
    srv.shutdown().await;
}

/// `--tls-max-record`: small TLS records still carry every response
/// byte-exact; a size TLS cannot have is refused when the server starts.
#[tokio::test]
async fn small_tls_records_are_byte_exact_and_bad_sizes_refused() {
    for n in [10, 20_000] {
        let bad = start_with(|o| o.tls_max_record = Some(n)).await;
        let e = bad.err().expect("refused").to_string();
        assert!(e.contains("--tls-max-record"), "{e}");
    }
    let srv = start_with(|o| o.tls_max_record = Some(1400))
        .await
        .expect("server starts");
    let c = h2(&srv, opts()).await;
    for path in ["/index.html", "/img/hero.png", "/js/app.js"] {
        let r = get(&c, path).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.sha256, demo_sha(path), "{path} byte-exact");
    }
    c.close().await;
    srv.shutdown().await;
}
