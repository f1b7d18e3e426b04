//! QUIC transport options against real clients: aioquic (driven datagram by
//! datagram by `interop/quic_checks.py`) for Retry (also on a second port,
//! and refusing a token answered from another address or too late),
//! resumption, 0-RTT (served for GET, 425 for POST, a ticket good for one
//! 0-RTT only), client- and server-initiated key updates, ChaCha20-only,
//! a post-quantum-sized ClientHello, hq-interop with 2000 files on one
//! connection (and its stall timeout and shutdown), the anti-amplification limit before address validation and
//! on a new path; pushlab's own client for hq-interop, resumption, 0-RTT
//! and rebinding (with and without migration).

mod common;

use std::time::Duration;

use common::*;
use pushlab::config::QuicOptions;
use pushlab::config::ServeOptions;
use pushlab::server::{RunningServer, ServerOptions};
use pushlab::site::Site;
use pushlab::tls::Identity;

fn aioquic_ready(test: &str) -> bool {
    require("aioquic (.venv)", venv_python().is_some(), test)
}

fn checks(args: &[String]) -> serde_json::Value {
    venv_json("quic_checks.py", args)
}

async fn start(quic: QuicOptions, site: Option<Site>, identity: Option<Identity>) -> RunningServer {
    let mut serve = ServeOptions {
        quic,
        ..ServeOptions::default()
    };
    if let Some(s) = site {
        serve.site = std::sync::Arc::new(s);
    }
    RunningServer::start(ServerOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        identity.unwrap_or_else(|| Identity::self_signed().unwrap()),
        serve,
    ))
    .await
    .unwrap()
}

fn url(srv: &RunningServer, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", srv.addr.port())
}

async fn run(args: Vec<String>) -> serde_json::Value {
    tokio::task::spawn_blocking(move || checks(&args))
        .await
        .unwrap()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn responses_ok(v: &serde_json::Value, paths: &[&str]) {
    let rs = v["responses"].as_array().unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(rs.len(), paths.len(), "{v:#}");
    for (r, p) in rs.iter().zip(paths) {
        assert_eq!(r["complete"], true, "{p}: {v:#}");
        assert_eq!(r["sha256"], demo_sha(p), "{p} byte-exact");
    }
}

/// Retry: every connection to a `--retry` server, or to its `--retry-port`,
/// is validated with a Retry first; the plain port sends none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_always_and_on_a_second_port() {
    if !aioquic_ready("retry_always_and_on_a_second_port") {
        return;
    }
    let srv = start(
        QuicOptions {
            retry: true,
            ..QuicOptions::default()
        },
        None,
        None,
    )
    .await;
    let v = run(strs(&["--check", "fetch", &url(&srv, "/css/style.css")])).await;
    assert_eq!(v["retries"], 1, "{v:#}");
    responses_ok(&v, &["/css/style.css"]);
    srv.shutdown().await;

    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let srv = start(
        QuicOptions {
            retry_port: Some(port),
            ..QuicOptions::default()
        },
        None,
        None,
    )
    .await;
    let plain = run(strs(&["--check", "fetch", &url(&srv, "/")])).await;
    assert_eq!(plain["retries"], 0, "{plain:#}");
    let retried = run(strs(&[
        "--check",
        "fetch",
        &format!("https://127.0.0.1:{port}/"),
    ]))
    .await;
    assert_eq!(retried["retries"], 1, "{retried:#}");
    responses_ok(&retried, &["/"]);
    assert_eq!(
        srv.stats.retries.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    srv.shutdown().await;
}

/// A Retry token answered from another address, or after it expired, is
/// refused: the connection closes with INVALID_TOKEN (0x0b).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_or_expired_retry_tokens_are_refused() {
    if !aioquic_ready("foreign_or_expired_retry_tokens_are_refused") {
        return;
    }
    let srv = start(
        QuicOptions {
            retry: true,
            retry_token_lifetime: Some(Duration::from_secs(1)),
            ..QuicOptions::default()
        },
        None,
        None,
    )
    .await;
    for extra in [vec!["--move"], vec!["--delay", "2.5"]] {
        let mut args = strs(&["--check", "retry-token"]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(url(&srv, "/"));
        let v = run(args).await;
        assert_eq!(v["handshake"], false, "{extra:?}: {v:#}");
        assert_eq!(v["close_code"], 0x0b, "{extra:?}: {v:#}");
    }
    // The same client, answering promptly from where it asked: accepted.
    let v = run(strs(&["--check", "retry-token", &url(&srv, "/")])).await;
    assert_eq!(v["handshake"], true, "{v:#}");
    srv.shutdown().await;
}

/// Resumption and 0-RTT: a second connection resumes the first's session;
/// with 0-RTT on, its GETs are served from early data; a POST in early data
/// gets 425 Too Early (it could be replayed), the same POST after the
/// handshake gets 405; a ticket is good for one 0-RTT only. The 0-RTT part
/// runs through a loopback relay with a 50 ms round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumption_zero_rtt_and_replay() {
    if !aioquic_ready("resumption_zero_rtt_and_replay") {
        return;
    }
    let srv = start(QuicOptions::default(), None, None).await;
    let v = run(strs(&["--check", "resume", &url(&srv, "/")])).await;
    assert_eq!(v["session_resumed"], true, "{v:#}");
    assert!(
        v["max_early_data"].is_null() || v["max_early_data"] == 0,
        "no 0-RTT unless asked for: {v:#}"
    );
    srv.shutdown().await;

    let srv = start(
        QuicOptions {
            zero_rtt: true,
            ..QuicOptions::default()
        },
        None,
        None,
    )
    .await;
    // Through a relay with a 50 ms round trip: on bare loopback the
    // handshake can complete before the server reads the early requests,
    // and then they are (correctly) not early.
    let relay = delay_relay(srv.addr, Duration::from_millis(25)).await;
    let rurl = |p: &str| format!("https://127.0.0.1:{}{p}", relay.port());
    let paths = ["/", "/css/style.css"];
    let mut args = strs(&["--check", "resume", "--zero-rtt"]);
    args.extend(paths.iter().map(|p| rurl(p)));
    let v = run(args).await;
    assert_eq!(v["early_data_accepted"], true, "{v:#}");
    responses_ok(&v, &paths);
    let early = srv
        .stats
        .early_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(early >= 2, "early requests counted: {early}");

    let v = run(strs(&[
        "--check",
        "resume",
        "--zero-rtt",
        "--method",
        "POST",
        &rurl("/"),
    ]))
    .await;
    assert_eq!(v["early_data_accepted"], true, "{v:#}");
    assert_eq!(v["responses"][0]["status"], 425, "{v:#}");
    let v = run(strs(&["--check", "resume", "--method", "POST", &rurl("/")])).await;
    assert_eq!(
        v["responses"][0]["status"], 405,
        "after the handshake: {v:#}"
    );

    let v = run(strs(&["--check", "replay", &rurl("/")])).await;
    let c = v["connections"].as_array().unwrap();
    assert_eq!(c[0]["early_data_accepted"], true, "{v:#}");
    assert_eq!(c[1]["early_data_accepted"], false, "ticket reused: {v:#}");
    assert!(c.iter().all(|x| x["error"].is_null()), "{v:#}");
    srv.shutdown().await;
}

