//! The experiments: presets by name, a matrix of the user's, and the
//! configurations either expands to.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{sites, CompareError};
use crate::client::Proto;
use crate::config::Congestion;
use crate::netem::{LinkSpec, QueueLimit};
use crate::push::{policy_by_name, PushPolicy};
use crate::sched::inflight::InflightMode;
use crate::site::Site;

/// Cold (empty cache) or warm (a previous visit's cache) page loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheState {
    /// Empty HTTP cache.
    Cold,
    /// After a visit a minute earlier.
    Warm,
}

impl CacheState {
    /// `cold` or `warm`, as the tables and files spell it.
    pub fn name(self) -> &'static str {
        match self {
            CacheState::Cold => "cold",
            CacheState::Warm => "warm",
        }
    }
}

/// The connection a measured page load runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Connection {
    /// A new connection (handshake, initial window) for every load.
    #[default]
    Fresh,
    /// A connection warmed first by transfers of a resource outside the
    /// page until the server's congestion window reaches the link's BDP
    /// (its bottleneck rate times its round trip), as the Rules of Thumb
    /// measured.
    Warm,
}

impl Connection {
    /// `fresh` or `warm`, as the tables and files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Connection::Fresh => "fresh",
            Connection::Warm => "warm",
        }
    }
}

/// The browser that loads the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Browser {
    /// pushlab's emulated browser (`src/browser/model.rs`).
    #[default]
    Emulated,
    /// Headless Chromium (Debian's), driven over the DevTools protocol.
    Chromium,
}

impl Browser {
    /// `emulated` or `chromium`, as the tables and files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Emulated => "emulated",
            Browser::Chromium => "chromium",
        }
    }
}

/// `h3` or `h2`, as the tables and files spell it.
pub(super) fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::H3 => "h3",
        Proto::H2 => "h2",
    }
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
    /// In-flight control for preemptible bytes (HTTP/3).
    pub inflight: InflightMode,
    /// In-flight control for preemptible bytes (HTTP/2).
    pub tcp_inflight: InflightMode,
    /// quinn's congestion controller, when not the default.
    pub congestion: Option<Congestion>,
    /// Only these protocols (empty: both).
    pub protocols: Vec<Proto>,
    /// The variant others are compared with.
    pub baseline: bool,
    /// What the Rules of Thumb reported for it, if this reproduces one of
    /// its experiments (difference in load time against no push).
    pub paper: Option<&'static str>,
}

/// A link profile, possibly adjusted for a preset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkProfile {
    /// Name.
    pub name: String,
    /// Client to server.
    pub up: LinkSpec,
    /// Server to client.
    pub down: LinkSpec,
}

impl LinkProfile {
    /// Its round trip: the one-way delays of both directions.
    pub fn rtt(&self) -> std::time::Duration {
        self.up.delay + self.down.delay
    }
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
    /// The connection loads run on by default.
    pub connection: Connection,
    /// The browsers that load each configuration.
    pub browsers: Vec<Browser>,
}

