//! `pushlab compare`: page loads over emulated links, a preset's or a
//! matrix of the user's.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use pushlab::browser::Cpu;
use pushlab::client::Proto;
use pushlab::compare::{self, CacheState};
use pushlab::config::QuicOptions;

use super::netem::LinkProfile;
use super::{bytes_arg, duration_arg, OnOff};

/// `--preset`: the studies `pushlab compare --list` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// Rules of Thumb, rule 2: push in evaluation order.
    PushOrder,
    /// Rules of Thumb's straw men: PushStaticWithHTML, and limited to one BDP.
    StrawMan,
    /// Rules of Thumb, rule 1: push just enough to fill the congestion window.
    FillWindow,
    /// A slow backend while push-all pushes 1 MB of images over a bloated queue.
    Preemption,
    /// Issue 11's sweep: queue length x think time x link, with and
    /// without in-flight control, BBR and HTTP/2.
    PreemptionSweep,
    /// A repeat visit with a warm cache.
    RepeatVisit,
    /// Server push against 103 Early Hints.
    PushVsHints,
    /// The emulated browser against headless Chromium, row by row.
    BrowserValidation,
    /// A small sampler: the demo's slow page over LTE (what --quick runs).
    Quick,
}

impl Preset {
    /// The library's name of the preset.
    fn name(self) -> &'static str {
        match self {
            Preset::PushOrder => "push-order",
            Preset::StrawMan => "straw-man",
            Preset::FillWindow => "fill-window",
            Preset::Preemption => "preemption",
            Preset::PreemptionSweep => "preemption-sweep",
            Preset::RepeatVisit => "repeat-visit",
            Preset::PushVsHints => "push-vs-hints",
            Preset::BrowserValidation => "browser-validation",
            Preset::Quick => "quick",
        }
    }
}

/// `--protocols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// HTTP/2 over TLS over TCP.
    H2,
    /// HTTP/3 over QUIC.
    H3,
}

impl From<Protocol> for Proto {
    fn from(p: Protocol) -> Proto {
        match p {
            Protocol::H2 => Proto::H2,
            Protocol::H3 => Proto::H3,
        }
    }
}

/// `--cache`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Cache {
    /// An empty HTTP cache.
    Cold,
    /// The cache of a visit a minute earlier.
    Warm,
}

impl From<Cache> for CacheState {
    fn from(c: Cache) -> CacheState {
        match c {
            Cache::Cold => CacheState::Cold,
            Cache::Warm => CacheState::Warm,
        }
    }
}

/// `--cpu`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum CpuArg {
    /// A 2016 mid-range phone's script costs.
    Phone,
    /// Fitted to this machine's Chromium first.
    Calibrate,
}

/// `--browser`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum BrowserArg {
    /// pushlab's emulated browser.
    Emulated,
    /// Headless Chromium (/usr/bin/chromium, driven by playwright-core).
    Chromium,
    /// Both, each configuration loaded by each.
    Both,
}

