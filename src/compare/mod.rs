//! `pushlab compare`: HTTP/2 against HTTP/3, push against hints against
//! nothing, over emulated links, with the emulated browser.
//!
//! A preset is a site, its pages, a set of server variants (push policy,
//! TCP options), protocols, link profiles and cache states. Every page load
//! gets a fresh connection, through a fresh emulated link per profile, to
//! servers this command starts (in-process, on the server side of the
//! link) and stops. Runs go round the configurations (run 1 of each, then
//! run 2 of each, ...) so that drift in the machine affects all alike.
//! Results: a table of medians with the difference to the `none` variant
//! (the layout of the Rules of Thumb's tables) and interquartile ranges,
//! every run as CSV and JSON (HAR-like, with the full configuration and the
//! pushlab version), and SVG plots.

mod sites;
pub mod svg;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::browser::{load_page, Cpu, HttpCache, LoadOptions, PageLoad};
use crate::client::{ClientOptions, Proto};
use crate::config::ServeOptions;
use crate::netem::{Emulator, EmulatorOptions, LinkSpec, QueueLimit};
use crate::push::{policy_by_name, PushPolicy};
use crate::server::{RunningServer, ServerOptions};
use crate::site::Site;
use crate::summary::{median, quartiles};
use crate::tls::Identity;

/// The comparison could not run.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Unknown preset or bad option.
    #[error("{0}")]
    Invalid(String),
    /// The emulated link.
    #[error(transparent)]
    Netem(#[from] crate::netem::NetemError),
    /// Starting a server.
    #[error("server: {0}")]
    Server(String),
    /// Writing results.
    #[error("writing results: {0}")]
    Io(#[from] std::io::Error),
}

/// Cold (empty cache) or warm (a previous visit's cache) page loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheState {
    /// Empty HTTP cache.
    Cold,
    /// After a visit a minute earlier.
    Warm,
}

/// A server configuration.
#[derive(Clone)]
pub struct Variant {
    /// Its label (a policy name, or a description).
    pub label: String,
    /// The push and hint policy.
    pub policy: Arc<dyn PushPolicy>,
    /// TCP_NOTSENT_LOWAT for HTTP/2.
    pub tcp_notsent_lowat: Option<u32>,
    /// Only these protocols (empty: both).
    pub protocols: Vec<Proto>,
    /// The variant others are compared with.
    pub baseline: bool,
    /// What the Rules of Thumb reported for it, if this reproduces one of
    /// its experiments (difference in load time against no push).
    pub paper: Option<&'static str>,
}

/// A link profile, possibly adjusted for a preset.
#[derive(Debug, Clone, Serialize)]
pub struct LinkProfile {
    /// Name.
    pub name: String,
    /// Client to server.
    pub up: LinkSpec,
    /// Server to client.
    pub down: LinkSpec,
}

/// One experiment.
pub struct Preset {
    /// Name for `--preset`.
    pub name: String,
    /// What it shows.
    pub about: String,
    /// The site.
    pub site: Site,
    /// Pages loaded.
    pub pages: Vec<String>,
    /// Server variants.
    pub variants: Vec<Variant>,
    /// Protocols.
    pub protocols: Vec<Proto>,
    /// Link profiles.
    pub profiles: Vec<LinkProfile>,
    /// Cache states.
    pub caches: Vec<CacheState>,
    /// Runs per configuration by default.
    pub runs: usize,
}

fn variant(label: &str, policy: &str) -> Variant {
    Variant {
        label: label.to_string(),
        policy: policy_by_name(policy).unwrap_or_else(|| Arc::new(crate::push::NoPush)),
        tcp_notsent_lowat: None,
        protocols: Vec::new(),
        baseline: policy == "none",
        paper: None,
    }
}

fn profile(name: &str) -> LinkProfile {
    let p = crate::netem::profile(name).unwrap_or_else(|_| crate::netem::profiles().remove(0));
    LinkProfile {
        name: p.name.to_string(),
        up: p.up,
        down: p.down,
    }
}

/// The preset names.
pub const PRESETS: [&str; 5] = [
    "push-order",
    "fill-window",
    "preemption",
    "repeat-visit",
    "push-vs-hints",
];