fn variant(label: &str, policy: &str) -> Variant {
    Variant {
        label: label.to_string(),
        policy: policy_by_name(policy).unwrap_or_else(|| Arc::new(crate::push::NoPush)),
        tcp_notsent_lowat: None,
        inflight: InflightMode::default(),
        tcp_inflight: InflightMode::Off,
        congestion: None,
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

/// Issue 11's link: 1.6 Mbit/s down, up unlimited, 75 ms each way, with a
/// bottleneck queue of `queue` packets each way (named `1.6mbit-150ms-qN`).
fn issue11_link(queue: u32) -> LinkProfile {
    let mut l = profile("3g");
    l.name = format!("1.6mbit-150ms-q{queue}");
    l.down.rate = Some(1_600_000);
    l.down.delay = std::time::Duration::from_millis(75);
    l.up.rate = None;
    l.up.delay = std::time::Duration::from_millis(75);
    with_queue(l, queue)
}

/// `link` with a bottleneck queue of `queue` packets each way.
fn with_queue(mut link: LinkProfile, queue: u32) -> LinkProfile {
    link.down.queue = QueueLimit::Packets(queue);
    link.up.queue = QueueLimit::Packets(queue);
    link
}

/// HTTP/3 push-all variants: (label, in-flight mode, congestion controller).
fn h3_push_variants(rows: &[(&str, InflightMode, Option<Congestion>)]) -> Vec<Variant> {
    rows.iter()
        .map(|&(label, inflight, cc)| {
            let mut h3 = variant(label, "push-all");
            h3.protocols = vec![Proto::H3];
            h3.inflight = inflight;
            h3.congestion = cc;
            h3
        })
        .collect()
}

/// HTTP/2 push-all with kernel defaults, with TCP_NOTSENT_LOWAT 16 KB, and
/// with the in-flight gate (`--tcp-inflight bdp-125`).
fn h2_push_variants() -> [Variant; 3] {
    let mut h2 = variant("push-all, kernel defaults", "push-all");
    h2.protocols = vec![Proto::H2];
    let mut h2l = variant("push-all, TCP_NOTSENT_LOWAT 16 KB", "push-all");
    h2l.protocols = vec![Proto::H2];
    h2l.tcp_notsent_lowat = Some(16 * 1024);
    let mut h2g = variant("push-all, TCP in-flight bdp-125", "push-all");
    h2g.protocols = vec![Proto::H2];
    h2g.tcp_inflight = InflightMode::Bdp125;
    [h2, h2l, h2g]
}

/// The bottleneck queue lengths of the preemption sweep, packets.
pub const SWEEP_QUEUES: [u32; 4] = [20, 100, 250, 1000];

/// The preset names.
pub const PRESETS: [&str; 8] = [
    "push-order",
    "straw-man",
    "fill-window",
    "preemption",
    "preemption-sweep",
    "repeat-visit",
    "push-vs-hints",
    "browser-validation",
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
                ("3.js, 1.js", "list:/3.js,/1.js", "+4% (3,465 ms)"),
                ("3.js, 4.js", "list:/3.js,/4.js", "-16%"),
            ] {
                let mut v = variant(label, list);
                v.paper = Some(paper);
                variants.push(v);
            }
            // The paper's BDP policy on this page (not among its rows).
            variants.push(variant("bdp:20000", "bdp:20000"));
            Preset {
                name: "push-order".into(),
                about: "Rules of Thumb, rule 2: push in evaluation order. 1.js (5 KB) writes 2.js; 3.js and 4.js are 10 KB; India-2G (BDP 20 KB), on a connection warmed to the BDP as the paper measured. The paper's figure is the load-time improvement against no push (positive = faster).".into(),
                site: sites::push_order(),
                pages: vec!["/index.html".into()],
                variants,
                protocols: both,
                profiles: vec![profile("2g")],
                caches: vec![CacheState::Cold],
                runs: 20,
                connection: Connection::Warm,
                browsers: vec![Browser::Emulated],
            }
        }
        "straw-man" => {
            let mut variants = vec![variant("no push", "none")];
            for (label, policy) in [
                ("PushStaticWithHTML (push-all)", "push-all"),
                ("PushStaticWithHTML, one BDP (push-all-bdp:35000)", "push-all-bdp:35000"),
                ("bdp:35000", "bdp:35000"),
                ("rot (fill the window)", "rot"),
            ] {
                variants.push(variant(label, policy));
            }
            Preset {
                name: "straw-man".into(),
                about: "Rules of Thumb's straw men: PushStaticWithHTML (every static subresource pushed with the HTML) and the same limited to one BDP, beside the BDP policy and rule 1's fill-the-window, on rule 1's pages (an 8 KB and a 120 KB document, each with 104 KB of subresources) over India-3G (BDP 35 KB), on a connection warmed to the BDP.".into(),
                site: sites::fill_window(),
                pages: vec!["/small.html".into(), "/large.html".into()],
                variants,
                protocols: both,
                profiles: vec![profile("3g")],
                caches: vec![CacheState::Cold],
                runs: 20,
                connection: Connection::Warm,
                browsers: vec![Browser::Emulated],
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
            runs: 20,
            connection: Connection::Fresh,
            browsers: vec![Browser::Emulated],
        },
        "preemption" => {
            let mut bloated = with_queue(profile("3g"), 250);
            bloated.name = "3g-bloated".into();
            let issue = issue11_link(1000);
            let mut none = variant("no push", "none");
            none.protocols = vec![Proto::H3, Proto::H2];
            let mut variants = vec![none];
            variants.extend(h3_push_variants(&[
                ("push-all, queue, in-flight off", InflightMode::Off, None),
                ("push-all, queue, in-flight bdp", InflightMode::Bdp, None),
                ("push-all, queue, in-flight bdp-125", InflightMode::Bdp125, None),
                ("push-all, BBR, in-flight off", InflightMode::Off, Some(Congestion::Bbr)),
                ("push-all, BBR, in-flight bdp", InflightMode::Bdp, Some(Congestion::Bbr)),
            ]));
            variants.extend(h2_push_variants());
            Preset {
                name: "preemption".into(),
                about: "A slow backend: the document takes 300 ms; meanwhile push-all pushes 1 MB of images. Two links: India-3G with a 250-packet queue (2.2 s of bufferbloat), and issue 11's link (1.6 Mbit/s down, up unlimited, 75 ms each way, 1000-packet queue). HTTP/3 rows with the in-flight limit for preemptible bytes off, bdp and bdp-125 (the default), with quinn's BBR; HTTP/2 with kernel defaults, with TCP_NOTSENT_LOWAT and with the TCP in-flight gate. The figure that matters is the document's extra delay: its first byte after (think time + RTT).".into(),
                site: sites::slow_backend(),
                pages: vec!["/index.html".into()],
                variants,
                protocols: both,
                profiles: vec![bloated, issue],
                caches: vec![CacheState::Cold],
                runs: 20,
                connection: Connection::Fresh,
                browsers: vec![Browser::Emulated],
            }
        }
        "preemption-sweep" => {
            // Issue 11's link, India-3G and LTE, each with four bottleneck
            // queue lengths.
            let mut profiles = Vec::new();
            for q in SWEEP_QUEUES {
                profiles.push(issue11_link(q));
            }
            for base in [profile("3g"), profile("lte")] {
                for q in SWEEP_QUEUES {
                    let mut p = with_queue(base.clone(), q);
                    p.name = format!("{}-q{q}", base.name);
                    profiles.push(p);
                }
            }
            // The reference: the same document without pushes.
            let mut none = variant("no push", "none");
            none.protocols = vec![Proto::H3];
            let mut variants = vec![none];
            variants.extend(h3_push_variants(&[
                ("push-all, in-flight off", InflightMode::Off, None),
                ("push-all, in-flight bdp-125", InflightMode::Bdp125, None),
                ("push-all, BBR", InflightMode::Off, Some(Congestion::Bbr)),
            ]));
            // HTTP/2 rows compare with HTTP/2 under kernel defaults.
            let [mut h2, h2l, h2g] = h2_push_variants();
            h2.baseline = true;
            variants.extend([h2, h2l, h2g]);
            Preset {
                name: "preemption-sweep".into(),
                about: "Issue 11's sweep: a 20 KB document with 100, 300 or 1000 ms of think time while push-all pushes 1 MB (four 256 KB images), over issue 11's link (1.6 Mbit/s down, up unlimited, 75 ms each way), India-3G and LTE, each with a bottleneck queue of 20, 100, 250 and 1000 packets. HTTP/3 without push (the reference), and pushing with the in-flight limit off and bdp-125 (the default) and with quinn's BBR; HTTP/2 with kernel defaults, TCP_NOTSENT_LOWAT 16 KB and the TCP in-flight gate (bdp-125). The figures: the document's first byte after (think + RTT), its completion beyond the ideal (think + RTT + its bytes at the link rate), and when the pushes finish.".into(),
                site: sites::preemption_sweep(),
                pages: sites::SWEEP_THINK_MS
                    .iter()
                    .map(|t| format!("/think-{t}.html"))
                    .collect(),
                variants,
                protocols: both,
                profiles,
                caches: vec![CacheState::Cold],
                runs: 20,
                connection: Connection::Fresh,
                browsers: vec![Browser::Emulated],
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
            runs: 20,
            connection: Connection::Fresh,
            browsers: vec![Browser::Emulated],
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
            runs: 20,
            connection: Connection::Fresh,
            browsers: vec![Browser::Emulated],
        },
        "browser-validation" => Preset {
            name: "browser-validation".into(),
            about: "The emulated browser against headless Chromium: the demo page (/index.html) and the Rules of Thumb's push-order page (/po/index.html) over India-2G, India-3G and LTE, HTTP/2 and HTTP/3, no push and 103 Early Hints (preload), cold and warm cache, each configuration loaded by both browsers on fresh connections. The validation table gives each row's model error against Chromium's medians.".into(),
            site: sites::validation(),
            pages: if quick {
                vec!["/index.html".into()]
            } else {
                vec!["/index.html".into(), "/po/index.html".into()]
            },
            variants: if quick {
                vec![variant("no push", "none")]
            } else {
                vec![variant("no push", "none"), variant("103 preload", "preload")]
            },
            protocols: both,
            profiles: if quick {
                vec![profile("lte")]
            } else {
                vec![profile("2g"), profile("3g"), profile("lte")]
            },
            caches: if quick {
                vec![CacheState::Cold]
            } else {
                vec![CacheState::Cold, CacheState::Warm]
            },
            runs: if quick { 2 } else { 20 },
            connection: Connection::Fresh,
            browsers: vec![Browser::Emulated, Browser::Chromium],
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
            connection: Connection::Fresh,
            browsers: vec![Browser::Emulated],
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
        if p.variants.len() > 3 && !p.name.starts_with("preemption") {
            p.variants.truncate(3);
        }
        p.pages.truncate(1);
        if p.name == "preemption-sweep" {
            // One link, its longest queue.
            p.profiles.truncate(SWEEP_QUEUES.len());
            p.profiles.drain(..SWEEP_QUEUES.len() - 1);
        }
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
                .map(|c| c.name())
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
        connection: Connection::Fresh,
        browsers: vec![Browser::Emulated],
    })
}

/// One configuration of a preset.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Its variant is the one the others of its group are compared with.
    #[serde(default)]
    pub baseline: bool,
    /// What the Rules of Thumb reported for it, if it reproduces one of
    /// the paper's experiments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper: Option<String>,
    /// The browser that loads it.
    #[serde(default)]
    pub browser: Browser,
    /// Its variant pushes and the browser refuses push (Chromium): it is
    /// not run, and its row says "emulated only".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emulated_only: bool,
    #[serde(skip)]
    pub(super) variant_index: usize,
    #[serde(skip)]
    pub(super) profile_index: usize,
}

