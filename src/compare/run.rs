//! Running a comparison: servers behind emulated links, page loads by the
//! emulated browser, and the summary of each configuration.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::presets::{configs, matrix, preset, Browser, Config, Connection, LinkProfile, Matrix};
use super::{CacheState, CompareError};
use crate::browser::{
    load_on, load_page, not_loaded, BrowserConn, Cpu, HttpCache, LoadOptions, PageLoad, Warmup,
};
use crate::client::ClientOptions;
use crate::config::{SchedulerMode, ServeOptions};
use crate::netem::{Emulator, EmulatorOptions};
use crate::server::{RunningServer, ServerOptions};
use crate::summary::{median, median_ci, quartiles, rel_diff_ci};
use crate::tls::Identity;
use crate::trace::ConnState;

/// One page load of a configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// Index into the configurations.
    pub config: usize,
    /// Run number.
    pub run: usize,
    /// The document's first byte minus (think time + round trip): how
    /// long the ready document waited behind other bytes (ms).
    pub doc_extra_ms: Option<f64>,
    /// The document's completion minus its ideal: (think time + round
    /// trip + its body at the bottleneck rate) after its request (ms).
    pub doc_done_extra_ms: Option<f64>,
    /// When the server had the document ready, estimated as its request
    /// time plus the up-link delay plus think time (ms since navigation).
    pub doc_ready_ms: Option<f64>,
    /// The trace sample at the moment the document became ready (the first
    /// at or after it): what it had to wait behind.
    pub at_ready: Option<TracePoint>,
    /// When the last subresource (pushed or fetched) finished (ms).
    pub subresources_done_ms: Option<f64>,
    /// The most packets the bottleneck queue held during the load.
    pub peak_link_queue_packets: Option<usize>,
    /// How the connection was warmed (`--connection warm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Warmup>,
    /// The server's congestion window when navigation started: the first
    /// trace sample at or after it that has the connection (a fresh one is
    /// registered once the server accepts it, about half a round trip
    /// later), bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwnd_at_start: Option<u64>,
    /// How punctually the emulator delivered this load's packets (from
    /// just before it started to its end): whether the link was the link
    /// it claims to be on a busy machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<EmulatorLateness>,
    /// Time series through the load, every [`TRACE_EVERY`] (written to
    /// traces.jsonl, one line per run, rather than runs.json).
    #[serde(skip)]
    pub trace: Vec<TracePoint>,
    /// The load as recorded.
    pub load: PageLoad,
}

/// [`crate::netem::Lateness`] per direction over one load.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct EmulatorLateness {
    /// Client to server.
    pub up: crate::netem::Lateness,
    /// Server to client.
    pub down: crate::netem::Lateness,
}

/// Traced Chromium loads per page and protocol when calibrating the CPU
/// model, unless `--calibration-loads` says otherwise.
pub const CALIBRATION_LOADS: usize = 2;

/// How often a load is sampled.
pub const TRACE_EVERY: Duration = Duration::from_millis(10);

/// The bottleneck and the server's connection at one moment of a load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TracePoint {
    /// Milliseconds since navigation start (the browser's time base).
    pub t_ms: f64,
    /// Packets waiting in the emulated bottleneck (server to client).
    pub link_queue_packets: usize,
    /// Their bytes.
    pub link_queue_bytes: u64,
    /// The server's newest live connection (the page's).
    pub conn: Option<ConnState>,
}

/// Samples the bottleneck and the server's connections until `stop`.
fn sample_until(
    emu: &Emulator,
    probes: &crate::trace::Probes,
    stop: &std::sync::atomic::AtomicBool,
) -> Vec<(Instant, TracePoint)> {
    let mut out = Vec::new();
    let mut next = Instant::now();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let (packets, bytes) = emu.down_queued();
        let at = Instant::now();
        out.push((
            at,
            TracePoint {
                t_ms: 0.0,
                link_queue_packets: packets,
                link_queue_bytes: bytes,
                conn: probes.sample().pop(),
            },
        ));
        next += TRACE_EVERY;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    out
}

/// Summary of one configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// The configuration.
    pub config: Config,
    /// Successful runs.
    pub runs: usize,
    /// Failed runs.
    pub failed: usize,
    /// Median load time (ms).
    pub load_ms: Option<f64>,
    /// Its interquartile range.
    pub load_iqr: Option<(f64, f64)>,
    /// 95% bootstrap confidence interval of the median load time.
    #[serde(default)]
    pub load_ci: Option<(f64, f64)>,
    /// Median render-ready time (ms).
    pub render_ms: Option<f64>,
    /// Median document extra delay (ms).
    pub doc_extra_ms: Option<f64>,
    /// Median document completion beyond its ideal (ms).
    pub doc_done_extra_ms: Option<f64>,
    /// Median bytes in the bottleneck queue when the document was ready.
    pub link_queue_at_ready: Option<f64>,
    /// Median bytes in flight when the document was ready.
    pub in_flight_at_ready: Option<f64>,
    /// Median bytes the transport held unsent when the document was ready
    /// (where that can be told).
    pub held_unsent_at_ready: Option<f64>,
    /// Median time the last subresource finished (ms).
    pub subresources_done_ms: Option<f64>,
    /// Median bytes wasted.
    pub wasted: Option<f64>,
    /// Median bytes received.
    pub received: Option<f64>,
    /// Load time against the baseline variant: (baseline - this) / baseline
    /// (positive = faster, the paper's sign).
    pub vs_baseline: Option<f64>,
    /// 95% bootstrap confidence interval of `vs_baseline`.
    #[serde(default)]
    pub vs_baseline_ci: Option<(f64, f64)>,
    /// Render-ready against the baseline, the same way.
    pub render_vs_baseline: Option<f64>,
    /// 95% bootstrap confidence interval of `render_vs_baseline`.
    #[serde(default)]
    pub render_vs_baseline_ci: Option<(f64, f64)>,
    /// The Rules of Thumb's figure for this row, when reproduced.
    pub paper: Option<String>,
}

