//! How far the emulated browser is from Chromium: for every configuration
//! both browsers loaded, the model's error against Chromium's medians
//! (pure: from the report's runs).
//!
//! Per row:
//! - load time: (model median - Chromium median) / Chromium median;
//! - render: the model's render-ready and its FCP proxy against
//!   Chromium's first contentful paint;
//! - per resource (by path, both browsers' medians over their runs):
//!   request start and response end, model minus Chromium, in round trips
//!   of the link; the median and the 90th percentile of the absolute
//!   errors over the page's resources, and the resource the model misses
//!   most;
//! - request order: the pairs of resources the two browsers request in
//!   opposite orders (a pair counts only where both send its two requests
//!   more than [`ORDER_TOLERANCE_MS`] apart).
//!
//! The goal the issue sets: load within 5% of Chromium's median, and the
//! per-resource times within 0.25 RTT at the median.

use std::collections::BTreeMap;

use serde::Serialize;

use super::presets::Browser;
use super::run::{Report, Run};
use crate::summary::{median, quantile};

/// Requests closer than this in one browser have no order to disagree on.
pub const ORDER_TOLERANCE_MS: f64 = 1.0;
/// The goal for load time (a share of Chromium's median).
pub const LOAD_GOAL: f64 = 0.05;
/// The goal for per-resource times (round trips, median over resources).
pub const RESOURCE_GOAL_RTT: f64 = 0.25;

/// One resource's medians in the two browsers (ms since the document's
/// request).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceDiff {
    /// Its path.
    pub path: String,
    /// Model request start.
    pub model_request_ms: Option<f64>,
    /// Chromium request start.
    pub chromium_request_ms: Option<f64>,
    /// Model response end.
    pub model_done_ms: Option<f64>,
    /// Chromium response end.
    pub chromium_done_ms: Option<f64>,
    /// Chromium took it from an Early Hints preload and no net log timed
    /// the preload: its Resource Timing then says when the page took the
    /// response from the preload cache, not when it crossed the network
    /// (the browser process fetched it, and neither Resource Timing nor
    /// the page's DevTools session shows that fetch), so it is left out of
    /// the errors and the order. With the net log (`--log-net-log`, every
    /// Chromium load since it was added), the preload's network times
    /// replace Resource Timing's and it counts like any other.
    pub chromium_from_early_hints: bool,
}

impl ResourceDiff {
    fn err(a: Option<f64>, b: Option<f64>, rtt: f64) -> Option<f64> {
        Some((a? - b?) / rtt)
    }
    /// Request-start error, model minus Chromium, in RTTs (None where
    /// Chromium's time is not a network time).
    pub fn request_err_rtt(&self, rtt: f64) -> Option<f64> {
        if self.chromium_from_early_hints {
            return None;
        }
        Self::err(self.model_request_ms, self.chromium_request_ms, rtt)
    }
    /// Response-end error, model minus Chromium, in RTTs (the same).
    pub fn done_err_rtt(&self, rtt: f64) -> Option<f64> {
        if self.chromium_from_early_hints {
            return None;
        }
        Self::err(self.model_done_ms, self.chromium_done_ms, rtt)
    }
}

/// One configuration both browsers loaded.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationRow {
    /// The configuration's label without the browser.
    pub label: String,
    /// The link's round trip (ms).
    pub rtt_ms: f64,
    /// Successful runs: model, Chromium.
    pub runs: (usize, usize),
    /// Median load time: model, Chromium (ms).
    pub load_ms: (Option<f64>, Option<f64>),
    /// (model - Chromium) / Chromium.
    pub load_err: Option<f64>,
    /// Model render-ready (median, ms).
    pub model_render_ms: Option<f64>,
    /// Model FCP proxy (median, ms).
    pub model_fcp_ms: Option<f64>,
    /// Chromium first contentful paint (median, ms).
    pub chromium_fcp_ms: Option<f64>,
    /// (model FCP proxy, or render-ready without one, - Chromium FCP) /
    /// Chromium FCP.
    pub fcp_err: Option<f64>,
    /// Request start, |model - Chromium| in RTTs: median, 90th percentile.
    pub request_err_rtt: Option<(f64, f64)>,
    /// Response end, the same.
    pub done_err_rtt: Option<(f64, f64)>,
    /// The resource whose response end the model misses most, and by how
    /// much (signed, RTTs).
    pub worst: Option<(String, f64)>,
    /// Pairs of requests in opposite orders, of the pairs both order.
    pub order: (usize, usize),
    /// Per resource.
    pub resources: Vec<ResourceDiff>,
}

