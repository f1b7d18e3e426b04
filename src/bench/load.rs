//! `pushlab bench load`: many connections at once, and slow readers.
//!
//! - QUIC: `conns` concurrent connections from pushlab's own HTTP/3 client,
//!   each with `streams` concurrent requests for 1 KiB, `rounds` times.
//! - HTTP/2: h2load `-c 1000 -m 20` against pushlab's HTTP/2 side and, in
//!   the same run, nginx (one worker, TLS 1.3, the same files and key).
//! - RSS per idle connection: the server's resident memory with `conns`
//!   connections open and idle (handshake done, SETTINGS exchanged), minus
//!   before, divided by their number; the same after they close.
//! - Slow readers: `slow` connections each ask for a 100 MB response and
//!   read none of it. The growth of the server's memory must stay within
//!   `--stream-buffer` times the streams, and go when they close.
//!
//! Memory is the server process's VmRSS and peak VmHWM from
//! `/proc/PID/status` (nginx: its one worker's). Failures are counted, never
//! retried: a request fails unless it got a 200 with every byte.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::Semaphore;

use super::h2::{h2_setup, h2load_run, start_nginx, H2Setup, H2loadRun};
use super::{row, BenchError, BenchOptions, Row, ServerProcess};
use crate::client::h2::H2Client;
use crate::client::h3::{Client, PendingResponse};
use crate::client::ClientOptions;
use crate::memory::status_bytes;
use crate::summary::quantile;

/// How big a load run is.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// QUIC connections at once.
    pub conns: usize,
    /// Concurrent requests per QUIC connection.
    pub streams: usize,
    /// Rounds of `streams` requests per connection.
    pub rounds: usize,
    /// h2load `-c`.
    pub h2_conns: usize,
    /// h2load `-m`.
    pub h2_streams: usize,
    /// h2load `-n`.
    pub h2_requests: usize,
    /// Idle HTTP/2 connections held for the per-connection figure.
    pub h2_idle: usize,
    /// Slow-reader connections (per protocol).
    pub slow: usize,
    /// The response each slow reader asks for.
    pub slow_size: u64,
}

impl Scale {
    /// The figures.
    pub fn full() -> Scale {
        Scale {
            conns: 2000,
            streams: 10,
            rounds: 5,
            h2_conns: 1000,
            h2_streams: 20,
            h2_requests: 200_000,
            h2_idle: 1000,
            slow: 500,
            slow_size: 100_000_000,
        }
    }

    /// A small version for tests.
    pub fn quick() -> Scale {
        Scale {
            conns: 100,
            streams: 10,
            rounds: 2,
            h2_conns: 50,
            h2_streams: 20,
            h2_requests: 5_000,
            h2_idle: 50,
            slow: 20,
            slow_size: 100_000_000,
        }
    }
}

/// The file every load request asks for.
const SMALL: (&str, u64) = ("1k.bin", 1024);
/// The servers' idle timeout here: idle connections must outlive a phase.
const IDLE: &str = "600s";
/// Handshakes in progress at once while connections open.
const OPENING: usize = 64;

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Server(e.to_string())
}

/// Resident memory of a process and, for pushlab, its live heap (bytes).
#[derive(Debug, Clone, Copy, Default)]
pub struct Mem {
    /// VmRSS.
    pub rss: u64,
    /// VmHWM.
    pub peak: u64,
    /// pushlab's live heap (its SIGUSR1 report); None for other servers.
    pub heap: Option<u64>,
    /// Bytes in pushlab's send queues (its report); None for other servers.
    pub queued: Option<u64>,
    /// pushlab's open connections (its report); None for other servers.
    pub conns: Option<u64>,
}

/// Where memory is read from.
#[derive(Clone, Copy)]
enum Probe<'a> {
    /// A pushlab server: its own report (heap and RSS).
    Pushlab(&'a ServerProcess),
    /// Any process: `/proc/PID/status`.
    Process(u32),
}

