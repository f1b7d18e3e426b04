//! `pushlab bench netem`: what the link emulator delivers against what it
//! is configured to do, and how fast its relay is. Needs root.
//!
//! - relay capacity: a TCP bulk transfer through a link with no delay and
//!   no rate limit (the relay must never be the bottleneck of a profile);
//! - per profile: TCP connect time (one round trip) against the configured
//!   round trip, and the throughput of a server-to-client TCP transfer
//!   against the configured downlink rate.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::{median, row, BenchError, BenchOptions, Row};
use crate::netem::{Emulator, EmulatorOptions, LinkSpec, Loss, QueueLimit};

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Server(e.to_string())
}

/// Server-to-client TCP transfer for `secs`; returns (Mbit/s of payload
/// over the whole transfer, Mbit/s at the link in steady state: the relay's
/// counters from one second in until the sender stops).
fn downlink(emu: &Emulator, secs: f64) -> Result<(f64, f64), BenchError> {
    let l = TcpListener::bind((emu.server_addr, 0)).map_err(err)?;
    let addr = l.local_addr().map_err(err)?;
    let dur = Duration::from_secs_f64(secs);
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut c, _) = l.accept()?;
        let buf = vec![0x5au8; 64 * 1024];
        let end = Instant::now() + dur;
        while Instant::now() < end {
            c.write_all(&buf)?;
        }
        Ok(())
    });
    let receiver = emu
        .in_client(move || -> std::io::Result<(u64, f64)> {
            let mut s = TcpStream::connect(addr)?;
            let mut buf = vec![0u8; 256 * 1024];
            let mut got = 0u64;
            let t = Instant::now();
            loop {
                let n = s.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                got += n as u64;
            }
            Ok((got, t.elapsed().as_secs_f64()))
        })
        .map_err(err)?;
    std::thread::sleep(Duration::from_secs(1));
    let (c1, t1) = (emu.counters().down.bytes_out, Instant::now());
    std::thread::sleep(dur.saturating_sub(Duration::from_secs(1)));
    let (c2, t2) = (emu.counters().down.bytes_out, Instant::now());
    let (bytes, took) = receiver
        .join()
        .map_err(|_| err("receiver panicked"))?
        .map_err(err)?;
    sender
        .join()
        .map_err(|_| err("sender panicked"))?
        .map_err(err)?;
    let link = (c2 - c1) as f64 * 8.0 / (t2 - t1).as_secs_f64() / 1e6;
    Ok((bytes as f64 * 8.0 / took / 1e6, link))
}

/// Median TCP connect time in ms over `n` connections, one round trip
/// apart (so that the previous connection's closing packets are not still
/// queued ahead of the next SYN on slow links).
fn rtt(emu: &Emulator, n: usize, pause: Duration) -> Result<f64, BenchError> {
    let l = TcpListener::bind((emu.server_addr, 0)).map_err(err)?;
    let addr = l.local_addr().map_err(err)?;
    std::thread::spawn(move || {
        for c in l.incoming().take(n) {
            drop(c);
        }
    });
    let v = emu
        .in_client(move || -> std::io::Result<Vec<f64>> {
            (0..n)
                .map(|_| {
                    let t = Instant::now();
                    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    drop(s);
                    std::thread::sleep(pause);
                    Ok(ms)
                })
                .collect()
        })
        .map_err(err)?
        .join()
        .map_err(|_| err("client panicked"))?
        .map_err(err)?;
    Ok(median(&v))
}

/// Runs the emulator benchmark.
pub fn run_netem(opts: &BenchOptions) -> Result<Vec<Row>, BenchError> {
    crate::netem::available().map_err(err)?;
    let runs = if opts.quick { 1 } else { opts.runs.max(1) };
    let secs = if opts.quick { 2.0 } else { 4.0 };
    let mut rows = Vec::new();
    let open = LinkSpec {
        delay: Duration::ZERO,
        rate: None,
        queue: QueueLimit::Unlimited,
        loss: Loss::None,
        corrupt: 0.0,
        jitter: Duration::ZERO,
    };
    let emu = Emulator::start(EmulatorOptions {
        up: open,
        down: open,
        ..EmulatorOptions::default()
    })
    .map_err(err)?;
    let mut v = Vec::new();
    for _ in 0..runs {
        v.push(downlink(&emu, secs)?.1);
    }
    rows.push(row(
        "relay capacity: TCP, no delay, no rate limit".into(),
        "-",
        v,
        "Mbit/s",
        String::new(),
    ));
    rows.push(row(
        "relay round trip, no delay".into(),
        "-",
        vec![rtt(&emu, 20, Duration::from_millis(5))?],
        "ms",
        "overhead of two passes through the relay".into(),
    ));
    emu.stop();
    for p in crate::netem::profiles() {
        let emu = Emulator::start(EmulatorOptions {
            up: p.up,
            down: p.down,
            ..EmulatorOptions::default()
        })
        .map_err(err)?;
        // A SYN and a SYN-ACK (60 bytes each) also take their serialisation
        // time on the way.
        let want = (p.up.delay + p.down.delay + p.up.serialisation(60) + p.down.serialisation(60))
            .as_secs_f64()
            * 1e3;
        let n = if p.up.delay > Duration::from_millis(300) {
            5
        } else {
            15
        };
        let got = rtt(&emu, n, p.up.delay + p.down.delay)?;
        rows.push(row(
            format!("{}: TCP connect RTT", p.name),
            "-",
            vec![got],
            "ms",
            format!(
                "configured {want:.1} ms with SYN and SYN-ACK serialisation ({:+.1}%)",
                (got / want - 1.0) * 100.0
            ),
        ));
        let rate = p.down.rate.unwrap_or(0) as f64 / 1e6;
        if rate >= 1.0 {
            let mut good = Vec::new();
            let mut link = Vec::new();
            for _ in 0..runs {
                let (g, l) = downlink(&emu, secs)?;
                good.push(g);
                link.push(l);
            }
            let l = median(&link);
            rows.push(row(
                format!("{}: TCP downlink, {secs:.0} s", p.name),
                "-",
                good,
                "Mbit/s",
                format!(
                    "payload; at the link {l:.2} Mbit/s of {rate:.2} configured ({:+.1}%)",
                    (l / rate - 1.0) * 100.0
                ),
            ));
        }
        emu.stop();
    }
    Ok(rows)
}
