//! Reporting a comparison: the Markdown table, every run as CSV and JSON,
//! and the plots.

use std::path::{Path, PathBuf};

use super::run::{Report, Run};
use serde::Serialize;

use super::presets::proto_name;
use super::{svg, CompareError};

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:+.0}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// A confidence interval of milliseconds, `lo-hi`.
fn ms_ci(v: Option<(f64, f64)>) -> String {
    v.map(|(a, b)| format!("{a:.0}-{b:.0}"))
        .unwrap_or_else(|| "-".into())
}

/// A confidence interval of a relative difference, `[lo, hi]` in percent.
fn pct_ci(v: Option<(f64, f64)>) -> String {
    v.map(|(a, b)| format!("[{:+.0}%, {:+.0}%]", a * 100.0, b * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// The summary table (Markdown).
pub fn table(report: &Report) -> String {
    let paper = report.rows.iter().any(|r| r.paper.is_some());
    let mut s = String::new();
    s.push_str(&format!(
        "| protocol | page | variant | link | cache | browser | load ms (median) | 95% CI | vs baseline | 95% CI | IQR | render-ready ms | vs baseline | 95% CI | doc extra ms | doc done extra ms | ahead at ready: link queue / in flight / held unsent | last subresource ms | wasted | received | runs |{}\n",
        if paper { " Rules of Thumb |" } else { "" }
    ));
    s.push_str(&format!(
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|{}\n",
        if paper { "---|" } else { "" }
    ));
    for r in &report.rows {
        let c = &r.config;
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}{} |{}\n",
            proto_name(c.protocol),
            c.page,
            c.variant,
            c.profile,
            c.cache.name(),
            c.browser.name(),
            if c.emulated_only {
                "emulated only (push)".to_string()
            } else {
                fmt_opt(r.load_ms)
            },
            ms_ci(r.load_ci),
            pct(r.vs_baseline),
            pct_ci(r.vs_baseline_ci),
            ms_ci(r.load_iqr),
            fmt_opt(r.render_ms),
            pct(r.render_vs_baseline),
            pct_ci(r.render_vs_baseline_ci),
            fmt_opt(r.doc_extra_ms),
            fmt_opt(r.doc_done_extra_ms),
            [r.link_queue_at_ready, r.in_flight_at_ready, r.held_unsent_at_ready]
                .map(|v| v.map(|b| crate::units::fmt_bytes(b as u64)).unwrap_or_else(|| "-".into()))
                .join(" / "),
            fmt_opt(r.subresources_done_ms),
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
    s.push_str(&paper_rank_lines(report));
    let v = super::validate::rows(report);
    if !v.is_empty() {
        s.push_str(
            "\nThe emulated browser against Chromium (per-resource detail in validation.md):\n\n",
        );
        s.push_str(&super::validate::table(&v));
    }
    s
}

/// A figure of the paper's as a fraction: the leading signed percentage
/// of "+23%", "-16% (4,179 ms)"; `None` for "-" and the like.
fn paper_fraction(s: &str) -> Option<f64> {
    let t = s.trim();
    let end = t.find('%')?;
    t[..end].trim().parse::<f64>().ok().map(|p| p / 100.0)
}

/// Per group of rows that reproduce the paper's (same protocol, page, link
/// and cache), Spearman's rank correlation of their differences to the
/// baseline with the paper's, with its bootstrap interval (every row's
/// runs and the baseline's redrawn), as lines under the table.
fn paper_rank_lines(report: &super::run::Report) -> String {
    struct Group {
        key: String,
        baseline: Option<usize>,
        rows: Vec<usize>,
        ours: Vec<f64>,
        theirs: Vec<f64>,
    }
    let loads = |ci: usize| -> Vec<f64> {
        report
            .runs
            .iter()
            .filter(|r| r.config == ci && r.load.error.is_none())
            .filter_map(|r| r.load.summary.load_ms)
            .collect()
    };
    let mut groups: Vec<Group> = Vec::new();
    for (i, r) in report.rows.iter().enumerate() {
        let (Some(ours), Some(theirs)) =
            (r.vs_baseline, r.paper.as_deref().and_then(paper_fraction))
        else {
            continue;
        };
        let c = &r.config;
        let key = format!(
            "{} {} {} {}",
            proto_name(c.protocol),
            c.page,
            c.profile,
            c.cache.name()
        );
        let baseline = super::run::baseline_of(&report.rows, i);
        match groups.iter_mut().find(|x| x.key == key) {
            Some(x) => {
                if x.baseline != baseline {
                    x.baseline = None;
                }
                x.rows.push(i);
                x.ours.push(ours);
                x.theirs.push(theirs);
            }
            None => groups.push(Group {
                key,
                baseline,
                rows: vec![i],
                ours: vec![ours],
                theirs: vec![theirs],
            }),
        }
    }
    let mut s = String::new();
    for g in groups {
        let Some(rho) = crate::summary::spearman(&g.ours, &g.theirs) else {
            continue;
        };
        let ci = g.baseline.and_then(|b| {
            let runs: Vec<Option<Vec<f64>>> =
                g.rows.iter().map(|&i| (i != b).then(|| loads(i))).collect();
            let rows: Vec<Option<&[f64]>> = runs.iter().map(|r| r.as_deref()).collect();
            crate::summary::spearman_rel_diff_ci(&loads(b), &rows, &g.theirs)
        });
        let interval = match ci {
            Some((lo, hi)) => format!(
                " (95% bootstrap interval {lo:.2} to {hi:.2}, each row's runs and the baseline's redrawn)"
            ),
            None => String::new(),
        };
        s.push_str(&format!(
            "\nRank correlation with the Rules of Thumb (Spearman, {} rows), {}: {rho:.2}{interval}\n",
            g.ours.len(),
            g.key
        ));
    }
    s
}

/// A text field of runs.csv, always in double quotes (as the file has
/// always had them), inner quotes doubled.
struct Quoted<'a>(&'a str);

impl Serialize for Quoted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("\"{}\"", self.0.replace('"', "\"\"")))
    }
}