impl Config {
    /// A one-line label ("protocol page variant link cache", and
    /// " chromium" when Chromium loads it).
    pub fn label(&self) -> String {
        let label = self.label_without_browser();
        match self.browser {
            Browser::Emulated => label,
            b => format!("{label} {}", b.name()),
        }
    }

    /// The label without the browser: the same for the two browsers'
    /// loads of one configuration.
    pub fn label_without_browser(&self) -> String {
        format!(
            "{} {} {} {} {}",
            proto_name(self.protocol),
            self.page,
            self.variant,
            self.profile,
            self.cache.name()
        )
    }

    /// The configurations compared with one another: all but the variant.
    pub(super) fn group(&self) -> (Proto, String, String, CacheState, Browser) {
        (
            self.protocol,
            self.page.clone(),
            self.profile.clone(),
            self.cache,
            self.browser,
        )
    }
}

/// The configurations of a preset, in run order.
pub fn configs(p: &Preset) -> Vec<Config> {
    let mut out = Vec::new();
    for (pi, prof) in p.profiles.iter().enumerate() {
        for page in &p.pages {
            for &cache in &p.caches {
                for &proto in &p.protocols {
                    for &browser in &p.browsers {
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
                                baseline: v.baseline,
                                paper: v.paper.map(str::to_string),
                                browser,
                                emulated_only: browser == Browser::Chromium && v.policy.may_push(),
                                variant_index: vi,
                                profile_index: pi,
                            });
                        }
                    }
                }
            }
        }
    }
    out
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
        assert_eq!(configs(&p).len(), 14);
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
        assert_eq!(p.variants.len(), crate::push::POLICY_NAMES.len());
        assert_eq!(configs(&p).len(), 2 * crate::push::POLICY_NAMES.len());
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
