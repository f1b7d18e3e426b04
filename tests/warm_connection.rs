//! `pushlab compare --connection warm|fresh` end to end: on India-3G (BDP
//! 35,530 bytes) a warm load starts on a connection whose server-side
//! congestion window has reached the BDP, with no handshake in its record
//! and the warm-up recorded; a fresh load starts below it. The `bdp` policy
//! (budget: the window) pushes on the warm connection. Every row has its
//! 95% confidence intervals. `--after PAGE` loads a page first on the
//! measured load's connection: the measured page finds its cache there.
//! Needs root (the emulated link).

mod common;

use std::process::Command;

use common::*;

/// India-3G's BDP: 1,360 kbit/s for 209 ms.
const BDP_3G: u64 = 35_530;

fn compare(tag: &str, args: &[&str]) -> serde_json::Value {
    let out = std::env::temp_dir().join(format!("pushlab-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["compare", "--profiles", "3g", "--pages", "/index.html"])
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let json =
        serde_json::from_str(&std::fs::read_to_string(out.join("runs.json")).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&out);
    json
}

#[test]
fn warm_loads_start_at_the_bdp_and_fresh_ones_below_it() {
    if !require_root("warm_loads_start_at_the_bdp_and_fresh_ones_below_it") {
        return;
    }
    let warm = compare(
        "warm",
        &[
            "--policy",
            "none",
            "--policy",
            "bdp",
            "--connection",
            "warm",
            "--runs",
            "2",
        ],
    );
    assert_eq!(warm["connection"], "warm");
    let configs = warm["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 4, "{configs:?}");
    let runs = warm["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 8);
    for r in runs {
        assert!(r["load"]["error"].is_null(), "{r}");
        assert_eq!(
            r["load"]["handshake_ms"], 0.0,
            "no handshake before a warm load"
        );
        let w = &r["warmup"];
        assert_eq!(w["reached"], true, "{w}");
        assert!(w["transfers"].as_u64().unwrap() >= 1, "{w}");
        let cwnd = r["cwnd_at_start"].as_u64().expect("cwnd at start");
        assert!(cwnd >= BDP_3G, "warm load started at {cwnd} bytes");
        let variant = configs[r["config"].as_u64().unwrap() as usize]["variant"]
            .as_str()
            .unwrap();
        let pushes = r["load"]["pushes"].as_array().map_or(0, Vec::len);
        if variant == "bdp" {
            assert!(pushes > 0, "bdp pushed nothing on a warm connection: {r}");
        } else {
            assert_eq!(pushes, 0, "{r}");
        }
    }
    for row in warm["rows"].as_array().unwrap() {
        let ci = row["load_ci"].as_array().expect("load CI");
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        let m = row["load_ms"].as_f64().unwrap();
        assert!(lo <= m && m <= hi, "{row}");
        if row["config"]["variant"] == "bdp" {
            assert!(row["vs_baseline_ci"].is_array(), "{row}");
        }
    }

    let fresh = compare("fresh", &["--policy", "none", "--runs", "1"]);
    assert_eq!(fresh["connection"], "fresh");
    for r in fresh["runs"].as_array().unwrap() {
        assert!(r["load"]["error"].is_null(), "{r}");
        assert!(r["load"]["handshake_ms"].as_f64().unwrap() > 200.0, "{r}");
        assert!(r.get("warmup").is_none(), "{r}");
        let cwnd = r["cwnd_at_start"].as_u64().expect("cwnd at start");
        assert!(cwnd < BDP_3G, "fresh load started at {cwnd} bytes");
    }
}

/// `--after /index.html`: the page loaded twice on one connection. The
/// measured load has no handshake, revalidates the document and takes its
/// subresources from the HTTP cache the first load filled; any push of
/// them is cancelled (a 304 brings none from push-all).
#[test]
fn after_a_page_on_the_same_connection() {
    if !require_root("after_a_page_on_the_same_connection") {
        return;
    }
    let r = compare(
        "after",
        &[
            "--policy",
            "push-all",
            "--after",
            "/index.html",
            "--runs",
            "1",
            "--protocols",
            "h2,h3",
        ],
    );
    assert_eq!(r["after"], "/index.html");
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in runs {
        let load = &run["load"];
        assert!(load["error"].is_null(), "{run}");
        assert_eq!(load["handshake_ms"], 0.0, "on the first page's connection");
        assert!(load["cached"].as_u64().unwrap() >= 5, "{load}");
        assert_eq!(load["resources"][0]["status"], 304, "{load}");
        let pushes = load["pushes"].as_array().expect("pushes");
        for p in pushes {
            assert_eq!(p["cancelled"], "HttpCache", "{p}");
            assert_eq!(p["claimed"], false, "{p}");
        }
    }
}