/// A time in ms with two decimals; empty when absent.
fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

/// A count; empty when absent.
fn num(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// One line of runs.csv; the field names are the header.
#[derive(Serialize)]
struct CsvRow<'a> {
    preset: Quoted<'a>,
    protocol: &'static str,
    page: Quoted<'a>,
    variant: Quoted<'a>,
    link: Quoted<'a>,
    cache: &'static str,
    browser: &'static str,
    run: usize,
    load_ms: String,
    render_ready_ms: String,
    fcp_ms: String,
    lcp_ms: String,
    doc_first_byte_ms: String,
    doc_extra_ms: String,
    doc_done_extra_ms: String,
    doc_ready_ms: String,
    subresources_done_ms: String,
    link_queue_at_ready_bytes: String,
    cwnd_at_ready: String,
    send_window_at_ready: String,
    in_flight_at_ready: String,
    held_unsent_at_ready: String,
    app_limited_at_ready: String,
    bdp_estimate_at_ready: String,
    transport_unsent_at_ready: String,
    send_queue_at_ready: String,
    peak_link_queue_packets: String,
    bytes_received: u64,
    bytes_wasted: u64,
    pushes_used: usize,
    pushes_wasted: usize,
    cached: usize,
    handshake_ms: String,
    error: Quoted<'a>,
}

