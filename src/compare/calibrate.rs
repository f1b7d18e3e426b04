//! Calibrating the emulated browser's CPU model to this machine's Chromium
//! (`compare --cpu calibrate`): Chromium loads each page of the preset a
//! few times over the first link profile with a DevTools timeline trace,
//! and [`fit`] reads the model's constants off those loads:
//!
//! - `commit_ms`: from the document's first byte to Chromium's first
//!   subresource request (median over loads);
//! - `script_base_ms` and `script_ms_per_kb`: a least-squares line through
//!   every script's main-thread time (compile plus evaluate, from the
//!   trace) against its size; where its slope is negative, the median time
//!   and no cost per KB;
//! - `layout_ms`: from rendering unblocked (the last render-blocking
//!   resource arrived, and run if a script: when the trace says its
//!   evaluation ended, else its arrival plus its run time) to the start of
//!   the first rendering update (the first main-thread task that lays out
//!   and paints), median over loads; from a trace without one, to the
//!   first web-font request (fonts are fetched at the first layout);
//! - `render_ms`: how long that first rendering update held the main
//!   thread (median over loads);
//! - `font_render_ms`: how long the first main-thread task that laid out
//!   after a web font arrived, when it arrived after the first rendering
//!   update had started, took (median over the loads that had one);
//! - `paint_ms`: from rendering unblocked to first contentful paint, less
//!   `layout_ms` (median over all loads);
//! - `cache_read_ms`: from the request of a resource Chromium's HTTP cache
//!   answered to its response end (Resource Timing, median over the
//!   cached resources of the warm-cache loads requested after the load's
//!   first read had ended); `cache_open_ms`: the median of each warm
//!   load's first read, less `cache_read_ms` (warm loads are made only
//!   for pages the run loads warm, and give only these and the hand-over
//!   constants below, since a warm visit's scripts may come from V8's
//!   code cache);
//! - `handover`: per resource kind, the median main-thread time of handing
//!   a cached resource of the warm-cache loads to the page (the trace's
//!   tasks that held only its `ResourceReceiveResponse`/
//!   `ResourceReceivedData`/`ResourceFinish` events; a kind without a
//!   sample takes the median over all). Warm loads, because a cached body
//!   is handed over whole when it is complete, as the model does with
//!   every response; a cold load's body is handed over in pieces as it
//!   arrives, mostly while the main thread is idle;
//! - `parser_end_first`, per page and cache state: whether in most of its
//!   cold (warm) loads the parser ended (`domInteractive`) before the first
//!   rendering update started;
//! - `cached_script_base_ms` and `cached_script_ms_per_kb`: the script
//!   line, from the warm loads' scripts (read from the HTTP cache);
//! - `hint_ms`: from the navigation's 103 having been read to the send of
//!   the first preload it named, both from Chromium's net log (median over
//!   the hinted loads: loads from a server with the run's hint policy,
//!   made only for pages the run loads with one; they give no other
//!   constant).
//!
//! Every constant is clamped at 0. The fit is pure; [`calibrate`] runs
//! the loads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::presets::LinkProfile;
use super::CompareError;
use crate::browser::chromium::{self, ChromiumOptions};
use crate::browser::{Cpu, PageLoad, ResKind, Source};
use crate::client::Proto;
use crate::config::ServeOptions;
use crate::push::PushPolicy;
use crate::site::Site;
use crate::summary::median;
use crate::tls::Identity;

