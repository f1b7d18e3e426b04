//! `pushlab bench faults`: HTTP/3 transfers through a faulty emulated link,
//! each body checked byte-exact (length and SHA-256 against the file
//! served). The QUIC interop runner's fault cases, played with pushlab's
//! own client against pushlab's server through the link emulator (root):
//!
//! - handshakeloss: 30% of packets lost both ways; many short connections
//!   (a handshake and a 1 KiB file each);
//! - transferloss: 2% lost both ways during 5 MiB transfers;
//! - blackhole: the link goes down both ways for 2 s in the middle of a
//!   10 MiB transfer;
//! - transfercorruption: 2% of packets get a byte changed both ways (the
//!   checksum made to match: QUIC's packet protection must catch it);
//! - longrtt: 1.5 s round trip (750 ms each way) for 1 MiB transfers.
//!
//! All on the runner's link otherwise (10 Mbit/s, 25-packet queue). A
//! failed transfer is counted and reported, never retried.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{row, BenchError, BenchOptions, Row};
use crate::client::h3::{Client, ClientOptions};
use crate::config::ServeOptions;
use crate::netem::{Emulator, EmulatorOptions, LinkSpec, Loss};
use crate::server::{RunningServer, ServerOptions};
use crate::tls::Identity;

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Server(e.to_string())
}

/// One fault case.
struct Case {
    name: &'static str,
    /// Both directions.
    link: LinkSpec,
    /// Connections, each fetching one file.
    transfers: usize,
    /// The file's size.
    size: usize,
    /// Take the link down for `.1` starting `.0` into each transfer.
    blackhole: Option<(Duration, Duration)>,
    /// Give up on one transfer after this long.
    timeout: Duration,
}

fn cases(quick: bool) -> Vec<Case> {
    // LinkSpec's default is the interop runner's link.
    let l = LinkSpec::default();
    let n = |full: usize, q: usize| if quick { q } else { full };
    vec![
        Case {
            name: "handshakeloss",
            link: LinkSpec {
                loss: Loss::Bernoulli(0.3),
                ..l
            },
            transfers: n(50, 10),
            size: 1024,
            blackhole: None,
            timeout: Duration::from_secs(120),
        },
        Case {
            name: "transferloss",
            link: LinkSpec {
                loss: Loss::Bernoulli(0.02),
                ..l
            },
            transfers: n(3, 1),
            size: 5 << 20,
            blackhole: None,
            timeout: Duration::from_secs(120),
        },
        Case {
            name: "blackhole",
            link: l,
            transfers: n(3, 1),
            size: 10 << 20,
            blackhole: Some((Duration::from_secs(2), Duration::from_secs(2))),
            timeout: Duration::from_secs(120),
        },
        Case {
            name: "transfercorruption",
            link: LinkSpec { corrupt: 0.02, ..l },
            transfers: n(3, 1),
            size: 5 << 20,
            blackhole: None,
            timeout: Duration::from_secs(120),
        },
        Case {
            name: "longrtt",
            link: LinkSpec {
                delay: Duration::from_millis(750),
                ..l
            },
            transfers: n(3, 1),
            size: 1 << 20,
            blackhole: None,
            timeout: Duration::from_secs(120),
        },
    ]
}

/// What one transfer gave.
#[derive(Debug)]
struct Outcome {
    secs: f64,
    /// The QUIC handshake's duration, when it completed.
    handshake: Option<f64>,
    /// None when byte-exact.
    failure: Option<String>,
}

/// Connects, fetches `path`, checks it against (`len`, `sha`).
async fn fetch(
    server: SocketAddr,
    path: &str,
    (len, sha): (u64, &str),
    timeout: Duration,
    qlog: Option<std::path::PathBuf>,
) -> Outcome {
    let t = Instant::now();
    let opts = ClientOptions {
        insecure: true,
        hash_bodies: true,
        timeout,
        idle_timeout: Some(timeout),
        qlog,
        ..ClientOptions::default()
    };
    // Set once the handshake completes: also where a transfer that times
    // out was stuck.
    let handshake = std::cell::Cell::new(None);
    let attempt = async {
        let c = Client::connect(&server.ip().to_string(), server.port(), opts)
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        handshake.set(Some(c.handshake.as_secs_f64()));
        let p = c
            .send_request("GET", path, &[])
            .await
            .map_err(|e| format!("request: {e}"))?;
        let r = c.read_response(p).await;
        c.close().await;
        if let Some(e) = r.error {
            return Err(format!("response: {e}"));
        }
        if r.status != 200 || r.body_len != len || r.sha256 != sha {
            return Err(format!(
                "not byte-exact: status {}, {} of {len} bytes, sha256 {}",
                r.status, r.body_len, r.sha256
            ));
        }
        Ok(())
    };
    let failure = match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(format!(
            "no complete transfer in {timeout:?} ({})",
            match handshake.get() {
                Some(_) => "after the handshake",
                None => "in the handshake",
            }
        )),
    };
    Outcome {
        secs: t.elapsed().as_secs_f64(),
        handshake: handshake.get(),
        failure,
    }
}

