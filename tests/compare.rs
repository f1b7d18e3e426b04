//! `pushlab compare --quick` end to end (as CI runs it): every configuration
//! of the sampler (HTTP/3 and HTTP/2 x none, push-all, preload x cold and
//! warm) is present in the table, the CSV and the JSON, no page load
//! failed, and the plots and traces are written; the HTTP/2 server runs the
//! TCP congestion control asked for (`--tcp-cc reno`), recorded in runs.json
//! and in every HTTP/2 trace sample; `compare report` writes the same table
//! again from runs.json. Checked for completeness, not speed.
//! Needs root.

mod common;

use std::process::Command;

use common::*;

#[test]
fn compare_quick_is_complete() {
    if !require_root("compare_quick_is_complete") {
        return;
    }
    let out = std::env::temp_dir().join(format!("pushlab-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["compare", "--quick", "--tcp-cc", "reno", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("runs.json")).unwrap()).unwrap();
    assert_eq!(json["preset"], "quick");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    let configs = json["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 12);
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    for proto in ["h3", "h2"] {
        for variant in ["none", "push-all", "preload"] {
            for cache in ["cold", "warm"] {
                let present = configs.iter().any(|c| {
                    c["protocol"] == if proto == "h3" { "H3" } else { "H2" }
                        && c["variant"] == variant
                        && c["cache"] == cache
                });
                assert!(present, "{proto} {variant} {cache} missing");
                let row = format!("| {proto} | /slow.html | {variant} | lte | {cache} |");
                assert!(table.contains(&row), "{row} not in the table:\n{table}");
            }
        }
    }
    for row in json["rows"].as_array().unwrap() {
        assert_eq!(row["runs"], 1, "{row}");
        assert_eq!(row["failed"], 0, "{row}");
        assert!(row["load_ms"].as_f64().unwrap() > 0.0, "{row}");
    }
    let csv = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 13, "header + 12 runs");
    assert!(
        lines[1..].iter().all(|l| l.ends_with(",\"\"")),
        "an error in:\n{csv}"
    );
    // One trace per run, and the state at document-ready in every run.
    let traces = std::fs::read_to_string(out.join("traces.jsonl")).unwrap();
    assert_eq!(traces.lines().count(), 12);
    assert_eq!(json["tcp_cc"], "reno");
    assert!(table.contains("HTTP/2 over TCP reno."), "{table}");
    let mut h2_samples = 0;
    for line in traces.lines() {
        let t: serde_json::Value = serde_json::from_str(line).unwrap();
        for p in t["trace"].as_array().unwrap() {
            let c = &p["conn"];
            if c["protocol"] == "h2" {
                h2_samples += 1;
                assert_eq!(c["congestion_control"], "reno", "{c}");
                assert!(c["retrans"].is_u64() && c["ca_state"].is_string(), "{c}");
            } else if c["protocol"] == "h3" {
                assert_eq!(c["congestion_control"], "cubic", "{c}");
            }
        }
    }
    assert!(h2_samples > 0);
    for r in json["runs"].as_array().unwrap() {
        assert!(r.get("at_ready").is_some(), "{r}");
    }
    for svg in ["load.svg", "render.svg", "waterfall.svg", "timeseries.svg"] {
        let text = std::fs::read_to_string(out.join(svg)).unwrap();
        assert!(
            text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
            "{svg}"
        );
    }
    // `compare report` writes the same table again from runs.json.
    let again = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["compare", "report"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("table.md")).unwrap(),
        table,
        "compare report wrote a different table"
    );
    let _ = std::fs::remove_dir_all(&out);
}
