//! HAR 1.2 export: `pushlab load --har` and `pushlab compare --har` write
//! files that an independent reader (haralyzer, from PyPI, in the test
//! venv) opens, and whose entries agree with pushlab's own records (`load
//! --json`, compare's runs.json): one entry per resource and per unused
//! push, the same sizes and times, and pushlab's facts (pushed, hinted,
//! from the cache, wasted) in the `_` fields. Covers HTTP/2 push, HTTP/3
//! 103 hints and a warm cache. The compare half needs root.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use pushlab::bench::ServerProcess;
use serde_json::Value;

/// haralyzer's reading of HAR files (interop/har_check.py).
fn haralyzer(files: &[PathBuf]) -> Vec<Value> {
    let args: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let v = venv_json("har_check.py", &args);
    v["files"].as_array().expect("files").clone()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.01
}

/// One HAR (as haralyzer read it) against the page load it came from
/// (PageLoad as JSON: load --json, or a run's `load` in runs.json).
fn check(har: &Value, load: &Value) {
    let origin = {
        let url = load["url"].as_str().expect("url");
        let rest = url.trim_start_matches("https://");
        format!("https://{}", rest.split('/').next().expect("host"))
    };
    let handshake = load["handshake_ms"].as_f64().expect("handshake");
    let entries = har["entries"].as_array().expect("entries");
    let resources = load["resources"].as_array().expect("resources");
    let unused: Vec<&Value> = load["pushes"]
        .as_array()
        .expect("pushes")
        .iter()
        .filter(|p| p["claimed"] == false)
        .collect();
    assert_eq!(
        entries.len(),
        resources.len() + unused.len(),
        "one entry per resource and per unused push:\n{har:#}\n{load:#}"
    );
    assert_eq!(har["pages"][0]["entries"], entries.len());
    assert_eq!(har["creator"]["name"], "pushlab");
    let on_load = har["pages"][0]["on_load"].as_f64().expect("onLoad");
    let load_ms = load["load_ms"].as_f64().expect("loaded");
    assert!(
        close(on_load, load_ms + handshake),
        "{on_load} vs {load_ms}"
    );
    for (i, r) in resources.iter().enumerate() {
        let url = format!("{origin}{}", r["path"].as_str().expect("path"));
        let e = entries
            .iter()
            .find(|e| e["url"] == url.as_str() && e["wasted"] == false)
            .unwrap_or_else(|| panic!("no entry for {url}:\n{har:#}"));
        let source = r["source"].as_str().expect("source");
        assert_eq!(e["pushed"], source == "Pushed", "{url}");
        assert_eq!(e["hinted"], r["hinted"], "{url}");
        assert_eq!(e["priority"], r["priority"], "{url}");
        assert_eq!(e["status"], r["status"], "{url}");
        assert_eq!(e["source"], source.to_lowercase(), "{url}");
        let http = if load["protocol"] == "H3" {
            "h3"
        } else {
            "http/2.0"
        };
        assert_eq!(e["http_version"], http);
        if source == "Cached" {
            assert_eq!(e["from_cache"], "disk", "{url}");
            assert_eq!(e["body_size"], 0, "{url}");
            continue;
        }
        assert_eq!(e["body_size"], r["bytes"], "{url}");
        let (req, done) = (r["requested_ms"].as_f64(), r["done_ms"].as_f64());
        let (req, done) = (req.expect("requested"), done.expect("done"));
        let time = e["time"].as_f64().expect("time");
        let want = done - req + if i == 0 { handshake } else { 0.0 };
        assert!(close(time, want), "{url}: time {time} vs {want}");
        if i == 0 {
            assert!(close(
                e["timings"]["connect"].as_f64().expect("connect"),
                handshake
            ));
        }
    }
    for p in unused {
        let url = format!("{origin}{}", p["path"].as_str().expect("path"));
        assert!(
            entries
                .iter()
                .any(|e| e["url"] == url.as_str() && e["wasted"] == true && e["pushed"] == true),
            "no wasted-push entry for {url}"
        );
    }
}

fn ready(test: &str) -> bool {
    require(
        "the test venv (.venv, with haralyzer)",
        venv_python().is_some(),
        test,
    )
}

/// `pushlab load --har` over HTTP/3 with 103 hints, HTTP/2 with push, and
/// HTTP/3 with push: haralyzer reads every file and it matches `--json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_har_opens_in_haralyzer() {
    if !ready("load_har_opens_in_haralyzer") {
        return;
    }
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_pushlab"));
    let dir = std::env::temp_dir().join(format!("pushlab-har-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (policy, h2, want) in [
        ("preload", false, "hinted"),
        ("push-all", true, "pushed"),
        ("push-all", false, "pushed"),
    ] {
        let args = vec!["--push-policy".to_string(), policy.to_string()];
        let log = dir.join(format!("{policy}-{h2}.log"));
        let srv = ServerProcess::spawn(&exe, &args, log, None)
            .await
            .expect("server starts");
        let file = dir.join(format!("{policy}-{h2}.har"));
        let mut cmd = Command::new(&exe);
        cmd.args(["load", "-k", "--push", "--json", "--har"])
            .arg(&file)
            .arg(format!("https://127.0.0.1:{}/index.html", srv.addr.port()));
        if h2 {
            cmd.arg("--http2");
        }
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("joined")
            .expect("load runs");
        srv.stop().await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let load: Value = serde_json::from_str(&stdout).expect("load --json");
        let har = haralyzer(std::slice::from_ref(&file));
        check(&har[0], &load);
        let n = har[0]["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e[want] == true)
            .count();
        assert!(n > 0, "{policy} h2={h2}: no {want} entry:\n{:#}", har[0]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `pushlab compare --har` writes one HAR per run (under the emulated LTE
/// link), each matching its run in runs.json, cold and warm.
#[test]
fn compare_har_per_run_matches_runs_json() {
    let test = "compare_har_per_run_matches_runs_json";
    if !require_root(test) || !ready(test) {
        return;
    }
    let out = std::env::temp_dir().join(format!("pushlab-compare-har-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["compare", "--quick", "--har", "--runs", "2"])
        .args(["--only", "h2 /slow.html push-all lte cold"])
        .args(["--only", "h3 /slow.html preload lte warm"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("compare runs");
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("runs.json")).expect("runs.json"))
            .expect("JSON");
    let files: Vec<PathBuf> = std::fs::read_dir(out.join("har"))
        .expect("har/")
        .map(|e| e.expect("entry").path())
        .collect();
    let runs = json["runs"].as_array().expect("runs");
    assert_eq!(files.len(), 4);
    assert_eq!(runs.len(), 4);
    let hars = haralyzer(&files);
    let title = |r: &Value| {
        let c = &json["configs"][r["config"].as_u64().expect("config") as usize];
        let proto = if c["protocol"] == "H3" { "h3" } else { "h2" };
        format!(
            "{proto} {} {} {} {}, run {}",
            c["page"].as_str().expect("page"),
            c["variant"].as_str().expect("variant"),
            c["profile"].as_str().expect("profile"),
            c["cache"].as_str().expect("cache"),
            r["run"]
        )
    };
    let mut cached = 0;
    for r in runs {
        let t = title(r);
        let har = hars
            .iter()
            .find(|h| h["pages"][0]["title"] == t.as_str())
            .unwrap_or_else(|| panic!("no HAR titled {t:?}"));
        check(har, &r["load"]);
        cached += har["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["from_cache"] == "disk")
            .count();
    }
    assert!(cached > 0, "the warm runs served something from the cache");
    assert!(Path::new(&out.join("index.html")).exists());
    let _ = std::fs::remove_dir_all(&out);
}
