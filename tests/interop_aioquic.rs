//! Interop with aioquic's HTTP/3 client (a different QUIC and HTTP/3 stack,
//! driven by `interop/aioquic_client.py`): the demo page and a large file
//! arrive byte-exact, with several requests on one connection.

mod common;

use std::process::Command;

use common::*;
use pushlab::http3::server::H3Options;
use pushlab::site::{generated_chunk, Site};

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs the aioquic client and returns its JSON report.
pub fn aioquic(args: &[String]) -> serde_json::Value {
    let py = venv_python().expect("venv checked by the caller");
    let out = Command::new(py)
        .arg(root().join("interop/aioquic_client.py"))
        .args(["--insecure", "--json", "--timeout", "20"])
        .args(args)
        .output()
        .expect("aioquic client runs");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "aioquic client output is not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
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
    let srv = server(H3Options::default()).await;
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
