//! The journal of a comparison in progress (`runs.journal.jsonl` in the
//! output directory), so that a run killed halfway resumes (`--resume`)
//! without losing or repeating a page load.
//!
//! The first line names the matrix (preset, pushlab version, runs,
//! configurations, shard, seed and options); each further line is one
//! finished run with its trace, appended and flushed as the run ends. A
//! run in progress when the process dies is not in the journal and is run
//! again. Only the last line can be cut short by a kill: it is dropped;
//! a damaged line anywhere else is an error.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::run::{Run, Shard, TracePoint};
use super::CompareError;

/// The journal's file name in the output directory.
pub const FILE: &str = "runs.journal.jsonl";

/// What a journal's runs must share with the run that resumes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always 1 (this layout).
    pub journal: u32,
    /// Preset (or "matrix").
    pub preset: String,
    /// pushlab version.
    pub version: String,
    /// Runs per configuration.
    pub runs_per_config: usize,
    /// The configurations' labels, in order.
    pub configs: Vec<String>,
    /// The shard, if any.
    pub shard: Option<Shard>,
    /// Seed of the links' loss generators.
    pub seed: u64,
    /// Everything else that changes what a run measures (QUIC options,
    /// the browser's CPU model), as text.
    pub options: String,
}

#[derive(Serialize, Deserialize)]
struct Line {
    run: Run,
    trace: Vec<TracePoint>,
}

/// An open journal, appending.
pub struct Journal {
    file: std::fs::File,
    path: PathBuf,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> CompareError + '_ {
    move |e| CompareError::Invalid(format!("{}: {e}", path.display()))
}

impl Journal {
    /// Starts a new journal in `dir` (replacing one there).
    pub fn create(dir: &Path, header: &Header) -> Result<Journal, CompareError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        let mut file = std::fs::File::create(&path).map_err(io(&path))?;
        let line = serde_json::to_string(header).map_err(std::io::Error::other)?;
        writeln!(file, "{line}").map_err(io(&path))?;
        file.flush().map_err(io(&path))?;
        Ok(Journal { file, path })
    }

    /// Opens the journal in `dir` to resume: its finished runs, and the
    /// journal to append to. Refuses a journal of another matrix.
    pub fn resume(dir: &Path, header: &Header) -> Result<(Journal, Vec<Run>), CompareError> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            CompareError::Invalid(format!(
                "--resume: no journal to resume from ({}: {e})",
                path.display()
            ))
        })?;
        let lines: Vec<&str> = text.lines().collect();
        let Some((first, rest)) = lines.split_first() else {
            return Err(CompareError::Invalid(format!("{}: empty", path.display())));
        };
        let found: Header = serde_json::from_str(first).map_err(|e| {
            CompareError::Invalid(format!("{}: not a pushlab journal ({e})", path.display()))
        })?;
        if let Some(what) = differs(&found, header) {
            return Err(CompareError::Invalid(format!(
                "--resume: the journal in {} is of another matrix (its {what} differs); \
                 run without --resume to start over",
                dir.display()
            )));
        }
        let mut runs: Vec<Run> = Vec::new();
        // A kill can cut the last line short (and only the last: each line
        // is written whole before the next begins).
        let complete = text.ends_with('\n');
        for (i, l) in rest.iter().enumerate() {
            match serde_json::from_str::<Line>(l) {
                Ok(mut line) => {
                    line.run.trace = line.trace;
                    let key = (line.run.config, line.run.run);
                    if line.run.config >= header.configs.len()
                        || line.run.run >= header.runs_per_config
                        || runs.iter().any(|r| (r.config, r.run) == key)
                    {
                        return Err(CompareError::Invalid(format!(
                            "{} line {}: a run outside the matrix or twice",
                            path.display(),
                            i + 2
                        )));
                    }
                    runs.push(line.run);
                }
                Err(_) if i + 1 == rest.len() && !complete => {}
                Err(e) => {
                    return Err(CompareError::Invalid(format!(
                        "{} line {}: {e}",
                        path.display(),
                        i + 2
                    )))
                }
            }
        }
        // Rewrite it without a cut last line, then append from there.
        let mut journal = Journal::create(dir, header)?;
        for r in &runs {
            journal.append(r)?;
        }
        Ok((journal, runs))
    }

    /// Appends a finished run (with its trace) and flushes it.
    pub fn append(&mut self, run: &Run) -> Result<(), CompareError> {
        #[derive(Serialize)]
        struct LineRef<'a> {
            run: &'a Run,
            trace: &'a [TracePoint],
        }
        let mut line = serde_json::to_string(&LineRef {
            run,
            trace: &run.trace,
        })
        .map_err(std::io::Error::other)?;
        line.push('\n');
        // One write of the whole line.
        self.file
            .write_all(line.as_bytes())
            .map_err(io(&self.path))?;
        self.file.flush().map_err(io(&self.path))
    }
}

/// The comparison finished and its results are written in `dir`: its
/// journal goes.
pub fn remove(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(FILE));
}

/// The first field in which two headers differ.
fn differs(a: &Header, b: &Header) -> Option<&'static str> {
    [
        ("journal layout", a.journal != b.journal),
        ("preset", a.preset != b.preset),
        ("pushlab version", a.version != b.version),
        (
            "runs per configuration",
            a.runs_per_config != b.runs_per_config,
        ),
        ("configurations", a.configs != b.configs),
        ("shard", a.shard != b.shard),
        ("seed", a.seed != b.seed),
        ("options", a.options != b.options),
    ]
    .into_iter()
    .find(|(_, d)| *d)
    .map(|(w, _)| w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::report::tests::report;

    fn header() -> Header {
        Header {
            journal: 1,
            preset: "quick".into(),
            version: "0".into(),
            runs_per_config: 2,
            configs: vec!["a".into(), "b".into()],
            shard: None,
            seed: 1,
            options: String::new(),
        }
    }

    /// Runs appended come back on resume, traces included; a last line cut
    /// short is dropped, one in the middle is an error; another matrix is
    /// refused.
    #[test]
    fn resume_reads_back_what_was_appended() {
        let dir = std::env::temp_dir().join(format!("pushlab-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut runs = report().runs;
        runs[1].run = 1;
        runs[0].trace.push(TracePoint {
            t_ms: 1.0,
            link_queue_packets: 2,
            link_queue_bytes: 3000,
            conn: None,
        });
        let mut j = Journal::create(&dir, &header()).expect("created");
        for r in &runs {
            j.append(r).expect("appended");
        }
        drop(j);
        let (_, back) = Journal::resume(&dir, &header()).expect("resumed");
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].trace.len(), 1);
        assert_eq!(back[1].load.error, runs[1].load.error);
        // A kill in the middle of the last line.
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).expect("journal");
        std::fs::write(&path, &text[..text.len() - 40]).expect("written");
        let (_, back) = Journal::resume(&dir, &header()).expect("resumed");
        assert_eq!(back.len(), 1, "the cut line is dropped");
        // Resuming rewrote it whole: a damaged middle line is an error.
        let text = std::fs::read_to_string(&path).expect("journal");
        std::fs::write(
            &path,
            format!("{text}garbage\n{}", text.lines().nth(1).unwrap_or("")),
        )
        .expect("written");
        let e = Journal::resume(&dir, &header())
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("line 3")));
        let mut other = header();
        other.seed = 2;
        let e = Journal::resume(&dir, &other).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("seed differs")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