/// Runs one case: its emulator, a server on its server side, the
/// transfers from its client side in turn.
fn run_case(
    case: &Case,
    transfers: usize,
    site_dir: &std::path::Path,
    seed: u64,
    qlog_dir: Option<&std::path::Path>,
) -> Result<(Row, usize), BenchError> {
    let qlog_dir = qlog_dir.map(|d| d.join(case.name));
    if let Some(d) = &qlog_dir {
        std::fs::create_dir_all(d.join("server"))
            .map_err(|e| err(format!("{}: {e}", d.display())))?;
    }
    let emu = Emulator::start(EmulatorOptions {
        up: case.link,
        down: case.link,
        server_ns: false,
        seed,
        realtime: true,
    })
    .map_err(err)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(err)?;
    let site = crate::site::Site::load(site_dir).map_err(err)?;
    // Under 30% loss both ways a connection can hear nothing for longer
    // than the default 30-s idle timeout while its probes back off
    // (1 + 2 + 4 + 8 + 16 s of PTOs): one handshakeloss transfer of ten died
    // that way after 36 s in a CI run. Both ends get the case's own limit.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-10.1
    //# To avoid excessively small idle timeout periods, endpoints MUST
    //# increase the idle timeout period to be at least three times the
    //# current Probe Timeout (PTO).
    let serve = ServeOptions {
        site: Arc::new(site),
        idle_timeout: case.timeout,
        qlog_dir: qlog_dir.as_ref().map(|d| d.join("server")),
        ..ServeOptions::default()
    };
    let srv = rt
        .block_on(RunningServer::start(ServerOptions::new(
            SocketAddr::from((emu.server_addr, 0)),
            Identity::self_signed().map_err(err)?,
            serve,
        )))
        .map_err(err)?;
    let server = srv.addr;
    let body = std::fs::read(site_dir.join(format!("{}.bin", case.size))).map_err(err)?;
    let sha = crate::hex::encode(ring::digest::digest(&ring::digest::SHA256, &body).as_ref());
    let (len, path) = (body.len() as u64, format!("/{}.bin", case.size));
    let mut outcomes = Vec::new();
    for i in 0..transfers {
        let (path, sha, timeout) = (path.clone(), sha.clone(), case.timeout);
        let qlog = qlog_dir
            .as_ref()
            .map(|d| d.join(format!("client-{}.sqlog", i + 1)));
        let handle = emu
            .in_client(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                rt.block_on(fetch(server, &path, (len, &sha), timeout, qlog))
            })
            .map_err(err)?;
        if let Some((at, down_for)) = case.blackhole {
            std::thread::sleep(at);
            emu.set_down(true);
            std::thread::sleep(down_for);
            emu.set_down(false);
        }
        let outcome = handle.join().unwrap_or_else(|_| Outcome {
            secs: 0.0,
            handshake: None,
            failure: Some("the client thread panicked".into()),
        });
        outcomes.push(outcome);
    }
    rt.block_on(srv.shutdown());
    let c = emu.stop();
    let failures: Vec<&String> = outcomes.iter().filter_map(|o| o.failure.as_ref()).collect();
    let ok = outcomes.len() - failures.len();
    let mut note = format!(
        "{ok}/{} byte-exact; link: {}; dropped {} up / {} down, corrupted {} / {}, black-holed {} / {}",
        outcomes.len(),
        case.link,
        c.up.random_drops + c.up.queue_drops,
        c.down.random_drops + c.down.queue_drops,
        c.up.corrupted,
        c.down.corrupted,
        c.up.blackhole_drops,
        c.down.blackhole_drops,
    );
    let mut hs: Vec<f64> = outcomes.iter().filter_map(|o| o.handshake).collect();
    hs.sort_by(f64::total_cmp);
    if let (Some(mid), Some(max)) = (crate::summary::median(&hs), hs.last()) {
        note.push_str(&format!(
            "; handshake median {mid:.2} s, max {max:.2} s ({} completed)",
            hs.len()
        ));
    }
    if let Some(f) = failures.first() {
        let wrong = failures
            .iter()
            .filter(|f| f.starts_with("not byte-exact"))
            .count();
        note.push_str(&format!(
            "; FAILED {} ({wrong} not byte-exact): first: {f}",
            failures.len()
        ));
    }
    let r = row(
        format!(
            "{}: {} x {}",
            case.name,
            transfers,
            crate::units::fmt_bytes(case.size as u64)
        ),
        "rfc9218",
        outcomes.iter().map(|o| o.secs).collect(),
        "s",
        note,
    );
    Ok((r, failures.len()))
}

/// Runs every fault case; the rows, and how many transfers failed.
pub fn run_faults(opts: &BenchOptions) -> Result<(Vec<Row>, usize), BenchError> {
    crate::netem::available().map_err(err)?;
    let dir = std::env::temp_dir().join(format!("pushlab-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(err)?;
    // Each case keeps its own emulator seed (its place in the full list)
    // when only some run.
    let all: Vec<(u64, Case)> = (1u64..)
        .zip(cases(opts.quick))
        .filter(|(_, c)| opts.cases.is_empty() || opts.cases.iter().any(|n| n == c.name))
        .collect();
    if let Some(bad) = opts
        .cases
        .iter()
        .find(|n| !cases(true).iter().any(|c| c.name == n.as_str()))
    {
        return Err(err(format!(
            "no fault case {bad:?} (handshakeloss, transferloss, blackhole, transfercorruption, longrtt)"
        )));
    }
    // One random file per size, the site the server serves.
    use rand::RngCore;
    let mut rng = rand::rng();
    for (_, c) in &all {
        let p = dir.join(format!("{}.bin", c.size));
        if !p.exists() {
            let mut b = vec![0u8; c.size];
            rng.fill_bytes(&mut b);
            std::fs::write(&p, b).map_err(err)?;
        }
    }
    let mut rows = Vec::new();
    let mut failed = 0;
    for (seed, c) in &all {
        let transfers = opts.transfers.unwrap_or(c.transfers);
        match run_case(c, transfers, &dir, *seed, opts.qlog_dir.as_deref()) {
            Ok((r, f)) => {
                rows.push(r);
                failed += f;
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok((rows, failed))
}