/// Key updates initiated by the client (aioquic, when the first body byte
/// arrives) and by the server (every 200 packets) during a 10 MB transfer:
/// the bytes arrive intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_updates_both_ways() {
    if !aioquic_ready("key_updates_both_ways") {
        return;
    }
    let srv = start(
        QuicOptions {
            key_update_every: Some(200),
            ..QuicOptions::default()
        },
        None,
        None,
    )
    .await;
    let v = run(strs(&[
        "--check",
        "fetch",
        "--key-update",
        &url(&srv, "/files/10M.bin"),
    ]))
    .await;
    assert_eq!(v["key_updates_requested"], 1, "{v:#}");
    let r = &v["responses"][0];
    assert_eq!(r["complete"], true, "{v:#}");
    assert_eq!(r["length"], 10_000_000);
    let gen = pushlab::site::generated_chunk(10, 0, 10_000_000);
    assert_eq!(r["sha256"], sha256_hex(&gen));
    let server_updates = srv
        .stats
        .key_updates
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(server_updates >= 2, "server key updates: {server_updates}");
    srv.shutdown().await;
}

/// ChaCha20-only: aioquic offering ChaCha20 negotiates it; aioquic offering
/// only AES cannot connect; pushlab's client with --chacha20 works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chacha20_only() {
    if !aioquic_ready("chacha20_only") {
        return;
    }
    let srv = start(
        QuicOptions {
            chacha20_only: true,
            ..QuicOptions::default()
        },
        None,
        None,
    )
    .await;
    let v = run(strs(&["--check", "fetch", "--chacha20", &url(&srv, "/")])).await;
    assert!(
        v["cipher_suite"]
            .as_str()
            .unwrap_or("")
            .contains("CHACHA20"),
        "{v:#}"
    );
    responses_ok(&v, &["/"]);
    let v = run(strs(&[
        "--check",
        "fetch",
        "--aes-only",
        "--timeout",
        "3",
        &url(&srv, "/"),
    ]))
    .await;
    assert_eq!(v["handshake"], false, "an AES-only client connected: {v:#}");
    let c = pushlab::client::h3::Client::connect(
        "127.0.0.1",
        srv.addr.port(),
        pushlab::client::ClientOptions {
            insecure: true,
            chacha20: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r = c
        .read_response(c.send_request("GET", "/", &[]).await.unwrap())
        .await;
    assert_eq!(r.sha256, demo_sha("/"));
    c.close().await;
    srv.shutdown().await;
}

/// A ClientHello of post-quantum size (several Initial packets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_client_hello() {
    if !aioquic_ready("large_client_hello") {
        return;
    }
    let srv = start(QuicOptions::default(), None, None).await;
    let v = run(strs(&[
        "--check",
        "fetch",
        "--large-hello",
        &url(&srv, "/"),
    ]))
    .await;
    responses_ok(&v, &["/"]);
    srv.shutdown().await;
}

