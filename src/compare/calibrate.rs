//! Calibrating the emulated browser's CPU model to this machine's Chromium
//! (`compare --cpu calibrate`): Chromium loads each page of the preset a
//! few times over the first link profile with a DevTools timeline trace,
//! and [`fit`] reads the model's constants off those loads:
//!
//! - `commit_ms`: from the document's first byte to Chromium's first
//!   subresource request (median over loads);
//! - `script_base_ms` and `script_ms_per_kb`: a least-squares line through
//!   every script's main-thread time (compile plus evaluate, from the
//!   trace) against its size;
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
//!   answered to its response end (Resource Timing, median over every
//!   cached resource of the warm-cache loads; warm loads are made only
//!   for pages the run loads warm, and give no other constant, since a
//!   warm visit's scripts may come from V8's code cache);
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
    /// read from the HTTP cache.
    #[serde(default)]
    pub cache_read_ms: Vec<f64>,
    /// Per hinted load, the send of its first hinted preload minus the
    /// navigation's 103 read (net log).
    #[serde(default)]
    pub hint_ms: Vec<f64>,
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
    /// The CPU model for loads of `page`: its own rendering cost when the
    /// calibration measured it.
    pub fn cpu_for(&self, page: &str) -> Cpu {
        Cpu {
            render_ms: self
                .render_ms_by_page
                .get(page)
                .copied()
                .unwrap_or(self.cpu.render_ms),
            ..self.cpu
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
                render_by_page.entry(page).or_default().push(first.dur_ms);
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
    let cache_read: Vec<f64> = warm
        .iter()
        .filter(|l| l.error.is_none())
        .flat_map(|l| &l.summary.resources)
        .filter(|r| r.source == Source::Cached)
        .filter_map(|r| Some(r.done_ms? - r.requested_ms?))
        .collect();
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
    let (base, per_kb) = line(&points).ok_or("fewer than two script sizes traced")?;
    let layout_ms = median(&layout).unwrap_or(0.0).max(0.0);
    let cpu = Cpu {
        script_base_ms: base.max(0.0),
        script_ms_per_kb: per_kb.max(0.0),
        commit_ms: median(&commit).unwrap_or(0.0).max(0.0),
        layout_ms,
        render_ms: median(&render).unwrap_or(0.0).max(0.0),
        font_render_ms: median(&font_render).unwrap_or(0.0).max(0.0),
        paint_ms: (median(&to_paint).unwrap_or(layout_ms) - layout_ms).max(0.0),
        cache_read_ms: median(&cache_read).unwrap_or(0.0).max(0.0),
        hint_ms: median(&hint).unwrap_or(0.0).max(0.0),
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
        samples: Samples {
            commit_ms: commit,
            layout_ms: layout,
            render_ms: render,
            font_render_ms: font_render,
            unblocked_to_fcp_ms: to_paint,
            scripts: points,
            cache_read_ms: cache_read,
            hint_ms: hint,
        },
        method: "medians over headless Chromium loads (DevTools timeline trace): commit = first subresource request - document first byte; script = least squares of compile+evaluate ms on KB; layout = first rendering update's start (else first font request) - rendering unblocked (a blocking script's evaluation end from the trace); render = first rendering update's main-thread time; font render = main-thread time of the first task that laid out after a web font arrived, if after the first update started; paint = FCP - rendering unblocked - layout; cache read = response end - request start of warm loads' cached resources; hint = first hinted preload's send - the navigation's 103 read (net log) of hinted loads".into(),
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
        }
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
            r.done_ms = Some(r.requested_ms.unwrap() + 4.0 * (k + 1) as f64);
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
        let c = fit(&loads, &[warm], &[hinted], "lte").unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(c.cpu.commit_ms, 60.0), "{c:?}");
        assert!(close(c.cpu.script_base_ms, 2.0), "{c:?}");
        assert!(close(c.cpu.script_ms_per_kb, 0.5), "{c:?}");
        assert!(close(c.cpu.layout_ms, 30.0), "{c:?}");
        assert!(close(c.cpu.paint_ms, 20.0), "{c:?}");
        // Warm loads give the cache read (4, 8 and 12 ms: median 8), and
        // nothing else.
        assert!(close(c.cpu.cache_read_ms, 8.0), "{c:?}");
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
        assert!(close(c.cpu_for("/").render_ms, 30.0));
        assert!(close(c.cpu_for("/other.html").render_ms, 30.0));
        let mut other = loads.clone();
        other[0].url = "https://x:1/po/index.html?x=1".into();
        let c = fit(&other, &[], &[], "lte").unwrap();
        assert_eq!(c.render_ms_by_page.get("/po/index.html"), Some(&20.0));
        assert_eq!(c.render_ms_by_page.get("/"), Some(&35.0));
        assert!(close(c.cpu_for("/po/index.html").render_ms, 20.0));
        assert!(close(c.cpu_for("/").render_ms, 35.0));
        assert!(close(c.cpu_for("/new.html").render_ms, 30.0));
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