/// What a calibration measured, and the CPU model it gives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    /// The model's constants.
    pub cpu: Cpu,
    /// The link the loads ran over.
    pub profile: String,
    /// Chromium loads used.
    pub loads: usize,
    /// Script samples in the line fit.
    pub scripts: usize,
    /// Loads that gave a `layout_ms` sample (a first rendering update in
    /// the trace, or a web font; the name is from when only fonts did).
    pub font_loads: usize,
    /// The first rendering update's main-thread time per page (median over
    /// its loads; [`Cpu::render_ms`] is the median over all of them). It
    /// depends on what there is to lay out: on LTE, 22-60 ms for the demo
    /// page (images, 14 KB of CSS), 10-13 ms for the push-order page (text).
    #[serde(default)]
    pub render_ms_by_page: std::collections::BTreeMap<String, f64>,
    /// Per page: in how many of its cold loads with a first rendering
    /// update the parser ended before that update started, and how many
    /// such loads there were. Where most did, the model's parser end goes
    /// first on that page ([`Cpu::parser_end_first`]).
    #[serde(default)]
    pub parser_end_first_by_page: std::collections::BTreeMap<String, (usize, usize)>,
    /// The same, over the warm loads (for the runs that load the page
    /// with a warm cache).
    #[serde(default)]
    pub parser_end_first_warm_by_page: std::collections::BTreeMap<String, (usize, usize)>,
    /// How the constants were read (the method, in one line).
    pub method: String,
    /// Every sample the medians and the line came from, to audit them.
    pub samples: Samples,
}

/// The samples of a calibration (ms; script sizes in KB).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Samples {
    /// First subresource request minus the document's first byte.
    pub commit_ms: Vec<f64>,
    /// The first rendering update's start (or, without one in the trace,
    /// the first font request) minus rendering unblocked.
    pub layout_ms: Vec<f64>,
    /// The first rendering update's main-thread time.
    #[serde(default)]
    pub render_ms: Vec<f64>,
    /// The main-thread time of the rendering update a web font caused.
    #[serde(default)]
    pub font_render_ms: Vec<f64>,
    /// First contentful paint minus rendering unblocked.
    pub unblocked_to_fcp_ms: Vec<f64>,
    /// (KB, compile + evaluate ms) per script.
    pub scripts: Vec<(f64, f64)>,
    /// Response end minus request start of each resource a warm load
    /// read from the HTTP cache after its first read had ended.
    #[serde(default)]
    pub cache_read_ms: Vec<f64>,
    /// The same, of each warm load's first read.
    #[serde(default)]
    pub first_cache_read_ms: Vec<f64>,
    /// Per hinted load, the send of its first hinted preload minus the
    /// navigation's 103 read (net log).
    #[serde(default)]
    pub hint_ms: Vec<f64>,
    /// (KB, compile + evaluate ms) per script of the warm loads (read
    /// from the HTTP cache).
    #[serde(default)]
    pub cached_scripts: Vec<(f64, f64)>,
    /// Per resource kind, the main-thread ms of handing each cached
    /// resource of the warm loads to the page.
    #[serde(default)]
    pub handover_ms: std::collections::BTreeMap<String, Vec<f64>>,
}

/// A resource kind's name in the calibration's samples.
fn kind_name(kind: ResKind) -> String {
    format!("{kind:?}").to_lowercase()
}

/// The main-thread time of a script in a load (compile plus evaluate),
/// and when its evaluation ended if the trace says.
fn script_ms(load: &PageLoad) -> HashMap<&str, (u64, f64, Option<f64>)> {
    load.scripts
        .iter()
        .map(|s| {
            (
                s.path.as_str(),
                (s.bytes, s.compile_ms + s.evaluate_ms, s.end_ms),
            )
        })
        .collect()
}

impl Calibration {
    /// The CPU model for loads of `page` (with a warm cache if `warm`): its
    /// own rendering cost when the calibration measured it, and whether
    /// its parser ended first in most of the calibration's loads in that
    /// cache state.
    pub fn cpu_for(&self, page: &str, warm: bool) -> Cpu {
        let first = if warm {
            &self.parser_end_first_warm_by_page
        } else {
            &self.parser_end_first_by_page
        };
        Cpu {
            render_ms: self
                .render_ms_by_page
                .get(page)
                .copied()
                .unwrap_or(self.cpu.render_ms),
            parser_end_first: first.get(page).is_some_and(|&(first, of)| 2 * first > of),
            ..self.cpu
        }
    }
}