impl Probe<'_> {
    async fn read(&self) -> Result<Mem, BenchError> {
        match self {
            Probe::Pushlab(s) => {
                let r = s.memory().await?;
                Ok(Mem {
                    rss: r.rss,
                    peak: r.rss_peak,
                    heap: Some(r.heap),
                    queued: Some(r.queued),
                    conns: Some(r.connections),
                })
            }
            Probe::Process(pid) => {
                let s = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .map_err(|e| err(format!("reading /proc/{pid}/status: {e}")))?;
                let get =
                    |f| status_bytes(&s, f).ok_or_else(|| err(format!("no {f} for process {pid}")));
                Ok(Mem {
                    rss: get("VmRSS:")?,
                    peak: get("VmHWM:")?,
                    ..Mem::default()
                })
            }
        }
    }

    /// Waits until memory stops changing (two readings 500 ms apart within
    /// 1% on RSS and heap, or 20 s), and returns the last reading.
    async fn settled(&self) -> Result<Mem, BenchError> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = self.read().await?;
        let near = |a: u64, b: u64| a.abs_diff(b) * 100 <= b.max(1);
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = self.read().await?;
            let heap_near = match (now.heap, last.heap) {
                (Some(a), Some(b)) => near(a, b),
                _ => true,
            };
            if (near(now.rss, last.rss) && heap_near) || Instant::now() > deadline {
                return Ok(now);
            }
            last = now;
        }
    }
}

impl Probe<'_> {
    /// Waits (at most 60 s) until the server has no more than `before`'s
    /// connections open and, with `heap_too`, its heap is back within
    /// [`LEFT_AFTER_CLOSE`] of `before`'s (a closed QUIC connection keeps its state through
    /// the draining period, three PTOs, which after a congested transfer
    /// can be seconds), then until its memory settles. Servers that do not
    /// report connections and heap are only waited on to settle.
    async fn closed_down_to(&self, before: &Mem, heap_too: bool) -> Result<Mem, BenchError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let now = self.read().await?;
            let open = matches!((now.conns, before.conns), (Some(n), Some(b)) if n > b);
            let held = heap_too
                && matches!((now.heap, before.heap),
                    (Some(h), Some(b)) if h > b + LEFT_AFTER_CLOSE);
            if (open || held) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(250)).await;
            } else {
                return self.settled().await;
            }
        }
    }
}

/// UDP `RcvbufErrors` and `SndbufErrors` of a `/proc/net/snmp` text.
pub fn udp_buffer_errors(snmp: &str) -> Option<(u64, u64)> {
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let names: Vec<&str> = udp.next()?.split_whitespace().collect();
    let values: Vec<&str> = udp.next()?.split_whitespace().collect();
    let get = |name: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == name)?;
        values.get(i)?.parse().ok()
    };
    Some((get("RcvbufErrors")?, get("SndbufErrors")?))
}

fn udp_errors_now() -> Option<(u64, u64)> {
    udp_buffer_errors(&std::fs::read_to_string("/proc/net/snmp").ok()?)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn kib(b: f64) -> f64 {
    b / 1024.0
}

fn quic_opts() -> ClientOptions {
    ClientOptions {
        insecure: true,
        hash_bodies: false,
        idle_timeout: Some(Duration::from_secs(600)),
        timeout: Duration::from_secs(120),
        ..ClientOptions::default()
    }
}

/// Opens `n` HTTP/3 connections, `OPENING` handshakes at a time; the
/// failures are counted.
async fn open_quic(addr: SocketAddr, n: usize) -> (Vec<Arc<Client>>, usize) {
    let gate = Arc::new(Semaphore::new(OPENING));
    let tasks = (0..n).map(|_| {
        let gate = gate.clone();
        tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            Client::connect("127.0.0.1", addr.port(), quic_opts())
                .await
                .map_err(|e| tracing::warn!("load: connect: {e}"))
                .ok()
        })
    });
    let mut out = Vec::new();
    let mut failed = 0;
    for r in join_all(tasks).await {
        match r.ok().flatten() {
            Some(c) => out.push(Arc::new(c)),
            None => failed += 1,
        }
    }
    (out, failed)
}