impl ValidationRow {
    /// Load within [`LOAD_GOAL`] and resources within
    /// [`RESOURCE_GOAL_RTT`] at the median.
    pub fn meets_goal(&self) -> bool {
        let load = self.load_err.is_some_and(|e| e.abs() <= LOAD_GOAL);
        let res = |v: Option<(f64, f64)>| v.is_some_and(|(m, _)| m <= RESOURCE_GOAL_RTT);
        load && res(self.request_err_rtt) && res(self.done_err_rtt)
    }
}

/// Per path, the median of `f` over the runs.
fn per_path(
    runs: &[&Run],
    f: &dyn Fn(&crate::browser::Resource) -> Option<f64>,
) -> BTreeMap<String, f64> {
    let mut all: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in runs {
        for res in &r.load.summary.resources {
            if let Some(v) = f(res) {
                all.entry(res.path.clone()).or_default().push(v);
            }
        }
    }
    all.into_iter()
        .filter_map(|(p, v)| Some((p, median(&v)?)))
        .collect()
}

fn abs_stats(errs: &[f64]) -> Option<(f64, f64)> {
    let mut a: Vec<f64> = errs.iter().map(|e| e.abs()).collect();
    a.sort_by(f64::total_cmp);
    Some((median(&a)?, quantile(&a, 0.9)))
}

/// Pairs in opposite orders, and pairs both browsers order.
fn order_disagreements(resources: &[ResourceDiff]) -> (usize, usize) {
    let t: Vec<(f64, f64)> = resources
        .iter()
        .skip(1)
        .filter(|r| !r.chromium_from_early_hints)
        .filter_map(|r| Some((r.model_request_ms?, r.chromium_request_ms?)))
        .collect();
    let (mut against, mut pairs) = (0, 0);
    for i in 0..t.len() {
        for j in i + 1..t.len() {
            let (dm, dc) = (t[i].0 - t[j].0, t[i].1 - t[j].1);
            if dm.abs() <= ORDER_TOLERANCE_MS || dc.abs() <= ORDER_TOLERANCE_MS {
                continue;
            }
            pairs += 1;
            if dm * dc < 0.0 {
                against += 1;
            }
        }
    }
    (against, pairs)
}