/// Per page: in how many `loads` with a first rendering update the parser
/// ended (`domInteractive`) before it started, of how many.
fn parser_end_first(loads: &[&PageLoad]) -> std::collections::BTreeMap<String, (usize, usize)> {
    let mut out: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for l in loads {
        let (Some(first), Some(dom), Some(page)) = (
            l.first_render,
            l.summary.dom_done_ms,
            chromium::path_of(&l.url),
        ) else {
            continue;
        };
        let e = out.entry(page).or_insert((0, 0));
        e.0 += usize::from(dom < first.start_ms);
        e.1 += 1;
    }
    out
}

/// A script cost line `ms = base + per_kb x KB`: least squares, unless
/// the slope comes out negative (bigger scripts cheaper: the sizes do not
/// explain the times), then the median time and no cost per KB. Clamping
/// a negative slope to 0 and keeping its intercept would put the fixed cost
/// above every script's. None without samples.
fn script_line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    match line(points) {
        Some((a, b)) if b >= 0.0 => Some((a.max(0.0), b)),
        _ => {
            let ms: Vec<f64> = points.iter().map(|p| p.1).collect();
            Some((median(&ms)?.max(0.0), 0.0))
        }
    }
}

/// Least squares `y = a + b x`; None with fewer than two distinct x.
fn line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