/// A preset by name; `quick` makes a small version (fewer variants, a
/// faster link, one run).
pub fn preset(name: &str, quick: bool) -> Result<Preset, CompareError> {
    let both = vec![Proto::H3, Proto::H2];
    let p = match name {
        "push-order" => {
            let mut variants = vec![variant("no push", "none")];
            for (label, list, paper) in [
                ("1.js", "list:/1.js", "+23%"),
                ("3.js", "list:/3.js", "+22%"),
                ("1.js, 2.js", "list:/1.js,/2.js", "+22%"),
                ("3.js, 1.js", "list:/3.js,/1.js", "-"),
                ("3.js, 4.js", "list:/3.js,/4.js", "-16%"),
            ] {
                let mut v = variant(label, list);
                v.paper = Some(paper);
                variants.push(v);
            }
            Preset {
                name: "push-order".into(),
                about: "Rules of Thumb, rule 2: push in evaluation order. 1.js (5 KB) writes 2.js; 3.js and 4.js are 10 KB; India-2G (BDP 20 KB). The paper's figure is the load-time improvement against no push (positive = faster).".into(),
                site: sites::push_order(),
                pages: vec!["/index.html".into()],
                variants,
                protocols: both,
                profiles: vec![profile("2g")],
                caches: vec![CacheState::Cold],
                runs: 5,
            }
        }
        "fill-window" => Preset {
            name: "fill-window".into(),
            about: "Rules of Thumb, rule 1: push just enough to fill the congestion window. A small document (8 KB) and a large one (120 KB, over the 35 KB BDP of India-3G), each with 104 KB of subresources.".into(),
            site: sites::fill_window(),
            pages: vec!["/small.html".into(), "/large.html".into()],
            variants: vec![
                variant("none", "none"),
                variant("push-all", "push-all"),
                variant("rot", "rot"),
            ],
            protocols: both,
            profiles: vec![profile("3g")],
            caches: vec![CacheState::Cold],
            runs: 5,
        },
        "preemption" => {
            let mut bloated = profile("3g");
            bloated.name = "3g-bloated".into();
            bloated.down.queue = QueueLimit::Packets(250);
            bloated.up.queue = QueueLimit::Packets(250);
            let mut none = variant("no push", "none");
            none.protocols = vec![Proto::H3, Proto::H2];
            let mut h3 = variant("push-all, user-space queue", "push-all");
            h3.protocols = vec![Proto::H3];
            h3.baseline = false;
            let mut h2 = variant("push-all, kernel defaults", "push-all");
            h2.protocols = vec![Proto::H2];
            let mut h2l = variant("push-all, TCP_NOTSENT_LOWAT 16 KB", "push-all");
            h2l.protocols = vec![Proto::H2];
            h2l.tcp_notsent_lowat = Some(16 * 1024);
            Preset {
                name: "preemption".into(),
                about: "A slow backend: the document takes 300 ms; meanwhile push-all pushes 1 MB of images; India-3G with a 250-packet queue (2.2 s of bufferbloat). The figure that matters is the document's extra delay: its first byte after (think time + RTT).".into(),
                site: sites::slow_backend(),
                pages: vec!["/index.html".into()],
                variants: vec![none, h3, h2, h2l],
                protocols: both,
                profiles: vec![bloated],
                caches: vec![CacheState::Cold],
                runs: 5,
            }
        }
        "repeat-visit" => Preset {
            name: "repeat-visit".into(),
            about: "A repeat visit a minute later with a warm cache (subresources fresh, the document no-store): push-all pushes what the client has; cache-aware skips it (its cookie says what the client holds); preload only hints.".into(),
            site: sites::demo(),
            pages: vec!["/index.html".into()],
            variants: vec![
                variant("none", "none"),
                variant("push-all", "push-all"),
                variant("cache-aware", "cache-aware"),
                variant("preload", "preload"),
            ],
            protocols: both,
            profiles: vec![profile("lte")],
            caches: vec![CacheState::Cold, CacheState::Warm],
            runs: 5,
        },
        "push-vs-hints" => Preset {
            name: "push-vs-hints".into(),
            about: "Push against 103 Early Hints on the demo page with 300 ms of think time (/slow.html) and without (/index.html), cold and warm, over HTTP/2 and HTTP/3 on India-3G.".into(),
            site: sites::demo(),
            pages: vec!["/index.html".into(), "/slow.html".into()],
            variants: vec![
                variant("none", "none"),
                variant("push-all", "push-all"),
                variant("preload", "preload"),
                variant("push-preload", "push-preload"),
            ],
            protocols: both,
            profiles: vec![profile("3g")],
            caches: vec![CacheState::Cold, CacheState::Warm],
            runs: 5,
        },
        "quick" => Preset {
            name: "quick".into(),
            about: "A small sampler: the demo's slow page over LTE, cold and warm, with no push, push-all and preload.".into(),
            site: sites::demo(),
            pages: vec!["/slow.html".into()],
            variants: vec![
                variant("none", "none"),
                variant("push-all", "push-all"),
                variant("preload", "preload"),
            ],
            protocols: both,
            profiles: vec![profile("lte")],
            caches: vec![CacheState::Cold, CacheState::Warm],
            runs: 1,
        },
        other => {
            return Err(CompareError::Invalid(format!(
                "unknown preset {other:?} (known: {})",
                PRESETS.join(", ")
            )))
        }
    };
    let mut p = p;
    if quick {
        p.runs = 1;
        if p.variants.len() > 3 && p.name != "preemption" {
            p.variants.truncate(3);
        }
        p.pages.truncate(1);
    }
    Ok(p)
}