/// `--connection`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ConnectionArg {
    Fresh,
    Warm,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CompareArgs {
    #[command(subcommand)]
    cmd: Option<CompareCmd>,
    /// A preset (default with --quick: quick, a small sampler of all the
    /// machinery).
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// A small version: one run, fewer variants (under two minutes).
    #[arg(long)]
    quick: bool,
    /// Runs per configuration (default: the preset's).
    #[arg(long)]
    runs: Option<usize>,
    /// Where to write table.md, runs.csv, runs.json and the SVG plots
    /// (default: results/compare-PRESET).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Draw the waterfall of the median run of the configuration whose
    /// label contains this (e.g. "h2 /index.html push-all").
    #[arg(long)]
    waterfall: Option<String>,
    /// Run only the configurations whose label contains this text
    /// (repeatable: any of them), e.g. `--only "h3 /think-300.html"`.
    /// A label reads "protocol page variant link cache".
    #[arg(long = "only", value_name = "TEXT")]
    only: Vec<String>,
    /// Script run time per KB in the emulated browser (ms; default 1.0,
    /// the phone model's).
    #[arg(long)]
    cpu_ms_per_kb: Option<f64>,
    /// The emulated browser's CPU model: phone (a 2016 phone's script
    /// costs, no commit, layout or paint time), or calibrate (fitted
    /// first to this machine's Chromium from traced loads over the first
    /// link; see runs.json cpu_calibration). Default: calibrate when both
    /// browsers load the pages, else phone.
    #[arg(long, value_enum)]
    cpu: Option<CpuArg>,
    /// Traced Chromium loads per page, protocol and cache state when the
    /// CPU model is calibrated (more loads, steadier constants).
    #[arg(long, default_value_t = pushlab::compare::CALIBRATION_LOADS as u64,
          value_parser = clap::value_parser!(u64).range(1..=50))]
    calibration_loads: u64,
    /// Seed of the links' loss generators.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Instead of a preset, a matrix of your own: a push policy (repeat the
    /// flag; `serve --push-policy` names, `list:/a.js,/b.js` too; default
    /// all six).
    #[arg(long = "policy")]
    policies: Vec<String>,
    /// Matrix: link profiles, comma-separated (default 3g).
    #[arg(long = "profiles", value_enum, value_delimiter = ',')]
    profiles: Vec<LinkProfile>,
    /// Matrix: cold, warm or both, comma-separated (default cold).
    #[arg(long = "cache", value_enum, value_delimiter = ',')]
    caches: Vec<Cache>,
    /// Matrix: h2, h3 or both, comma-separated (default both).
    #[arg(long = "protocols", value_enum, value_delimiter = ',')]
    protocols: Vec<Protocol>,
    /// Matrix: pages to load, comma-separated (default /index.html).
    #[arg(long = "pages", value_delimiter = ',')]
    pages: Vec<String>,
    /// Matrix: serve this site directory (with its site.toml) instead of
    /// the demo site.
    #[arg(long)]
    site: Option<PathBuf>,
    /// The servers' QUIC initial RTT estimate (quinn's default: 333 ms),
    /// to study its effect on long-RTT links.
    #[arg(long, value_parser = duration_arg)]
    initial_rtt: Option<Duration>,
    /// TCP congestion control for the HTTP/2 servers (bbr, cubic, reno, ...;
    /// default: the kernel's, net.ipv4.tcp_congestion_control, recorded in
    /// runs.json as tcp_cc). quinn's is CUBIC.
    #[arg(long)]
    tcp_cc: Option<String>,
    /// The servers' QUIC initial UDP payload size (quinn's default: 1,200).
    #[arg(long)]
    initial_mtu: Option<u16>,
    /// The largest TLS record on the HTTP/2 connections (default 16 KiB),
    /// e.g. 1400: one record per TCP segment.
    #[arg(long, value_parser = bytes_arg)]
    tls_max_record: Option<u64>,
    /// Kernel TCP pacing on the HTTP/2 connections (an ablation; recorded
    /// in runs.json as tcp_pacing). BBR paces regardless.
    #[arg(long)]
    tcp_pacing: bool,
    /// The servers' TCP initial congestion window, in segments (set as
    /// `initcwnd` on the server's route to the emulated client; Linux's
    /// default is 10). Linux counts its window in segments, so small TLS
    /// records use it up before its bytes (recorded in runs.json as
    /// tcp_initcwnd).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    tcp_initcwnd: Option<u32>,
    /// The servers' send-queue policy, on both protocols: rfc9218 (the
    /// default: urgency, then incremental round-robin), fifo (request
    /// order, one response at a time) or round-robin (one quantum per
    /// stream per turn, priorities ignored, like a server that ignores
    /// them). An ablation; recorded in runs.json as scheduler.
    #[arg(long, default_value = "rfc9218", value_parser = scheduler_arg)]
    scheduler: pushlab::sched::Policy,
    /// The HTTP/3 servers' in-flight limit for preemptible bytes, for
    /// every variant (off, bdp, bdp-125; default: each variant's own,
    /// bdp-125 unless the preset compares them). An ablation; recorded in
    /// runs.json as inflight. The calibration's server keeps the default.
    #[arg(long, value_enum)]
    inflight: Option<pushlab::sched::inflight::InflightMode>,
    /// Write a qlog per HTTP/3 connection of the measured loads, in one
    /// folder per link and variant under DIR (files named by start time
    /// and client address; runs.json's started_unix_ms finds a load's).
    #[arg(long)]
    qlog_dir: Option<std::path::PathBuf>,
    /// Keep Chromium's net log of every measured load under DIR (one file
    /// per configuration and run, `LABEL-runN.json`; it has the QUIC and
    /// HTTP/2 frames Chromium sent and received).
    #[arg(long)]
    netlog_dir: Option<std::path::PathBuf>,
    /// quinn's pacer on (default) or off, for every HTTP/3 server of the
    /// run (an ablation; recorded in runs.json as quic_pacing). Off needs
    /// a build with the patched quinn-proto (patches/build-pacing-switch.sh).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    quic_pacing: OnOff,
    /// The link emulator's threads at real-time priority (on, the
    /// default, when running as root) or at normal priority (off: to
    /// measure what that changes). Each run records in runs.json how late
    /// the emulator delivered its packets (emulator.down.late, max_us).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    emulator_realtime: OnOff,
    /// Whether the HTTP/3 servers' ACK-spacing estimator (behind in-flight
    /// control) drops ACK trains that cross a client's reading stall (on)
    /// or keeps them (off, the default: on LTE the check made Chromium's
    /// loads slower, results/ack-stall-check-ablation). An ablation;
    /// recorded in runs.json as ack_stall_check.
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    ack_stall_check: OnOff,
    /// Whether the servers' HTTP/3 responses carry `alt-svc` advertising
    /// HTTP/3 (on, the default) or not (off, as before this option
    /// existed). Chromium, forced onto QUIC, learns from it that the
    /// origin supports request priorities; without it, its network service
    /// holds low-priority requests as for an HTTP/1.1 host. Recorded in
    /// runs.json as h3_alt_svc.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    h3_alt_svc: OnOff,
    /// Random loss added to every link profile, each direction (e.g. 1%),
    /// from the --seed generator; the profile's name says so (2g+loss1%).
    #[arg(long)]
    loss: Option<String>,
    /// Jitter added to every link profile, each direction (e.g. 20ms):
    /// a uniform extra delay per packet, without reordering.
    #[arg(long, value_parser = duration_arg)]
    jitter: Option<Duration>,
    /// Make the two transports as alike as pushlab can: CUBIC on both
    /// (--tcp-cc cubic; quinn's default), QUIC's first datagrams the size of
    /// a full TCP segment (--initial-mtu 1472) and QUIC's initial window
    /// TCP's ten segments (--initial-window 14480). Still different: quinn
    /// paces and Linux CUBIC without fq does not, the acknowledgement
    /// policies, TLS records over TCP against packet-sized QUIC frames.
    /// Explicit options win.
    #[arg(long)]
    alike: bool,
    /// The servers' QUIC initial congestion window, e.g. 14720 (quinn's
    /// default is 12,000 bytes: 10 datagrams of 1,200; Linux TCP's is 10
    /// segments, 14,480 bytes on these links).
    #[arg(long, value_parser = bytes_arg)]
    initial_window: Option<u64>,
    /// The connection each measured load runs on: fresh (a new one), or
    /// warm (warmed first, by transfers of a resource outside the page,
    /// until the server's congestion window reaches the link's BDP, as the
    /// Rules of Thumb measured). Default: the preset's (push-order and
    /// straw-man: warm; the others: fresh).
    #[arg(long, value_enum)]
    connection: Option<ConnectionArg>,
    /// Load this page first, on the measured load's connection (after any
    /// warm-up): the measured page then finds the HTTP cache it filled and
    /// the pushes it left unused in the connection's push cache, as when
    /// a visitor goes from one page of a site to the next. Emulated
    /// browser only.
    #[arg(long, value_name = "PAGE")]
    after: Option<String>,
    /// The browser that loads the pages (default: the preset's; emulated,
    /// except browser-validation's both). Chromium is Debian's headless
    /// Chromium in the link's client namespace, a fresh profile per load,
    /// on fresh connections; it refuses server push, so push rows say
    /// "emulated only". Needs node and playwright-core
    /// (interop/install-deps.sh).
    #[arg(long, value_enum)]
    browser: Option<BrowserArg>,
    /// List the presets and exit.
    #[arg(long)]
    list: bool,
    /// Run only part K of N of the matrix (K from 1): a deterministic 1/N
    /// of the (configuration, run) pairs, for N machines or job-array
    /// tasks; `pushlab compare merge` joins the N output directories.
    #[arg(long, value_name = "K/N")]
    shard: Option<pushlab::compare::Shard>,
    /// Also write every run as a HAR 1.2 file (har/ in the output
    /// directory), for HAR viewers and DevTools.
    #[arg(long)]
    har: bool,
    /// Resume a comparison that was killed: the runs in the output
    /// directory's journal (runs.journal.jsonl) are kept, only the others
    /// run. The same command line (and pushlab build) as the killed run.
    #[arg(long)]
    resume: bool,
}