/// hq-interop: 2000 small files on one connection with aioquic, and
/// pushlab's own hq-interop client (a missing file is a reset stream).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hq_interop_multiplexing() {
    if !aioquic_ready("hq_interop_multiplexing") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("pushlab-hq-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut shas = Vec::new();
    for i in 0..2000 {
        let data = pushlab::site::generated_chunk(i, 0, 1000 + (i as usize % 700));
        std::fs::write(dir.join(format!("f{i:04}.txt")), &data).unwrap();
        shas.push(sha256_hex(&data));
    }
    let site = Site::load(&dir).unwrap();
    let srv = start(QuicOptions::default(), Some(site), None).await;
    let mut args = strs(&[
        "--check",
        "fetch",
        "--alpn",
        "hq-interop",
        "--timeout",
        "60",
    ]);
    args.extend((0..2000).map(|i| url(&srv, &format!("/f{i:04}.txt"))));
    let v = run(args).await;
    let rs = v["responses"].as_array().unwrap();
    assert_eq!(rs.len(), 2000, "{}", v["error"]);
    for (i, r) in rs.iter().enumerate() {
        assert_eq!(r["complete"], true, "file {i}: {r}");
        assert_eq!(r["sha256"], shas[i], "file {i}");
    }
    let paths = vec!["/f0001.txt".to_string(), "/missing.txt".to_string()];
    let (_, got) = pushlab::client::hq::fetch(
        "127.0.0.1",
        srv.addr.port(),
        &paths,
        pushlab::client::ClientOptions {
            insecure: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(got[0].sha256, shas[1]);
    assert!(got[1].error.is_some(), "missing file not refused");
    srv.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Anti-amplification: before the client's address is validated the
/// server sends at most three times what it received (quinn may complete
/// one datagram past that budget), even with a handshake flight far larger
/// (a certificate with 250 names).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amplification_limit_before_validation() {
    if !aioquic_ready("amplification_limit_before_validation") {
        return;
    }
    let mut names: Vec<String> = (0..250)
        .map(|i| format!("name-{i:04}.pushlab-amplification-test.example"))
        .collect();
    names.push("localhost".into());
    let id = Identity::self_signed_for(names).unwrap();
    assert!(
        id.certs[0].len() > 8000,
        "certificate {} bytes",
        id.certs[0].len()
    );
    let srv = start(QuicOptions::default(), None, Some(id)).await;
    let v = run(strs(&["--check", "amplification", &url(&srv, "/")])).await;
    let (sent, got) = (
        v["client_sent"].as_u64().unwrap(),
        v["server_sent"].as_u64().unwrap(),
    );
    assert!(sent >= 1200, "{v:#}");
    assert!(got > 0, "the server answered: {v:#}");
    assert!(got <= 3 * sent + 1252, "{got} bytes for {sent}: {v:#}");
    // The full handshake still works for a client that answers.
    let v = run(strs(&["--check", "fetch", &url(&srv, "/")])).await;
    responses_ok(&v, &["/"]);
    srv.shutdown().await;
}

/// Migration: pushlab's client moves to a new port mid-transfer and the
/// transfer completes; with --no-migration it does not. On a new path the
/// server sends a bounded amount before the path is validated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebinding_and_unvalidated_paths() {
    let srv = start(QuicOptions::default(), None, None).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args([
            "get",
            "-k",
            "--rebind",
            "--mid",
            "30ms",
            "--recv-window",
            "256KiB",
            "--json",
        ])
        .arg(url(&srv, "/files/10M.bin"))
        .output()
        .unwrap();
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(rep["responses"][0]["status"], 200, "{rep:#}");
    assert_eq!(rep["responses"][0]["body_len"], 10_000_000, "{rep:#}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("moved to local"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv.shutdown().await;

    let srv = start(
        QuicOptions {
            migration: false,
            ..QuicOptions::default()
        },
        None,
        None,
    )
    .await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args([
            "get",
            "-k",
            "--rebind",
            "--mid",
            "30ms",
            "--recv-window",
            "256KiB",
            "--timeout",
            "4s",
        ])
        .arg(url(&srv, "/files/10M.bin"))
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the transfer survived a refused migration"
    );
    srv.shutdown().await;

    if !aioquic_ready("rebinding_and_unvalidated_paths") {
        return;
    }
    let srv = start(QuicOptions::default(), None, None).await;
    let v = run(strs(&["--check", "migrate", &url(&srv, "/")])).await;
    assert_eq!(v["transfer_ok"], true, "{v:#}");
    let (sent, got) = (
        v["client_sent_on_new_path"].as_u64().unwrap(),
        v["server_sent_on_new_path"].as_u64().unwrap(),
    );
    eprintln!("new path: client sent {sent} B, server sent {got} B");
    assert!(got > 0, "the server answered on the new path: {v:#}");
    // quinn keeps to three times what arrived on the path except that, with
    // any budget left, it completes one datagram: its PATH_CHALLENGE padded
    // to 1200 bytes. RFC 9000 section 8.2.1 says not to pad past the limit;
    // this is quinn's known behaviour (proto-notes/quic-transport.md), and
    // the bound below is the one quinn actually keeps: exactly one datagram.
    assert!(got <= 3 * sent + 1252, "{got} bytes for {sent}: {v:#}");
    assert!(
        v["server_datagrams_on_new_path"].as_u64().unwrap() <= 1,
        "more than the one padded PATH_CHALLENGE before validation: {v:#}"
    );
    srv.shutdown().await;
}

/// A UDP relay on loopback that holds every datagram for `one_way` in each
/// direction, in order (a reordered 0-RTT packet that arrives before its
/// Initial is dropped by the server): a round trip for tests that need one
/// but not root. One client at a time (replies go to the last sender).
async fn delay_relay(server: std::net::SocketAddr, one_way: Duration) -> std::net::SocketAddr {
    use std::sync::Arc;
    use tokio::net::UdpSocket;
    use tokio::sync::mpsc;
    type Held = (tokio::time::Instant, Vec<u8>, Option<std::net::SocketAddr>);
    // One sender per direction sends in arrival order, each at its time.
    fn sender(sock: Arc<UdpSocket>) -> mpsc::UnboundedSender<Held> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Held>();
        tokio::spawn(async move {
            while let Some((at, data, to)) = rx.recv().await {
                tokio::time::sleep_until(at).await;
                let _ = match to {
                    Some(to) => sock.send_to(&data, to).await,
                    None => sock.send(&data).await,
                };
            }
        });
        tx
    }
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    back.connect(server).await.unwrap();
    let addr = front.local_addr().unwrap();
    let peer = Arc::new(std::sync::Mutex::new(None::<std::net::SocketAddr>));
    let (up, down) = (sender(back.clone()), sender(front.clone()));
    let (f, p) = (front, peer.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = f.recv_from(&mut buf).await {
            *p.lock().unwrap() = Some(from);
            let at = tokio::time::Instant::now() + one_way;
            let _ = up.send((at, buf[..n].to_vec(), None));
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = back.recv(&mut buf).await {
            let to = *peer.lock().unwrap();
            if to.is_some() {
                let at = tokio::time::Instant::now() + one_way;
                let _ = down.send((at, buf[..n].to_vec(), to));
            }
        }
    });
    addr
}