/// Everything a comparison produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// pushlab version.
    pub version: String,
    /// The machine.
    pub machine: String,
    /// Preset name.
    pub preset: String,
    /// What it shows.
    pub about: String,
    /// Runs per configuration.
    pub runs_per_config: usize,
    /// The part of the matrix this report holds, when it is one shard of
    /// several (`--shard K/N`); None for a whole matrix (or a merge).
    #[serde(default)]
    pub shard: Option<Shard>,
    /// The link profiles as used.
    pub profiles: Vec<LinkProfile>,
    /// The browser's CPU model.
    pub cpu: Cpu,
    /// How the CPU model was calibrated to Chromium on each link, when it
    /// was (`cpu` is then the first link's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu_calibration: Vec<super::calibrate::Calibration>,
    /// The servers' QUIC initial RTT estimate in ms (None: quinn's 333 ms).
    pub quic_initial_rtt_ms: Option<f64>,
    /// The servers' QUIC initial window in bytes (None: quinn's 12,000).
    pub quic_initial_window: Option<u64>,
    /// The TCP congestion control of the HTTP/2 connections, as the
    /// kernel reported it (`--tcp-cc`, or the kernel's default).
    #[serde(default)]
    pub tcp_cc: Option<String>,
    /// The servers' QUIC initial UDP payload size (None: quinn's 1,200).
    #[serde(default)]
    pub quic_initial_mtu: Option<u16>,
    /// The largest TLS record on the HTTP/2 connections (None: 16 KiB).
    #[serde(default)]
    pub tls_max_record: Option<usize>,
    /// Kernel TCP pacing on the HTTP/2 connections (`--tcp-pacing`).
    #[serde(default)]
    pub tcp_pacing: bool,
    /// The servers' TCP initial window in segments (`--tcp-initcwnd`;
    /// None: the kernel's 10).
    #[serde(default)]
    pub tcp_initcwnd: Option<u32>,
    /// The servers' send-queue policy (`--scheduler`; rfc9218 unless an
    /// ablation said otherwise).
    #[serde(default = "rfc9218")]
    pub scheduler: String,
    /// The HTTP/3 in-flight limit every variant ran with, when
    /// `--inflight` overrode the presets' (an ablation; None: each
    /// variant's own, `bdp-125` unless the preset says otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inflight: Option<String>,
    /// quinn's pacer (false: `--quic-pacing off`, the patched build).
    #[serde(default = "pacing_on")]
    pub quic_pacing: bool,
    /// Whether the link emulator's threads asked for real-time priority
    /// (`--emulator-realtime`; reports from before it existed ran without).
    #[serde(default)]
    pub emulator_realtime: bool,
    /// Whether the HTTP/3 servers' ACK-spacing estimator dropped trains
    /// across a receiver's stall (`--ack-stall-check`, off by default;
    /// reports from before it existed ran without).
    #[serde(default)]
    pub ack_stall_check: bool,
    /// Whether the servers' HTTP/3 responses carried `alt-svc`
    /// (`--h3-alt-svc`, on by default; reports from before it existed ran
    /// without).
    #[serde(default)]
    pub h3_alt_svc: bool,
    /// Seed of the links' loss generators.
    pub seed: u64,
    /// The connection each measured load ran on.
    #[serde(default)]
    pub connection: Connection,
    /// The page each measured load followed on its connection
    /// (`--after`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Configurations.
    pub configs: Vec<Config>,
    /// Per-configuration summaries, in configuration order.
    pub rows: Vec<Row>,
    /// Every run.
    pub runs: Vec<Run>,
}