#[derive(clap::Subcommand)]
enum CompareCmd {
    /// Merge the output directories of the shards of one matrix (`--shard
    /// K/N`) into one: the same table.md, runs.csv, runs.json, plots and
    /// index.html as one unsharded run writes.
    Merge(MergeArgs),
    /// Write the tables, plots and index.html of a finished run again from
    /// its runs.json (and traces.jsonl), with this pushlab's reporting: the
    /// runs are not repeated.
    Report(ReportArgs),
}

#[derive(Args)]
struct ReportArgs {
    /// The run's output directory (with runs.json).
    dir: PathBuf,
    /// As for compare: the configuration whose median run gets waterfall.svg.
    #[arg(long)]
    waterfall: Option<String>,
}

/// `pushlab compare report`.
fn report(a: &ReportArgs) -> Result<()> {
    let report = compare::read_dir(&a.dir)?;
    print_and_write(&report, &a.dir, a.waterfall.as_deref())
}

/// Prints the table of a report read back (merged or not) and writes its
/// files into `out`.
fn print_and_write(
    report: &compare::Report,
    out: &std::path::Path,
    waterfall: Option<&str>,
) -> Result<()> {
    print!("{}", compare::table(report));
    let opts = compare::WriteOptions {
        waterfall,
        har: false,
    };
    println!();
    for f in compare::write(report, out, &opts)? {
        println!("wrote {}", f.display());
    }
    Ok(())
}

