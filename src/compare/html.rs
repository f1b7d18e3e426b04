//! index.html: one self-contained page per comparison (no scripts, no
//! fetched files): what was run and where, the summary table, every plot
//! inline, each configuration's median-run waterfall with HTTP/2 and HTTP/3
//! side by side, and the CDF of load times.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::presets::proto_name;
use super::report::{median_run, waterfall};
use super::run::Report;
use super::svg::escape;
use crate::client::Proto;

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1900px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
.about { max-width: 70rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border: 1px solid #ddd; padding: .25rem .45rem; vertical-align: top; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1rem 0; } figcaption { font-size: .85rem; color: #555; }
svg { max-width: 100%; height: auto; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 1rem; }
details { margin: .4rem 0; } summary { cursor: pointer; font-weight: 600; }
.none { color: #888; font-style: italic; }
"#;

/// The page. `plots` are (caption, SVG) in the order shown.
pub(super) fn page(report: &Report, plots: &[(String, String)]) -> String {
    let mut h = String::new();
    let title = format!("pushlab compare: {}", report.preset);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let _ = writeln!(h, "<p class=\"about\">{}</p>", escape(&report.about));
    meta(&mut h, report);
    let _ = writeln!(
        h,
        "<p>Files: <a href=\"table.md\">table.md</a> · <a href=\"runs.csv\">runs.csv</a> · \
         <a href=\"runs.json\">runs.json</a> · <a href=\"traces.jsonl\">traces.jsonl</a></p>"
    );
    h.push_str("<h2>Summary</h2>\n");
    h.push_str(
        "<p>Medians over the runs of each configuration; \"vs baseline\" is (baseline − this) / \
         baseline, positive = faster, the Rules of Thumb's sign.</p>\n",
    );
    table_html(&mut h, &super::table(report));
    h.push_str("<h2>Plots</h2>\n");
    for (caption, svg) in plots {
        let _ = writeln!(
            h,
            "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
            escape(caption)
        );
    }
    waterfalls(&mut h, report);
    h.push_str("</body>\n</html>\n");
    h
}

/// What ran, where, with which build.
fn meta(h: &mut String, r: &Report) {
    let mut rows: Vec<(String, String)> = vec![
        ("pushlab".into(), r.version.clone()),
        ("machine".into(), r.machine.clone()),
        (
            "runs per configuration".into(),
            r.runs_per_config.to_string(),
        ),
        ("seed".into(), r.seed.to_string()),
        (
            "browser".into(),
            format!(
                "emulated; scripts run {} ms + {} ms/KB",
                r.cpu.script_base_ms, r.cpu.script_ms_per_kb
            ),
        ),
        (
            "send queue".into(),
            match &r.inflight {
                Some(m) => format!("{}, HTTP/3 in-flight limit {m} (every variant)", r.scheduler),
                None => r.scheduler.clone(),
            },
        ),
        (
            "QUIC".into(),
            format!(
                "initial RTT {}, initial window {}, first datagrams {}, pacer {}",
                r.quic_initial_rtt_ms
                    .map(|v| format!("{v:.0} ms"))
                    .unwrap_or_else(|| "quinn's default (333 ms)".into()),
                r.quic_initial_window
                    .map(|v| format!("{v} bytes"))
                    .unwrap_or_else(|| "quinn's default (12,000 bytes)".into()),
                r.quic_initial_mtu
                    .map(|v| format!("{v} bytes"))
                    .unwrap_or_else(|| "quinn's default (1,200 bytes)".into()),
                if r.quic_pacing {
                    "on"
                } else {
                    "off (patched quinn-proto)"
                }
            ),
        ),
        (
            "TCP (HTTP/2)".into(),
            format!(
                "congestion control {}, TLS records up to {} bytes, kernel pacing {}, initial window {} segments",
                r.tcp_cc.as_deref().unwrap_or("not recorded"),
                r.tls_max_record.unwrap_or(16_384),
                if r.tcp_pacing { "on" } else { "off" },
                r.tcp_initcwnd.map_or("10 (default)".to_string(), |n| n.to_string())
            ),
        ),
    ];
    if let Some(s) = r.shard {
        rows.push(("shard".into(), s.to_string()));
    }
    for p in &r.profiles {
        rows.push((
            format!("link {}", p.name),
            format!("down: {}; up: {}", p.down, p.up),
        ));
    }
    h.push_str("<dl class=\"meta\">\n");
    for (k, v) in rows {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", escape(&k), escape(&v));
    }
    h.push_str("</dl>\n");
}

/// The Markdown table as an HTML table: the same cells, so the two never
/// disagree.
fn table_html(h: &mut String, md: &str) {
    let cells = |line: &str| -> Vec<String> {
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        inner.split('|').map(|c| c.trim().to_string()).collect()
    };
    let mut lines = md.lines().filter(|l| l.trim_start().starts_with('|'));
    let Some(head) = lines.next() else {
        return;
    };
    h.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    for c in cells(head) {
        let _ = write!(h, "<th>{}</th>", escape(&c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for line in lines.filter(|l| !l.contains("---")) {
        h.push_str("<tr>");
        for c in cells(line) {
            let numeric = c
                .chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_digit() || ch == '+' || ch == '-');
            let class = if numeric && c != "-" {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(h, "<td{class}>{}</td>", escape(&c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table></div>\n");
}

/// Each configuration's median run as a waterfall, HTTP/2 beside HTTP/3.
fn waterfalls(h: &mut String, report: &Report) {
    // Configurations that differ only in protocol, in configuration order.
    let mut groups: Vec<(String, BTreeMap<&'static str, usize>)> = Vec::new();
    for (ci, c) in report.configs.iter().enumerate() {
        let key = format!("{} {} {} {}", c.page, c.variant, c.profile, c.cache.name());
        let slot = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                groups.push((key, BTreeMap::new()));
                groups.len() - 1
            }
        };
        groups[slot].1.insert(proto_name(c.protocol), ci);
    }
    h.push_str(
        "<h2>Waterfalls</h2>\n<p>The median run (by load time) of each configuration; HTTP/2 \
         and HTTP/3 side by side. Line: waiting to be requested; light: to the first byte; \
         solid: to the last.</p>\n",
    );
    for (i, (key, by_proto)) in groups.iter().enumerate() {
        let load = |p: Proto| {
            by_proto
                .get(proto_name(p))
                .and_then(|&ci| report.rows.get(ci))
                .and_then(|r| r.load_ms)
                .map(|v| format!("{} load {v:.0} ms", proto_name(p)))
        };
        let summary: Vec<String> = [Proto::H2, Proto::H3]
            .into_iter()
            .filter_map(load)
            .collect();
        let _ = writeln!(
            h,
            "<details{}><summary>{} — {}</summary>\n<div class=\"pair\">",
            if i == 0 { " open" } else { "" },
            escape(key),
            escape(&summary.join(", "))
        );
        for proto in [Proto::H2, Proto::H3] {
            let Some(&ci) = by_proto.get(proto_name(proto)) else {
                continue;
            };
            let label = report.configs[ci].label();
            match median_run(report, ci) {
                Some(run) => {
                    let _ = writeln!(h, "<div>{}</div>", waterfall(&label, run));
                }
                None => {
                    let _ = writeln!(
                        h,
                        "<div class=\"none\">{}: no run loaded</div>",
                        escape(&label)
                    );
                }
            }
        }
        h.push_str("</div>\n</details>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::report::tests::report;

    /// The page is one document with the table's cells, the plots given,
    /// a waterfall per configuration with a run, and nothing fetched.
    #[test]
    fn page_holds_table_plots_and_waterfalls() {
        let mut r = report();
        r.rows = crate::compare::run::summarise(&r.configs, &r.runs);
        let html = page(&r, &[("Load <time>".into(), "<svg id=\"p\"></svg>".into())]);
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
        assert!(html.contains("<td class=\"num\">123</td>"), "{html}");
        assert!(
            html.contains("push-all, &quot;x&quot;"),
            "escaped labels: {html}"
        );
        assert!(html.contains("<svg id=\"p\"></svg>") && html.contains("Load &lt;time&gt;"));
        // h3 none cold has a run; h2 push-all warm's only run failed.
        assert!(
            html.contains("h3 /index.html none lte cold: median run 1"),
            "{html}"
        );
        assert!(html.contains("h2 /index.html push-all, &quot;x&quot; lte warm: no run loaded"));
        assert!(
            !html.contains("src=") && !html.contains("<script"),
            "self-contained"
        );
    }
}