/// Closes connections `OPENING` at a time: 2,000 CONNECTION_CLOSE
/// datagrams at once can overflow the server's receive buffer, and a lost
/// one leaves its connection open until the idle timeout.
async fn close_quic(clients: Vec<Arc<Client>>) {
    let gate = Arc::new(Semaphore::new(OPENING));
    join_all(clients.into_iter().map(|c| {
        let gate = gate.clone();
        async move {
            let _permit = gate.acquire_owned().await.ok();
            if let Ok(c) = Arc::try_unwrap(c) {
                c.close().await;
            }
        }
    }))
    .await;
}

/// One connection's rounds; returns (latencies in ms, failures).
async fn quic_rounds(c: Arc<Client>, streams: usize, rounds: usize) -> (Vec<f64>, usize) {
    let mut lat = Vec::with_capacity(streams * rounds);
    let mut failed = 0;
    let path = format!("/{}", SMALL.0);
    for _ in 0..rounds {
        let mut pend = Vec::new();
        for _ in 0..streams {
            match c.send_request("GET", &path, &[]).await {
                Ok(p) => pend.push(p),
                Err(_) => failed += 1,
            }
        }
        for r in join_all(pend.into_iter().map(|p| c.read_response(p))).await {
            match (r.status, r.body_len, r.error.as_ref(), r.done_ms) {
                (200, n, None, Some(done)) if n == SMALL.1 => lat.push(done),
                _ => failed += 1,
            }
        }
    }
    (lat, failed)
}

/// What one load phase measured.
#[derive(Debug, Clone, Default)]
struct LoadFigures {
    requests: usize,
    failed: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    peak: u64,
    /// UDP datagrams the kernel dropped for full socket buffers during the
    /// load, system-wide (receive, send); QUIC only.
    udp_drops: Option<(u64, u64)>,
}

/// What an idle-connection phase measured.
#[derive(Debug, Clone, Copy, Default)]
struct IdleFigures {
    opened: usize,
    failed: usize,
    before: Mem,
    idle: Mem,
    after: Mem,
}

fn per(a: u64, b: u64, n: usize) -> f64 {
    a.saturating_sub(b) as f64 / n.max(1) as f64
}

impl IdleFigures {
    /// RSS per idle connection, bytes.
    fn per_conn(&self) -> f64 {
        per(self.idle.rss, self.before.rss, self.opened)
    }
    /// Live heap per idle connection, bytes (pushlab only).
    fn heap_per_conn(&self) -> Option<f64> {
        Some(per(self.idle.heap?, self.before.heap?, self.opened))
    }
}

/// What a slow-reader phase measured: before the connections, with them
/// open and idle, once the server stopped sending, after they closed.
#[derive(Debug, Clone, Copy, Default)]
struct SlowFigures {
    streams: usize,
    /// The server's `--stream-buffer`.
    buffer: u64,
    size: u64,
    failed: usize,
    before: Mem,
    idle: Mem,
    stalled: Mem,
    after: Mem,
}

/// The largest write into a send queue: a DATA frame of the servers'
/// `--body-chunk` (16 KiB) and its header.
const ONE_WRITE: u64 = 16 * 1024 + 16;

/// What may stay allocated after every slow reader closed: caches that
/// grow once (the site's generated-body cache, the runtime's task slabs).
const LEFT_AFTER_CLOSE: u64 = 1 << 20;

impl SlowFigures {
    /// What the unread responses hold: the heap's growth (RSS for servers
    /// that do not report a heap).
    fn growth(&self) -> u64 {
        match (self.stalled.heap, self.idle.heap) {
            (Some(a), Some(b)) => a.saturating_sub(b),
            _ => self.stalled.rss.saturating_sub(self.idle.rss),
        }
    }
    /// `--stream-buffer` times the streams.
    fn bound(&self) -> u64 {
        self.buffer * self.streams as u64
    }
    /// Whether all the memory the slow readers cost stays within the bound.
    fn within(&self) -> bool {
        self.growth() <= self.bound()
    }
    /// Whether the send queues stay within their bound: a writer waits
    /// while its stream holds more than `--stream-buffer`, so a stream holds
    /// at most that plus the one write that crossed it.
    fn queue_held(&self) -> bool {
        self.queued()
            .is_none_or(|q| q <= (self.buffer + ONE_WRITE) * self.streams as u64)
    }
    /// The heap left after the connections closed, beyond before they opened.
    fn left(&self) -> Option<u64> {
        Some(self.after.heap?.saturating_sub(self.before.heap?))
    }
    fn freed(&self) -> bool {
        self.left().is_none_or(|l| l <= LEFT_AFTER_CLOSE)
    }
    fn ok(&self) -> bool {
        self.queue_held() && self.freed()
    }
    /// Bytes waiting in the send queues once stalled (pushlab only).
    fn queued(&self) -> Option<u64> {
        self.stalled.queued
    }
}

