//! The QUIC interop runner's server contract (`interop/runner/`), played
//! here without Docker: `run_endpoint.sh` exits 127 for what pushlab does
//! not support and for the client role, and `play.py` passes every
//! supported server test case with real clients (aioquic, gtlsclient).
//! connectionmigration: aioquic moves to the server's preferred address,
//! validated, and the transfer is byte-exact; whether the server answers
//! from that address is recorded (quinn 0.11 does not: "client only").
//! goodput and crosstraffic run under the link emulator (root).

mod common;

use std::process::Command;

use common::*;

#[test]
fn endpoint_contract_and_play() {
    let script = root().join("interop/runner/run_endpoint.sh");
    for (role, case) in [
        ("client", "handshake"),
        ("server", "v2"),
        ("server", "nonsense"),
        // Without a second address to offer.
        ("server", "connectionmigration"),
    ] {
        let st = Command::new(&script)
            .env_remove("PREFERRED_ADDRESS")
            .env("ROLE", role)
            .env("TESTCASE", case)
            .env("PUSHLAB", env!("CARGO_BIN_EXE_pushlab"))
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(127), "{role} {case}");
    }
    if !require(
        "aioquic (.venv)",
        venv_python().is_some(),
        "endpoint_contract_and_play",
    ) || !require(
        "gtlsclient",
        have("gtlsclient"),
        "endpoint_contract_and_play",
    ) || !require("openssl", have("openssl"), "endpoint_contract_and_play")
    {
        return;
    }
    let mut cases = "handshake,transfer,multiplexing,http3,retry,resumption,zerortt,chacha20,keyupdate,amplificationlimit,rebind-port".to_string();
    if pushlab::netem::available().is_ok() {
        cases.push_str(",transferloss");
    }
    let out = Command::new(venv_python().unwrap())
        .arg(root().join("interop/runner/play.py"))
        .args([
            "--json",
            "--cases",
            &cases,
            "--pushlab",
            env!("CARGO_BIN_EXE_pushlab"),
        ])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), cases.split(',').count());
    for r in rows {
        assert_eq!(r["result"], "pass", "{r:#}");
    }
}

/// Runs play.py on `cases`; its rows.
fn play(cases: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(venv_python().expect("checked by the caller"))
        .arg(root().join("interop/runner/play.py"))
        .args([
            "--json",
            "--cases",
            cases,
            "--pushlab",
            env!("CARGO_BIN_EXE_pushlab"),
        ])
        .args(extra)
        .output()
        .expect("play.py runs");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    rows.as_array().expect("rows").clone()
}

/// connectionmigration with aioquic: the client probes the preferred
/// address (127.0.0.2 on the server's port), moves there once validated and
/// sends there; the 2 MiB body is byte-exact. The row says "client only"
/// while quinn answers from the original address, "pass" if it ever
/// answers from the preferred one; anything else fails.
#[test]
fn preferred_address_with_aioquic() {
    if !require(
        "aioquic (.venv)",
        venv_python().is_some(),
        "preferred_address_with_aioquic",
    ) {
        return;
    }
    let rows = play("connectionmigration", &[]);
    let r = &rows[0];
    let pref = &r["preferred"];
    let primary = pref["primary"].as_str().expect("a primary path");
    assert!(primary.starts_with("127.0.0.2:"), "{r:#}");
    assert!(pref["sent_to"][primary].as_u64() > Some(0), "{r:#}");
    assert_eq!(pref["responses"][0]["complete"], true, "{r:#}");
    let from_pref = pref["received_from"][primary].as_u64().unwrap_or(0);
    let want = if from_pref > 0 { "pass" } else { "client only" };
    assert_eq!(r["result"], want, "{r:#}");
}

/// The runner's goodput and crosstraffic measurements under the link
/// emulator (one transfer each here; the README's figures take five): the
/// 10 MiB and 25 MiB bodies arrive byte-exact, with iperf3's TCP flow
/// running beside the second.
#[test]
fn goodput_and_crosstraffic_under_the_emulator() {
    let test = "goodput_and_crosstraffic_under_the_emulator";
    if !require_root(test)
        || !require("aioquic (.venv)", venv_python().is_some(), test)
        || !require("iperf3", have("iperf3"), test)
    {
        return;
    }
    let rows = play("goodput,crosstraffic", &["--reps", "1"]);
    for r in &rows {
        assert_eq!(r["result"], "pass", "{r:#}");
        assert!(r["goodput_kbps"][0].as_f64() > Some(0.0), "{r:#}");
    }
    assert!(
        rows[1]["cross_tcp_kbps"][0].as_f64() > Some(0.0),
        "{:#}",
        rows[1]
    );
}
