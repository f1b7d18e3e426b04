//! Sharded matrices: `pushlab compare --shard K/N` runs a deterministic
//! 1/N of the (configuration, run) pairs, and `pushlab compare merge`
//! joins the shards into the table, CSV, JSON, plots and report of one
//! unsharded run: the same configurations, every run once, the same run
//! count per row (times differ only by timing noise). A merge missing a
//! shard is refused. Needs root (the emulated link).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

fn pushlab(args: &[&str], out: &Path) -> Value {
    let run = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("pushlab runs");
    assert!(
        run.status.success(),
        "{args:?}\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("runs.json")).expect("runs.json"))
        .expect("JSON")
}

fn labels(v: &Value) -> Vec<String> {
    v["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {}",
                c["protocol"], c["page"], c["variant"], c["cache"]
            )
        })
        .collect()
}

fn pairs(v: &Value) -> BTreeSet<(u64, u64)> {
    v["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            (
                r["config"].as_u64().expect("c"),
                r["run"].as_u64().expect("r"),
            )
        })
        .collect()
}

#[test]
fn two_shards_merge_into_the_unsharded_run() {
    if !require_root("two_shards_merge_into_the_unsharded_run") {
        return;
    }
    let base = std::env::temp_dir().join(format!("pushlab-shard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let matrix = [
        "compare",
        "--quick",
        "--runs",
        "2",
        "--only",
        "none lte cold",
        "--only",
        "push-all lte cold",
    ];
    let whole = pushlab(&matrix, &base.join("whole"));
    let mut shards = Vec::new();
    for k in ["1/2", "2/2"] {
        let mut args = matrix.to_vec();
        args.extend(["--shard", k]);
        let dir = base.join(k.replace('/', "-of-"));
        let v = pushlab(&args, &dir);
        assert_eq!(v["shard"]["count"], 2);
        shards.push((dir, v));
    }
    // The shards split the pairs between them, none twice.
    let (a, b) = (pairs(&shards[0].1), pairs(&shards[1].1));
    assert!(a.is_disjoint(&b), "{a:?} {b:?}");
    assert_eq!(a.len(), 4);
    assert_eq!(b.len(), 4);
    let merged_dir = base.join("merged");
    let mut args = vec!["compare", "merge"];
    let dirs: Vec<String> = shards
        .iter()
        .map(|(d, _)| d.display().to_string())
        .collect();
    args.extend(dirs.iter().map(String::as_str));
    let merged = pushlab(&args, &merged_dir);
    assert_eq!(labels(&merged), labels(&whole));
    assert_eq!(pairs(&merged), pairs(&whole));
    assert_eq!(merged["runs_per_config"], whole["runs_per_config"]);
    assert!(merged["shard"].is_null());
    for (m, w) in merged["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .zip(whole["rows"].as_array().expect("rows"))
    {
        assert_eq!(m["runs"], w["runs"]);
        assert_eq!(m["failed"], 0);
        assert_eq!(m["config"], w["config"]);
        assert!(m["load_ms"].as_f64().expect("load") > 0.0);
    }
    // The same files as an unsharded run, the table with the same rows.
    for f in [
        "table.md",
        "runs.csv",
        "traces.jsonl",
        "load.svg",
        "load-cdf.svg",
        "index.html",
    ] {
        assert!(merged_dir.join(f).exists(), "{f}");
    }
    let rows = |dir: &Path| -> Vec<String> {
        std::fs::read_to_string(dir.join("table.md"))
            .expect("table.md")
            .lines()
            .filter(|l| l.starts_with("| h"))
            .map(|l| l.split('|').take(6).collect::<Vec<_>>().join("|"))
            .collect()
    };
    assert_eq!(rows(&merged_dir), rows(&base.join("whole")));
    let csv_lines = |dir: &Path| {
        std::fs::read_to_string(dir.join("runs.csv"))
            .expect("csv")
            .lines()
            .count()
    };
    assert_eq!(csv_lines(&merged_dir), csv_lines(&base.join("whole")));
    // One shard alone is not the matrix.
    let alone = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["compare", "merge", &dirs[0], "--out"])
        .arg(base.join("alone"))
        .output()
        .expect("pushlab runs");
    assert!(!alone.status.success());
    assert!(
        String::from_utf8_lossy(&alone.stderr).contains("shard 2/2 missing"),
        "{}",
        String::from_utf8_lossy(&alone.stderr)
    );
    let _ = std::fs::remove_dir_all(&base);
}