fn latency_figures(mut lat: Vec<f64>, failed: usize, secs: f64, peak: u64) -> LoadFigures {
    lat.sort_by(f64::total_cmp);
    LoadFigures {
        requests: lat.len() + failed,
        failed,
        rps: lat.len() as f64 / secs,
        p50_ms: quantile(&lat, 0.5),
        p99_ms: quantile(&lat, 0.99),
        peak,
        udp_drops: None,
    }
}

/// QUIC: idle connections, then the load on them, then closed.
async fn quic_phase(
    server: &ServerProcess,
    scale: &Scale,
) -> Result<(IdleFigures, LoadFigures), BenchError> {
    let probe = Probe::Pushlab(server);
    let before = probe.settled().await?;
    let (clients, failed_open) = open_quic(server.addr, scale.conns).await;
    let idle = probe.settled().await?;
    let drops_before = udp_errors_now();
    let t = Instant::now();
    let tasks = clients.iter().map(|c| {
        let c = c.clone();
        let (s, r) = (scale.streams, scale.rounds);
        tokio::spawn(quic_rounds(c, s, r))
    });
    let mut lat = Vec::new();
    let mut failed = failed_open * scale.streams * scale.rounds;
    for r in join_all(tasks).await {
        match r {
            Ok((l, f)) => {
                lat.extend(l);
                failed += f;
            }
            Err(_) => failed += scale.streams * scale.rounds,
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let udp_drops = match (drops_before, udp_errors_now()) {
        (Some(a), Some(b)) => Some((b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))),
        _ => None,
    };
    let peak = probe.read().await?.peak;
    let opened = clients.len();
    close_quic(clients).await;
    let after = probe.closed_down_to(&before, false).await?;
    Ok((
        IdleFigures {
            opened,
            failed: failed_open,
            before,
            idle,
            after,
        },
        LoadFigures {
            udp_drops,
            ..latency_figures(lat, failed, secs, peak)
        },
    ))
}

fn h2_opts() -> ClientOptions {
    ClientOptions {
        insecure: true,
        hash_bodies: false,
        ..ClientOptions::default()
    }
}

/// Opens `n` HTTP/2 connections from pushlab's own client, `OPENING`
/// handshakes at a time; the failures are counted.
async fn open_h2(port: u16, n: usize) -> (Vec<H2Client>, usize) {
    let gate = Arc::new(Semaphore::new(OPENING));
    let tasks = (0..n).map(|_| {
        let gate = gate.clone();
        tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            H2Client::connect("127.0.0.1", port, h2_opts())
                .await
                .map_err(|e| tracing::warn!("load: h2 connect: {e}"))
                .ok()
        })
    });
    let mut clients = Vec::new();
    let mut failed = 0;
    for r in join_all(tasks).await {
        match r.ok().flatten() {
            Some(c) => clients.push(c),
            None => failed += 1,
        }
    }
    (clients, failed)
}

/// Closes HTTP/2 connections (GOAWAY, then dropped after 200 ms).
async fn close_h2(clients: Vec<H2Client>) {
    join_all(
        clients
            .into_iter()
            .map(|c| c.close(Duration::from_millis(200))),
    )
    .await;
}

/// HTTP/2 idle connections.
async fn h2_idle(port: u16, probe: Probe<'_>, n: usize) -> Result<IdleFigures, BenchError> {
    let before = probe.settled().await?;
    let (clients, failed) = open_h2(port, n).await;
    let idle = probe.settled().await?;
    let opened = clients.len();
    close_h2(clients).await;
    let after = probe.closed_down_to(&before, false).await?;
    Ok(IdleFigures {
        opened,
        failed,
        before,
        idle,
        after,
    })
}