/// A matrix of the user's choosing instead of a preset: protocols x push
/// policies x link profiles x cache states over pages of the demo site or
/// of a site directory.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// A site directory (None: the built-in demo site).
    pub site_dir: Option<PathBuf>,
    /// Pages loaded (default: /index.html).
    pub pages: Vec<String>,
    /// Push policy names, as `serve --push-policy` takes them (default: the
    /// built-in policies).
    pub policies: Vec<String>,
    /// Link profile names (default: 3g).
    pub profiles: Vec<String>,
    /// Protocols (default: both).
    pub protocols: Vec<Proto>,
    /// Cache states (default: cold).
    pub caches: Vec<CacheState>,
}

/// The preset a [`Matrix`] describes; every name is checked before
/// anything starts.
pub fn matrix(m: &Matrix) -> Result<Preset, CompareError> {
    let site = match &m.site_dir {
        Some(dir) => Site::load(dir)
            .map_err(|e| CompareError::Invalid(format!("--site {}: {e}", dir.display())))?,
        None => Site::demo(),
    };
    let or = |v: &[String], d: &[&str]| -> Vec<String> {
        if v.is_empty() {
            d.iter().map(|s| s.to_string()).collect()
        } else {
            v.to_vec()
        }
    };
    let pages = or(&m.pages, &["/index.html"]);
    for page in &pages {
        if site.get(page).is_none() {
            return Err(CompareError::Invalid(format!(
                "page {page:?} is not in the site"
            )));
        }
    }
    let policies = or(&m.policies, crate::push::POLICY_NAMES);
    let mut variants = Vec::new();
    for name in &policies {
        if policy_by_name(name).is_none() {
            return Err(CompareError::Invalid(format!(
                "unknown push policy {name:?} (known: {}, list:/a,/b)",
                crate::push::POLICY_NAMES.join(", ")
            )));
        }
        if variants.iter().any(|v: &Variant| &v.label == name) {
            return Err(CompareError::Invalid(format!(
                "policy {name:?} given twice"
            )));
        }
        variants.push(variant(name, name));
    }
    if !variants.iter().any(|v| v.baseline) {
        // Differences are taken against the first policy given.
        variants[0].baseline = true;
    }
    let mut profiles = Vec::new();
    for name in or(&m.profiles, &["3g"]) {
        let p = crate::netem::profile(&name).map_err(|e| CompareError::Invalid(e.to_string()))?;
        profiles.push(LinkProfile {
            name: p.name.to_string(),
            up: p.up,
            down: p.down,
        });
    }
    let protocols = if m.protocols.is_empty() {
        vec![Proto::H3, Proto::H2]
    } else {
        m.protocols.clone()
    };
    let caches = if m.caches.is_empty() {
        vec![CacheState::Cold]
    } else {
        m.caches.clone()
    };
    Ok(Preset {
        name: "matrix".into(),
        about: format!(
            "A matrix: {} over {}, policies {}, links {}, {} cache.",
            pages.join(", "),
            match &m.site_dir {
                Some(d) => d.display().to_string(),
                None => "the demo site".into(),
            },
            policies.join(", "),
            profiles
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            caches
                .iter()
                .map(|c| match c {
                    CacheState::Cold => "cold",
                    CacheState::Warm => "warm",
                })
                .collect::<Vec<_>>()
                .join(" and "),
        ),
        site,
        pages,
        variants,
        protocols,
        profiles,
        caches,
        runs: 3,
    })
}