/// Options of a comparison.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Preset name.
    pub preset: String,
    /// Runs per configuration (default: the preset's).
    pub runs: Option<usize>,
    /// The small version.
    pub quick: bool,
    /// Traced Chromium loads per page, protocol and cache state when
    /// calibrating the CPU model.
    pub calibration_loads: usize,
    /// Where to write results.
    pub out_dir: PathBuf,
    /// The browser's CPU model.
    pub cpu: Cpu,
    /// Seed of the link's loss generator.
    pub seed: u64,
    /// Label (or part of one) of the configuration to draw a waterfall for
    /// (its median run); default: the first non-baseline configuration.
    pub waterfall: Option<String>,
    /// Only configurations whose label contains one of these (empty: all).
    pub only: Vec<String>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// The servers' QUIC initial RTT estimate (quinn's default: 333 ms).
    pub initial_rtt: Option<Duration>,
    /// The servers' QUIC initial congestion window in bytes (quinn's
    /// default: 10 datagrams of 1,200 bytes).
    pub initial_window: Option<u64>,
    /// TCP congestion control for the HTTP/2 connections (None: the
    /// kernel's default).
    pub tcp_cc: Option<String>,
    /// The servers' QUIC initial UDP payload size (quinn's default: 1,200).
    pub initial_mtu: Option<u16>,
    /// The largest TLS record on the HTTP/2 connections (None: 16 KiB).
    pub tls_max_record: Option<usize>,
    /// Kernel TCP pacing on the HTTP/2 connections.
    pub tcp_pacing: bool,
    /// The servers' TCP initial window in segments (None: the kernel's).
    pub tcp_initcwnd: Option<u32>,
    /// The servers' send-queue policy (`--scheduler`).
    pub scheduler: crate::sched::Policy,
    /// The HTTP/3 in-flight limit for every variant (`--inflight`; None:
    /// each variant's own).
    pub inflight: Option<crate::sched::inflight::InflightMode>,
    /// Where the HTTP/3 servers write a qlog per connection (`--qlog-dir`:
    /// one folder per link and variant).
    pub qlog_dir: Option<PathBuf>,
    /// Where Chromium's net logs of the measured loads are kept
    /// (`--netlog-dir`: one file per configuration and run).
    pub netlog_dir: Option<PathBuf>,
    /// quinn's pacer on (false needs the patched quinn-proto).
    pub quic_pacing: bool,
    /// The link emulator's threads at real-time priority.
    pub emulator_realtime: bool,
    /// The HTTP/3 servers' ACK-spacing estimator drops trains across a
    /// receiver's stall.
    pub ack_stall_check: bool,
    /// The servers' HTTP/3 responses carry `alt-svc`.
    pub h3_alt_svc: bool,
    /// Random loss added to every link profile, each direction (a share).
    pub loss: Option<f64>,
    /// Jitter added to every link profile, each direction.
    pub jitter: Option<Duration>,
    /// A matrix of the user's instead of the preset.
    pub matrix: Option<Matrix>,
    /// Run only this shard of the (configuration, run) pairs.
    pub shard: Option<Shard>,
    /// Also write one HAR file per run (har/ in the output directory).
    pub har: bool,
    /// Resume from the journal a killed run left in the output directory.
    pub resume: bool,
    /// The connection loads run on (default: the preset's).
    pub connection: Option<Connection>,
    /// Load this page first on the measured load's connection (after any
    /// warm-up): the measured page then finds its HTTP cache and what its
    /// pushes left in the connection's push cache, as a navigation from
    /// one page of a site to another does.
    pub after: Option<String>,
    /// The browsers that load the pages (default: the preset's).
    pub browsers: Option<Vec<Browser>>,
    /// Calibrate the CPU model to this machine's Chromium first (default:
    /// when both browsers load the pages).
    pub calibrate: Option<bool>,
}

/// One of N parts of a matrix (`--shard K/N`, K from 1): the
/// (configuration, run) pairs, numbered in the order a whole run would
/// take them (link profile, then run, then configuration), whose number
/// is K-1 modulo N. Deterministic, so N machines given 1/N .. N/N run
/// every pair exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// K, from 1.
    pub index: usize,
    /// N.
    pub count: usize,
}

