//! `pushlab compare merge`: the shards of one matrix (`--shard K/N`, each
//! run on its own machine or job) back into one report, with the same
//! tables and plots an unsharded run writes.
//!
//! A merge refuses what would make a wrong table: shards of different
//! matrices, builds or run counts, a shard given twice, a shard missing, or
//! a (configuration, run) pair that is absent or present twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::run::{summarise, Report, TracePoint};
use super::CompareError;

fn invalid(msg: String) -> CompareError {
    CompareError::Invalid(msg)
}

/// Reads one output directory: its runs.json, and its traces.jsonl when
/// there is one (the runs' time series, for the plots).
pub fn read_dir(dir: &Path) -> Result<Report, CompareError> {
    let path = dir.join("runs.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    let mut report: Report = serde_json::from_str(&text)
        .map_err(|e| invalid(format!("{}: not a pushlab runs.json: {e}", path.display())))?;
    let traces = dir.join("traces.jsonl");
    if let Ok(text) = std::fs::read_to_string(&traces) {
        #[derive(serde::Deserialize)]
        struct Line {
            config: usize,
            run: usize,
            trace: Vec<TracePoint>,
        }
        for (n, line) in text.lines().enumerate() {
            let l: Line = serde_json::from_str(line)
                .map_err(|e| invalid(format!("{} line {}: {e}", traces.display(), n + 1)))?;
            if let Some(r) = report
                .runs
                .iter_mut()
                .find(|r| r.config == l.config && r.run == l.run)
            {
                r.trace = l.trace;
            }
        }
    }
    Ok(report)
}

/// Merges the shards in `dirs` into one report.
pub fn merge(dirs: &[PathBuf]) -> Result<Report, CompareError> {
    let mut shards = Vec::new();
    for d in dirs {
        shards.push((d.clone(), read_dir(d)?));
    }
    merge_reports(shards)
}

/// Merges reports read from the named directories.
pub fn merge_reports(shards: Vec<(PathBuf, Report)>) -> Result<Report, CompareError> {
    let Some((first_dir, first)) = shards.first() else {
        return Err(invalid("compare merge needs at least one directory".into()));
    };
    let labels = |r: &Report| r.configs.iter().map(|c| c.label()).collect::<Vec<_>>();
    let want_labels = labels(first);
    let mut seen_shards = BTreeSet::new();
    let mut count = None;
    for (dir, r) in &shards {
        let d = dir.display();
        let Some(s) = r.shard else {
            return Err(invalid(format!(
                "{d} holds a whole run, not a shard (--shard K/N): nothing to merge"
            )));
        };
        if *count.get_or_insert(s.count) != s.count {
            return Err(invalid(format!(
                "{d} is shard {s}, but {} has {} shards",
                first_dir.display(),
                count.unwrap_or(0)
            )));
        }
        if !seen_shards.insert(s.index) {
            return Err(invalid(format!("shard {s} is given twice ({d})")));
        }
        let same = [
            ("preset", r.preset == first.preset),
            ("pushlab version", r.version == first.version),
            (
                "runs per configuration",
                r.runs_per_config == first.runs_per_config,
            ),
            ("configurations", labels(r) == want_labels),
            ("seed", r.seed == first.seed),
            (
                "QUIC options",
                r.quic_initial_rtt_ms == first.quic_initial_rtt_ms
                    && r.quic_initial_window == first.quic_initial_window
                    && r.quic_initial_mtu == first.quic_initial_mtu
                    && r.quic_pacing == first.quic_pacing,
            ),
            (
                "TCP options",
                r.tcp_cc == first.tcp_cc
                    && r.tls_max_record == first.tls_max_record
                    && r.tcp_pacing == first.tcp_pacing
                    && r.tcp_initcwnd == first.tcp_initcwnd,
            ),
            ("HTTP/3 alt-svc", r.h3_alt_svc == first.h3_alt_svc),
            (
                "send-queue policy",
                r.scheduler == first.scheduler
                    && r.inflight == first.inflight
                    && r.ack_stall_check == first.ack_stall_check,
            ),
            (
                "link emulator's priority",
                r.emulator_realtime == first.emulator_realtime,
            ),
            (
                "browser CPU model",
                r.cpu.script_base_ms == first.cpu.script_base_ms
                    && r.cpu.script_ms_per_kb == first.cpu.script_ms_per_kb,
            ),
        ];
        if let Some((what, _)) = same.iter().find(|(_, ok)| !ok) {
            return Err(invalid(format!(
                "{d} and {} differ in their {what}: not shards of one matrix",
                first_dir.display()
            )));
        }
    }
    let count = count.unwrap_or(1);
    let missing: Vec<String> = (1..=count)
        .filter(|k| !seen_shards.contains(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "shard{} {} missing",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        )));
    }
    let mut base = first.clone();
    let mut machines: Vec<String> = Vec::new();
    let mut runs = BTreeMap::new();
    for (dir, r) in shards {
        if !machines.contains(&r.machine) {
            machines.push(r.machine.clone());
        }
        for run in r.runs {
            let key = (run.config, run.run);
            if run.config >= base.configs.len() || run.run >= base.runs_per_config {
                return Err(invalid(format!(
                    "{}: a run of configuration {} number {} outside the matrix",
                    dir.display(),
                    run.config,
                    run.run
                )));
            }
            if runs.insert(key, run).is_some() {
                return Err(invalid(format!(
                    "configuration {:?} run {} is in more than one shard",
                    base.configs[key.0].label(),
                    key.1
                )));
            }
        }
    }
    let expected = base.configs.len() * base.runs_per_config;
    if runs.len() != expected {
        let absent: Vec<String> = (0..base.configs.len())
            .flat_map(|c| (0..base.runs_per_config).map(move |r| (c, r)))
            .filter(|k| !runs.contains_key(k))
            .take(5)
            .map(|(c, r)| format!("{:?} run {r}", base.configs[c].label()))
            .collect();
        return Err(invalid(format!(
            "{} of {expected} runs are missing (an unfinished shard?), e.g. {}",
            expected - runs.len(),
            absent.join("; ")
        )));
    }
    // Run order: link profile, run, configuration (as a whole run takes them).
    let profile_of = |ci: usize| {
        base.profiles
            .iter()
            .position(|p| p.name == base.configs[ci].profile)
            .unwrap_or(usize::MAX)
    };
    let mut runs: Vec<_> = runs.into_values().collect();
    runs.sort_by_key(|r| (profile_of(r.config), r.run, r.config));
    base.rows = summarise(&base.configs, &runs);
    base.runs = runs;
    base.machine = machines.join("; ");
    base.shard = None;
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::report::tests::report;
    use crate::compare::run::Shard;

    /// A whole run of `report()` with two runs per configuration, split
    /// the way `--shard K/2` splits it (pair n goes to shard n % 2 + 1).
    fn shards() -> (Report, Vec<(PathBuf, Report)>) {
        let mut whole = report();
        whole.runs_per_config = 2;
        let one = whole.runs[0].clone();
        whole.runs = (0..2)
            .flat_map(|run| (0..2).map(move |config| (config, run)))
            .map(|(config, run)| {
                let mut r = one.clone();
                r.config = config;
                r.run = run;
                r.load.summary.load_ms = Some(100.0 + (10 * config + run) as f64);
                r
            })
            .collect();
        let parts = (1..=2)
            .map(|index| {
                let mut r = whole.clone();
                r.shard = Some(Shard { index, count: 2 });
                r.machine = format!("m{index}");
                r.runs = whole
                    .runs
                    .iter()
                    .enumerate()
                    .filter(|(n, _)| n % 2 == index - 1)
                    .map(|(_, r)| r.clone())
                    .collect();
                (PathBuf::from(format!("shard{index}")), r)
            })
            .collect();
        (whole, parts)
    }

    /// The merge holds every run once, in run order, and the same rows as
    /// the whole run; shards merge in any order.
    #[test]
    fn merge_equals_the_whole() {
        let (whole, mut parts) = shards();
        parts.reverse();
        let m = merge_reports(parts).expect("merges");
        let key = |r: &Report| r.runs.iter().map(|r| (r.config, r.run)).collect::<Vec<_>>();
        assert_eq!(key(&m), key(&whole));
        assert_eq!(m.shard, None);
        assert_eq!(m.machine, "m2; m1");
        let rows = summarise(&whole.configs, &whole.runs);
        let loads =
            |rows: &[crate::compare::Row]| rows.iter().map(|r| r.load_ms).collect::<Vec<_>>();
        assert_eq!(loads(&m.rows), loads(&rows));
        assert_eq!(m.rows[0].load_ms, Some(100.5));
    }

    /// What cannot be one matrix is refused, saying why.
    #[test]
    fn refusals() {
        let err = |parts: Vec<(PathBuf, Report)>| match merge_reports(parts) {
            Ok(_) => panic!("merged"),
            Err(e) => e.to_string(),
        };
        let (whole, parts) = shards();
        assert!(err(vec![parts[0].clone()]).contains("shard 2/2 missing"));
        assert!(err(vec![parts[0].clone(), parts[0].clone()]).contains("given twice"));
        assert!(err(vec![(PathBuf::from("w"), whole.clone())]).contains("not a shard"));
        assert!(err(Vec::new()).contains("at least one"));
        let mut other = parts.clone();
        other[1].1.preset = "push-order".into();
        assert!(err(other).contains("preset"));
        let mut other = parts.clone();
        other[1].1.configs.pop();
        assert!(err(other).contains("configurations"));
        let mut other = parts.clone();
        other[1].1.emulator_realtime = !other[0].1.emulator_realtime;
        assert!(err(other).contains("link emulator's priority"));
        let mut other = parts.clone();
        other[1].1.ack_stall_check = !other[0].1.ack_stall_check;
        assert!(err(other).contains("send-queue policy"));
        let mut other = parts.clone();
        other[1].1.h3_alt_svc = !other[0].1.h3_alt_svc;
        assert!(err(other).contains("HTTP/3 alt-svc"));
        let mut dup = parts.clone();
        let extra = dup[0].1.runs[0].clone();
        dup[1].1.runs.push(extra);
        assert!(err(dup).contains("more than one shard"));
        let mut lost = parts.clone();
        lost[1].1.runs.pop();
        assert!(err(lost).contains("1 of 4 runs are missing"));
        let mut outside = parts;
        outside[1].1.runs[0].run = 7;
        assert!(err(outside).contains("outside the matrix"));
    }

    /// runs.json and traces.jsonl as `write` leaves them read back into the
    /// same report (times, resources and traces).
    #[test]
    fn written_reports_read_back() {
        let dir = std::env::temp_dir().join(format!("pushlab-merge-{}", std::process::id()));
        let mut r = report();
        r.runs[0].trace.push(crate::compare::run::TracePoint {
            t_ms: 5.0,
            link_queue_packets: 3,
            link_queue_bytes: 4500,
            conn: Some(crate::trace::ConnState {
                protocol: "h3".into(),
                cwnd: 12000,
                ..Default::default()
            }),
        });
        r.rows = summarise(&r.configs, &r.runs);
        crate::compare::write(&r, &dir, &Default::default()).expect("written");
        let back = read_dir(&dir).expect("read back");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(back.runs.len(), 2);
        assert_eq!(back.runs[0].load.summary.load_ms, Some(123.456));
        assert_eq!(back.runs[0].trace.len(), 1);
        assert_eq!(
            back.runs[0].trace[0].conn.as_ref().map(|c| c.cwnd),
            Some(12000)
        );
        assert_eq!(back.configs[1].label(), r.configs[1].label());
        assert!(back.configs[0].baseline);
        assert_eq!(crate::compare::table(&back), crate::compare::table(&r));
    }

    /// A directory without a runs.json, or with another file under that
    /// name, or with a broken traces.jsonl, is an error naming the file.
    #[test]
    fn unreadable_directories_are_named() {
        let dir = std::env::temp_dir().join(format!("pushlab-merge-bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let msg = |d: &Path| read_dir(d).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg(&dir).contains("runs.json"), "{}", msg(&dir));
        std::fs::write(dir.join("runs.json"), "{\"runs\": 3}").expect("written");
        assert!(
            msg(&dir).contains("not a pushlab runs.json"),
            "{}",
            msg(&dir)
        );
        crate::compare::write(&report(), &dir, &Default::default()).expect("written");
        std::fs::write(dir.join("traces.jsonl"), "{}\n").expect("written");
        assert!(msg(&dir).contains("traces.jsonl line 1"), "{}", msg(&dir));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