/// One configuration of a preset.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Protocol.
    pub protocol: Proto,
    /// Server variant label.
    pub variant: String,
    /// Link profile name.
    pub profile: String,
    /// Cache state.
    pub cache: CacheState,
    /// Page path.
    pub page: String,
    #[serde(skip)]
    variant_index: usize,
    #[serde(skip)]
    profile_index: usize,
}

impl Config {
    /// A one-line label.
    pub fn label(&self) -> String {
        format!(
            "{} {} {} {} {}",
            match self.protocol {
                Proto::H3 => "h3",
                Proto::H2 => "h2",
            },
            self.page,
            self.variant,
            self.profile,
            match self.cache {
                CacheState::Cold => "cold",
                CacheState::Warm => "warm",
            }
        )
    }

    fn group(&self) -> (Proto, String, String, CacheState) {
        (
            self.protocol,
            self.page.clone(),
            self.profile.clone(),
            self.cache,
        )
    }
}

/// One page load of a configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Index into the configurations.
    pub config: usize,
    /// Run number.
    pub run: usize,
    /// The document's first byte minus (think time + round trip): how
    /// long the ready document waited behind other bytes (ms).
    pub doc_extra_ms: Option<f64>,
    /// The load as recorded.
    pub load: PageLoad,
}

/// Summary of one configuration.
#[derive(Debug, Clone, Serialize)]
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
    /// Median render-ready time (ms).
    pub render_ms: Option<f64>,
    /// Median document extra delay (ms).
    pub doc_extra_ms: Option<f64>,
    /// Median bytes wasted.
    pub wasted: Option<f64>,
    /// Median bytes received.
    pub received: Option<f64>,
    /// Load time against the baseline variant: (baseline - this) / baseline
    /// (positive = faster, the paper's sign).
    pub vs_baseline: Option<f64>,
    /// Render-ready against the baseline, the same way.
    pub render_vs_baseline: Option<f64>,
    /// The Rules of Thumb's figure for this row, when reproduced.
    pub paper: Option<String>,
}

/// Everything a comparison produced.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// pushlab version.
    pub version: &'static str,
    /// The machine.
    pub machine: String,
    /// Preset name.
    pub preset: String,
    /// What it shows.
    pub about: String,
    /// Runs per configuration.
    pub runs_per_config: usize,
    /// The link profiles as used.
    pub profiles: Vec<LinkProfile>,
    /// The browser's CPU model.
    pub cpu: Cpu,
    /// The servers' QUIC initial RTT estimate in ms (None: quinn's 333 ms).
    pub quic_initial_rtt_ms: Option<f64>,
    /// The servers' QUIC initial window in bytes (None: quinn's 12,000).
    pub quic_initial_window: Option<u64>,
    /// Seed of the links' loss generators.
    pub seed: u64,
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
    /// Where to write results.
    pub out_dir: PathBuf,
    /// The browser's CPU model.
    pub cpu: Cpu,
    /// Seed of the link's loss generator.
    pub seed: u64,
    /// Label (or part of one) of the configuration to draw a waterfall for
    /// (its median run); default: the first non-baseline configuration.
    pub waterfall: Option<String>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// The servers' QUIC initial RTT estimate (quinn's default: 333 ms).
    pub initial_rtt: Option<Duration>,
    /// The servers' QUIC initial congestion window in bytes (quinn's
    /// default: 10 datagrams of 1,200 bytes).
    pub initial_window: Option<u64>,
    /// A matrix of the user's instead of the preset.
    pub matrix: Option<Matrix>,
}