#[derive(Args)]
struct MergeArgs {
    /// The shards' output directories (each with runs.json).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the merged results (default: results/compare-PRESET).
    #[arg(long)]
    out: Option<PathBuf>,
    /// As for compare: the configuration whose median run gets waterfall.svg.
    #[arg(long)]
    waterfall: Option<String>,
}

/// `pushlab compare merge`.
fn merge(a: &MergeArgs) -> Result<()> {
    let report = compare::merge(&a.dirs)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("results/compare-{}", report.preset)));
    println!(
        "merged {} shards: {} configurations x {} runs, on {}, pushlab {}\n",
        a.dirs.len(),
        report.configs.len(),
        report.runs_per_config,
        report.machine,
        report.version
    );
    print_and_write(&report, &out, a.waterfall.as_deref())
}

/// `pushlab compare`.
pub fn run(a: &CompareArgs) -> Result<()> {
    match &a.cmd {
        Some(CompareCmd::Merge(m)) => return merge(m),
        Some(CompareCmd::Report(r)) => return report(r),
        None => {}
    }
    if a.list {
        for name in compare::PRESETS {
            let p = compare::preset(name, false)?;
            println!("{name:14} {}", p.about);
        }
        return Ok(());
    }
    let custom = !(a.policies.is_empty()
        && a.profiles.is_empty()
        && a.caches.is_empty()
        && a.protocols.is_empty()
        && a.pages.is_empty()
        && a.site.is_none());
    let preset = match (&a.preset, a.quick, custom) {
        (Some(_), _, true) | (None, true, true) => bail!(
            "--policy, --profiles, --cache, --protocols, --pages and --site make a matrix of \
             their own: give them without --preset and --quick"
        ),
        (Some(p), _, false) => p.name().to_string(),
        (None, true, false) => "quick".to_string(),
        (None, false, true) => "matrix".to_string(),
        (None, false, false) => bail!(
            "--preset NAME (one of {}), --quick, or a matrix (--policy, --profiles, --cache, \
             --protocols, --pages, --site)",
            compare::PRESETS.join(", ")
        ),
    };
    let matrix = if custom {
        let m = compare::Matrix {
            site_dir: a.site.clone(),
            pages: a.pages.clone(),
            policies: a.policies.clone(),
            profiles: a.profiles.iter().map(|p| p.name().to_string()).collect(),
            protocols: a.protocols.iter().map(|&p| p.into()).collect(),
            caches: a.caches.iter().map(|&c| c.into()).collect(),
        };
        // Every name checked before anything starts.
        compare::matrix(&m)?;
        Some(m)
    } else {
        None
    };
    if let Some(v) = a.cpu_ms_per_kb {
        if !(v.is_finite() && v >= 0.0) {
            bail!("--cpu-ms-per-kb must be a non-negative number");
        }
        if matches!(a.cpu, Some(CpuArg::Calibrate)) {
            bail!("--cpu-ms-per-kb and --cpu calibrate both set the script cost: give one");
        }
    }
    if a.runs == Some(0) {
        bail!("--runs must be at least 1");
    }
    // --alike: the transports as alike as pushlab can make them; explicit
    // options win.
    let initial_window = a.initial_window.or(a.alike.then_some(14_480));
    let initial_mtu = a.initial_mtu.or(a.alike.then_some(1472));
    let tcp_cc = a.tcp_cc.clone().or(a.alike.then(|| "cubic".to_string()));
    // The servers' options are checked by the one validator they share.
    QuicOptions {
        initial_window,
        initial_mtu,
        pacing: a.quic_pacing == OnOff::On,
        ..Default::default()
    }
    .validate()?;
    if let Some(cc) = &tcp_cc {
        pushlab::netinfo::check_congestion_control(cc)?;
    }
    let opts = compare::CompareOptions {
        out_dir: a.out.clone().unwrap_or_else(|| match a.shard {
            Some(s) => PathBuf::from(format!(
                "results/compare-{preset}-shard-{}-of-{}",
                s.index, s.count
            )),
            None => PathBuf::from(format!("results/compare-{preset}")),
        }),
        preset,
        runs: a.runs,
        quick: a.quick,
        calibration_loads: a.calibration_loads as usize,
        cpu: Cpu {
            script_ms_per_kb: a.cpu_ms_per_kb.unwrap_or(Cpu::default().script_ms_per_kb),
            ..Cpu::default()
        },
        seed: a.seed,
        waterfall: a.waterfall.clone(),
        only: a.only.clone(),
        progress: true,
        initial_rtt: a.initial_rtt,
        initial_window,
        initial_mtu,
        tcp_cc,
        tls_max_record: a.tls_max_record.map(|v| v as usize),
        tcp_pacing: a.tcp_pacing,
        tcp_initcwnd: a.tcp_initcwnd,
        quic_pacing: a.quic_pacing == OnOff::On,
        emulator_realtime: a.emulator_realtime == OnOff::On,
        ack_stall_check: a.ack_stall_check == OnOff::On,
        h3_alt_svc: a.h3_alt_svc == OnOff::On,
        scheduler: a.scheduler,
        inflight: a.inflight,
        qlog_dir: a.qlog_dir.clone(),
        netlog_dir: a.netlog_dir.clone(),
        loss: a
            .loss
            .as_deref()
            .map(pushlab::netem::parse_loss)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--loss: {e}"))?,
        jitter: a.jitter,
        matrix,
        shard: a.shard,
        har: a.har,
        resume: a.resume,
        connection: a.connection.map(|c| match c {
            ConnectionArg::Fresh => compare::Connection::Fresh,
            ConnectionArg::Warm => compare::Connection::Warm,
        }),
        after: a.after.clone(),
        calibrate: match (a.cpu, a.cpu_ms_per_kb) {
            (Some(CpuArg::Calibrate), _) => Some(true),
            (Some(CpuArg::Phone), _) | (None, Some(_)) => Some(false),
            (None, None) => None,
        },
        browsers: a.browser.map(|b| match b {
            BrowserArg::Emulated => vec![compare::Browser::Emulated],
            BrowserArg::Chromium => vec![compare::Browser::Chromium],
            BrowserArg::Both => vec![compare::Browser::Emulated, compare::Browser::Chromium],
        }),
    };
    let started = std::time::Instant::now();
    let report = compare::run(&opts)?;
    println!(
        "pushlab {} on {}, pushlab {} ({} runs per configuration{}, {:.0} s)\n",
        std::env::args()
            .skip(1)
            .map(|s| if s.contains([' ', ';', '*']) {
                format!("'{s}'")
            } else {
                s
            })
            .collect::<Vec<_>>()
            .join(" "),
        report.machine,
        report.version,
        report.runs_per_config,
        report
            .shard
            .map(|s| format!(", shard {s} of the pairs"))
            .unwrap_or_default(),
        started.elapsed().as_secs_f64()
    );
    println!("{}\n", report.about);
    print!("{}", compare::table(&report));
    let wo = compare::WriteOptions {
        waterfall: opts.waterfall.as_deref(),
        har: opts.har,
    };
    let files = compare::write(&report, &opts.out_dir, &wo)?;
    compare::journal::remove(&opts.out_dir);
    println!();
    for f in files {
        println!("wrote {}", f.display());
    }
    let failed: usize = report.rows.iter().map(|r| r.failed).sum();
    if failed > 0 {
        bail!("{failed} page loads failed (see runs.csv)");
    }
    Ok(())
}

/// A send-queue policy by its name (`rfc9218`, `fifo`, `round-robin`).
fn scheduler_arg(s: &str) -> Result<pushlab::sched::Policy, String> {
    pushlab::sched::Policy::ALL
        .iter()
        .find(|(_, n)| *n == s)
        .map(|(p, _)| *p)
        .ok_or_else(|| {
            let names: Vec<&str> = pushlab::sched::Policy::ALL
                .iter()
                .map(|(_, n)| *n)
                .collect();
            format!("unknown scheduler {s:?}; one of {}", names.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--preset` offers exactly the library's presets and quick, by the same names.
    #[test]
    fn presets_match_the_library() {
        let mine: Vec<&str> = Preset::value_variants().iter().map(|p| p.name()).collect();
        assert_eq!(crate::cli::value_names::<Preset>(), mine);
        let mut library = compare::PRESETS.to_vec();
        library.push("quick");
        assert_eq!(mine, library);
        for name in mine {
            assert!(compare::preset(name, false).is_ok(), "{name}");
        }
    }
}
