//! Standalone SVG plots for `pushlab compare`.
//!
//! [`distribution_svg`] draws one box-and-dots row per configuration on a shared axis and
//! [`waterfall_svg`] draws the resources of one page load on a time axis. The output needs no
//! scripts, fonts or stylesheets, and every piece of text goes through [`escape`].

use std::fmt::{self, Write};

use crate::summary::quantile;

/// One configuration's measurements (e.g. page load times of N runs).
#[derive(Debug, Clone)]
pub struct Series {
    /// Row label, e.g. "h3 push-all 3g cold".
    pub label: String,
    /// The runs' values (any order; may be empty).
    pub values: Vec<f64>,
}

/// One resource of a page load for a waterfall.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Resource path, e.g. "/css/style.css".
    pub label: String,
    /// How it arrived: "network", "pushed", "preloaded" (103 Early Hints), "cached", or
    /// anything else (drawn in the "other" color).
    pub source: String,
    /// When the page learned of it (ms since navigation start).
    pub discovered: f64,
    /// When it was requested or promised (ms); for cached resources equal to discovered.
    pub requested: f64,
    /// First byte (ms), if any arrived.
    pub first_byte: Option<f64>,
    /// Last byte (ms), if it completed.
    pub done: Option<f64>,
    /// Bytes received.
    pub bytes: u64,
}

/// Document width in px.
const WIDTH: f64 = 900.0;
/// Height of one row in px.
const ROW: f64 = 24.0;
/// Legend entries longer than this many characters are truncated with an
/// ellipsis (row labels never are: the label column grows to fit them).
const LABEL_MAX: usize = 40;
/// Width of a character of the 12 px label font, generously (px).
const CHAR_PX: f64 = 7.0;
/// Right edge of the plot area.
const PLOT_X1: f64 = 870.0;
/// Right edge of the waterfall labels (the size text follows it).
const LABEL_END: f64 = 276.0;

const TITLE: &str = r#"font-size="14" font-weight="bold" text-anchor="middle""#;
const LABEL: &str = r##"font-size="12" text-anchor="end" fill="#222""##;
const SMALL: &str = r##"font-size="11" fill="#666""##;
const TICK: &str = r##"font-size="11" text-anchor="middle" fill="#555""##;
const UNIT: &str = r##"font-size="12" text-anchor="middle" fill="#333""##;
const NO_DATA: &str = r##"font-size="11" font-style="italic" fill="#999""##;
const GRID: &str = r##"stroke="#e6e6e6""##;
const AXIS: &str = r##"stroke="#444""##;
const STRIPE: &str = r##"fill="#f6f6f6""##;
const WHISKER: &str = r##"stroke="#555" stroke-width="1.2""##;
const BOX: &str = r##"fill="#a0cbe8" fill-opacity="0.6" stroke="#4e79a7""##;
const MEDIAN: &str = r##"stroke="#1f3b5a" stroke-width="3""##;
const DOT: &str = r##"fill="#e15759" fill-opacity="0.5""##;
const WAIT: &str = r##"stroke="#c8c8c8" stroke-width="1""##;
const MARK: &str = r##"stroke="#c0392b" stroke-dasharray="4,3""##;
const MARK_MID: &str = r##"font-size="11" text-anchor="middle" fill="#c0392b""##;
const MARK_END: &str = r##"font-size="11" text-anchor="end" fill="#c0392b""##;

/// Waterfall colors by source, in legend order; the last one is for unknown sources.
const SOURCES: [(&str, &str); 5] = [
    ("network", "#4e79a7"),
    ("pushed", "#f28e2b"),
    ("preloaded", "#59a14f"),
    ("cached", "#bab0ac"),
    ("other", "#76b7b2"),
];

/// Escapes text for SVG/XML content and attribute values (&, <, >, ", ').
///
/// Control characters that XML 1.0 forbids are replaced by U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A horizontal distribution plot: one row per series, sharing one x axis.
///
/// The axis runs from 0 to a rounded-up max over all values with 4-6 "nice" ticks. Each row
/// shows its label, a box from the 25th to the 75th percentile, a thick line at the median,
/// whiskers from min to max and every run as a semi-transparent dot (deterministically
/// jittered in y). A row without values shows "no data". `title` goes on top and `unit`
/// under the x axis. NaN and infinite values are ignored, negative ones drawn at 0.
pub fn distribution_svg(title: &str, unit: &str, series: &[Series]) -> String {
    let mut out = String::new();
    let drawn = draw_distribution(&mut out, title, unit, series);
    drawn.map(|()| out).unwrap_or_default()
}