/// The configurations of a preset, in run order.
pub fn configs(p: &Preset) -> Vec<Config> {
    let mut out = Vec::new();
    for (pi, prof) in p.profiles.iter().enumerate() {
        for page in &p.pages {
            for &cache in &p.caches {
                for &proto in &p.protocols {
                    for (vi, v) in p.variants.iter().enumerate() {
                        if !v.protocols.is_empty() && !v.protocols.contains(&proto) {
                            continue;
                        }
                        out.push(Config {
                            protocol: proto,
                            variant: v.label.clone(),
                            profile: prof.name.clone(),
                            cache,
                            page: page.to_string(),
                            variant_index: vi,
                            profile_index: pi,
                        });
                    }
                }
            }
        }
    }
    out
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
    let preset = match &opts.matrix {
        Some(m) => matrix(m)?,
        None => preset(&opts.preset, opts.quick)?,
    };
    let runs = opts.runs.unwrap_or(preset.runs).max(1);
    let configs = configs(&preset);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let identity = Identity::self_signed().map_err(|e| CompareError::Server(e.to_string()))?;
    let mut progress = Progress {
        total: configs.len() * runs,
        done: 0,
        show: opts.progress,
        tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let mut all = Vec::new();
    let site = Arc::new(preset.site.clone());
    for (pi, prof) in preset.profiles.iter().enumerate() {
        let emu = Emulator::start(EmulatorOptions {
            up: prof.up,
            down: prof.down,
            server_ns: false,
            seed: opts.seed,
        })?;
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
            let mut so = ServerOptions::new(
                SocketAddr::from((emu.server_addr, 0)),
                identity.clone(),
                serve,
            );
            so.tcp_notsent_lowat = v.tcp_notsent_lowat;
            let srv = rt
                .block_on(RunningServer::start(so))
                .map_err(|e| CompareError::Server(e.to_string()))?;
            servers.push(srv);
        }
        let rtt = (prof.up.delay + prof.down.delay).as_secs_f64() * 1e3;
        for run in 0..runs {
            for (ci, c) in configs.iter().enumerate() {
                if c.profile_index != pi {
                    continue;
                }
                let port = servers[c.variant_index].addr.port();
                let lo = LoadOptions {
                    url: format!("https://{}:{port}{}", emu.server_addr, c.page),
                    proto: c.protocol,
                    accept_push: true,
                    cpu: opts.cpu,
                    timeout: Duration::from_secs(120),
                    client: ClientOptions {
                        insecure: true,
                        ..Default::default()
                    },
                };
                let warm = c.cache == CacheState::Warm;
                let load = emu
                    .in_client(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("a runtime");
                        rt.block_on(async move {
                            let mut cache = HttpCache::new();
                            if warm {
                                let (first, c) = load_page(&lo, cache).await;
                                if let Some(e) = first.error {
                                    let (mut l, _) = load_page(&lo, HttpCache::new()).await;
                                    l.error = Some(format!("warming visit: {e}"));
                                    return l;
                                }
                                cache = c;
                            }
                            load_page(&lo, cache).await.0
                        })
                    })?
                    .join()
                    .map_err(|_| CompareError::Server("page-load thread panicked".into()))?;
                let think = site
                    .get(&c.page)
                    .map(|r| r.think.as_secs_f64() * 1e3)
                    .unwrap_or(0.0);
                let doc_extra_ms = load
                    .summary
                    .resources
                    .first()
                    .filter(|d| d.source != crate::browser::Source::Cached)
                    .and_then(|d| d.first_byte_ms)
                    .map(|fb| fb - think - rtt);
                progress.step(&c.label());
                all.push(Run {
                    config: ci,
                    run,
                    doc_extra_ms,
                    load,
                });
            }
        }
        for s in servers {
            rt.block_on(s.shutdown());
        }
        emu.stop();
    }
    let rows = summarise(&preset, &configs, &all);
    Ok(Report {
        version: env!("CARGO_PKG_VERSION"),
        machine: crate::bench::machine(),
        preset: preset.name.to_string(),
        about: preset.about.to_string(),
        runs_per_config: runs,
        profiles: preset.profiles.clone(),
        cpu: opts.cpu,
        quic_initial_rtt_ms: opts.initial_rtt.map(|d| d.as_secs_f64() * 1e3),
        quic_initial_window: opts.initial_window,
        seed: opts.seed,
        configs,
        rows,
        runs: all,
    })
}