/// pushlab's own client: resumption with 0-RTT, its GETs served from early
/// data. Through a relay with a 50 ms round trip, so that the client's
/// Finished reaches the server well after its 0-RTT requests (on bare
/// loopback the handshake can complete before the server reads them, and
/// the requests are then, correctly, not early).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_client_zero_rtt() {
    let srv = start(
        QuicOptions {
            zero_rtt: true,
            ..QuicOptions::default()
        },
        None,
        None,
    )
    .await;
    let relay = delay_relay(srv.addr, Duration::from_millis(25)).await;
    let base = format!("https://127.0.0.1:{}", relay.port());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["get", "-k", "--0rtt", "--json"])
        .arg(format!("{base}/"))
        .arg(format!("{base}/css/style.css"))
        .output()
        .await
        .unwrap();
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(rep["zero_rtt_accepted"], true, "{rep:#}");
    for r in rep["responses"].as_array().unwrap() {
        assert_eq!(r["status"], 200, "{r}");
    }
    let early = srv
        .stats
        .early_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(early >= 2, "early requests counted: {early}: {rep:#}");
    srv.shutdown().await;
}

/// A 5 MB transfer through an emulated link with 2% random loss (the
/// interop runner's transferloss: 15 ms, 10 Mbit/s, 25 packets) arrives
/// byte-exact, with aioquic over hq-interop and with pushlab's own HTTP/3
/// client. Needs root.
#[test]
fn five_megabytes_under_two_percent_loss() {
    if !require_root("five_megabytes_under_two_percent_loss")
        || !aioquic_ready("five_megabytes_under_two_percent_loss")
    {
        return;
    }
    use pushlab::netem::{Emulator, EmulatorOptions, Loss};
    let mut link = pushlab::netem::profile("interop").unwrap().down;
    link.loss = Loss::Bernoulli(0.02);
    let emu = Emulator::start(EmulatorOptions {
        up: link,
        down: link,
        seed: 7,
        ..EmulatorOptions::default()
    })
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server_addr = emu.server_addr;
    let srv = rt.block_on(async move {
        RunningServer::start(ServerOptions::new(
            std::net::SocketAddr::from((server_addr, 0)),
            Identity::self_signed().unwrap(),
            ServeOptions::default(),
        ))
        .await
        .unwrap()
    });
    let port = srv.addr.port();
    let want = sha256_hex(&pushlab::site::generated_chunk(
        pushlab::site::BYTES_SEED,
        0,
        5_000_000,
    ));
    let py = venv_python().unwrap();
    let out = emu
        .client_command(py.to_str().unwrap(), false)
        .arg(root().join("interop/quic_checks.py"))
        .args([
            "--check",
            "fetch",
            "--alpn",
            "hq-interop",
            "--timeout",
            "120",
        ])
        .arg(format!("https://{server_addr}:{port}/bytes/5000000"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["responses"][0]["complete"], true, "{v:#}");
    assert_eq!(v["responses"][0]["sha256"], want, "aioquic byte-exact");
    let len = emu
        .in_client(move || {
            block_on_here(async move {
                let c = pushlab::client::h3::Client::connect(
                    &server_addr.to_string(),
                    port,
                    pushlab::client::ClientOptions {
                        insecure: true,
                        timeout: Duration::from_secs(120),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                let r = c
                    .read_response(c.send_request("GET", "/bytes/5000000", &[]).await.unwrap())
                    .await;
                c.close().await;
                (r.body_len, r.sha256)
            })
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(len.0, 5_000_000);
    assert_eq!(len.1, want, "pushlab's client byte-exact");
    let c = emu.stop();
    assert!(
        c.down.random_drops > 50,
        "the link really lost packets: {:?}",
        c.down
    );
    rt.block_on(srv.shutdown());
}

/// hq-interop: a request line that never ends is refused (the stream reset
/// with 0x10b) once the stall timeout passes, and the connection goes on
/// serving; at shutdown the server takes no new stream and closes an idle
/// hq-interop connection with code 0 instead of leaving it open.
#[tokio::test]
async fn hq_interop_stall_timeout_and_shutdown() {
    let srv = server(ServeOptions {
        stall_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    })
    .await;
    let mut o = opts();
    o.alpn = vec![b"hq-interop".to_vec()];
    let cfg = pushlab::client::h3::session(&o).unwrap().0;
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(cfg);
    let conn = ep.connect(srv.addr, "localhost").unwrap().await.unwrap();

    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(b"GET /css/st").await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(20), recv.read_to_end(1 << 20))
        .await
        .expect("a request line that never ends got no answer");
    match r {
        Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code))) => {
            assert_eq!(code.into_inner(), 0x10b)
        }
        other => panic!("expected a reset stream, got {other:?}"),
    }

    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(b"GET /css/style.css\r\n").await.unwrap();
    send.finish().unwrap();
    let body = recv.read_to_end(1 << 20).await.unwrap();
    assert_eq!(
        body.len() as u64,
        Site::demo().get("/css/style.css").unwrap().len
    );

    let stopping = tokio::spawn(srv.shutdown());
    let closed = tokio::time::timeout(Duration::from_secs(20), conn.closed())
        .await
        .expect("the server left the hq-interop connection open at shutdown");
    match closed {
        quinn::ConnectionError::ApplicationClosed(c) => assert_eq!(c.error_code.into_inner(), 0),
        other => panic!("expected an application close, got {other:?}"),
    }
    stopping.await.unwrap();
}
