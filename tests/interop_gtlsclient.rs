//! Interop with ngtcp2's gtlsclient (Debian `ngtcp2-client`: ngtcp2 +
//! nghttp3 + GnuTLS, a third QUIC stack): the demo page and a large file
//! are saved byte-exact.

mod common;

use std::process::Command;

use common::*;
use pushlab::config::ServeOptions;
use pushlab::site::generated_chunk;

/// gtlsclient downloads `/` and `/files/10M.bin` on one connection; the
/// saved files match what the server holds. (gtlsclient's exit status says
/// nothing, so the saved files and the printed status lines are checked.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtlsclient_downloads_byte_exact() {
    if !require(
        "gtlsclient (ngtcp2-client)",
        have("gtlsclient"),
        "gtlsclient_downloads_byte_exact",
    ) {
        return;
    }
    let srv = server(ServeOptions::default()).await;
    let port = srv.addr.port();
    let dir = std::env::temp_dir().join(format!("pushlab-gtls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d2 = dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args([
                "30",
                "gtlsclient",
                "--exit-on-all-streams-close",
                "--no-quic-dump",
                "--no-http-dump",
            ])
            .arg(format!("--download={}", d2.display()))
            .args(["127.0.0.1", &port.to_string()])
            .arg(format!("https://127.0.0.1:{port}/"))
            .arg(format!("https://127.0.0.1:{port}/files/10M.bin"))
            .output()
            .expect("gtlsclient runs")
    })
    .await
    .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let statuses = log.lines().filter(|l| l.contains("[:status: 200]")).count();
    assert_eq!(statuses, 2, "two 200 responses:\n{log}");
    let page = std::fs::read(dir.join("index.html")).expect("index.html saved");
    let demo = pushlab::site::Site::demo();
    let want = demo.get("/index.html").unwrap();
    assert_eq!(page.len() as u64, want.len);
    let big = std::fs::read(dir.join("10M.bin")).expect("10M.bin saved");
    assert_eq!(big.len(), 10_000_000);
    assert!(
        big == generated_chunk(10, 0, 10_000_000),
        "10M.bin byte-exact"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    srv.shutdown().await;
}

/// gtlsclient sends no MAX_PUSH_ID: under `push-all` it gets the page with
/// no pushes; under `preload` it prints the 103 (with its Link headers)
/// before the 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtlsclient_without_push_support_and_with_hints() {
    if !require(
        "gtlsclient (ngtcp2-client)",
        have("gtlsclient"),
        "gtlsclient_without_push_support_and_with_hints",
    ) {
        return;
    }
    for policy in ["push-all", "preload"] {
        let srv = server(ServeOptions {
            policy: pushlab::push::policy_by_name(policy).unwrap(),
            ..ServeOptions::default()
        })
        .await;
        let port = srv.addr.port();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("timeout")
                .args([
                    "30",
                    "gtlsclient",
                    "--exit-on-all-streams-close",
                    "--no-quic-dump",
                    "--no-http-dump",
                ])
                .args(["127.0.0.1", &port.to_string()])
                .arg(format!("https://127.0.0.1:{port}/slow.html"))
                .output()
                .expect("gtlsclient runs")
        })
        .await
        .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.starts_with("http: stream 0x0 ["))
            .collect();
        let pos = |needle: &str| lines.iter().position(|l| l.contains(needle));
        let ok = pos("[:status: 200]").unwrap_or_else(|| panic!("{policy}: no 200:\n{log}"));
        match policy {
            "preload" => {
                let hint = pos("[:status: 103]").unwrap_or_else(|| panic!("no 103:\n{log}"));
                assert!(hint < ok, "103 before 200");
                assert!(
                    lines[hint..ok]
                        .iter()
                        .filter(|l| l.contains("[link: "))
                        .count()
                        == 5,
                    "{log}"
                );
            }
            _ => assert!(pos("[:status: 103]").is_none()),
        }
        let stats = srv.stats.clone();
        srv.shutdown().await;
        assert_eq!(
            stats.pushes.lock().promised,
            0,
            "no pushes without MAX_PUSH_ID"
        );
    }
}