/// QUIC slow readers: each connection asks for `slow_size` bytes and
/// reads none; measured once the server stops growing.
async fn quic_slow(
    server: &ServerProcess,
    scale: &Scale,
    buffer: u64,
) -> Result<SlowFigures, BenchError> {
    let probe = Probe::Pushlab(server);
    let before = probe.settled().await?;
    let (clients, mut failed) = open_quic(server.addr, scale.slow).await;
    let idle = probe.settled().await?;
    let path = format!("/bytes/{}", scale.slow_size);
    let mut pend: Vec<PendingResponse> = Vec::new();
    for c in &clients {
        match c.send_request("GET", &path, &[]).await {
            Ok(p) => pend.push(p),
            Err(_) => failed += 1,
        }
    }
    let stalled = probe.settled().await?;
    let streams = pend.len();
    for p in pend {
        p.cancel();
    }
    close_quic(clients).await;
    let after = probe.closed_down_to(&before, true).await?;
    Ok(SlowFigures {
        streams,
        buffer,
        size: scale.slow_size,
        failed,
        before,
        idle,
        stalled,
        after,
    })
}

/// HTTP/2 slow readers, like [`quic_slow`].
async fn h2_slow(
    server: &ServerProcess,
    scale: &Scale,
    buffer: u64,
) -> Result<SlowFigures, BenchError> {
    let probe = Probe::Pushlab(server);
    let before = probe.settled().await?;
    let (clients, mut failed) = open_h2(server.addr.port(), scale.slow).await;
    let idle = probe.settled().await?;
    let path = format!("/bytes/{}", scale.slow_size);
    let mut pend = Vec::new();
    for c in &clients {
        match c.send_request("GET", &path, &[]).await {
            Ok(p) => pend.push(p),
            Err(_) => failed += 1,
        }
    }
    let stalled = probe.settled().await?;
    let streams = pend.len();
    drop(pend);
    for c in &clients {
        c.abort();
    }
    close_h2(clients).await;
    let after = probe.closed_down_to(&before, true).await?;
    Ok(SlowFigures {
        streams,
        buffer,
        size: scale.slow_size,
        failed,
        before,
        idle,
        stalled,
        after,
    })
}

fn drops_text(load: &[LoadFigures]) -> String {
    let drops: Vec<(u64, u64)> = load.iter().filter_map(|l| l.udp_drops).collect();
    if drops.is_empty() {
        return String::new();
    }
    let text: Vec<String> = drops.iter().map(|(r, s)| format!("{r}/{s}")).collect();
    format!(
        "; UDP datagrams dropped for full socket buffers (receive/send, system-wide, per run): {}",
        text.join(", ")
    )
}

fn heap_text(m: &Mem) -> String {
    m.heap
        .map(|h| format!(" (heap {:.1})", mib(h)))
        .unwrap_or_default()
}