/// runs.csv: a header, then one line per run.
pub fn csv(report: &Report) -> Result<String, CompareError> {
    // The text fields quote themselves (Quoted), so the writer never does:
    // the layout stays what it has always been.
    let mut w = ::csv::WriterBuilder::new()
        .quote_style(::csv::QuoteStyle::Never)
        .from_writer(Vec::new());
    let rows = report.runs.iter().map(|r| {
        let c = &report.configs[r.config];
        let sm = &r.load.summary;
        let conn = r.at_ready.as_ref().and_then(|p| p.conn.as_ref());
        CsvRow {
            preset: Quoted(&report.preset),
            protocol: proto_name(c.protocol),
            page: Quoted(&c.page),
            variant: Quoted(&c.variant),
            link: Quoted(&c.profile),
            cache: c.cache.name(),
            browser: c.browser.name(),
            run: r.run,
            load_ms: ms(sm.load_ms),
            render_ready_ms: ms(sm.render_ready_ms),
            fcp_ms: ms(sm.fcp_ms),
            lcp_ms: ms(sm.lcp_ms),
            doc_first_byte_ms: ms(sm.resources.first().and_then(|d| d.first_byte_ms)),
            doc_extra_ms: ms(r.doc_extra_ms),
            doc_done_extra_ms: ms(r.doc_done_extra_ms),
            doc_ready_ms: ms(r.doc_ready_ms),
            subresources_done_ms: ms(r.subresources_done_ms),
            link_queue_at_ready_bytes: num(r.at_ready.as_ref().map(|p| p.link_queue_bytes)),
            cwnd_at_ready: num(conn.map(|c| c.cwnd)),
            send_window_at_ready: num(conn.and_then(|c| c.send_window)),
            in_flight_at_ready: num(conn.and_then(|c| c.in_flight)),
            held_unsent_at_ready: num(conn.and_then(|c| c.transport_held_unsent())),
            app_limited_at_ready: conn
                .and_then(|c| c.app_limited)
                .map(|b| b.to_string())
                .unwrap_or_default(),
            bdp_estimate_at_ready: num(conn.and_then(|c| c.bdp_estimate)),
            transport_unsent_at_ready: num(conn.and_then(|c| c.transport_unsent)),
            send_queue_at_ready: num(conn.map(|c| c.queued)),
            peak_link_queue_packets: num(r.peak_link_queue_packets.map(|p| p as u64)),
            bytes_received: sm.bytes_received,
            bytes_wasted: sm.bytes_wasted,
            pushes_used: sm.pushes_used,
            pushes_wasted: sm.pushes_wasted,
            cached: sm.cached,
            handshake_ms: ms(Some(r.load.handshake_ms)),
            error: Quoted(r.load.error.as_deref().unwrap_or("")),
        }
    });
    if report.runs.is_empty() {
        // No row to take the header from: the header alone.
        w.write_record(CSV_HEADER)?;
    }
    // Otherwise the header comes from the first row's field names.
    for row in rows {
        w.serialize(row)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    String::from_utf8(bytes).map_err(|e| CompareError::Io(std::io::Error::other(e)))
}

/// The header of runs.csv: [`CsvRow`]'s field names.
const CSV_HEADER: [&str; 34] = [
    "preset",
    "protocol",
    "page",
    "variant",
    "link",
    "cache",
    "browser",
    "run",
    "load_ms",
    "render_ready_ms",
    "fcp_ms",
    "lcp_ms",
    "doc_first_byte_ms",
    "doc_extra_ms",
    "doc_done_extra_ms",
    "doc_ready_ms",
    "subresources_done_ms",
    "link_queue_at_ready_bytes",
    "cwnd_at_ready",
    "send_window_at_ready",
    "in_flight_at_ready",
    "held_unsent_at_ready",
    "app_limited_at_ready",
    "bdp_estimate_at_ready",
    "transport_unsent_at_ready",
    "send_queue_at_ready",
    "peak_link_queue_packets",
    "bytes_received",
    "bytes_wasted",
    "pushes_used",
    "pushes_wasted",
    "cached",
    "handshake_ms",
    "error",
];

/// What [`write`] writes besides the tables and plots.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions<'a> {
    /// Label (or part of one) of the configuration whose median run gets
    /// waterfall.svg and timeseries.svg (default: the first that differs
    /// from its baseline).
    pub waterfall: Option<&'a str>,
    /// One HAR file per run, in har/.
    pub har: bool,
}

