//! Interop with aioquic's HTTP/3 client (a different QUIC and HTTP/3 stack,
//! driven by `interop/aioquic_client.py`): the demo page and a large file
//! arrive byte-exact, with several requests on one connection.

mod common;

use common::*;
use pushlab::config::ServeOptions;
use pushlab::site::{generated_chunk, Site};

/// Runs the aioquic client and returns its JSON report.
fn aioquic(args: &[String]) -> serde_json::Value {
    let mut all: Vec<String> = ["--insecure", "--json", "--timeout", "20"]
        .map(String::from)
        .to_vec();
    all.extend_from_slice(args);
    venv_json("aioquic_client.py", &all)
}

/// The demo page, its stylesheet and a 10 MB file over one aioquic
/// connection, byte-exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioquic_fetches_demo_and_large_file() {
    if !require(
        "aioquic (.venv)",
        venv_python().is_some(),
        "aioquic_fetches_demo_and_large_file",
    ) {
        return;
    }
    let srv = server(ServeOptions::default()).await;
    let base = format!("https://127.0.0.1:{}", srv.addr.port());
    let urls: Vec<String> = ["/", "/css/style.css", "/files/10M.bin"]
        .iter()
        .map(|p| format!("{base}{p}"))
        .collect();
    let report = tokio::task::spawn_blocking(move || aioquic(&urls))
        .await
        .unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
    let site = Site::demo();
    let reqs = report["requests"].as_array().unwrap();
    let expect = |path: &str| -> String {
        match path {
            "/files/10M.bin" => sha256_hex(&generated_chunk(10, 0, 10_000_000)),
            p => {
                let r = site.get(if p == "/" { "/index.html" } else { p }).unwrap();
                match &r.body {
                    pushlab::site::Body::Static(b) => sha256_hex(b),
                    _ => unreachable!(),
                }
            }
        }
    };
    for r in reqs {
        let path = r["path"].as_str().unwrap();
        assert_eq!(r["status"], 200, "{path}");
        assert_eq!(r["complete"], true, "{path}");
        assert_eq!(
            r["sha256"].as_str().unwrap(),
            expect(path),
            "{path} byte-exact"
        );
    }
    srv.shutdown().await;
}

/// aioquic (MAX_PUSH_ID 100) receives every promised push with the right
/// headers and byte-exact bodies; cancelling the hero image's push from
/// aioquic (CANCEL_PUSH plus STOP_SENDING) stops it and the server counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioquic_receives_pushes_and_cancels_one() {
    if !require(
        "aioquic (.venv)",
        venv_python().is_some(),
        "aioquic_receives_pushes_and_cancels_one",
    ) {
        return;
    }
    let srv = server(with_policy("push-all")).await;
    let url = format!("https://127.0.0.1:{}/", srv.addr.port());
    let args = vec![
        "--max-push-id".to_string(),
        "100".into(),
        "--cancel-push".into(),
        "hero".into(),
        url,
    ];
    let report = tokio::task::spawn_blocking(move || aioquic(&args))
        .await
        .unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
    let order = Site::demo().graph().evaluation_order("/index.html");
    let pushes = report["pushes"].as_array().unwrap();
    assert_eq!(pushes.len(), order.len(), "{report:#}");
    for p in pushes {
        let path = p["path"].as_str().unwrap();
        if path.contains("hero") {
            assert_eq!(p["cancelled"], true, "{p:#}");
            continue;
        }
        assert_eq!(p["status"], 200, "{path}");
        assert_eq!(p["complete"], true, "{path}");
        assert_eq!(
            p["sha256"].as_str().unwrap(),
            demo_sha(path),
            "{path} byte-exact"
        );
        let ct = p["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == "content-type")
            .unwrap();
        assert_eq!(
            ct[1].as_str().unwrap(),
            Site::demo().get(path).unwrap().content_type
        );
    }
    let stats = srv.stats.clone();
    srv.shutdown().await;
    let t = *stats.pushes.lock();
    assert!(
        t.cancelled_by_client >= 1,
        "server counted the cancellation: {t:?}"
    );
}

/// aioquic sees the 103 before the 200 (by arrival order), with the hints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioquic_sees_early_hints_first() {
    if !require(
        "aioquic (.venv)",
        venv_python().is_some(),
        "aioquic_sees_early_hints_first",
    ) {
        return;
    }
    let srv = server(with_policy("preload")).await;
    let url = format!("https://127.0.0.1:{}/slow.html", srv.addr.port());
    let report = tokio::task::spawn_blocking(move || aioquic(&[url]))
        .await
        .unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
    let r = &report["requests"][0];
    let info = r["informational"].as_array().unwrap();
    assert_eq!(info.len(), 1, "{r:#}");
    assert_eq!(info[0]["status"], 103);
    assert!(info[0]["seq"].as_u64().unwrap() < r["headers_seq"].as_u64().unwrap());
    assert!(info[0]["at_ms"].as_f64().unwrap() < r["headers_at_ms"].as_f64().unwrap());
    assert_eq!(info[0]["link"].as_array().unwrap().len(), 5);
    srv.shutdown().await;
}