/// Reads the CPU model's constants off Chromium loads (traced, so that
/// they carry per-script times): cold-cache `loads`, `warm` loads for the
/// cache-read time, and `hinted` loads (with their net logs) for the 103
/// preloads' delay. Pure.
pub fn fit(
    loads: &[PageLoad],
    warm: &[PageLoad],
    hinted: &[PageLoad],
    profile: &str,
) -> Result<Calibration, String> {
    let ok: Vec<&PageLoad> = loads.iter().filter(|l| l.error.is_none()).collect();
    if ok.is_empty() {
        return Err("no Chromium load succeeded".into());
    }
    let mut commit = Vec::new();
    let mut layout = Vec::new();
    let mut render = Vec::new();
    let mut font_render = Vec::new();
    let mut render_by_page: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let mut to_paint = Vec::new();
    let mut points = Vec::new();
    for l in &ok {
        let res = &l.summary.resources;
        let scripts = script_ms(l);
        for (bytes, ms, _) in scripts.values() {
            if *bytes > 0 {
                points.push((*bytes as f64 / 1024.0, *ms));
            }
        }
        let Some(first) = res.first().and_then(|d| d.first_byte_ms) else {
            continue;
        };
        if let Some(req) = res
            .iter()
            .skip(1)
            .filter_map(|r| r.requested_ms)
            .reduce(f64::min)
        {
            commit.push(req - first);
        }
        // Rendering unblocked: the last render-blocking resource in (and
        // run, for a script: when the trace saw its evaluation end, which
        // may wait for stylesheets and the main thread, else its arrival
        // plus its run time).
        let unblocked = res
            .iter()
            .filter(|r| r.render_blocking)
            .filter_map(|r| {
                let done = r.done_ms?;
                Some(match scripts.get(r.path.as_str()) {
                    Some((_, _, Some(end))) => end.max(done),
                    Some((_, run, None)) => done + run,
                    None => done,
                })
            })
            .reduce(f64::max);
        let Some(unblocked) = unblocked else {
            continue;
        };
        if let Some(update) = l.font_render {
            font_render.push(update.dur_ms);
        }
        if let Some(first) = l.first_render {
            layout.push(first.start_ms - unblocked);
            render.push(first.dur_ms);
            if let Some(page) = chromium::path_of(&l.url) {
                render_by_page
                    .entry(page.clone())
                    .or_default()
                    .push(first.dur_ms);
            }
        } else if let Some(font) = res
            .iter()
            .filter(|r| r.kind == ResKind::Font && !r.hinted)
            .filter_map(|r| r.requested_ms)
            .reduce(f64::min)
        {
            layout.push(font - unblocked);
        }
        if let Some(fcp) = l.summary.fcp_ms {
            to_paint.push(fcp - unblocked);
        }
    }
    // Per warm load, its first cache read, and the reads made after that
    // one ended (those made while it was under way waited for it).
    let mut first_read = Vec::new();
    let mut cache_read = Vec::new();
    for l in warm.iter().filter(|l| l.error.is_none()) {
        let reads: Vec<(f64, f64)> = l
            .summary
            .resources
            .iter()
            .filter(|r| r.source == Source::Cached)
            .filter_map(|r| Some((r.requested_ms?, r.done_ms?)))
            .collect();
        let Some(&(req, done)) = reads.iter().min_by(|a, b| a.0.total_cmp(&b.0)) else {
            continue;
        };
        first_read.push(done - req);
        cache_read.extend(reads.iter().filter(|r| r.0 >= done).map(|r| r.1 - r.0));
    }
    let cache_read_ms = median(&cache_read).unwrap_or(0.0).max(0.0);
    // A warm visit's scripts, read from the HTTP cache: their own line.
    let warm_ok: Vec<&PageLoad> = warm.iter().filter(|l| l.error.is_none()).collect();
    let warm_points: Vec<(f64, f64)> = warm_ok
        .iter()
        .flat_map(|l| script_ms(l).into_values())
        .filter(|(bytes, _, _)| *bytes > 0)
        .map(|(bytes, ms, _)| (bytes as f64 / 1024.0, ms))
        .collect();
    let (cached_base, cached_per_kb) = script_line(&warm_points).unwrap_or((0.0, 0.0));
    let mut handover: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for l in warm.iter().filter(|l| l.error.is_none()) {
        for d in &l.deliveries {
            let Some(r) = l.summary.resources.iter().find(|r| r.path == d.path) else {
                continue;
            };
            if r.source == Source::Cached {
                handover.entry(kind_name(r.kind)).or_default().push(d.ms);
            }
        }
    }
    let all: Vec<f64> = handover.values().flatten().copied().collect();
    let overall = median(&all).unwrap_or(0.0).max(0.0);
    let of = |kind: ResKind| {
        handover
            .get(&kind_name(kind))
            .and_then(|v| median(v))
            .unwrap_or(overall)
            .max(0.0)
    };
    let handover_cpu = crate::browser::Handover {
        script_ms: of(ResKind::Script),
        style_ms: of(ResKind::Style),
        image_ms: of(ResKind::Image),
        font_ms: of(ResKind::Font),
        other_ms: overall,
    };
    let hint: Vec<f64> = hinted
        .iter()
        .filter(|l| l.error.is_none())
        .filter_map(|l| {
            let res = &l.summary.resources;
            let read = res.first()?.net_log?.early_hints?;
            let first = res
                .iter()
                .filter(|r| r.hinted)
                .filter_map(|r| r.net_log.map(|n| n.sent))
                .reduce(f64::min)?;
            Some(first - read)
        })
        .collect();
    if line(&points).is_none() {
        return Err("fewer than two script sizes traced".into());
    }
    let (base, per_kb) = script_line(&points).unwrap_or((0.0, 0.0));
    let layout_ms = median(&layout).unwrap_or(0.0).max(0.0);
    let cpu = Cpu {
        script_base_ms: base.max(0.0),
        script_ms_per_kb: per_kb.max(0.0),
        commit_ms: median(&commit).unwrap_or(0.0).max(0.0),
        layout_ms,
        render_ms: median(&render).unwrap_or(0.0).max(0.0),
        font_render_ms: median(&font_render).unwrap_or(0.0).max(0.0),
        paint_ms: (median(&to_paint).unwrap_or(layout_ms) - layout_ms).max(0.0),
        cache_read_ms,
        cache_open_ms: (median(&first_read).unwrap_or(cache_read_ms) - cache_read_ms).max(0.0),
        hint_ms: median(&hint).unwrap_or(0.0).max(0.0),
        handover: handover_cpu,
        parser_end_first: false,
        cached_script_base_ms: cached_base.max(0.0),
        cached_script_ms_per_kb: cached_per_kb.max(0.0),
    };
    Ok(Calibration {
        cpu,
        profile: profile.to_string(),
        loads: ok.len(),
        scripts: points.len(),
        font_loads: layout.len(),
        render_ms_by_page: render_by_page
            .iter()
            .filter_map(|(page, v)| Some((page.clone(), median(v)?)))
            .collect(),
        parser_end_first_by_page: parser_end_first(&ok),
        parser_end_first_warm_by_page: parser_end_first(&warm_ok),
        samples: Samples {
            commit_ms: commit,
            layout_ms: layout,
            render_ms: render,
            font_render_ms: font_render,
            unblocked_to_fcp_ms: to_paint,
            scripts: points,
            cache_read_ms: cache_read,
            first_cache_read_ms: first_read,
            hint_ms: hint,
            handover_ms: handover,
            cached_scripts: warm_points,
        },
        method: "medians over headless Chromium loads (DevTools timeline trace): commit = first subresource request - document first byte; script = least squares of compile+evaluate ms on KB (the median, no per-KB cost, if its slope is negative); layout = first rendering update's start (else first font request) - rendering unblocked (a blocking script's evaluation end from the trace); render = first rendering update's main-thread time; font render = main-thread time of the first task that laid out after a web font arrived, if after the first update started; paint = FCP - rendering unblocked - layout; cache read = response end - request start of warm loads' cached resources requested after the load's first read ended; cache open = the first read's, less cache read; hint = first hinted preload's send - the navigation's 103 read (net log) of hinted loads; handover = per kind, median main-thread ms of tasks that only handed a warm load's cached response to the page; parser end first = per page and cache state, most loads' domInteractive before the first rendering update; cached script = the script line over the warm loads' scripts".into(),
    })
}