/// Writes table.md, runs.csv, runs.json, traces.jsonl, the plots and the
/// HTML report (index.html) into `out_dir`, and with `har` one HAR file per
/// run; returns the files written.
pub fn write(
    report: &Report,
    out_dir: &Path,
    opts: &WriteOptions<'_>,
) -> Result<Vec<PathBuf>, CompareError> {
    std::fs::create_dir_all(out_dir)?;
    let mut files = Vec::new();
    let mut put = |name: &str, text: String| -> Result<(), CompareError> {
        let p = out_dir.join(name);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&p, text)?;
        files.push(p);
        Ok(())
    };
    put(
        "table.md",
        format!(
            "# pushlab compare --preset {}\n\n{}\n\npushlab {} on {}; {} runs per configuration; HTTP/2 over TCP {}{}.\n\n{}",
            report.preset,
            report.about,
            report.version,
            report.machine,
            report.runs_per_config,
            report.tcp_cc.as_deref().unwrap_or("(congestion control not recorded)"),
            pacing_note(report),
            emulator_line(report) + &cpu_line(report) + &table(report)
        ),
    )?;
    put("runs.csv", csv(report)?)?;
    let v = super::validate::rows(report);
    if !v.is_empty() {
        put(
            "validation.md",
            format!(
                "# The emulated browser against Chromium ({})\n\n{}{}\n## Per resource\n{}",
                report.preset,
                emulator_line(report),
                super::validate::table(&v),
                super::validate::resource_tables(&v)
            ),
        )?;
        put(
            "validation.json",
            serde_json::to_string_pretty(&v).map_err(std::io::Error::other)?,
        )?;
    }
    put(
        "runs.json",
        serde_json::to_string_pretty(report).map_err(std::io::Error::other)?,
    )?;
    let mut traces = String::new();
    for r in &report.runs {
        #[derive(Serialize)]
        struct Line<'a> {
            config: usize,
            run: usize,
            label: String,
            every_ms: f64,
            trace: &'a [super::run::TracePoint],
        }
        let line = Line {
            config: r.config,
            run: r.run,
            label: report.configs[r.config].label(),
            every_ms: super::run::TRACE_EVERY.as_secs_f64() * 1e3,
            trace: &r.trace,
        };
        traces.push_str(&serde_json::to_string(&line).map_err(std::io::Error::other)?);
        traces.push('\n');
    }
    put("traces.jsonl", traces)?;
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
    let preset = &report.preset;
    let load = series(&|r| r.load.summary.load_ms);
    // (file, caption, SVG), in the order index.html shows them.
    let mut plots: Vec<(&str, String, String)> = vec![
        (
            "load.svg",
            "Page load time: box from the 25th to the 75th percentile, median line, whiskers to min and max, every run a dot.".into(),
            svg::distribution_svg(&format!("{preset}: page load time per configuration"), "ms", &load),
        ),
        (
            "load-cdf.svg",
            "Page load time over runs, as a CDF.".into(),
            svg::cdf_svg(&format!("{preset}: page load time over runs (CDF)"), "ms", &load),
        ),
        (
            "render.svg",
            "Render-ready time (document and render-blocking resources done).".into(),
            svg::distribution_svg(
                &format!("{preset}: render-ready time per configuration"),
                "ms",
                &series(&|r| r.load.summary.render_ready_ms),
            ),
        ),
    ];
    if let Some((label, run)) = waterfall_run(report, opts.waterfall) {
        let s = &run.load.summary;
        let mut marks = load_marks(run);
        plots.push((
            "waterfall.svg",
            format!("The median run of {label}."),
            waterfall(&label, run),
        ));
        if let Some(t) = run.doc_ready_ms {
            marks.push(("doc ready".to_string(), t));
        }
        if let Some(t) = s.resources.first().and_then(|d| d.first_byte_ms) {
            marks.push(("doc first byte".to_string(), t));
        }
        plots.push((
            "timeseries.svg",
            format!("What the server and the bottleneck held through the median run of {label}."),
            svg::timeseries_svg(
                &format!(
                    "{label}: median run {}, what the server and the bottleneck held",
                    run.run
                ),
                &trace_lines(run),
                &marks,
            ),
        ));
    }
    for (name, _, svg) in &plots {
        put(name, svg.clone())?;
    }
    if opts.har {
        for r in &report.runs {
            let label = report.configs[r.config].label();
            let har = crate::har::page_har(&r.load, &format!("{label}, run {}", r.run));
            put(
                &har_name(report, r),
                serde_json::to_string_pretty(&har).map_err(std::io::Error::other)?,
            )?;
        }
    }
    let shown: Vec<(String, String)> = plots.into_iter().map(|(_, c, svg)| (c, svg)).collect();
    put("index.html", super::html::page(report, &shown))?;
    Ok(files)
}