/// The rows of one protocol's figures.
fn rows_of(
    label: &str,
    server: &str,
    load: &[LoadFigures],
    idle: &[IdleFigures],
    slow: &[SlowFigures],
) -> Vec<Row> {
    let mut rows = Vec::new();
    let col = |f: &dyn Fn(&LoadFigures) -> f64| load.iter().map(f).collect::<Vec<f64>>();
    if !load.is_empty() {
        let failed: usize = load.iter().map(|l| l.failed).sum();
        let requests: usize = load.iter().map(|l| l.requests).sum();
        rows.push(row(
            format!("{label}: requests per second"),
            server,
            col(&|l| l.rps),
            "req/s",
            format!("{failed} of {requests} requests failed{}", drops_text(load)),
        ));
        rows.push(row(
            format!("{label}: p99 latency"),
            server,
            col(&|l| l.p99_ms),
            "ms",
            format!(
                "p50 {:.1} ms",
                crate::summary::median(&col(&|l| l.p50_ms)).unwrap_or(f64::NAN)
            ),
        ));
        rows.push(row(
            format!("{label}: peak RSS"),
            server,
            col(&|l| mib(l.peak)),
            "MiB",
            "VmHWM after the load".into(),
        ));
    }
    if let Some(i) = idle.first() {
        let failed: usize = idle.iter().map(|i| i.failed).sum();
        let heap = idle
            .iter()
            .filter_map(IdleFigures::heap_per_conn)
            .map(kib)
            .collect::<Vec<f64>>();
        let heap = crate::summary::median(&heap)
            .map(|h| format!("heap {h:.1} KiB per connection; "))
            .unwrap_or_default();
        rows.push(row(
            format!("{label}: RSS per idle connection ({} conns)", i.opened),
            server,
            idle.iter().map(|i| kib(i.per_conn())).collect(),
            "KiB",
            format!(
                "goal 64 KiB {}; {heap}RSS MiB {:.1}{} before, {:.1}{} idle, {:.1}{} closed{}; {failed} failed to open",
                if idle.iter().all(|i| i.per_conn() <= 64.0 * 1024.0) { "met" } else { "MISSED" },
                mib(i.before.rss),
                heap_text(&i.before),
                mib(i.idle.rss),
                heap_text(&i.idle),
                mib(i.after.rss),
                heap_text(&i.after),
                match (i.after.conns, i.before.conns) {
                    (Some(a), Some(b)) if a > b => format!(" ({} connections still open)", a - b),
                    _ => String::new(),
                },
            ),
        ));
    }
    if let Some(s) = slow.first() {
        let failed: usize = slow.iter().map(|s| s.failed).sum();
        let left = s
            .left()
            .map(|l| {
                let open: u64 = slow
                    .iter()
                    .filter_map(|s| Some(s.after.conns?.saturating_sub(s.before.conns?)))
                    .sum();
                format!(
                    "; heap left after close {:.2} MiB ({}){}",
                    mib(l),
                    if slow.iter().all(SlowFigures::freed) {
                        "freed"
                    } else {
                        "NOT FREED"
                    },
                    if open > 0 {
                        format!(", {open} connections still open a minute after closing")
                    } else {
                        String::new()
                    }
                )
            })
            .unwrap_or_default();
        let per = |f: &dyn Fn(&SlowFigures) -> u64| {
            let v: Vec<f64> = slow
                .iter()
                .map(|s| kib(f(s) as f64 / s.streams.max(1) as f64))
                .collect();
            crate::summary::median(&v).unwrap_or(f64::NAN)
        };
        let queue = match s.queued() {
            Some(_) => format!(
                "; per stream {:.1} KiB in the send queue (bound {:.1} KiB = stream buffer + one write: {}) \
                 and {:.1} KiB other heap (transport and TLS state)",
                per(&|s| s.queued().unwrap_or(0)),
                kib((s.buffer + ONE_WRITE) as f64),
                if slow.iter().all(SlowFigures::queue_held) { "held" } else { "EXCEEDED" },
                per(&|s| s.growth().saturating_sub(s.queued().unwrap_or(0))),
            ),
            None => String::new(),
        };
        rows.push(row(
            format!(
                "{label}: slow readers, growth ({} x {} MB unread)",
                s.streams,
                s.size / 1_000_000
            ),
            server,
            slow.iter().map(|s| mib(s.growth())).collect(),
            "MiB",
            format!(
                "{} x stream buffer = {:.1} MiB: growth {}{queue}; RSS growth {:.1} MiB{left}; {failed} failed",
                s.streams,
                mib(s.bound()),
                if slow.iter().all(SlowFigures::within) { "within" } else { "over" },
                mib(s.stalled.rss.saturating_sub(s.idle.rss)),
            ),
        ));
    }
    rows
}

fn h2_figures(run: H2loadRun, peak: u64) -> LoadFigures {
    let failed = run.failed;
    let mut f = latency_figures(run.latencies_ms, failed, 1.0, peak);
    f.rps = run.rps;
    f.requests = run.succeeded + failed;
    f
}

