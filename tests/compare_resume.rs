//! A comparison killed halfway (SIGKILL, as a lost job or an OOM kill
//! would) resumes with `--resume` from the journal in its output
//! directory: the runs finished before the kill are kept as they were (not
//! run again), the rest run, and runs.json holds every (configuration,
//! run) pair exactly once. A resume of another matrix is refused. Needs
//! root (the emulated link).

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const MATRIX: [&str; 8] = [
    "compare",
    "--quick",
    "--runs",
    "2",
    "--only",
    "none lte cold",
    "--only",
    "push-all lte cold",
];

/// The finished runs in the journal: (config, run) -> load_ms.
fn journal(dir: &std::path::Path) -> Vec<((u64, u64), Value)> {
    let text = std::fs::read_to_string(dir.join("runs.journal.jsonl")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            let r = &v["run"];
            let key = (
                r["config"].as_u64().unwrap_or(99),
                r["run"].as_u64().unwrap_or(99),
            );
            (key, r["load"]["load_ms"].clone())
        })
        .collect()
}

#[test]
fn killed_compare_resumes_without_loss_or_repeat() {
    if !require_root("killed_compare_resumes_without_loss_or_repeat") {
        return;
    }
    let out = std::env::temp_dir().join(format!("pushlab-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(MATRIX)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("compare starts");
    // 4 configurations x 2 runs; kill once 3 are done.
    let deadline = Instant::now() + Duration::from_secs(120);
    while journal(&out).len() < 3 {
        assert!(Instant::now() < deadline, "no progress in the journal");
        assert!(
            child.try_wait().expect("waits").is_none(),
            "compare ended early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("killed");
    let _ = child.wait();
    let before = journal(&out);
    assert!(before.len() < 8, "killed before the end: {}", before.len());
    assert!(!out.join("runs.json").exists(), "no results yet");
    // Another matrix is refused, and the journal is left as it was.
    let other = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(MATRIX)
        .args(["--seed", "7", "--resume", "--out"])
        .arg(&out)
        .output()
        .expect("compare runs");
    assert!(!other.status.success());
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("seed differs"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    let run = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(MATRIX)
        .args(["--resume", "--out"])
        .arg(&out)
        .output()
        .expect("compare runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming: {} of 8 runs", before.len())),
        "{stderr}"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("runs.json")).expect("runs.json"))
            .expect("JSON");
    let runs = json["runs"].as_array().expect("runs");
    let pairs: BTreeSet<(u64, u64)> = runs
        .iter()
        .map(|r| {
            (
                r["config"].as_u64().expect("c"),
                r["run"].as_u64().expect("r"),
            )
        })
        .collect();
    assert_eq!(runs.len(), 8, "every pair once");
    assert_eq!(pairs.len(), 8, "no pair twice");
    for (key, load) in &before {
        let r = runs
            .iter()
            .find(|r| (r["config"].as_u64(), r["run"].as_u64()) == (Some(key.0), Some(key.1)))
            .expect("a journal run in the results");
        assert_eq!(&r["load"]["load_ms"], load, "{key:?} kept, not run again");
    }
    for row in json["rows"].as_array().expect("rows") {
        assert_eq!(row["runs"], 2, "{row}");
    }
    assert!(
        !out.join("runs.journal.jsonl").exists(),
        "the journal goes once written"
    );
    let _ = std::fs::remove_dir_all(&out);
}
