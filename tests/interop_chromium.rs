//! Interop with Chromium (Debian's headless Chromium, driven by
//! playwright-core through `interop/chromium_load.js`): the demo page loads
//! over HTTP/3 (`nextHopProtocol` is `h3` for the document and every
//! subresource), its script-loaded script runs, and the server's request log
//! shows the `priority` headers Chromium sent.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use pushlab::bench::ServerProcess;

fn chromium_ready(test: &str) -> bool {
    require(
        "chromium",
        std::path::Path::new("/usr/bin/chromium").exists(),
        test,
    ) && require("node", have("node"), test)
        && require(
            "playwright-core (interop/node_modules)",
            root().join("interop/node_modules/playwright-core").exists(),
            test,
        )
}

/// Loads a URL in Chromium; returns the JSON report.
pub fn load(url: &str, spki: &str, quic: Option<&str>) -> serde_json::Value {
    let mut cmd = Command::new("node");
    cmd.arg(root().join("interop/chromium_load.js")).args([
        "--url",
        url,
        "--spki",
        spki,
        "--timeout-ms",
        "30000",
    ]);
    if let Some(q) = quic {
        cmd.args(["--quic", q]);
    }
    let out = cmd.output().expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "chromium_load output is not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Chromium loads the demo page over HTTP/3 and the server logs its
/// priority signals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_loads_demo_over_h3() {
    if !chromium_ready("chromium_loads_demo_over_h3") {
        return;
    }
    let log = std::env::temp_dir().join(format!("pushlab-chromium-{}.log", std::process::id()));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_pushlab"));
    let srv = ServerProcess::spawn_logging(&exe, &[], log.clone(), None, "info")
        .await
        .expect("server starts");
    let origin = format!("127.0.0.1:{}", srv.addr.port());
    let url = format!("https://{origin}/");
    let spki = srv.spki.clone();
    let report = tokio::task::spawn_blocking(move || load(&url, &spki, Some(&origin)))
        .await
        .unwrap();
    srv.stop().await;
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["navigation"]["nextHopProtocol"], "h3", "{report:#}");
    let resources = report["resources"].as_array().unwrap();
    assert!(
        resources.len() >= 10,
        "subresources loaded: {}",
        resources.len()
    );
    for r in resources {
        assert_eq!(r["nextHopProtocol"], "h3", "{}", r["name"]);
    }
    assert_eq!(report["lazyReady"], true, "app.js loaded lazy.js");
    let text = std::fs::read_to_string(&log).unwrap();
    let line_for = |path: &str| {
        text.lines()
            .find(|l| l.contains("pushlab::request") && l.contains(&format!("path={path} ")))
            .unwrap_or_else(|| panic!("no log line for {path}:\n{text}"))
            .to_string()
    };
    // Chromium asks for the stylesheet at the highest urgency, the document
    // at u=0 too, and images as incremental.
    assert!(
        line_for("/css/style.css").contains("priority_header=\"u=0\""),
        "{}",
        line_for("/css/style.css")
    );
    assert!(
        line_for("/img/hero.png").contains("incremental=true"),
        "{}",
        line_for("/img/hero.png")
    );
    let _ = std::fs::remove_file(&log);
}

/// With `--push-policy preload`, Chromium fetches the hinted resources from
/// the 103 (initiator type `early-hints`), each exactly once: the server log
/// shows one request per resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_uses_early_hints_once_each() {
    if !chromium_ready("chromium_uses_early_hints_once_each") {
        return;
    }
    let log =
        std::env::temp_dir().join(format!("pushlab-chromium-hints-{}.log", std::process::id()));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_pushlab"));
    let args = vec!["--push-policy".to_string(), "preload".into()];
    let srv = ServerProcess::spawn_logging(&exe, &args, log.clone(), None, "info")
        .await
        .expect("server starts");
    let origin = format!("127.0.0.1:{}", srv.addr.port());
    let url = format!("https://{origin}/slow.html");
    let spki = srv.spki.clone();
    let report = tokio::task::spawn_blocking(move || load(&url, &spki, Some(&origin)))
        .await
        .unwrap();
    srv.stop().await;
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(
        report["earlyHints"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    let hinted = [
        "/css/style.css",
        "/css/theme.css",
        "/fonts/body.woff2",
        "/js/app.js",
        "/js/lazy.js",
    ];
    let resources = report["resources"].as_array().unwrap();
    for h in hinted {
        let r = resources
            .iter()
            .find(|r| r["name"].as_str().unwrap().ends_with(h))
            .unwrap_or_else(|| panic!("{h} loaded: {report:#}"));
        assert_eq!(r["initiatorType"], "early-hints", "{h}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    for h in hinted {
        let n = text
            .lines()
            .filter(|l| l.contains("pushlab::request") && l.contains(&format!("path={h} ")))
            .count();
        assert_eq!(n, 1, "{h} requested once");
    }
    let _ = std::fs::remove_file(&log);
}