/// A waterfall: one row per bar in the given order on a time axis in ms.
///
/// Per row: the label and size, a thin line from discovered to requested, a light bar until
/// the first byte and a solid bar until done, colored by source. Incomplete rows are drawn
/// up to their last known time with a dashed outline. Each mark `(label, ms)` is a dashed
/// vertical line across all rows, labelled at the top. A legend of the colors is at the
/// bottom. NaN and infinite times are ignored, negative ones drawn at 0.
pub fn waterfall_svg(title: &str, bars: &[Bar], marks: &[(String, f64)]) -> String {
    let mut out = String::new();
    let drawn = draw_waterfall(&mut out, title, bars, marks);
    drawn.map(|()| out).unwrap_or_default()
}

/// Colors of the lines of a CDF, in turn.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Empirical CDFs, one step line per series on a shared x axis (`unit`),
/// the fraction of runs at or below each value on the y axis, and a legend
/// of full labels (one per line, never truncated) under the plot. NaN and
/// infinite values are ignored.
pub fn cdf_svg(title: &str, unit: &str, series: &[Series]) -> String {
    let mut out = String::new();
    let drawn = draw_cdf(&mut out, title, unit, series);
    drawn.map(|()| out).unwrap_or_default()
}

fn draw_cdf(out: &mut String, title: &str, unit: &str, series: &[Series]) -> fmt::Result {
    const X0: f64 = 70.0;
    const TOP: f64 = 50.0;
    const HEIGHT: f64 = 300.0;
    let bottom = TOP + HEIGHT;
    let rows: Vec<Vec<f64>> = series.iter().map(|s| clean_sorted(&s.values)).collect();
    let data_max = rows
        .iter()
        .flat_map(|v| v.last())
        .fold(0.0, |a, &b| b.max(a));
    let legend = label_room(series.iter().map(|s| s.label.as_str()), 0.0) + 60.0;
    let width = WIDTH.max(legend);
    open(
        out,
        width,
        bottom + 60.0 + series.len().max(1) as f64 * 18.0,
        title,
    )?;
    let axis = Axis::new(X0, PLOT_X1, data_max);
    axis.draw(out, TOP, bottom, unit)?;
    for q in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = bottom - q * HEIGHT;
        line(out, X0, y, PLOT_X1, y, GRID)?;
        let attrs = r##"font-size="11" text-anchor="end" fill="#555""##;
        text(out, X0 - 6.0, y + 4.0, attrs, &format!("{q:.2}"))?;
    }
    line(out, X0, TOP, X0, bottom, AXIS)?;
    text(out, 14.0, TOP - 10.0, SMALL, "fraction of runs")?;
    if rows.iter().all(|r| r.is_empty()) {
        no_data(out, &axis, TOP + HEIGHT / 2.0, "no data")?;
    }
    for (i, (s, vals)) in series.iter().zip(&rows).enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let n = vals.len() as f64;
        let mut d = format!(
            "M{:.1},{:.1}",
            axis.x(vals.first().copied().unwrap_or(0.0)),
            bottom
        );
        for (j, &v) in vals.iter().enumerate() {
            let (x, y) = (axis.x(v), bottom - (j + 1) as f64 / n * HEIGHT);
            let _ = write!(d, " V{y:.1}");
            if let Some(&next) = vals.get(j + 1) {
                let _ = write!(d, " H{:.1}", axis.x(next));
            } else {
                let _ = write!(d, " M{x:.1},{y:.1} H{:.1}", axis.x1);
            }
        }
        if !vals.is_empty() {
            writeln!(out, "<g><title>{}</title>", escape(&s.label))?;
            writeln!(
                out,
                r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="1.5"/>"#
            )?;
            writeln!(out, "</g>")?;
        }
        let ly = bottom + 56.0 + i as f64 * 18.0;
        line(
            out,
            X0,
            ly - 4.0,
            X0 + 20.0,
            ly - 4.0,
            &format!(r#"stroke="{color}" stroke-width="3""#),
        )?;
        let label = if vals.is_empty() {
            format!("{} (no data)", s.label)
        } else {
            s.label.clone()
        };
        text(out, X0 + 26.0, ly, SMALL, &label)?;
    }
    writeln!(out, "</svg>")
}