fn summarise(preset: &Preset, configs: &[Config], runs: &[Run]) -> Vec<Row> {
    let mut rows: Vec<Row> = configs
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            let mine: Vec<&Run> = runs.iter().filter(|r| r.config == ci).collect();
            let ok: Vec<&&Run> = mine.iter().filter(|r| r.load.error.is_none()).collect();
            let collect = |f: &dyn Fn(&Run) -> Option<f64>| -> Vec<f64> {
                ok.iter().filter_map(|r| f(r)).collect()
            };
            let loads = collect(&|r| r.load.summary.load_ms);
            Row {
                config: c.clone(),
                runs: ok.len(),
                failed: mine.len() - ok.len(),
                load_ms: median(&loads),
                load_iqr: quartiles(&loads),
                render_ms: median(&collect(&|r| r.load.summary.render_ready_ms)),
                doc_extra_ms: median(&collect(&|r| r.doc_extra_ms)),
                wasted: median(&collect(&|r| Some(r.load.summary.bytes_wasted as f64))),
                received: median(&collect(&|r| Some(r.load.summary.bytes_received as f64))),
                vs_baseline: None,
                render_vs_baseline: None,
                paper: preset.variants[c.variant_index].paper.map(str::to_string),
            }
        })
        .collect();
    let base: Vec<(usize, Option<f64>, Option<f64>)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| preset.variants[r.config.variant_index].baseline)
        .map(|(i, r)| (i, r.load_ms, r.render_ms))
        .collect();
    for i in 0..rows.len() {
        let g = rows[i].config.group();
        if let Some(&(_, bl, br)) = base.iter().find(|(j, _, _)| rows[*j].config.group() == g) {
            let rel = |b: Option<f64>, x: Option<f64>| match (b, x) {
                (Some(b), Some(x)) if b > 0.0 => Some((b - x) / b),
                _ => None,
            };
            rows[i].vs_baseline = rel(bl, rows[i].load_ms);
            rows[i].render_vs_baseline = rel(br, rows[i].render_ms);
        }
    }
    rows
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:+.0}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// The summary table (Markdown).
pub fn table(report: &Report) -> String {
    let paper = report.rows.iter().any(|r| r.paper.is_some());
    let mut s = String::new();
    s.push_str(&format!(
        "| protocol | page | variant | link | cache | load ms (median) | vs baseline | IQR | render-ready ms | vs baseline | doc extra ms | wasted | received | runs |{}\n",
        if paper { " Rules of Thumb |" } else { "" }
    ));
    s.push_str(&format!(
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|{}\n",
        if paper { "---|" } else { "" }
    ));
    for r in &report.rows {
        let c = &r.config;
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}{} |{}\n",
            match c.protocol {
                Proto::H3 => "h3",
                Proto::H2 => "h2",
            },
            c.page,
            c.variant,
            c.profile,
            match c.cache {
                CacheState::Cold => "cold",
                CacheState::Warm => "warm",
            },
            fmt_opt(r.load_ms),
            pct(r.vs_baseline),
            r.load_iqr
                .map(|(a, b)| format!("{a:.0}-{b:.0}"))
                .unwrap_or_else(|| "-".into()),
            fmt_opt(r.render_ms),
            pct(r.render_vs_baseline),
            fmt_opt(r.doc_extra_ms),
            r.wasted
                .map(|w| crate::units::fmt_bytes(w as u64))
                .unwrap_or_else(|| "-".into()),
            r.received
                .map(|w| crate::units::fmt_bytes(w as u64))
                .unwrap_or_else(|| "-".into()),
            r.runs,
            if r.failed > 0 {
                format!(" ({} failed)", r.failed)
            } else {
                String::new()
            },
            if paper {
                format!(" {} |", r.paper.as_deref().unwrap_or(""))
            } else {
                String::new()
            }
        ));
    }
    s
}

