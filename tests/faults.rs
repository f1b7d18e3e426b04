//! `pushlab bench faults --quick`: HTTP/3 transfers through the link
//! emulator under the interop runner's fault cases (30% handshake loss,
//! 2% transfer loss, a 2 s black hole mid-transfer, 2% corruption with
//! matching checksums, a 1.5 s round trip): no transfer delivers wrong
//! bytes, no panic, every transfer-phase case completes every transfer,
//! and each fault really happened (the emulator's counters show the
//! drops, the black-holed and the corrupted packets). Under 30% loss both
//! ways a handshakeloss transfer can still run out of its 120 s: both
//! quinn ends back off their probe timeouts on RTT estimates inflated by
//! lost ACKs (in a 400-transfer run the slowest took 89 s, p99 16 s; one
//! in 10 ran out in a CI run). Such a failure is reported here, not
//! hidden, and must be a timeout or a lost connection, never wrong bytes;
//! the bench itself exits non-zero for it. Needs root.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

#[test]
fn every_fault_case_is_byte_exact() {
    if !require_root("every_fault_case_is_byte_exact") {
        return;
    }
    let json = std::env::temp_dir().join(format!("pushlab-faults-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["bench", "faults", "--quick", "--json"])
        .arg(&json)
        .output()
        .expect("bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stdout}\n{stderr}");
    // A failure makes the bench exit non-zero; which row failed, and how,
    // is checked below.
    assert!(
        out.status.success() || stderr.contains("failed (see the notes)"),
        "{stdout}\n{stderr}"
    );
    let rows: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("JSON");
    let _ = std::fs::remove_file(&json);
    let rows = rows.as_array().expect("rows");
    let names: Vec<&str> = rows
        .iter()
        .map(|r| {
            r["test"]
                .as_str()
                .expect("test")
                .split(':')
                .next()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        names,
        [
            "handshakeloss",
            "transferloss",
            "blackhole",
            "transfercorruption",
            "longrtt"
        ]
    );
    let count = |note: &str, key: &str| -> u64 {
        // "... KEY a up / b down" or "KEY a / b": the sum of both.
        let rest = note.split(key).nth(1).unwrap_or("");
        rest.split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .take(2)
            .filter_map(|s| s.parse::<u64>().ok())
            .sum()
    };
    for (i, r) in rows.iter().enumerate() {
        let note = r["note"].as_str().expect("note");
        let n = r["runs"].as_array().expect("runs").len();
        if i == 0 && note.contains("FAILED") {
            // Handshakes under 30% loss: a lost connection, reported.
            assert!(note.contains("(0 not byte-exact)"), "{note}");
            eprintln!("\n*** handshakeloss: not every handshake completed: {note} ***\n");
            continue;
        }
        assert!(note.starts_with(&format!("{n}/{n} byte-exact")), "{note}");
        assert!(!note.contains("FAILED"), "{note}");
    }
    let note = |i: usize| rows[i]["note"].as_str().expect("note");
    assert!(count(note(0), "dropped") > 0, "{}", note(0));
    assert!(count(note(1), "dropped") > 0, "{}", note(1));
    assert!(count(note(2), "black-holed") > 0, "{}", note(2));
    assert!(count(note(3), "corrupted") > 0, "{}", note(3));
    assert!(
        rows[4]["value"].as_f64() > Some(1.5),
        "a 1.5 s round trip at least"
    );
}