/// One line of a time-series plot.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// Stroke color.
    pub color: &'static str,
    /// (ms, value) points in time order; gaps where a value is absent.
    pub points: Vec<(f64, Option<f64>)>,
}

/// A time series: lines of byte counts against ms since navigation start,
/// with dashed vertical marks (`(label, ms)`) and a legend under the axis.
/// Values are drawn in KiB. NaN and infinite values are skipped.
pub fn timeseries_svg(title: &str, lines: &[Line], marks: &[(String, f64)]) -> String {
    let mut out = String::new();
    let drawn = draw_timeseries(&mut out, title, lines, marks);
    drawn.map(|()| out).unwrap_or_default()
}

fn draw_timeseries(
    out: &mut String,
    title: &str,
    lines: &[Line],
    marks: &[(String, f64)],
) -> fmt::Result {
    const X0: f64 = 70.0;
    const TOP: f64 = 50.0;
    const HEIGHT: f64 = 300.0;
    let bottom = TOP + HEIGHT;
    let legend_rows = lines.len().div_ceil(3).max(1);
    open(out, WIDTH, bottom + 60.0 + legend_rows as f64 * 18.0, title)?;
    let finite_pts = || {
        lines
            .iter()
            .flat_map(|l| l.points.iter())
            .filter_map(|&(t, v)| Some((finite(t)?, finite(v?)?)))
    };
    let t_max = finite_pts().map(|(t, _)| t).fold(0.0, f64::max);
    let t_max = marks
        .iter()
        .map(|m| m.1)
        .filter(|t| t.is_finite())
        .fold(t_max, f64::max);
    let v_max = finite_pts().map(|(_, v)| v / 1024.0).fold(0.0, f64::max);
    let axis = Axis::new(X0, PLOT_X1, t_max);
    axis.draw(out, TOP, bottom, "ms since navigation start")?;
    let y_ticks = nice_ticks(v_max);
    let y_top = y_ticks.last().copied().unwrap_or(1.0).max(1e-9);
    let y = |v: f64| bottom - v.max(0.0) / 1024.0 / y_top * HEIGHT;
    let y_step = y_ticks.get(1).copied().unwrap_or(y_top);
    for &t in &y_ticks {
        let yy = bottom - t / y_top * HEIGHT;
        line(out, X0, yy, PLOT_X1, yy, GRID)?;
        let label = tick_label(t, y_step);
        text(
            out,
            X0 - 6.0,
            yy + 4.0,
            r##"font-size="11" text-anchor="end" fill="#555""##,
            &label,
        )?;
    }
    line(out, X0, TOP, X0, bottom, AXIS)?;
    text(out, 14.0, TOP - 10.0, SMALL, "KiB")?;
    if lines.iter().all(|l| l.points.is_empty()) {
        no_data(out, &axis, TOP + HEIGHT / 2.0, "no samples")?;
    }
    for l in lines {
        let mut d = String::new();
        let mut pen_down = false;
        for &(t, v) in &l.points {
            match (finite(t), v.and_then(finite)) {
                (Some(t), Some(v)) => {
                    let cmd = if pen_down { 'L' } else { 'M' };
                    let _ = write!(d, "{cmd}{:.1},{:.1} ", axis.x(t), y(v));
                    pen_down = true;
                }
                _ => pen_down = false,
            }
        }
        if !d.is_empty() {
            let c = l.color;
            writeln!(
                out,
                r#"<path d="{}" fill="none" stroke="{c}" stroke-width="1.5"/>"#,
                d.trim_end()
            )?;
        }
    }
    for (label, t) in marks {
        if let Some(t) = finite(*t) {
            let x = axis.x(t);
            line(out, x, TOP, x, bottom, MARK)?;
            text(out, x, TOP - 6.0, MARK_MID, label)?;
        }
    }
    for (i, l) in lines.iter().enumerate() {
        let (col, row) = (i % 3, i / 3);
        let lx = X0 + col as f64 * 270.0;
        let ly = bottom + 52.0 + row as f64 * 18.0;
        let c = l.color;
        line(
            out,
            lx,
            ly - 4.0,
            lx + 20.0,
            ly - 4.0,
            &format!(r#"stroke="{c}" stroke-width="2""#),
        )?;
        text(out, lx + 26.0, ly, SMALL, &truncate(&l.label))?;
    }
    writeln!(out, "</svg>")
}

/// Tick positions from 0 up to a "nice" axis max (the last tick), 4 to 6 of them, spaced by
/// 1, 2, 2.5 or 5 times a power of ten.
fn nice_ticks(max: f64) -> Vec<f64> {
    let ok = max.is_finite() && max > 0.0;
    let max = if ok { max.clamp(1e-9, 1e300) } else { 1.0 };
    let base = max.log10().floor() as i32 - 1;
    let mut step = 10f64.powi(base + 2);
    'search: for e in base..=base + 2 {
        for m in [1.0, 2.0, 2.5, 5.0] {
            let s = m * 10f64.powi(e);
            if (max / s - 1e-9).ceil() <= 5.0 {
                step = s;
                break 'search;
            }
        }
    }
    let n = (max / step - 1e-9).ceil().clamp(1.0, 10.0) as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

/// Formats a tick value with as many decimals as the step needs.
fn tick_label(v: f64, step: f64) -> String {
    let mut d = 0usize;
    let mut scaled = step;
    while d < 6 && (scaled - scaled.round()).abs() > 1e-6 {
        scaled *= 10.0;
        d += 1;
    }
    format!("{v:.d$}")
}

/// The finite values, negatives clamped to 0, sorted ascending.
fn clean_sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .map(|x| x.max(0.0))
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// A finite time clamped to 0, or `None`.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v.max(0.0))
}