/// One CSV line per run.
pub fn csv(report: &Report) -> String {
    let mut s = String::from(
        "preset,protocol,page,variant,link,cache,run,load_ms,render_ready_ms,doc_first_byte_ms,doc_extra_ms,bytes_received,bytes_wasted,pushes_used,pushes_wasted,cached,handshake_ms,error\n",
    );
    let q = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
    for r in &report.runs {
        let c = &report.configs[r.config];
        let sm = &r.load.summary;
        let o = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.2},{}\n",
            q(&report.preset),
            match c.protocol {
                Proto::H3 => "h3",
                Proto::H2 => "h2",
            },
            q(&c.page),
            q(&c.variant),
            q(&c.profile),
            match c.cache {
                CacheState::Cold => "cold",
                CacheState::Warm => "warm",
            },
            r.run,
            o(sm.load_ms),
            o(sm.render_ready_ms),
            o(sm.resources.first().and_then(|d| d.first_byte_ms)),
            o(r.doc_extra_ms),
            sm.bytes_received,
            sm.bytes_wasted,
            sm.pushes_used,
            sm.pushes_wasted,
            sm.cached,
            r.load.handshake_ms,
            q(r.load.error.as_deref().unwrap_or(""))
        ));
    }
    s
}

/// Writes table.md, runs.csv, runs.json and the plots into the output
/// directory; returns the files written.
pub fn write(report: &Report, opts: &CompareOptions) -> Result<Vec<PathBuf>, CompareError> {
    std::fs::create_dir_all(&opts.out_dir)?;
    let mut files = Vec::new();
    let mut put = |name: &str, text: String| -> Result<(), CompareError> {
        let p = opts.out_dir.join(name);
        std::fs::write(&p, text)?;
        files.push(p);
        Ok(())
    };
    put(
        "table.md",
        format!(
            "# pushlab compare --preset {}\n\n{}\n\npushlab {} on {}; {} runs per configuration.\n\n{}",
            report.preset,
            report.about,
            report.version,
            report.machine,
            report.runs_per_config,
            table(report)
        ),
    )?;
    put("runs.csv", csv(report))?;
    put(
        "runs.json",
        serde_json::to_string_pretty(report).map_err(std::io::Error::other)?,
    )?;
    let series = |f: &dyn Fn(&Run) -> Option<f64>| -> Vec<svg::Series> {
        report
            .configs
            .iter()
            .enumerate()
            .map(|(ci, c)| svg::Series {
                label: c.label(),
                values: report
                    .runs
                    .iter()
                    .filter(|r| r.config == ci && r.load.error.is_none())
                    .filter_map(f)
                    .collect(),
            })
            .collect()
    };
    put(
        "load.svg",
        svg::distribution_svg(
            &format!("{}: page load time per configuration", report.preset),
            "ms",
            &series(&|r| r.load.summary.load_ms),
        ),
    )?;
    put(
        "render.svg",
        svg::distribution_svg(
            &format!("{}: render-ready time per configuration", report.preset),
            "ms",
            &series(&|r| r.load.summary.render_ready_ms),
        ),
    )?;
    if let Some((label, run)) = waterfall_run(report, opts.waterfall.as_deref()) {
        let s = &run.load.summary;
        let bars: Vec<svg::Bar> = s
            .resources
            .iter()
            .map(|r| svg::Bar {
                label: r.path.clone(),
                source: match r.source {
                    crate::browser::Source::Network => "network",
                    crate::browser::Source::Preloaded => "preloaded",
                    crate::browser::Source::Pushed => "pushed",
                    crate::browser::Source::Cached | crate::browser::Source::Revalidated => {
                        "cached"
                    }
                }
                .to_string(),
                discovered: r.discovered_ms,
                requested: r.requested_ms.unwrap_or(r.discovered_ms),
                first_byte: r.first_byte_ms,
                done: r.done_ms,
                bytes: r.bytes,
            })
            .collect();
        let mut marks = Vec::new();
        if let Some(t) = s.render_ready_ms {
            marks.push(("render-ready".to_string(), t));
        }
        if let Some(t) = s.load_ms {
            marks.push(("load".to_string(), t));
        }
        put(
            "waterfall.svg",
            svg::waterfall_svg(&format!("{label}: median run {}", run.run), &bars, &marks),
        )?;
    }
    Ok(files)
}