impl Shard {
    /// Whether pair number `n` (from 0, in run order) is this shard's.
    pub fn takes(&self, n: usize) -> bool {
        n % self.count == self.index - 1
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// "K/N" with 1 <= K <= N.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard wants K/N with 1 <= K <= N (e.g. 2/4), not {s:?}");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

struct Progress {
    total: usize,
    done: usize,
    show: bool,
    tty: bool,
}

impl Progress {
    fn step(&mut self, what: &str) {
        self.done += 1;
        if !self.show {
            return;
        }
        let width = 30;
        let filled = self.done * width / self.total.max(1);
        let bar = format!("[{}{}]", "#".repeat(filled), " ".repeat(width - filled));
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r{bar} {}/{} {what:<60}", self.done, self.total);
            if self.done == self.total {
                let _ = writeln!(err);
            }
        } else if self.done == self.total || self.done.is_multiple_of((self.total / 10).max(1)) {
            let _ = writeln!(err, "{bar} {}/{} {what}", self.done, self.total);
        }
        let _ = err.flush();
    }
}

/// Runs a comparison (blocking; it owns its runtimes and threads). Needs
/// root for the emulated links.
pub fn run(opts: &CompareOptions) -> Result<Report, CompareError> {
    let mut preset = match &opts.matrix {
        Some(m) => matrix(m)?,
        None => preset(&opts.preset, opts.quick)?,
    };
    vary_links(&mut preset.profiles, opts.loss, opts.jitter)?;
    let runs = opts.runs.unwrap_or(preset.runs).max(1);
    let connection = opts.connection.unwrap_or(preset.connection);
    if let Some(b) = &opts.browsers {
        preset.browsers = b.clone();
    }
    let calibrate = opts.calibrate.unwrap_or(
        preset.browsers.contains(&Browser::Emulated)
            && preset.browsers.contains(&Browser::Chromium),
    );
    if preset.browsers.contains(&Browser::Chromium) && connection == Connection::Warm {
        return Err(CompareError::Invalid(
            "--browser chromium loads pages on fresh connections only (Chromium's \
             connections cannot be warmed the way --connection warm does)"
                .into(),
        ));
    }
    if let Some(a) = &opts.after {
        if preset.browsers.contains(&Browser::Chromium) {
            return Err(CompareError::Invalid(
                "--after is for the emulated browser (Chromium cannot receive push, \
                 whose cache --after shares between pages)"
                    .into(),
            ));
        }
        if !a.starts_with('/') || preset.site.get(a).is_none() {
            return Err(CompareError::Invalid(format!(
                "--after {a}: not a page of the site"
            )));
        }
    }
    if preset.browsers.contains(&Browser::Chromium) || calibrate {
        crate::browser::chromium::check().map_err(CompareError::Invalid)?;
    }
    let mut configs = configs(&preset);
    if !opts.only.is_empty() {
        configs.retain(|c| {
            let l = c.label();
            opts.only.iter().any(|o| l.contains(o.as_str()))
        });
        if configs.is_empty() {
            return Err(CompareError::Invalid(format!(
                "no configuration of {} matches --only {:?}",
                preset.name, opts.only
            )));
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let identity = Identity::self_signed().map_err(|e| CompareError::Server(e.to_string()))?;
    let mut mine = shard_pairs(&configs, preset.profiles.len(), runs, opts.shard);
    // Push rows Chromium cannot receive are not run ("emulated only").
    mine.retain(|&(ci, _)| !configs[ci].emulated_only);
    let mut progress = Progress {
        total: mine.len(),
        done: 0,
        show: opts.progress,
        tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let header = super::journal::Header {
        journal: 1,
        preset: preset.name.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        runs_per_config: runs,
        configs: configs.iter().map(Config::label).collect(),
        shard: opts.shard,
        seed: opts.seed,
        options: format!(
            "initial RTT {:?}, initial window {:?}, cpu {:?}, connection {}, \
             initial MTU {:?}, TCP cc {:?}, TLS records {:?}, TCP pacing {}, QUIC pacing {}, \
             after {:?}, TCP initcwnd {:?}, scheduler {}, inflight {:?}, emulator realtime {}, \
             ACK stall check {}, HTTP/3 alt-svc {}",
            opts.initial_rtt,
            opts.initial_window,
            opts.cpu,
            connection.name(),
            opts.initial_mtu,
            opts.tcp_cc,
            opts.tls_max_record,
            opts.tcp_pacing,
            opts.quic_pacing,
            opts.after,
            opts.tcp_initcwnd,
            opts.scheduler.name(),
            opts.inflight.map(|m| m.name()),
            opts.emulator_realtime,
            opts.ack_stall_check,
            opts.h3_alt_svc,
        ),
    };
    let left = opts.out_dir.join(super::journal::FILE);
    if !opts.resume && left.exists() && opts.progress {
        eprintln!(
            "note: {} of an unfinished run is replaced (--resume keeps its runs)",
            left.display()
        );
    }
    let (mut journal, mut all) = if opts.resume {
        super::journal::Journal::resume(&opts.out_dir, &header)?
    } else {
        (
            super::journal::Journal::create(&opts.out_dir, &header)?,
            Vec::new(),
        )
    };
    if opts.resume && opts.progress {
        eprintln!(
            "resuming: {} of {} runs from {}",
            all.len(),
            mine.len(),
            opts.out_dir.join(super::journal::FILE).display()
        );
    }
    let done: std::collections::HashSet<(usize, usize)> =
        all.iter().map(|r: &Run| (r.config, r.run)).collect();
    let mine: std::collections::HashSet<(usize, usize)> = mine.difference(&done).copied().collect();
    progress.total = mine.len();
    // Each link's warm-up resource: one BDP (at least 16 KB), outside every
    // page, so that one transfer from the initial window in slow start
    // takes the window past the BDP.
    let mut site = preset.site.clone();
    let bdps: Vec<u64> = preset.profiles.iter().map(link_bdp).collect();
    if connection == Connection::Warm {
        for (pi, bdp) in bdps.iter().enumerate() {
            site.insert_static(
                &warmup_path(pi),
                vec![b'w'; (*bdp).max(16 * 1024) as usize],
                std::time::SystemTime::UNIX_EPOCH,
            );
        }
    }
    let site = Arc::new(site);
    if let Some(dir) = &opts.netlog_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| CompareError::Invalid(format!("--netlog-dir {}: {e}", dir.display())))?;
    }
    let mut calibrations = Vec::new();
    for (pi, prof) in preset.profiles.iter().enumerate() {
        if !mine.iter().any(|&(ci, _)| configs[ci].profile_index == pi) {
            continue;
        }
        // The CPU model, calibrated to Chromium on this link: how long
        // Chromium's main thread takes depends on what else the machine's
        // cores do (the emulator relays more packets on a faster link).
        let cpu = if calibrate {
            // The loads this link makes (an --only may leave out some).
            let here: Vec<&Config> = mine
                .iter()
                .map(|&(ci, _)| &configs[ci])
                .filter(|c| c.profile_index == pi)
                .collect();
            let pages_where = |keep: &dyn Fn(&Config) -> bool| {
                let mut out: Vec<String> = here
                    .iter()
                    .filter(|c| keep(c))
                    .map(|c| c.page.clone())
                    .collect();
                out.sort();
                out.dedup();
                out
            };
            // Its pages; those it loads with a warm cache, for the cache
            // reads; and those it loads from a server that hints (and never
            // pushes: Chromium refuses push), for the 103 preloads' delay.
            let hinting = |c: &Config| {
                let policy = &preset.variants[c.variant_index].policy;
                c.cache == CacheState::Cold && policy.hints() && !policy.may_push()
            };
            let pages = pages_where(&|_| true);
            let warm_pages = pages_where(&|c| c.cache == CacheState::Warm);
            let hinted = here
                .iter()
                .find(|c| hinting(c))
                .map(|c| super::calibrate::Hinted {
                    pages: pages_where(&hinting),
                    policy: preset.variants[c.variant_index].policy.clone(),
                });
            let hinted_pages = hinted.as_ref().map_or(0, |h| h.pages.len());
            if opts.progress {
                eprintln!(
                    "calibrating the CPU model to Chromium over {} ({} traced loads: {} warm, {} hinted)",
                    prof.name,
                    (pages.len() + warm_pages.len() + hinted_pages) * 2 * opts.calibration_loads,
                    warm_pages.len() * 2 * opts.calibration_loads,
                    hinted_pages * 2 * opts.calibration_loads
                );
            }
            let calibration_pages = super::calibrate::Pages {
                cold: pages,
                warm: warm_pages,
                hinted,
            };
            let c = super::calibrate::calibrate(
                &rt,
                site.clone(),
                &calibration_pages,
                prof,
                &identity,
                opts.calibration_loads,
                Link {
                    seed: opts.seed,
                    realtime: opts.emulator_realtime,
                },
            )?;
            if opts.progress {
                eprintln!("calibrated over {}: {:?}", prof.name, c.cpu);
            }
            let cpu = c.cpu;
            calibrations.push(c);
            cpu
        } else {
            opts.cpu
        };
        // Per page where the calibration measured its rendering cost.
        let page_cpu = |page: &str, warm: bool| match (calibrate, calibrations.last()) {
            (true, Some(c)) => c.cpu_for(page, warm),
            _ => cpu,
        };
        let emu = start_link(
            prof,
            Link {
                seed: opts.seed,
                realtime: opts.emulator_realtime,
            },
        )?;
        if let Some(n) = opts.tcp_initcwnd {
            emu.set_server_initcwnd(n)?;
        }
        // One server per variant, on the server side of this link.
        let mut servers = Vec::new();
        for v in &preset.variants {
            let mut serve = ServeOptions {
                policy: v.policy.clone(),
                site: site.clone(),
                ..ServeOptions::default()
            };
            serve.quic.initial_rtt = opts.initial_rtt;
            serve.quic.initial_window = opts.initial_window;
            serve.quic.initial_mtu = opts.initial_mtu;
            serve.quic.pacing = opts.quic_pacing;
            serve.quic.ack_stall_check = opts.ack_stall_check;
            if let Some(dir) = &opts.qlog_dir {
                let dir = dir.join(super::report::slug(&format!("{}-{}", prof.name, v.label)));
                std::fs::create_dir_all(&dir).map_err(|e| {
                    CompareError::Invalid(format!("--qlog-dir {}: {e}", dir.display()))
                })?;
                serve.qlog_dir = Some(dir);
            }
            if let SchedulerMode::Queue(c) = &mut serve.mode {
                c.inflight = opts.inflight.unwrap_or(v.inflight);
                c.policy = opts.scheduler;
            }
            if let Some(cc) = v.congestion {
                serve.quic.congestion = cc;
            }
            let srv = start_server(&rt, &emu, &identity, serve, |so| {
                so.tcp_notsent_lowat = v.tcp_notsent_lowat;
                so.tcp_cc = opts.tcp_cc.clone();
                so.tls_max_record = opts.tls_max_record;
                so.tcp_pacing = opts.tcp_pacing;
                so.h3_alt_svc = opts.h3_alt_svc;
                so.tcp_inflight = v.tcp_inflight;
            })?;
            servers.push(srv);
        }
        let rtt = prof.rtt().as_secs_f64() * 1e3;
        for run in 0..runs {
            for (ci, c) in configs.iter().enumerate() {
                if c.profile_index != pi || !mine.contains(&(ci, run)) {
                    continue;
                }
                let port = servers[c.variant_index].addr.port();
                let lo = LoadOptions {
                    url: format!("https://{}:{port}{}", emu.server_addr, c.page),
                    proto: c.protocol,
                    accept_push: true,
                    cpu: page_cpu(&c.page, c.cache == CacheState::Warm),
                    timeout: Duration::from_secs(120),
                    client: ClientOptions {
                        insecure: true,
                        ..Default::default()
                    },
                };
                let warm = c.cache == CacheState::Warm;
                let stop = std::sync::atomic::AtomicBool::new(false);
                let probes = &servers[c.variant_index].stats.probes;
                let stats = servers[c.variant_index].stats.clone();
                let warm_conn =
                    (connection == Connection::Warm).then(|| (warmup_path(pi), bdps[pi]));
                let after = opts.after.clone();
                let chromium = (c.browser == Browser::Chromium).then(|| {
                    crate::browser::chromium::ChromiumOptions {
                        url: lo.url.clone(),
                        proto: c.protocol,
                        spki: identity.spki_sha256.clone(),
                        warm,
                        timeout: lo.timeout,
                        trace: false,
                        keep_net_log: opts.netlog_dir.as_ref().map(|d| {
                            d.join(format!("{}-run{run}.json", super::report::slug(&c.label())))
                        }),
                    }
                });
                // Counts start now (what came before belongs to no load).
                emu.take_lateness();
                let (samples, loaded) = std::thread::scope(|scope| {
                    let sampler = scope.spawn(|| sample_until(&emu, probes, &stop));
                    let loaded = match chromium {
                        Some(co) => emu.in_client(move || {
                            // Chromium's clock to ours: its record says when
                            // (wall clock) the navigation started.
                            let (i0, u0) = (Instant::now(), crate::browser::driver::unix_ms());
                            let load = crate::browser::chromium::load(&co);
                            let off =
                                Duration::from_secs_f64((load.started_unix_ms - u0).abs() / 1e3);
                            let t0 = if load.started_unix_ms >= u0 {
                                i0 + off
                            } else {
                                i0.checked_sub(off).unwrap_or(i0)
                            };
                            (t0, load, None)
                        }),
                        None => emu.in_client(move || {
                            let rt = tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                                .expect("a runtime");
                            rt.block_on(async move {
                                let mut cache = HttpCache::new();
                                if warm {
                                    let (first, c) = load_page(&lo, cache).await;
                                    if let Some(e) = first.error {
                                        let t0 = Instant::now();
                                        let (mut l, _) = load_page(&lo, HttpCache::new()).await;
                                        l.error = Some(format!("warming visit: {e}"));
                                        return (t0, l, None);
                                    }
                                    cache = c;
                                }
                                if warm_conn.is_none() && after.is_none() {
                                    let t0 = Instant::now();
                                    return (t0, load_page(&lo, cache).await.0, None);
                                }
                                measured_on_open(&lo, cache, warm_conn, after.as_deref(), &stats)
                                    .await
                            })
                        }),
                    };
                    let loaded = loaded.map(|h| h.join());
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    let (up, down) = emu.take_lateness();
                    let loaded = loaded.map(|l| l.map(|l| (l, EmulatorLateness { up, down })));
                    (sampler.join().unwrap_or_default(), loaded)
                });
                let ((t0, load, warmup), emulator) = loaded?
                    .map_err(|_| CompareError::Server("page-load thread panicked".into()))?;
                let think = site
                    .get(&c.page)
                    .map(|r| r.think.as_secs_f64() * 1e3)
                    .unwrap_or(0.0);
                // The document, when it came from the network.
                let doc = load
                    .summary
                    .resources
                    .first()
                    .filter(|d| d.source != crate::browser::Source::Cached);
                let doc_extra_ms = doc.and_then(|d| d.first_byte_ms).map(|fb| fb - think - rtt);
                // Sample times in the browser's time base: navigation starts
                // once the handshake is done.
                let nav = t0 + Duration::from_secs_f64(load.handshake_ms.max(0.0) / 1e3);
                let trace: Vec<TracePoint> = samples
                    .into_iter()
                    .filter(|(at, _)| *at >= t0)
                    .map(|(at, mut p)| {
                        p.t_ms = (at.saturating_duration_since(nav).as_secs_f64()
                            - nav.saturating_duration_since(at).as_secs_f64())
                            * 1e3;
                        p
                    })
                    .collect();
                let up_ms = prof.up.delay.as_secs_f64() * 1e3;
                let doc_ready_ms = doc.and_then(|d| d.requested_ms).map(|r| r + up_ms + think);
                let doc_done_extra_ms = doc.and_then(|d| {
                    let body_ms = prof.down.serialisation(d.bytes as usize).as_secs_f64() * 1e3;
                    Some(d.done_ms? - d.requested_ms? - think - rtt - body_ms)
                });
                let at_ready = doc_ready_ms
                    .and_then(|r| trace.iter().find(|p| p.t_ms >= r))
                    .cloned();
                let subresources_done_ms = load
                    .summary
                    .resources
                    .iter()
                    .skip(1)
                    .filter_map(|r| r.done_ms)
                    .reduce(f64::max);
                let peak_link_queue_packets = trace.iter().map(|p| p.link_queue_packets).max();
                let cwnd_at_start = trace
                    .iter()
                    .filter(|p| p.t_ms >= 0.0)
                    .find_map(|p| Some(p.conn.as_ref()?.cwnd));
                progress.step(&c.label());
                let r = Run {
                    config: ci,
                    run,
                    doc_extra_ms,
                    doc_done_extra_ms,
                    doc_ready_ms,
                    at_ready,
                    subresources_done_ms,
                    peak_link_queue_packets,
                    warmup,
                    cwnd_at_start,
                    emulator: Some(emulator),
                    trace,
                    load,
                };
                journal.append(&r)?;
                all.push(r);
            }
        }
        for s in servers {
            rt.block_on(s.shutdown());
        }
        emu.stop();
    }
    drop(journal);
    // Resumed runs first in the journal: back into run order.
    all.sort_by_key(|r| (configs[r.config].profile_index, r.run, r.config));
    let rows = summarise(&configs, &all);
    Ok(Report {
        version: env!("CARGO_PKG_VERSION").to_string(),
        machine: crate::bench::machine(),
        preset: preset.name.to_string(),
        about: preset.about.to_string(),
        runs_per_config: runs,
        shard: opts.shard,
        profiles: preset.profiles.clone(),
        cpu: calibrations.first().map(|c| c.cpu).unwrap_or(opts.cpu),
        cpu_calibration: calibrations,
        quic_initial_rtt_ms: opts.initial_rtt.map(|d| d.as_secs_f64() * 1e3),
        quic_initial_window: opts.initial_window,
        quic_initial_mtu: opts.initial_mtu,
        tls_max_record: opts.tls_max_record,
        tcp_pacing: opts.tcp_pacing,
        tcp_initcwnd: opts.tcp_initcwnd,
        scheduler: opts.scheduler.name().to_string(),
        inflight: opts.inflight.map(|m| m.name().to_string()),
        quic_pacing: opts.quic_pacing,
        emulator_realtime: opts.emulator_realtime,
        ack_stall_check: opts.ack_stall_check,
        h3_alt_svc: opts.h3_alt_svc,
        tcp_cc: Some(
            opts.tcp_cc
                .clone()
                .or_else(crate::netinfo::default_congestion_control)
                .unwrap_or_else(|| "unknown".into()),
        ),
        seed: opts.seed,
        connection,
        after: opts.after.clone(),
        configs,
        rows,
        runs: all,
    })
}

/// A link's bandwidth-delay product: its server-to-client rate times its
/// round trip, bytes (the initial window's 14,720 bytes for a link without
/// a rate limit).
pub fn link_bdp(p: &LinkProfile) -> u64 {
    let rtt = p.rtt().as_secs_f64();
    match p.down.rate {
        Some(bits) => (bits as f64 / 8.0 * rtt).round() as u64,
        None => crate::push::DEFAULT_CWND,
    }
}

/// Adds `loss` (a share, each direction, independent losses) and `jitter`
/// to every profile; the profile's name says so ("2g+loss1%+jitter20ms"),
/// so every label and row does too.
fn vary_links(
    profiles: &mut [LinkProfile],
    loss: Option<f64>,
    jitter: Option<Duration>,
) -> Result<(), CompareError> {
    for p in profiles {
        if let Some(l) = loss {
            p.up.loss = crate::netem::Loss::Bernoulli(l);
            p.down.loss = crate::netem::Loss::Bernoulli(l);
            p.name = format!("{}+loss{}%", p.name, l * 100.0);
        }
        if let Some(j) = jitter {
            p.up.jitter = j;
            p.down.jitter = j;
            p.name = format!("{}+jitter{}ms", p.name, j.as_secs_f64() * 1e3);
        }
        for spec in [&p.up, &p.down] {
            crate::netem::validate(spec).map_err(|e| CompareError::Invalid(e.to_string()))?;
        }
    }
    Ok(())
}

fn pacing_on() -> bool {
    true
}

/// How a run's links are emulated besides their profile.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Seed of the loss generators.
    pub seed: u64,
    /// The relay's threads at real-time priority.
    pub realtime: bool,
}

/// The emulated link of `prof`: the client in a namespace of its own, the
/// servers on the root namespace's side.
pub(super) fn start_link(prof: &LinkProfile, link: Link) -> Result<Emulator, CompareError> {
    Ok(Emulator::start(EmulatorOptions {
        up: prof.up,
        down: prof.down,
        server_ns: false,
        seed: link.seed,
        realtime: link.realtime,
    })?)
}

/// A server on the server side of `emu`, serving `serve`, with its other
/// options set by `tune`.
pub(super) fn start_server(
    rt: &tokio::runtime::Runtime,
    emu: &Emulator,
    identity: &Identity,
    serve: ServeOptions,
    tune: impl FnOnce(&mut ServerOptions),
) -> Result<RunningServer, CompareError> {
    let mut so = ServerOptions::new(
        SocketAddr::from((emu.server_addr, 0)),
        identity.clone(),
        serve,
    );
    tune(&mut so);
    rt.block_on(RunningServer::start(so))
        .map_err(|e| CompareError::Server(e.to_string()))
}

fn rfc9218() -> String {
    crate::sched::Policy::Rfc9218.name().to_string()
}

/// The warm-up resource of link profile `pi`.
fn warmup_path(pi: usize) -> String {
    format!("/pushlab-warmup-{pi}.bin")
}

/// Transfers of the warm-up resource before giving up on reaching the BDP.
const WARMUP_MAX_TRANSFERS: usize = 20;

/// A measured load on a connection opened before it: with `warm`
/// (`--connection warm`), `path` is fetched until the server's congestion
/// window for the connection reaches `bdp`; with `after` (`--after`), that
/// page is loaded first, and the measured page gets the HTTP cache it
/// filled and its unused pushes. Navigation starts when that is done (the
/// record has no handshake time). Returns when navigation started, the
/// load and what warming did.
async fn measured_on_open(
    lo: &LoadOptions,
    cache: HttpCache,
    warm: Option<(String, u64)>,
    after: Option<&str>,
    stats: &crate::stats::ServerStats,
) -> (Instant, PageLoad, Option<Warmup>) {
    // A run that could not prepare its connection is a failed run: its
    // record says why, and no page is loaded for it.
    let before = cache.clone();
    let fail = |why: String| (Instant::now(), not_loaded(lo, before.clone(), why), None);
    let mut bc = match BrowserConn::connect(lo).await {
        Ok(bc) => bc,
        Err(e) => return fail(format!("connecting: {e}")),
    };
    let mut warmup = None;
    if let Some((path, bdp)) = warm {
        // The server side of this connection: the newest live one (a warm
        // cache's first visit was on an older one).
        let reached = || stats.probes.sample().pop().is_some_and(|c| c.cwnd >= bdp);
        match bc.warm_up(&path, WARMUP_MAX_TRANSFERS, &reached).await {
            Ok(w) if w.reached => warmup = Some(w),
            Ok(w) => {
                bc.close().await;
                return fail(format!(
                    "warming: the window did not reach the BDP ({bdp} bytes) in {} transfers",
                    w.transfers
                ));
            }
            Err(e) => {
                bc.close().await;
                return fail(e);
            }
        }
    }
    let mut cache = cache;
    if let Some(page) = after {
        let first = LoadOptions {
            url: same_origin(&lo.url, page),
            ..lo.clone()
        };
        let (l, c) = load_on(&mut bc, &first, cache.clone(), 0.0).await;
        if let Some(e) = l.error {
            bc.close().await;
            return fail(format!("loading {page} first: {e}"));
        }
        cache = c;
    }
    let t0 = Instant::now();
    let (load, _) = load_on(&mut bc, lo, cache, 0.0).await;
    bc.close().await;
    (t0, load, warmup)
}

/// `url` with its path replaced by `path`.
fn same_origin(url: &str, path: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let origin_len = url.len() - rest.len() + rest.find('/').unwrap_or(rest.len());
    format!("{}{path}", &url[..origin_len])
}

/// The (configuration, run) pairs a run takes: all of them, or a shard's.
/// Pairs are numbered in run order (link profile, run, configuration).
fn shard_pairs(
    configs: &[Config],
    profiles: usize,
    runs: usize,
    shard: Option<Shard>,
) -> std::collections::HashSet<(usize, usize)> {
    let mut n = 0;
    let mut mine = std::collections::HashSet::new();
    for pi in 0..profiles {
        for run in 0..runs {
            for (ci, c) in configs.iter().enumerate() {
                if c.profile_index != pi {
                    continue;
                }
                if shard.is_none_or(|s| s.takes(n)) {
                    mine.insert((ci, run));
                }
                n += 1;
            }
        }
    }
    mine
}

/// The rows of a table: each configuration's medians with their confidence
/// intervals, and its difference to the baseline of its group.
pub(super) fn summarise(configs: &[Config], runs: &[Run]) -> Vec<Row> {
    // Each configuration's successful runs.
    let ok: Vec<Vec<&Run>> = (0..configs.len())
        .map(|ci| {
            runs.iter()
                .filter(|r| r.config == ci && r.load.error.is_none())
                .collect()
        })
        .collect();
    let samples = |ci: usize, f: &dyn Fn(&Run) -> Option<f64>| -> Vec<f64> {
        ok[ci].iter().filter_map(|r| f(r)).collect()
    };
    let load = |r: &Run| r.load.summary.load_ms;
    let render = |r: &Run| r.load.summary.render_ready_ms;
    let mut rows: Vec<Row> = configs
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            let collect = |f: &dyn Fn(&Run) -> Option<f64>| samples(ci, f);
            let loads = collect(&load);
            Row {
                config: c.clone(),
                runs: ok[ci].len(),
                failed: runs.iter().filter(|r| r.config == ci).count() - ok[ci].len(),
                load_ms: median(&loads),
                load_iqr: quartiles(&loads),
                load_ci: median_ci(&loads),
                render_ms: median(&collect(&render)),
                doc_extra_ms: median(&collect(&|r| r.doc_extra_ms)),
                doc_done_extra_ms: median(&collect(&|r| r.doc_done_extra_ms)),
                link_queue_at_ready: median(&collect(&|r| {
                    r.at_ready.as_ref().map(|p| p.link_queue_bytes as f64)
                })),
                in_flight_at_ready: median(&collect(&|r| {
                    r.at_ready
                        .as_ref()?
                        .conn
                        .as_ref()?
                        .in_flight
                        .map(|b| b as f64)
                })),
                held_unsent_at_ready: median(&collect(&|r| {
                    let c = r.at_ready.as_ref()?.conn.as_ref()?;
                    c.transport_held_unsent().map(|b| b as f64)
                })),
                subresources_done_ms: median(&collect(&|r| r.subresources_done_ms)),
                wasted: median(&collect(&|r| Some(r.load.summary.bytes_wasted as f64))),
                received: median(&collect(&|r| Some(r.load.summary.bytes_received as f64))),
                vs_baseline: None,
                vs_baseline_ci: None,
                render_vs_baseline: None,
                render_vs_baseline_ci: None,
                paper: c.paper.clone(),
            }
        })
        .collect();
    let rel = |b: Option<f64>, x: Option<f64>| match (b, x) {
        (Some(b), Some(x)) if b > 0.0 => Some((b - x) / b),
        _ => None,
    };
    for i in 0..rows.len() {
        let Some(b) = baseline_of(&rows, i) else {
            continue;
        };
        rows[i].vs_baseline = rel(rows[b].load_ms, rows[i].load_ms);
        rows[i].render_vs_baseline = rel(rows[b].render_ms, rows[i].render_ms);
        if b != i {
            rows[i].vs_baseline_ci = rel_diff_ci(&samples(b, &load), &samples(i, &load));
            rows[i].render_vs_baseline_ci = rel_diff_ci(&samples(b, &render), &samples(i, &render));
        }
    }
    rows
}