/// Truncates to [`LABEL_MAX`] characters, ending with an ellipsis when shortened.
fn truncate(s: &str) -> String {
    if s.chars().count() <= LABEL_MAX {
        return s.to_string();
    }
    let mut t: String = s.chars().take(LABEL_MAX - 1).collect();
    t.push('…');
    t
}

/// A shared horizontal axis from 0 to a nice max.
struct Axis {
    x0: f64,
    x1: f64,
    max: f64,
    ticks: Vec<f64>,
}

impl Axis {
    fn new(x0: f64, x1: f64, data_max: f64) -> Self {
        let ticks = nice_ticks(data_max);
        let max = ticks.last().copied().unwrap_or(1.0);
        Axis { x0, x1, max, ticks }
    }

    /// The x coordinate of value `v` (`max` is always positive).
    fn x(&self, v: f64) -> f64 {
        self.x0 + v.max(0.0).min(self.max) / self.max * (self.x1 - self.x0)
    }

    /// Grid lines from `top` to `bottom`, the axis line, tick labels and the unit.
    fn draw(&self, out: &mut String, top: f64, bottom: f64, unit: &str) -> fmt::Result {
        let step = self.ticks.get(1).copied().unwrap_or(self.max);
        for &t in &self.ticks {
            let x = self.x(t);
            line(out, x, top, x, bottom, GRID)?;
            line(out, x, bottom, x, bottom + 4.0, AXIS)?;
            text(out, x, bottom + 16.0, TICK, &tick_label(t, step))?;
        }
        line(out, self.x0, bottom, self.x1, bottom, AXIS)?;
        let mid = self.x0 + (self.x1 - self.x0) / 2.0;
        text(out, mid, bottom + 34.0, UNIT, unit)
    }
}

fn line(out: &mut String, x1: f64, y1: f64, x2: f64, y2: f64, style: &str) -> fmt::Result {
    let s = style;
    writeln!(
        out,
        r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" {s}/>"#
    )
}

fn rect(out: &mut String, x: f64, y: f64, w: f64, h: f64, style: &str) -> fmt::Result {
    let (w, h, s) = (w.max(0.0), h.max(0.0), style);
    writeln!(
        out,
        r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" {s}/>"#
    )
}