/// The median-load run of the chosen configuration.
fn waterfall_run<'a>(report: &'a Report, want: Option<&str>) -> Option<(String, &'a Run)> {
    let ci = match want {
        Some(w) => report.configs.iter().position(|c| c.label().contains(w))?,
        None => report
            .rows
            .iter()
            .position(|r| r.vs_baseline.is_some() && r.vs_baseline != Some(0.0))
            .unwrap_or(0),
    };
    let mut mine: Vec<&Run> = report
        .runs
        .iter()
        .filter(|r| r.config == ci && r.load.summary.load_ms.is_some())
        .collect();
    mine.sort_by(|a, b| {
        a.load
            .summary
            .load_ms
            .unwrap_or(f64::MAX)
            .total_cmp(&b.load.summary.load_ms.unwrap_or(f64::MAX))
    });
    let run = *mine.get(mine.len() / 2)?;
    Some((report.configs[ci].label(), run))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every preset builds, names existing pages, has one baseline per
    /// group of configurations, and its push lists name existing files.
    #[test]
    fn presets_are_complete() {
        for name in PRESETS.iter().chain(["quick"].iter()) {
            for quick in [false, true] {
                let p = preset(name, quick).unwrap();
                for page in &p.pages {
                    assert!(p.site.get(page).is_some(), "{name}: {page}");
                }
                let cs = configs(&p);
                assert!(!cs.is_empty());
                for c in &cs {
                    let has_base = cs
                        .iter()
                        .any(|b| b.group() == c.group() && p.variants[b.variant_index].baseline);
                    assert!(has_base, "{name}: no baseline for {}", c.label());
                }
            }
        }
        let p = preset("push-order", false).unwrap();
        for path in ["/1.js", "/2.js", "/3.js", "/4.js"] {
            assert!(p.site.get(path).is_some());
        }
        assert_eq!(configs(&p).len(), 12);
        assert!(preset("nope", false).is_err());
    }

    fn m() -> Matrix {
        Matrix {
            site_dir: None,
            pages: Vec::new(),
            policies: Vec::new(),
            profiles: Vec::new(),
            protocols: Vec::new(),
            caches: Vec::new(),
        }
    }

    /// A matrix defaults to every policy, both protocols, 3g, cold; names
    /// are checked; the first policy is the baseline when `none` is absent.
    #[test]
    fn matrices() {
        let p = matrix(&m()).unwrap();
        assert_eq!(p.variants.len(), 6);
        assert_eq!(configs(&p).len(), 12);
        assert_eq!(p.profiles[0].name, "3g");
        let p = matrix(&Matrix {
            policies: vec!["rot".into(), "list:/css/style.css,/js/app.js".into()],
            profiles: vec!["lte".into(), "2g".into()],
            protocols: vec![Proto::H2],
            caches: vec![CacheState::Cold, CacheState::Warm],
            pages: vec!["/index.html".into(), "/slow.html".into()],
            ..m()
        })
        .unwrap();
        assert_eq!(configs(&p).len(), 2 * 2 * 2 * 2);
        assert!(p.variants[0].baseline && !p.variants[1].baseline);
        for bad in [
            Matrix {
                policies: vec!["push-everything".into()],
                ..m()
            },
            Matrix {
                policies: vec!["none".into(), "none".into()],
                ..m()
            },
            Matrix {
                profiles: vec!["5g".into()],
                ..m()
            },
            Matrix {
                pages: vec!["/nope.html".into()],
                ..m()
            },
            Matrix {
                site_dir: Some(PathBuf::from("/nonexistent/site")),
                ..m()
            },
        ] {
            let e = matrix(&bad).err().map(|e| e.to_string());
            assert!(e.is_some(), "{bad:?} accepted");
        }
    }
}