/// The validation rows of a report: every emulated configuration with a
/// Chromium twin that ran.
pub fn rows(report: &Report) -> Vec<ValidationRow> {
    let mut out = Vec::new();
    for (mi, m) in report.configs.iter().enumerate() {
        if m.browser != Browser::Emulated {
            continue;
        }
        let label = m.label_without_browser();
        let Some(ci) = report.configs.iter().position(|c| {
            c.browser == Browser::Chromium && !c.emulated_only && c.label_without_browser() == label
        }) else {
            continue;
        };
        let ok = |i: usize| -> Vec<&Run> {
            report
                .runs
                .iter()
                .filter(|r| r.config == i && r.load.error.is_none())
                .collect()
        };
        let (mr, cr) = (ok(mi), ok(ci));
        let rtt_ms = report
            .profiles
            .iter()
            .find(|p| p.name == m.profile)
            .map(|p| p.rtt().as_secs_f64() * 1e3)
            .filter(|&r| r > 0.0)
            .unwrap_or(1.0);
        let med = |runs: &[&Run], f: &dyn Fn(&Run) -> Option<f64>| {
            median(&runs.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
        };
        let load_ms = (
            med(&mr, &|r| r.load.summary.load_ms),
            med(&cr, &|r| r.load.summary.load_ms),
        );
        let rel = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some((a - b) / b),
            _ => None,
        };
        let model_render_ms = med(&mr, &|r| r.load.summary.render_ready_ms);
        let model_fcp_ms = med(&mr, &|r| r.load.summary.fcp_ms);
        let chromium_fcp_ms = med(&cr, &|r| r.load.summary.fcp_ms);
        let (mq, cq) = (
            per_path(&mr, &|x| x.requested_ms),
            per_path(&cr, &|x| x.requested_ms),
        );
        let (md, cd) = (per_path(&mr, &|x| x.done_ms), per_path(&cr, &|x| x.done_ms));
        // The model's resources in its discovery order (the document
        // first), then any only Chromium fetched.
        let mut paths: Vec<String> = Vec::new();
        for r in mr.iter().chain(cr.iter()) {
            for res in &r.load.summary.resources {
                if !paths.contains(&res.path) {
                    paths.push(res.path.clone());
                }
            }
        }
        let hinted: std::collections::HashSet<&str> = cr
            .iter()
            .flat_map(|r| r.load.summary.resources.iter())
            .filter(|x| x.hinted && x.net_log.is_none())
            .map(|x| x.path.as_str())
            .collect();
        let resources: Vec<ResourceDiff> = paths
            .into_iter()
            .map(|p| ResourceDiff {
                model_request_ms: mq.get(&p).copied(),
                chromium_request_ms: cq.get(&p).copied(),
                model_done_ms: md.get(&p).copied(),
                chromium_done_ms: cd.get(&p).copied(),
                chromium_from_early_hints: hinted.contains(p.as_str()),
                path: p,
            })
            .collect();
        // The document's request is time zero in both: only subresources.
        let req: Vec<f64> = resources
            .iter()
            .skip(1)
            .filter_map(|r| r.request_err_rtt(rtt_ms))
            .collect();
        let done: Vec<f64> = resources
            .iter()
            .filter_map(|r| r.done_err_rtt(rtt_ms))
            .collect();
        let worst = resources
            .iter()
            .filter_map(|r| Some((r.path.clone(), r.done_err_rtt(rtt_ms)?)))
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()));
        out.push(ValidationRow {
            label,
            rtt_ms,
            runs: (mr.len(), cr.len()),
            load_err: rel(load_ms.0, load_ms.1),
            load_ms,
            model_render_ms,
            model_fcp_ms,
            chromium_fcp_ms,
            fcp_err: rel(model_fcp_ms.or(model_render_ms), chromium_fcp_ms),
            request_err_rtt: abs_stats(&req),
            done_err_rtt: abs_stats(&done),
            worst,
            order: order_disagreements(&resources),
            resources,
        });
    }
    out
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:+.1}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn rtts(v: Option<(f64, f64)>) -> String {
    v.map(|(m, p)| format!("{m:.2} / {p:.2}"))
        .unwrap_or_else(|| "-".into())
}

/// The validation table (Markdown) with its summary line; empty when no
/// configuration was loaded by both browsers.
pub fn table(rows: &[ValidationRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "| configuration | RTT ms | runs (model / Chromium) | load ms model / Chromium | load error | render-ready / FCP proxy / Chromium FCP ms | FCP error | request start error, RTT (median / p90) | response end error, RTT (median / p90) | worst response end (RTT) | request order (pairs against / ordered) | goal |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {:.0} | {} / {} | {} / {} | {} | {} / {} / {} | {} | {} | {} | {} | {} | {} |\n",
            r.label,
            r.rtt_ms,
            r.runs.0,
            r.runs.1,
            ms(r.load_ms.0),
            ms(r.load_ms.1),
            pct(r.load_err),
            ms(r.model_render_ms),
            ms(r.model_fcp_ms),
            ms(r.chromium_fcp_ms),
            pct(r.fcp_err),
            rtts(r.request_err_rtt),
            rtts(r.done_err_rtt),
            r.worst
                .as_ref()
                .map(|(p, e)| format!("{p} {e:+.2}"))
                .unwrap_or_else(|| "-".into()),
            if r.order.1 == 0 {
                "-".to_string()
            } else if r.order.0 == 0 {
                format!("agrees (0 / {})", r.order.1)
            } else {
                format!("{} / {}", r.order.0, r.order.1)
            },
            match (r.meets_goal(), r.done_err_rtt.is_some()) {
                (true, _) => "met",
                (false, true) => "not met",
                // Every resource came from Early Hints in Chromium: only
                // the load time can be judged.
                (false, false) if r.load_err.is_some_and(|e| e.abs() <= LOAD_GOAL) => {
                    "load met; resources: early hints"
                }
                (false, false) => "not met; resources: early hints",
            },
        ));
    }
    s.push('\n');
    s.push_str(&summary_line(rows));
    s.push('\n');
    s
}