/// The pacing ablations in force, and a page loaded first on each
/// connection, for the table's opening line.
fn pacing_note(report: &Report) -> String {
    let mut v = String::new();
    if let Some(a) = &report.after {
        v.push_str(&format!(
            "; each measured page loaded after {a} on its connection"
        ));
    }
    if report.tcp_pacing {
        v.push_str(", kernel TCP pacing on");
    }
    if let Some(n) = report.tcp_initcwnd {
        v.push_str(&format!(", TCP initial window {n} segments"));
    }
    if report.scheduler != crate::sched::Policy::Rfc9218.name() {
        v.push_str(&format!("; send queue {} (ablation)", report.scheduler));
    }
    if let Some(m) = &report.inflight {
        v.push_str(&format!(
            "; HTTP/3 in-flight limit {m} on every variant (ablation)"
        ));
    }
    if !report.quic_pacing {
        v.push_str("; quinn's pacer OFF (patched quinn-proto)");
    }
    if report.ack_stall_check {
        v.push_str("; HTTP/3 ACK-spacing estimator with its stall check (ablation)");
    }
    if !report.h3_alt_svc {
        v.push_str(
            "; HTTP/3 responses without alt-svc (Chromium then holds low-priority requests)",
        );
    }
    v
}

/// How punctual the link emulator was over the runs, in a paragraph (empty
/// when no run recorded it): the figures hold only for a link that is the
/// link its profile says.
pub(super) fn emulator_line(report: &Report) -> String {
    let mut late = crate::netem::Lateness::default();
    let mut recorded = 0;
    for e in report.runs.iter().filter_map(|r| r.emulator) {
        recorded += 1;
        for d in [e.up, e.down] {
            late.packets += d.packets;
            late.late += d.late;
            late.max_us = late.max_us.max(d.max_us);
        }
    }
    if recorded == 0 {
        return String::new();
    }
    format!(
        "The link emulator ({}) wrote {} of {} packets more than {} ms after they were due, the latest {:.1} ms late ({} of {} runs recorded; runs.json emulator).\n\n",
        if report.emulator_realtime {
            "relay threads at real-time priority"
        } else {
            "relay threads at normal priority"
        },
        late.late,
        late.packets,
        crate::netem::LATE.as_millis(),
        late.max_us as f64 / 1e3,
        recorded,
        report.runs.len()
    )
}