fn text(out: &mut String, x: f64, y: f64, attrs: &str, content: &str) -> fmt::Result {
    let t = escape(content);
    writeln!(out, r#"<text x="{x:.1}" y="{y:.1}" {attrs}>{t}</text>"#)
}

/// The root element, a white background and the title.
/// The SVG grows wider for a title longer than the plot (14 px bold,
/// about 8.6 px a character), rather than cutting it.
fn open(out: &mut String, width: f64, height: f64, title: &str) -> fmt::Result {
    let title_room = title.chars().count() as f64 * 8.6 + 40.0;
    let (w, h) = (width.max(title_room), height);
    let size = format!(r#"width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}""#);
    let ns = "http://www.w3.org/2000/svg";
    writeln!(out, r#"<svg xmlns="{ns}" {size} font-family="sans-serif">"#)?;
    rect(out, 0.0, 0.0, w, h, r#"fill="white""#)?;
    text(out, w / 2.0, 24.0, TITLE, title)
}

/// A grey note at the start of the row centred on `cy`.
fn no_data(out: &mut String, axis: &Axis, cy: f64, msg: &str) -> fmt::Result {
    text(out, axis.x0 + 6.0, cy + 4.0, NO_DATA, msg)
}

/// Light background on every other row.
fn stripes(out: &mut String, width: f64, n_rows: usize, top: f64) -> fmt::Result {
    for i in (1..n_rows).step_by(2) {
        rect(out, 0.0, top + i as f64 * ROW, width, ROW, STRIPE)?;
    }
    Ok(())
}

/// Room for the longest of these labels in the 12 px font, at least `min`.
fn label_room<'a>(labels: impl Iterator<Item = &'a str>, min: f64) -> f64 {
    labels
        .map(|l| l.chars().count() as f64 * CHAR_PX + 20.0)
        .fold(min, f64::max)
}

fn draw_distribution(out: &mut String, title: &str, unit: &str, series: &[Series]) -> fmt::Result {
    let rows: Vec<Vec<f64>> = series.iter().map(|s| clean_sorted(&s.values)).collect();
    let data_max = rows
        .iter()
        .flat_map(|v| v.last())
        .fold(0.0, |a, &b| b.max(a));
    // The plot keeps its width; the label column grows with the labels.
    let x0 = label_room(series.iter().map(|s| s.label.as_str()), 290.0);
    let x1 = x0 + (PLOT_X1 - 290.0);
    let width = x1 + (WIDTH - PLOT_X1);
    let axis = Axis::new(x0, x1, data_max);
    let n_rows = series.len().max(1);
    let top = 48.0;
    let bottom = top + n_rows as f64 * ROW;
    open(out, width, bottom + 56.0, title)?;
    stripes(out, width, n_rows, top)?;
    axis.draw(out, top, bottom, unit)?;
    if series.is_empty() {
        no_data(out, &axis, top + ROW / 2.0, "no data")?;
    }
    for (i, (s, vals)) in series.iter().zip(&rows).enumerate() {
        let cy = top + (i as f64 + 0.5) * ROW;
        draw_row(out, &axis, &s.label, vals, cy)?;
    }
    writeln!(out, "</svg>")
}

/// One distribution row centred on `cy`; `vals` sorted and finite.
fn draw_row(out: &mut String, axis: &Axis, label: &str, vals: &[f64], cy: f64) -> fmt::Result {
    let label_x = axis.x0 - 10.0;
    if vals.is_empty() {
        writeln!(out, "<g><title>{}: no data</title>", escape(label))?;
        text(out, label_x, cy + 4.0, LABEL, label)?;
        no_data(out, axis, cy, "no data")?;
        return writeln!(out, "</g>");
    }
    let [lo, q1, med, q3, hi] = [0.0, 0.25, 0.5, 0.75, 1.0].map(|q| quantile(vals, q));
    let n = vals.len();
    let tip = format!("{label}: n={n}, min {lo:.1}, median {med:.1}, max {hi:.1}");
    writeln!(out, "<g><title>{}</title>", escape(&tip))?;
    text(out, label_x, cy + 4.0, LABEL, label)?;
    let (x_lo, x_hi) = (axis.x(lo), axis.x(hi));
    line(out, x_lo, cy, x_hi, cy, WHISKER)?;
    line(out, x_lo, cy - 5.0, x_lo, cy + 5.0, WHISKER)?;
    line(out, x_hi, cy - 5.0, x_hi, cy + 5.0, WHISKER)?;
    let x_q1 = axis.x(q1);
    rect(out, x_q1, cy - 7.0, axis.x(q3) - x_q1, 14.0, BOX)?;
    let x_med = axis.x(med);
    line(out, x_med, cy - 7.0, x_med, cy + 7.0, MEDIAN)?;
    for (j, &v) in vals.iter().enumerate() {
        let (x, y) = (axis.x(v), cy + ((j % 5) as f64 - 2.0) * 2.5);
        writeln!(out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" {DOT}/>"#)?;
    }
    writeln!(out, "</g>")
}

/// discovered, requested, first byte and done, each finite and clamped to 0 or `None`.
fn bar_times(bar: &Bar) -> [Option<f64>; 4] {
    [
        finite(bar.discovered),
        finite(bar.requested),
        bar.first_byte.and_then(finite),
        bar.done.and_then(finite),
    ]
}

fn source_color(source: &str) -> &'static str {
    let source = source.trim();
    SOURCES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(source))
        .map_or(SOURCES[4].1, |&(_, color)| color)
}

/// A waterfall mark: label and time in ms.
type Mark = (String, f64);

fn draw_waterfall(out: &mut String, title: &str, bars: &[Bar], marks: &[Mark]) -> fmt::Result {
    let marks: Vec<(&str, f64)> = marks
        .iter()
        .filter_map(|(l, t)| finite(*t).map(|t| (l.as_str(), t)))
        .collect();
    let times = bars.iter().flat_map(bar_times).flatten();
    let data_max = times.chain(marks.iter().map(|m| m.1)).fold(0.0, f64::max);
    // The label column grows with the longest path; the plot keeps its width.
    let label_end = label_room(bars.iter().map(|b| b.label.as_str()), LABEL_END);
    let x0 = label_end + (350.0 - LABEL_END);
    let x1 = x0 + (PLOT_X1 - 350.0);
    let width = x1 + (WIDTH - PLOT_X1);
    let axis = Axis::new(x0, x1, data_max);
    let n_rows = bars.len().max(1);
    let top = 70.0;
    let bottom = top + n_rows as f64 * ROW;
    open(out, width, bottom + 84.0, title)?;
    stripes(out, width, n_rows, top)?;
    axis.draw(out, top, bottom, "ms")?;
    if bars.is_empty() {
        no_data(out, &axis, top + ROW / 2.0, "no data")?;
    }
    for (i, bar) in bars.iter().enumerate() {
        draw_bar(out, &axis, label_end, bar, top + (i as f64 + 0.5) * ROW)?;
    }
    for (i, (label, t)) in marks.iter().enumerate() {
        let x = axis.x(*t);
        line(out, x, top - 4.0, x, bottom, MARK)?;
        let y = top - 8.0 - (i % 2) as f64 * 13.0;
        let anchor = if x > x1 - 70.0 { MARK_END } else { MARK_MID };
        let label = format!("{} ({t:.0} ms)", truncate(label));
        text(out, x, y, anchor, &label)?;
    }
    let ly = bottom + 60.0;
    for (i, (name, color)) in SOURCES.iter().enumerate() {
        let x = 20.0 + i as f64 * 100.0;
        rect(out, x, ly - 10.0, 12.0, 12.0, &format!(r#"fill="{color}""#))?;
        text(out, x + 17.0, ly, SMALL, name)?;
    }
    let note = "line: waiting, light: to first byte, dashed: incomplete";
    text(out, 530.0, ly, SMALL, note)?;
    writeln!(out, "</svg>")
}

/// One waterfall row centred on `cy`.
fn draw_bar(out: &mut String, axis: &Axis, label_end: f64, bar: &Bar, cy: f64) -> fmt::Result {
    let [disc, req, fb, done] = bar_times(bar);
    let color = source_color(&bar.source);
    let tip = format!("{} ({})", bar.label, bar.source);
    writeln!(out, "<g><title>{}</title>", escape(&tip))?;
    text(out, label_end, cy + 4.0, LABEL, &bar.label)?;
    text(
        out,
        label_end + 8.0,
        cy + 4.0,
        SMALL,
        &crate::units::fmt_bytes_binary(bar.bytes),
    )?;
    let Some(start) = req.or(disc) else {
        no_data(out, axis, cy, "no timing")?;
        return writeln!(out, "</g>");
    };
    if let Some((d, r)) = disc.zip(req).filter(|(d, r)| r > d) {
        line(out, axis.x(d), cy, axis.x(r), cy, WAIT)?;
    }
    if let Some(f) = fb.filter(|&f| f > start) {
        let light = format!(r#"fill="{color}" fill-opacity="0.35""#);
        span(out, axis, start, f, cy, &light)?;
    }
    let solid = format!(r#"fill="{color}""#);
    match (fb, done) {
        (Some(f), Some(e)) => span(out, axis, f, e, cy, &solid)?,
        (None, Some(e)) => span(out, axis, start, e, cy, &solid)?,
        (_, None) => {
            let last = [disc, fb].into_iter().flatten().fold(start, f64::max);
            let dashed = format!(r#"fill="none" stroke="{color}" stroke-dasharray="3,2""#);
            span(out, axis, start, last, cy, &dashed)?;
        }
    }
    writeln!(out, "</g>")
}

/// A bar between times `a` and `b`, at least 2 px wide.
fn span(out: &mut String, axis: &Axis, a: f64, b: f64, cy: f64, style: &str) -> fmt::Result {
    let (xa, xb) = (axis.x(a), axis.x(b));
    let w = (xb - xa).abs().max(2.0);
    rect(out, xa.min(xb), cy - 6.0, w, 12.0, style)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Tags nest in LIFO order under one `<svg>` root, quotes balance, `&` starts an entity.
    fn well_formed(svg: &str) -> bool {
        let (mut stack, mut roots, mut rest) = (Vec::new(), 0, svg);
        while let Some(start) = rest.find('<') {
            let Some(end) = rest[start..].find('>') else {
                return false;
            };
            let tag = &rest[start + 1..start + end];
            rest = &rest[start + end + 1..];
            let mut words = tag.split(|c: char| c.is_whitespace() || c == '/');
            let name = words.find(|w| !w.is_empty()).unwrap_or("");
            if tag.starts_with('?') {
                continue;
            }
            if tag.contains('<') || name.is_empty() || !tag.matches('"').count().is_multiple_of(2) {
                return false;
            }
            if tag.starts_with('/') {
                if stack.pop() != Some(name) {
                    return false;
                }
                continue;
            }
            roots += usize::from(stack.is_empty());
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        let entities = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"];
        let amp_ok = |(i, _): (usize, &str)| entities.iter().any(|e| svg[i..].starts_with(e));
        let start_ok = svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=");
        start_ok && stack.is_empty() && roots == 1 && svg.match_indices('&').all(amp_ok)
    }

    fn series(label: &str, values: &[f64]) -> Series {
        let (label, values) = (label.to_string(), values.to_vec());
        Series { label, values }
    }

    fn bar(label: &str, source: &str, t: [f64; 2], fb: Option<f64>, done: Option<f64>) -> Bar {
        let (label, source) = (label.to_string(), source.to_string());
        let (discovered, requested, bytes) = (t[0], t[1], 14 * 1024);
        Bar {
            label,
            source,
            discovered,
            requested,
            first_byte: fb,
            done,
            bytes,
        }
    }

    #[test]
    fn nice_ticks_use_nice_steps() {
        assert_eq!(nice_ticks(1530.0), [0.0, 500.0, 1000.0, 1500.0, 2000.0]);
        assert_eq!(nice_ticks(100.0), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(nice_ticks(7.0), [0.0, 2.0, 4.0, 6.0, 8.0]);
        let unit = nice_ticks(0.0);
        assert!(unit.len() == 6 && close(unit[5], 1.0));
        let nice = [1.0, 2.0, 2.5, 5.0];
        for v in [0.3, 0.9, 3.7, 12.0, 99.0, 812.0, 1e6 + 1.0, f64::NAN] {
            let t = nice_ticks(v);
            let (step, last) = (t[1], t[t.len() - 1]);
            let ok = (4..=6).contains(&t.len()) && (v.is_nan() || last >= v);
            let mantissa = step / 10f64.powi(step.log10().floor() as i32);
            let nice_step = nice.iter().any(|m| (m - mantissa).abs() < 1e-6);
            assert!(ok && nice_step, "{t:?}");
        }
        assert_eq!(tick_label(3.0 * 0.1, 0.1), "0.3");
        assert_eq!(tick_label(1000.0, 500.0), "1000");
        assert_eq!(tick_label(7.5, 2.5), "7.5");
    }

    /// Every label drawn whole however long, the plot wider for it; the
    /// CDF rises to 1 at each series' largest value.
    #[test]
    fn long_labels_are_not_cut_and_cdf_steps() {
        let long = format!(
            "h3 /index.html {} 3g cold",
            "push-all, TCP in-flight bdp-125 ".repeat(3)
        );
        let s = [series(&long, &[300.0, 100.0, 200.0]), series("h2", &[])];
        for svg in [
            distribution_svg("t", "ms", &s),
            cdf_svg("t", "ms", &s),
            waterfall_svg(
                "t",
                &[bar(&long, "network", [0.0, 1.0], Some(2.0), Some(3.0))],
                &[],
            ),
        ] {
            assert!(well_formed(&svg), "{svg}");
            assert!(svg.contains(&long), "{svg}");
            assert!(!svg.contains('…'), "{svg}");
        }
        let d = distribution_svg("t", "ms", &s);
        assert!(!d.contains(r#"width="900""#), "wider than the default: {d}");
        let titled = cdf_svg(&long.repeat(2), "ms", &s);
        assert!(
            !titled.contains(r#"width="900""#),
            "wider for its title: {titled}"
        );
        let c = cdf_svg("t", "ms", &s);
        assert!(
            c.contains("V50.0"),
            "reaches the top (y=50) of the plot: {c}"
        );
        assert!(c.contains("h2 (no data)"));
    }

    #[test]
    fn escapes_markup_and_truncates() {
        assert_eq!(escape(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(escape("it's"), "it&apos;s");
        let t = truncate(&"x".repeat(50));
        assert!(t.chars().count() == LABEL_MAX && t.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn distribution_is_well_formed_and_escaped() {
        let (nan, inf) = (f64::NAN, f64::INFINITY);
        let s = [
            series("h3 <push> & co", &[120.0, 80.0, nan, 95.5, -3.0, inf]),
            series("h2", &[]),
            series("h2 push-all 3g cold", &[1530.0]),
        ];
        let svg = distribution_svg("Load <time>", "ms", &s);
        assert!(well_formed(&svg), "{svg}");
        assert!(svg.contains("h3 &lt;push&gt; &amp; co") && !svg.contains("<push>"));
        assert!(svg.contains("Load &lt;time&gt;") && svg.contains("no data"));
        assert_eq!(svg.matches("<circle").count(), 5);
    }

    #[test]
    fn waterfall_is_well_formed_and_escaped() {
        let bars = [
            bar("/index.html", "network", [0.0, 0.0], Some(80.0), Some(99.0)),
            bar("/css/<style>.css", "pushed", [10.0, 12.0], Some(90.0), None),
            bar("/js/app.js", "preloaded", [5.0, 30.0], Some(200.0), None),
            bar("/img/logo.png", "cached", [150.0, 150.0], None, Some(150.0)),
            bar("/font.woff2", "weird", [f64::NAN, -5.0], None, None),
            bar("/nothing", "network", [f64::NAN, f64::INFINITY], None, None),
        ];
        let marks = [
            ("render-ready".to_string(), 812.0),
            ("load & <done>".to_string(), 1530.0),
            ("bogus".to_string(), f64::NAN),
        ];
        let svg = waterfall_svg("Waterfall \"h3\"", &bars, &marks);
        assert!(well_formed(&svg), "{svg}");
        assert!(svg.contains("/css/&lt;style&gt;.css") && !svg.contains("<style>"));
        assert!(svg.contains("load &amp; &lt;done&gt;") && !svg.contains("bogus"));
        assert!(svg.contains("stroke-dasharray=\"3,2\"") && svg.contains("14.0 KiB"));
        assert!(svg.contains("no timing") && svg.contains("#76b7b2"));
    }

    #[test]
    fn empty_inputs_still_make_valid_svg() {
        let d = distribution_svg("", "", &[]);
        assert!(well_formed(&d) && !d.contains("<circle"), "{d}");
        assert!(well_formed(&waterfall_svg("", &[], &[])));
        let nan_mark = [("x".to_string(), f64::NAN)];
        assert!(well_formed(&waterfall_svg("t", &[], &nan_mark)));
    }
}