/// "Median load-time error over N rows: ...".
pub fn summary_line(rows: &[ValidationRow]) -> String {
    let errs: Vec<f64> = rows.iter().filter_map(|r| r.load_err).collect();
    let abs: Vec<f64> = errs.iter().map(|e| e.abs()).collect();
    let res: Vec<f64> = rows
        .iter()
        .filter_map(|r| Some(r.done_err_rtt?.0))
        .collect();
    format!(
        "Median load-time error over {} rows: {} (median absolute {}); rows within {:.0}%: {} of {}; median per-resource response-end error {} RTT; rows meeting the goal: {} of {}.",
        errs.len(),
        pct(median(&errs)),
        pct(median(&abs)),
        LOAD_GOAL * 100.0,
        abs.iter().filter(|e| **e <= LOAD_GOAL).count(),
        errs.len(),
        median(&res).map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into()),
        rows.iter().filter(|r| r.meets_goal()).count(),
        rows.len()
    )
}

/// Per row, every resource's medians in both browsers (Markdown).
pub fn resource_tables(rows: &[ValidationRow]) -> String {
    let mut s = String::new();
    for r in rows {
        s.push_str(&format!(
            "\n### {}\n\nRTT {:.0} ms. Times in ms since the document's request (medians over runs); errors model minus Chromium, in RTTs.\n\n| resource | request model | request Chromium | error | done model | done Chromium | error |\n|---|---|---|---|---|---|---|\n",
            r.label, r.rtt_ms
        ));
        for d in &r.resources {
            let e = |v: Option<f64>| v.map(|v| format!("{v:+.2}")).unwrap_or_else(|| "-".into());
            s.push_str(&format!(
                "| {}{} | {} | {} | {} | {} | {} | {} |\n",
                d.path,
                if d.chromium_from_early_hints {
                    " (Chromium: from Early Hints, times when the page took it)"
                } else {
                    ""
                },
                ms(d.model_request_ms),
                ms(d.chromium_request_ms),
                e(d.request_err_rtt(r.rtt_ms)),
                ms(d.model_done_ms),
                ms(d.chromium_done_ms),
                e(d.done_err_rtt(r.rtt_ms)),
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(path: &str, mq: f64, cq: f64, md: f64, cd: f64) -> ResourceDiff {
        ResourceDiff {
            path: path.into(),
            model_request_ms: Some(mq),
            chromium_request_ms: Some(cq),
            model_done_ms: Some(md),
            chromium_done_ms: Some(cd),
            chromium_from_early_hints: false,
        }
    }

    /// Opposite orders count only where both browsers separate the two
    /// requests by more than the tolerance; the document is left out.
    #[test]
    fn order() {
        let r = vec![
            diff("/", 0.0, 0.0, 100.0, 100.0),
            diff("/a", 10.0, 30.0, 0.0, 0.0),
            diff("/b", 20.0, 20.0, 0.0, 0.0),
            diff("/c", 20.5, 40.0, 0.0, 0.0),
        ];
        // a-b against; a-c with; b-c tied in the model.
        assert_eq!(order_disagreements(&r), (1, 2));
        // A resource Chromium took from Early Hints has no network times.
        let mut r = r;
        r[1].chromium_from_early_hints = true;
        assert_eq!(order_disagreements(&r), (0, 0));
        assert_eq!(r[1].done_err_rtt(10.0), None);
    }

    /// Errors are in RTTs, signed model minus Chromium; the statistics
    /// take absolute values.
    #[test]
    fn errors() {
        let d = diff("/a", 100.0, 50.0, 300.0, 400.0);
        assert_eq!(d.request_err_rtt(100.0), Some(0.5));
        assert_eq!(d.done_err_rtt(100.0), Some(-1.0));
        let (m, p90) = abs_stats(&[0.1, -0.2, 0.3, -1.0]).unwrap();
        assert!((m - 0.25).abs() < 1e-9, "{m}");
        assert!(p90 > 0.3 && p90 <= 1.0, "{p90}");
        assert_eq!(abs_stats(&[]), None);
    }
}