/// Runs the load benchmark; returns its rows and how many requests,
/// connections or bounds failed.
pub async fn run_load(opts: &BenchOptions) -> Result<(Vec<Row>, usize), BenchError> {
    let H2Setup {
        nginx_version,
        server_cpu,
        client_cpu,
        dir,
        www,
    } = h2_setup(opts, "load")?;
    let scale = if opts.quick {
        Scale::quick()
    } else {
        Scale::full()
    };
    let runs = if opts.quick { 1 } else { opts.runs.max(1) };
    let result = async {
        let args = |only: &str| -> Vec<String> {
            [
                "--site",
                &www.display().to_string(),
                "--cert",
                &dir.join("cert.pem").display().to_string(),
                "--key",
                &dir.join("key.pem").display().to_string(),
                only,
                "--idle-timeout",
                IDLE,
                "--stream-buffer",
                &opts.stream_buffer.to_string(),
            ]
            .iter()
            .map(|s| s.to_string())
            .chain(opts.server_args.iter().cloned())
            .collect()
        };
        let (mut q_load, mut q_idle, mut q_slow) = (Vec::new(), Vec::new(), Vec::new());
        let (mut h_load, mut h_idle, mut h_slow) = (Vec::new(), Vec::new(), Vec::new());
        let (mut n_load, mut n_idle) = (Vec::new(), Vec::new());
        let h2log = dir.join("h2load.log");
        let url = |port: u16| format!("https://127.0.0.1:{port}/{}", SMALL.0);
        for run in 0..runs {
            tracing::info!("load: run {} of {runs}", run + 1);
            let server = ServerProcess::spawn(
                &opts.exe,
                &args("--no-h2"),
                opts.log_dir.join("bench-load-h3.log"),
                server_cpu,
            )
            .await?;
            let (idle, load) = quic_phase(&server, &scale).await?;
            q_idle.push(idle);
            q_load.push(load);
            q_slow.push(quic_slow(&server, &scale, opts.stream_buffer).await?);
            server.stop().await;

            let server = ServerProcess::spawn(
                &opts.exe,
                &args("--no-h3"),
                opts.log_dir.join("bench-load-h2.log"),
                server_cpu,
            )
            .await?;
            let port = server.addr.port();
            let probe = Probe::Pushlab(&server);
            h_idle.push(h2_idle(port, probe, scale.h2_idle).await?);
            let r = h2load_run(
                &url(port),
                scale.h2_requests,
                scale.h2_conns,
                scale.h2_streams,
                client_cpu,
                Some(&h2log),
            )
            .await?;
            h_load.push(h2_figures(r, probe.read().await?.peak));
            h_slow.push(h2_slow(&server, &scale, opts.stream_buffer).await?);
            server.stop().await;

            let nginx = start_nginx(&dir, &www, server_cpu).await?;
            let pid = nginx
                .worker()
                .ok_or_else(|| err("no nginx worker process"))?;
            let probe = Probe::Process(pid);
            n_idle.push(h2_idle(nginx.port, probe, scale.h2_idle).await?);
            let r = h2load_run(
                &url(nginx.port),
                scale.h2_requests,
                scale.h2_conns,
                scale.h2_streams,
                client_cpu,
                Some(&h2log),
            )
            .await?;
            n_load.push(h2_figures(r, probe.read().await?.peak));
            drop(nginx);
        }
        let quic = format!(
            "QUIC {} conns x {} streams x {} rounds, 1 KiB",
            scale.conns, scale.streams, scale.rounds
        );
        let h2 = format!(
            "HTTP/2 h2load -c {} -m {} -n {}, 1 KiB",
            scale.h2_conns, scale.h2_streams, scale.h2_requests
        );
        let mut rows = rows_of(&quic, "pushlab", &q_load, &q_idle, &q_slow);
        rows.extend(rows_of(&h2, "pushlab", &h_load, &h_idle, &h_slow));
        let nginx_name = nginx_version.replace("nginx version: ", "");
        rows.extend(rows_of(&h2, &nginx_name, &n_load, &n_idle, &[]));
        let failed = q_load
            .iter()
            .chain(&h_load)
            .chain(&n_load)
            .map(|l| l.failed)
            .sum::<usize>()
            + q_idle
                .iter()
                .chain(&h_idle)
                .chain(&n_idle)
                .map(|i| i.failed)
                .sum::<usize>()
            + q_slow
                .iter()
                .chain(&h_slow)
                .map(|s| s.failed + usize::from(!s.ok()))
                .sum::<usize>();
        Ok((rows, failed))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(rss: u64, heap: Option<u64>) -> Mem {
        Mem {
            rss,
            peak: rss,
            heap,
            ..Mem::default()
        }
    }

    #[test]
    fn per_connection_figures() {
        let i = IdleFigures {
            opened: 1000,
            failed: 0,
            before: mem(10 << 20, Some(1 << 20)),
            idle: mem((10 << 20) + 64_000_000, Some((1 << 20) + 50_000_000)),
            after: mem(0, None),
        };
        assert!((i.per_conn() - 64_000.0).abs() < 1e-9);
        assert_eq!(i.heap_per_conn(), Some(50_000.0));
        let shrunk = IdleFigures {
            idle: mem(1, None),
            ..i
        };
        assert_eq!(shrunk.per_conn(), 0.0);
        assert_eq!(shrunk.heap_per_conn(), None);
    }

    #[test]
    fn slow_reader_bounds() {
        const STREAM_BUFFER: u64 = 128 * 1024;
        let heap = |heap: u64, queued: u64| Mem {
            heap: Some(heap),
            queued: Some(queued),
            ..mem(1 << 30, None)
        };
        let s = SlowFigures {
            streams: 10,
            buffer: STREAM_BUFFER,
            size: 100_000_000,
            failed: 0,
            before: heap(50, 0),
            idle: heap(60, 0),
            stalled: heap(60 + 10 * STREAM_BUFFER, 10 * (STREAM_BUFFER + ONE_WRITE)),
            after: heap(50 + LEFT_AFTER_CLOSE, 0),
        };
        // RSS grew a lot (allocator caches); the heap exactly to the bound,
        // the queues to theirs.
        assert_eq!(s.growth(), 10 * STREAM_BUFFER);
        assert!(s.within() && s.queue_held() && s.freed() && s.ok());
        // Memory beyond the queues is reported, not a failure.
        let over = SlowFigures {
            stalled: heap(61 + 10 * STREAM_BUFFER, 10 * STREAM_BUFFER),
            ..s
        };
        assert!(!over.within() && over.ok());
        // A queue over its bound, or memory kept after close, is.
        let queue_over = SlowFigures {
            stalled: heap(0, 10 * (STREAM_BUFFER + ONE_WRITE) + 1),
            ..s
        };
        assert!(!queue_over.queue_held() && !queue_over.ok());
        let kept = SlowFigures {
            after: heap(51 + LEFT_AFTER_CLOSE, 0),
            ..s
        };
        assert!(!kept.freed() && !kept.ok());
        // Without a report (nginx), RSS is what is compared.
        let rss_only = SlowFigures {
            idle: mem(200, None),
            stalled: mem(200 + 10 * STREAM_BUFFER + 1, None),
            after: mem(0, None),
            ..s
        };
        assert!(!rss_only.within() && rss_only.queue_held());
        assert_eq!(rss_only.left(), None);
    }

    #[test]
    fn udp_buffer_errors_from_snmp() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
            Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors\n\
            Udp: 1463605 3312 53219 938820 53210 7 0\n\
            UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
            UdpLite: 0 0 0 0 1 2\n";
        assert_eq!(udp_buffer_errors(snmp), Some((53210, 7)));
        assert_eq!(udp_buffer_errors("Udp: InDatagrams\nUdp: 5\n"), None);
        assert_eq!(udp_buffer_errors(""), None);
    }

    #[test]
    fn latency_quantiles_and_rate() {
        let f = latency_figures((1..=100).map(f64::from).collect(), 3, 2.0, 7);
        assert_eq!(f.requests, 103);
        assert_eq!(f.failed, 3);
        assert!((f.rps - 50.0).abs() < 1e-9);
        assert!((f.p50_ms - 50.5).abs() < 1e-9);
        assert!((f.p99_ms - 99.01).abs() < 1e-9);
    }
}