/// What the emulated browser's CPU model was, in a paragraph (empty for
/// the default phone model).
fn cpu_line(report: &Report) -> String {
    if report.cpu_calibration.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "The emulated browser's CPU model was calibrated to this machine's Chromium on each link (runs.json cpu_calibration has the samples):",
    );
    for c in &report.cpu_calibration {
        s.push_str(&format!(
            " {}: commit {:.0} ms, scripts {:.1} ms + {:.2} ms/KB, layout {:.0} ms, first rendering update {}, a late web font's update {:.0} ms, paint {:.0} ms, cache read {:.1} ms (the first {:.1} ms more), handing a response to the page {}, 103 preloads {:.0} ms ({} loads);",
            c.profile,
            c.cpu.commit_ms,
            c.cpu.script_base_ms,
            c.cpu.script_ms_per_kb,
            c.cpu.layout_ms,
            render_costs(c),
            c.cpu.font_render_ms,
            c.cpu.paint_ms,
            c.cpu.cache_read_ms,
            c.cpu.cache_open_ms,
            handover_costs(c),
            c.cpu.hint_ms,
            c.loads
        ));
    }
    s.pop();
    s.push_str(".\n\n");
    s
}

/// The hand-over costs per kind, and the pages where the parser's end
/// went first.
fn handover_costs(c: &super::calibrate::Calibration) -> String {
    let h = c.cpu.handover;
    let mut s = format!(
        "{:.1} ms a script, {:.1} ms a stylesheet, {:.1} ms an image, {:.1} ms a font",
        h.script_ms, h.style_ms, h.image_ms, h.font_ms
    );
    for (page, (first, of)) in &c.parser_end_first_by_page {
        s.push_str(&format!(
            "; the parser ended before the first rendering update in {first} of {of} loads of {page}"
        ));
    }
    s
}