/// The baseline row of row `i`'s group (its "vs baseline" is against it).
pub(super) fn baseline_of(rows: &[Row], i: usize) -> Option<usize> {
    let g = rows[i].config.group();
    (0..rows.len()).find(|&j| rows[j].config.baseline && rows[j].config.group() == g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_urls() {
        assert_eq!(
            same_origin("https://10.1.2.3:4433/po/index.html", "/index.html"),
            "https://10.1.2.3:4433/index.html"
        );
        assert_eq!(same_origin("https://h", "/a"), "https://h/a");
    }
    use crate::compare::presets::{configs, preset};

    /// --loss and --jitter change every profile both ways and its name.
    #[test]
    fn link_variants_name_and_change_every_profile() {
        let mut p = preset("push-order", false).expect("preset").profiles;
        let before = p[0].clone();
        vary_links(&mut p, Some(0.01), Some(Duration::from_millis(20))).expect("valid");
        assert_eq!(p[0].name, format!("{}+loss1%+jitter20ms", before.name));
        for spec in [&p[0].up, &p[0].down] {
            assert_eq!(spec.loss, crate::netem::Loss::Bernoulli(0.01));
            assert_eq!(spec.jitter, Duration::from_millis(20));
        }
        assert_eq!(p[0].down.delay, before.down.delay);
        assert_eq!(p[0].down.rate, before.down.rate);
        // Nothing asked, nothing changed.
        let mut q = preset("push-order", false).expect("preset").profiles;
        vary_links(&mut q, None, None).expect("valid");
        assert_eq!(q[0].name, before.name);
        // A link the emulator refuses.
        let mut r = preset("push-order", false).expect("preset").profiles;
        assert!(vary_links(&mut r, Some(1.5), None).is_err());
        assert!(vary_links(&mut r, None, Some(Duration::from_secs(11))).is_err());
    }

    /// N shards take every pair of the whole run exactly once, in nearly
    /// equal parts; "K/N" is checked.
    #[test]
    fn shards_partition_the_pairs() {
        let p = preset("push-order", false).expect("a preset");
        let configs = configs(&p);
        let all = shard_pairs(&configs, p.profiles.len(), 5, None);
        assert_eq!(all.len(), configs.len() * 5);
        for count in 1..=7 {
            let mut seen = std::collections::HashSet::new();
            for index in 1..=count {
                let part = shard_pairs(&configs, p.profiles.len(), 5, Some(Shard { index, count }));
                assert!(
                    part.len().abs_diff(all.len() / count) <= 1,
                    "{index}/{count}"
                );
                for pair in part {
                    assert!(seen.insert(pair), "{pair:?} twice with {count} shards");
                }
            }
            assert_eq!(seen, all, "{count} shards");
        }
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard { index: 3, count: 8 }.to_string(), "3/8");
    }
}
