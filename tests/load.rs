//! `pushlab bench load --quick`: many QUIC connections with concurrent
//! streams, h2load against pushlab's HTTP/2 side and nginx, idle
//! connections and slow readers that read nothing of a 100 MB response.
//! Checks that every figure is there, no request or connection failed, no
//! server panicked, the slow readers' send queues stayed within
//! `--stream-buffer` (plus the one write that crossed it) and their memory
//! was freed when they closed. The figures themselves (requests per second,
//! memory per connection) are printed, not asserted: they belong to the
//! full-size run in the README.

mod common;

use std::process::Command;

use serde_json::Value;

#[test]
fn quick_load_run_is_complete_and_lossless() {
    let json = std::env::temp_dir().join(format!("pushlab-load-{}.json", std::process::id()));
    let logs = std::env::temp_dir().join(format!("pushlab-load-logs-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["bench", "load", "--quick", "--json"])
        .arg(&json)
        .arg("--log-dir")
        .arg(&logs)
        .output()
        .expect("bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    let server_logs: String = std::fs::read_dir(&logs)
        .map(|d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&logs);
    for text in [&*stdout, &*stderr, &server_logs] {
        assert!(
            !text.contains("panicked"),
            "{stdout}\n{stderr}\n{server_logs}"
        );
    }
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let rows: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("JSON");
    let _ = std::fs::remove_file(&json);
    let rows = rows.as_array().expect("rows");
    let find = |proto: &str, figure: &str, server: &str| -> &Value {
        rows.iter()
            .find(|r| {
                r["test"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(proto) && t.contains(figure))
                    && r["scheduler"]
                        .as_str()
                        .is_some_and(|s| s.starts_with(server))
            })
            .unwrap_or_else(|| panic!("no row {proto} {figure} for {server} in {rows:#?}"))
    };
    for (proto, server) in [
        ("QUIC", "pushlab"),
        ("HTTP/2", "pushlab"),
        ("HTTP/2", "nginx"),
    ] {
        let rps = find(proto, "requests per second", server);
        let note = rps["note"].as_str().expect("note");
        assert!(note.starts_with("0 of "), "{proto} {server}: {note}");
        assert!(rps["value"].as_f64().expect("value") > 0.0);
        for figure in ["p99 latency", "peak RSS", "RSS per idle connection"] {
            let r = find(proto, figure, server);
            let v = r["value"].as_f64().expect("value");
            assert!(v.is_finite() && v >= 0.0, "{proto} {figure} {server}: {r}");
            if figure == "RSS per idle connection" {
                let note = r["note"].as_str().expect("note");
                assert!(note.contains("; 0 failed to open"), "{note}");
                assert!(!note.contains("still open"), "{note}");
            }
        }
    }
    for proto in ["QUIC", "HTTP/2"] {
        let slow = find(proto, "slow readers", "pushlab");
        let note = slow["note"].as_str().expect("note");
        assert!(note.contains("one write: held)"), "{proto}: {note}");
        assert!(note.contains("(freed)"), "{proto}: {note}");
        assert!(note.ends_with("; 0 failed"), "{proto}: {note}");
    }
}
