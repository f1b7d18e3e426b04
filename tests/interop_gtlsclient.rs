//! Interop with ngtcp2's gtlsclient (Debian `ngtcp2-client`: ngtcp2 +
//! nghttp3 + GnuTLS, a third QUIC stack): the demo page and a large file
//! are saved byte-exact.

mod common;

use std::process::Command;

use common::*;
use pushlab::http3::server::H3Options;
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
    let srv = server(H3Options::default()).await;
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