/// The pages a calibration loads.
#[derive(Default)]
pub struct Pages {
    /// Loaded with a cold cache from a server without push or hints.
    pub cold: Vec<String>,
    /// Loaded again with a warm cache (for the cache reads).
    pub warm: Vec<String>,
    /// Loaded with a cold cache from a server that hints (for the 103
    /// preloads' delay), when the run has such pages.
    pub hinted: Option<Hinted>,
}

/// The pages a calibration loads from a server that sends 103s.
pub struct Hinted {
    /// The pages.
    pub pages: Vec<String>,
    /// The run's hint policy (one that hints and never pushes).
    pub policy: Arc<dyn PushPolicy>,
}

/// Calibrates: `loads_per_page` traced Chromium loads of each page over
/// HTTP/2 and HTTP/3 behind `profile`, as many warm-cache loads of each
/// warm page and hinted loads of each hinted page, then [`fit`].
pub fn calibrate(
    rt: &tokio::runtime::Runtime,
    site: Arc<Site>,
    pages: &Pages,
    profile: &LinkProfile,
    identity: &Identity,
    loads_per_page: usize,
    link: super::run::Link,
) -> Result<Calibration, CompareError> {
    let emu = super::run::start_link(profile, link)?;
    let serve = ServeOptions {
        site: site.clone(),
        ..ServeOptions::default()
    };
    let srv = super::run::start_server(rt, &emu, identity, serve, |_| {})?;
    let hint_srv = match &pages.hinted {
        Some(h) => {
            let serve = ServeOptions {
                site,
                policy: h.policy.clone(),
                ..ServeOptions::default()
            };
            Some(super::run::start_server(rt, &emu, identity, serve, |_| {})?)
        }
        None => None,
    };
    #[derive(PartialEq)]
    enum Kind {
        Cold,
        Warm,
        Hinted,
    }
    let mut loads = Vec::new();
    let mut warm_loads = Vec::new();
    let mut hinted_loads = Vec::new();
    let runs = (pages.cold.iter().map(|p| (p, Kind::Cold)))
        .chain(pages.warm.iter().map(|p| (p, Kind::Warm)))
        .chain(
            pages
                .hinted
                .iter()
                .flat_map(|h| &h.pages)
                .map(|p| (p, Kind::Hinted)),
        );
    for (page, kind) in runs {
        let port = match (&kind, &hint_srv) {
            (Kind::Hinted, Some(h)) => h.addr.port(),
            _ => srv.addr.port(),
        };
        for proto in [Proto::H2, Proto::H3] {
            for _ in 0..loads_per_page {
                let co = ChromiumOptions {
                    url: format!("https://{}:{port}{page}", emu.server_addr),
                    proto,
                    spki: identity.spki_sha256.clone(),
                    warm: kind == Kind::Warm,
                    timeout: Duration::from_secs(60),
                    trace: true,
                    keep_net_log: None,
                };
                let load = emu
                    .in_client(move || chromium::load(&co))?
                    .join()
                    .map_err(|_| CompareError::Server("calibration thread panicked".into()))?;
                match kind {
                    Kind::Cold => loads.push(load),
                    Kind::Warm => warm_loads.push(load),
                    Kind::Hinted => hinted_loads.push(load),
                }
            }
        }
    }
    rt.block_on(srv.shutdown());
    if let Some(h) = hint_srv {
        rt.block_on(h.shutdown());
    }
    emu.stop();
    fit(&loads, &warm_loads, &hinted_loads, &profile.name)
        .map_err(|e| CompareError::Invalid(format!("calibrating the CPU model: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser::chromium::{RenderTime, ScriptTime};
    use crate::browser::{PageSummary, Resource, Source};

    fn res(path: &str, kind: ResKind, rb: bool, req: f64, first: f64, done: f64) -> Resource {
        let mut r = Resource::observed(path, kind, Source::Network);
        r.render_blocking = rb;
        r.requested_ms = Some(req);
        r.first_byte_ms = Some(first);
        r.done_ms = Some(done);
        r
    }

    fn load(script_kb: f64, script_ms: f64) -> PageLoad {
        PageLoad {
            url: "https://x:1/".into(),
            protocol: Proto::H3,
            started_unix_ms: 0.0,
            handshake_ms: 0.0,
            summary: PageSummary {
                resources: vec![
                    res("/", ResKind::Document, true, 0.0, 10.0, 12.0),
                    res("/a.css", ResKind::Style, true, 70.0, 75.0, 80.0),
                    res("/a.js", ResKind::Script, true, 71.0, 76.0, 90.0),
                    res(
                        "/f.woff2",
                        ResKind::Font,
                        false,
                        90.0 + script_ms + 30.0,
                        0.0,
                        200.0,
                    ),
                ],
                fcp_ms: Some(90.0 + script_ms + 50.0),
                ..PageSummary::default()
            },
            error: None,
            scripts: vec![ScriptTime {
                path: "/a.js".into(),
                bytes: (script_kb * 1024.0) as u64,
                compile_ms: 0.0,
                evaluate_ms: script_ms,
                end_ms: None,
            }],
            first_render: None,
            font_render: None,
            deliveries: Vec::new(),
        }
    }

    /// A script line with a negative slope gives way to the median.
    #[test]
    fn script_line_falls_back_to_the_median() {
        let up = [(1.0, 3.0), (2.0, 4.0), (3.0, 5.0)];
        assert_eq!(script_line(&up), Some((2.0, 1.0)));
        // 1 KB at 6 ms, 10 KB at 1 and 2 ms: the line's intercept would
        // be 6.5 ms, above every sample.
        let down = [(1.0, 6.0), (10.0, 1.0), (10.0, 2.0)];
        assert_eq!(script_line(&down), Some((2.0, 0.0)));
        assert_eq!(script_line(&[(5.0, 3.0)]), Some((3.0, 0.0)));
        assert_eq!(script_line(&[]), None);
    }

    /// The constants come back from loads made with them: commit 60 ms,
    /// scripts 2 ms + 0.5 ms/KB, layout 30 ms, paint 20 ms.
    #[test]
    fn fit_reads_the_constants() {
        let loads: Vec<PageLoad> = [4.0, 10.0, 30.0]
            .iter()
            .map(|&kb| load(kb, 2.0 + 0.5 * kb))
            .collect();
        let mut warm = load(4.0, 4.0);
        for (k, r) in warm.summary.resources.iter_mut().skip(1).enumerate() {
            r.source = Source::Cached;
            r.done_ms = Some(r.requested_ms.unwrap() + [12.0, 13.0, 4.0][k]);
        }
        // A hinted load: the 103 read at 72 ms, its preloads sent 30 and
        // 40 ms later (the first is the sample); a resource the page
        // requested itself is none.
        let mut hinted = load(4.0, 4.0);
        let net = |sent: f64| crate::browser::netlog::NetTimes {
            sent,
            headers: None,
            end: None,
            early_hints: (sent == 0.0).then_some(72.0),
        };
        let rs = &mut hinted.summary.resources;
        rs[0].net_log = Some(net(0.0));
        for (r, sent, hint) in [(1, 102.0, true), (2, 112.0, true), (3, 300.0, false)] {
            rs[r].hinted = hint;
            rs[r].net_log = Some(net(sent));
        }
        // The warm load's hand-overs, per kind: the stylesheet's 2 ms, the
        // script's 4, the font's 11, and 4 (their median) for kinds
        // without a sample; the cold loads' (pieces as they arrive) and a
        // resource the warm load fetched from the network are not samples.
        let handed = |path: &str, ms| crate::browser::chromium::DeliveryTime {
            path: path.into(),
            ms,
        };
        warm.deliveries = vec![
            handed("/a.css", 2.0),
            handed("/a.js", 4.0),
            handed("/f.woff2", 11.0),
            handed("/", 99.0),
        ];
        let mut loads = loads;
        loads[0].deliveries = vec![handed("/a.css", 50.0), handed("/a.js", 1.0)];
        let c = fit(&loads, &[warm], &[hinted], "lte").unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        let h = c.cpu.handover;
        assert_eq!(
            (h.style_ms, h.script_ms, h.font_ms, h.image_ms, h.other_ms),
            (2.0, 4.0, 11.0, 4.0, 4.0),
            "{:?}",
            c.samples.handover_ms
        );
        assert!(close(c.cpu.commit_ms, 60.0), "{c:?}");
        assert!(close(c.cpu.script_base_ms, 2.0), "{c:?}");
        assert!(close(c.cpu.script_ms_per_kb, 0.5), "{c:?}");
        assert!(close(c.cpu.layout_ms, 30.0), "{c:?}");
        assert!(close(c.cpu.paint_ms, 20.0), "{c:?}");
        // Warm loads give the cache read: the first (a.css, 70 to 82 ms)
        // 12 ms, a.js (asked for meanwhile) waited for it and is no
        // sample, the font 4 ms; so the first read is 8 ms longer.
        assert_eq!(c.samples.first_cache_read_ms, vec![12.0]);
        assert_eq!(c.samples.cache_read_ms, vec![4.0]);
        assert!(close(c.cpu.cache_read_ms, 4.0), "{c:?}");
        assert!(close(c.cpu.cache_open_ms, 8.0), "{c:?}");
        // Hinted loads give the 103 delay, nothing else.
        assert_eq!(c.samples.hint_ms, vec![30.0]);
        assert!(close(c.cpu.hint_ms, 30.0), "{c:?}");
        assert_eq!((c.loads, c.scripts, c.font_loads), (3, 3, 3));
        assert_eq!(c.samples.commit_ms, vec![60.0; 3]);
    }

    /// With a trace's script end and first rendering update, unblocked is
    /// when the blocking script's evaluation ended (it may have waited
    /// well after its arrival), layout is the update's start after that,
    /// and render its main-thread time; the font request no longer counts.
    #[test]
    fn fit_reads_the_first_rendering_update() {
        let loads: Vec<PageLoad> = [(4.0, 20.0), (10.0, 30.0), (30.0, 40.0)]
            .iter()
            .map(|&(kb, dur)| {
                let mut l = load(kb, 2.0 + 0.5 * kb);
                // a.js arrived at 90 but ran until 130 (it waited).
                l.scripts[0].end_ms = Some(130.0);
                l.first_render = Some(RenderTime {
                    start_ms: 137.0,
                    dur_ms: dur,
                });
                l
            })
            .collect();
        let c = fit(&loads, &[], &[], "lte").unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(c.cpu.layout_ms, 7.0), "{c:?}");
        // The parser's end (domInteractive) before the update (at 137 ms)
        // in 2 of 3 loads: on that page the model's parser ends first; in
        // 1 of 3 (or on a page not measured), it does not.
        let with_dom = |ends: [f64; 3]| {
            let mut l = loads.clone();
            for (l, t) in l.iter_mut().zip(ends) {
                l.summary.dom_done_ms = Some(t);
            }
            fit(&l, &[], &[], "lte").unwrap()
        };
        let first = with_dom([130.0, 136.0, 150.0]);
        assert_eq!(first.parser_end_first_by_page["/"], (2, 3));
        assert!(first.cpu_for("/", false).parser_end_first);
        assert!(!first.cpu_for("/other.html", false).parser_end_first);
        assert!(
            !with_dom([130.0, 140.0, 150.0])
                .cpu_for("/", false)
                .parser_end_first
        );
        // Warm loads count for warm runs only.
        let mut warm_loads = loads.clone();
        for l in &mut warm_loads {
            l.summary.dom_done_ms = Some(100.0);
        }
        let warm = fit(&loads, &warm_loads, &[], "lte").unwrap();
        assert_eq!(warm.parser_end_first_warm_by_page["/"], (3, 3));
        assert!(!warm.cpu_for("/", false).parser_end_first);
        assert!(warm.cpu_for("/", true).parser_end_first);
        assert!(close(c.cpu.render_ms, 30.0), "{c:?}");
        // No late web font in any trace: no font update.
        assert!(c.samples.font_render_ms.is_empty());
        assert_eq!(c.cpu.font_render_ms, 0.0);
        // Two loads with one: its median, from those loads only.
        let mut fonts = loads.clone();
        for (l, dur) in fonts.iter_mut().zip([4.0, 12.0]) {
            l.font_render = Some(RenderTime {
                start_ms: 300.0,
                dur_ms: dur,
            });
        }
        let f = fit(&fonts, &[], &[], "lte").unwrap();
        assert_eq!(f.samples.font_render_ms, vec![4.0, 12.0]);
        assert!(close(f.cpu.font_render_ms, 8.0), "{f:?}");
        assert!(close(f.cpu.render_ms, 30.0), "{f:?}");
        assert_eq!(c.samples.render_ms, vec![20.0, 30.0, 40.0]);
        // Per page: every load here is of https://x:1/.
        assert_eq!(c.render_ms_by_page.get("/"), Some(&30.0));
        assert!(close(c.cpu_for("/", false).render_ms, 30.0));
        assert!(close(c.cpu_for("/other.html", false).render_ms, 30.0));
        let mut other = loads.clone();
        other[0].url = "https://x:1/po/index.html?x=1".into();
        let c = fit(&other, &[], &[], "lte").unwrap();
        assert_eq!(c.render_ms_by_page.get("/po/index.html"), Some(&20.0));
        assert_eq!(c.render_ms_by_page.get("/"), Some(&35.0));
        assert!(close(c.cpu_for("/po/index.html", false).render_ms, 20.0));
        assert!(close(c.cpu_for("/", false).render_ms, 35.0));
        assert!(close(c.cpu_for("/new.html", false).render_ms, 30.0));
        // FCP at 90 + run + 50 against unblocked 130: paint is what is
        // left after layout.
        let fcp_after: Vec<f64> = c.samples.unblocked_to_fcp_ms.clone();
        let want = median(&fcp_after).unwrap() - 7.0;
        assert!(close(c.cpu.paint_ms, want.max(0.0)), "{c:?}");
        // A script end before its arrival (clock noise) counts as the arrival.
        let mut early = loads.clone();
        for l in &mut early {
            l.scripts[0].end_ms = Some(50.0);
        }
        let c = fit(&early, &[], &[], "lte").unwrap();
        assert!(close(c.cpu.layout_ms, 137.0 - 90.0), "{c:?}");
    }

    /// No successful load, or one script size only, is an error.
    #[test]
    fn fit_needs_loads_and_sizes() {
        assert!(fit(&[], &[], &[], "lte").is_err());
        let same = vec![load(4.0, 4.0), load(4.0, 4.0)];
        assert!(fit(&same, &[], &[], "lte").is_err());
    }
}