/// The first rendering update's cost: per page where measured.
fn render_costs(c: &super::calibrate::Calibration) -> String {
    if c.render_ms_by_page.is_empty() {
        return format!("{:.0} ms", c.cpu.render_ms);
    }
    c.render_ms_by_page
        .iter()
        .map(|(page, ms)| format!("{ms:.0} ms on {page}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// har/NN-label-runK.har: the configuration's number, its label made safe
/// for a file name, and the run.
pub(super) fn har_name(report: &Report, r: &Run) -> String {
    let label = report.configs[r.config].label();
    format!("har/{:02}-{}-run{}.har", r.config, slug(&label), r.run)
}

/// A label made safe for a file name: lower-case ASCII letters and digits,
/// every other run of characters one `-`.
pub(super) fn slug(label: &str) -> String {
    let mut slug = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

/// render-ready and load of a run, as waterfall marks.
fn load_marks(run: &Run) -> Vec<(String, f64)> {
    let s = &run.load.summary;
    let mut marks = Vec::new();
    if let Some(t) = s.render_ready_ms {
        marks.push(("render-ready".to_string(), t));
    }
    if let Some(t) = s.load_ms {
        marks.push(("load".to_string(), t));
    }
    marks
}

/// The waterfall of one run: every resource, by where its bytes came from.
pub(super) fn waterfall(label: &str, run: &Run) -> String {
    let bars: Vec<svg::Bar> = run
        .load
        .summary
        .resources
        .iter()
        .map(|r| svg::Bar {
            label: r.path.clone(),
            source: match r.source {
                crate::browser::Source::Network => "network",
                crate::browser::Source::Preloaded => "preloaded",
                crate::browser::Source::Pushed => "pushed",
                crate::browser::Source::Cached | crate::browser::Source::Revalidated => "cached",
            }
            .to_string(),
            discovered: r.discovered_ms,
            requested: r.requested_ms.unwrap_or(r.discovered_ms),
            first_byte: r.first_byte_ms,
            done: r.done_ms,
            bytes: r.bytes,
        })
        .collect();
    svg::waterfall_svg(
        &format!("{label}: median run {}", run.run),
        &bars,
        &load_marks(run),
    )
}

/// The lines of a run's time series, from navigation start on.
fn trace_lines(run: &Run) -> Vec<svg::Line> {
    type Get = fn(&super::run::TracePoint) -> Option<f64>;
    let lines: [(&str, &'static str, Get); 6] = [
        ("bottleneck queue", "#e15759", |p| {
            Some(p.link_queue_bytes as f64)
        }),
        ("congestion window", "#4e79a7", |p| {
            p.conn.as_ref().map(|c| c.cwnd as f64)
        }),
        ("quinn send window (unacked + unsent)", "#f28e2b", |p| {
            p.conn.as_ref()?.send_window.map(|w| w as f64)
        }),
        ("BDP estimate", "#59a14f", |p| {
            p.conn.as_ref()?.bdp_estimate.map(|w| w as f64)
        }),
        ("user-space send queue", "#b07aa1", |p| {
            p.conn.as_ref().map(|c| c.queued as f64)
        }),
        ("TCP in flight + unsent", "#76b7b2", |p| {
            let c = p.conn.as_ref()?;
            Some((c.in_flight? + c.transport_unsent?) as f64)
        }),
    ];
    lines
        .iter()
        .filter_map(|(label, color, get)| {
            let points: Vec<(f64, Option<f64>)> = run
                .trace
                .iter()
                .filter(|p| p.t_ms >= 0.0)
                .map(|p| (p.t_ms, get(p)))
                .collect();
            points.iter().any(|p| p.1.is_some()).then(|| svg::Line {
                label: label.to_string(),
                color,
                points,
            })
        })
        .collect()
}

/// The median-load run of the chosen configuration.
pub(super) fn waterfall_run<'a>(
    report: &'a Report,
    want: Option<&str>,
) -> Option<(String, &'a Run)> {
    let ci = match want {
        Some(w) => report.configs.iter().position(|c| c.label().contains(w))?,
        None => report
            .rows
            .iter()
            .position(|r| r.vs_baseline.is_some() && r.vs_baseline != Some(0.0))
            .unwrap_or(0),
    };
    Some((report.configs[ci].label(), median_run(report, ci)?))
}

/// The run of configuration `ci` with the median load time (the upper of
/// the two middle ones for an even count).
pub(super) fn median_run(report: &Report, ci: usize) -> Option<&Run> {
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
    mine.get(mine.len() / 2).copied()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::browser::{Cpu, PageLoad, PageSummary};
    use crate::client::Proto;
    use crate::compare::{CacheState, Config};

    /// Two configurations (h3 none cold, h2 push-all warm), one run each.
    pub(crate) fn report() -> Report {
        let config = |protocol, variant: &str, cache| Config {
            protocol,
            variant: variant.into(),
            profile: "lte".into(),
            cache,
            page: "/index.html".into(),
            baseline: variant == "none",
            paper: None,
            browser: Default::default(),
            emulated_only: false,
            variant_index: 0,
            profile_index: 0,
        };
        let run = |config, load_ms: Option<f64>, doc_extra_ms, error: Option<&str>| Run {
            config,
            run: 1,
            doc_extra_ms,
            doc_done_extra_ms: None,
            doc_ready_ms: None,
            at_ready: None,
            subresources_done_ms: None,
            peak_link_queue_packets: None,
            warmup: None,
            cwnd_at_start: None,
            emulator: None,
            trace: Vec::new(),
            load: PageLoad {
                url: "https://10.0.0.1:4433/index.html".into(),
                protocol: Proto::H3,
                started_unix_ms: 0.0,
                handshake_ms: 12.5,
                summary: PageSummary {
                    render_ready_ms: load_ms.map(|l| l / 2.0),
                    load_ms,
                    dom_done_ms: None,
                    bytes_received: 120_000,
                    bytes_wasted: 0,
                    pushes_used: 2,
                    pushes_wasted: 1,
                    cached: 3,
                    resources: Vec::new(),
                    pushes: Vec::new(),
                    ..PageSummary::default()
                },
                error: error.map(str::to_string),
                scripts: Vec::new(),
                first_render: None,
                font_render: None,
                deliveries: Vec::new(),
            },
        };
        Report {
            version: "0".into(),
            machine: "test".into(),
            preset: "quick".into(),
            about: String::new(),
            runs_per_config: 1,
            shard: None,
            profiles: Vec::new(),
            cpu: Cpu::default(),
            cpu_calibration: Vec::new(),
            quic_initial_rtt_ms: None,
            quic_initial_window: None,
            tcp_cc: Some("cubic".into()),
            tcp_pacing: false,
            tcp_initcwnd: None,
            scheduler: "rfc9218".into(),
            inflight: None,
            quic_pacing: true,
            emulator_realtime: true,
            ack_stall_check: false,
            h3_alt_svc: true,
            quic_initial_mtu: None,
            tls_max_record: None,
            seed: 1,
            connection: Default::default(),
            after: None,
            configs: vec![
                config(Proto::H3, "none", CacheState::Cold),
                config(Proto::H2, "push-all, \"x\"", CacheState::Warm),
            ],
            rows: Vec::new(),
            runs: vec![
                run(0, Some(123.456), Some(1.0), None),
                run(1, None, None, Some("bad, \"thing\"")),
            ],
        }
    }

    /// The CSV layout, byte for byte: text fields always quoted, protocol
    /// and cache bare, times with two decimals, absent times empty.
    #[test]
    fn csv_layout() {
        assert_eq!(
            csv(&report()).expect("CSV in memory"),
            "preset,protocol,page,variant,link,cache,browser,run,load_ms,render_ready_ms,fcp_ms,lcp_ms,doc_first_byte_ms,doc_extra_ms,doc_done_extra_ms,doc_ready_ms,subresources_done_ms,link_queue_at_ready_bytes,cwnd_at_ready,send_window_at_ready,in_flight_at_ready,held_unsent_at_ready,app_limited_at_ready,bdp_estimate_at_ready,transport_unsent_at_ready,send_queue_at_ready,peak_link_queue_packets,bytes_received,bytes_wasted,pushes_used,pushes_wasted,cached,handshake_ms,error\n\
             \"quick\",h3,\"/index.html\",\"none\",\"lte\",cold,emulated,1,123.46,61.73,,,,1.00,,,,,,,,,,,,,,120000,0,2,1,3,12.50,\"\"\n\
             \"quick\",h2,\"/index.html\",\"push-all, \"\"x\"\"\",\"lte\",warm,emulated,1,,,,,,,,,,,,,,,,,,,,120000,0,2,1,3,12.50,\"bad, \"\"thing\"\"\"\n"
        );
        let empty = Report {
            runs: Vec::new(),
            ..report()
        };
        let header = csv(&empty).expect("CSV in memory");
        assert_eq!(header, format!("{}\n", CSV_HEADER.join(",")));
        assert!(csv(&report()).expect("CSV in memory").starts_with(&header));
    }

    /// The emulator's punctuality over the runs that recorded it; nothing
    /// when none did (reports from before the counters).
    #[test]
    fn emulator_line_sums_the_runs() {
        use crate::netem::Lateness;
        let mut r = report();
        assert_eq!(emulator_line(&r), "");
        let l = |packets, late, max_us| Lateness {
            packets,
            late,
            max_us,
        };
        r.runs[0].emulator = Some(super::super::run::EmulatorLateness {
            up: l(10, 0, 200),
            down: l(100, 3, 4_500),
        });
        let line = emulator_line(&r);
        assert!(
            line.starts_with("The link emulator (relay threads at real-time priority) wrote 3 of 110 packets more than 1 ms after they were due, the latest 4.5 ms late (1 of 2 runs recorded"),
            "{line}"
        );
        r.emulator_realtime = false;
        assert!(emulator_line(&r).contains("normal priority"));
    }

    /// The paper's figures as fractions: a signed leading percentage.
    #[test]
    fn paper_figures() {
        assert_eq!(paper_fraction("+23%"), Some(0.23));
        assert_eq!(paper_fraction("-16%"), Some(-0.16));
        assert_eq!(paper_fraction("+4% (3,465 ms)"), Some(0.04));
        assert_eq!(paper_fraction("-"), None);
        assert_eq!(paper_fraction(""), None);
    }
}
