//! `pushlab compare`: HTTP/2 against HTTP/3, push against hints against
//! nothing, over emulated links, with the emulated browser.
//!
//! A preset is a site, its pages, a set of server variants (push policy,
//! TCP options), protocols, link profiles and cache states. Every page load
//! gets its own connection (fresh, or warmed to the link's BDP first with
//! `--connection warm`), through a fresh emulated link per profile, to
//! servers this command starts (in-process, on the server side of the
//! link) and stops. Runs go round the configurations (run 1 of each, then
//! run 2 of each, ...) so that drift in the machine affects all alike.
//! Results: a table of medians with the difference to the `none` variant
//! (the layout of the Rules of Thumb's tables) and interquartile ranges,
//! every run as CSV and JSON (HAR-like, with the full configuration and the
//! pushlab version), and SVG plots.

pub mod calibrate;
mod html;
pub mod journal;
mod merge;
mod presets;
mod report;
mod run;
mod sites;
pub mod svg;
pub mod validate;

pub use merge::{merge, merge_reports, read_dir};
pub use presets::{
    configs, matrix, preset, Browser, CacheState, Config, Connection, LinkProfile, Matrix, Preset,
    Variant, PRESETS,
};
pub use report::{csv, table, write, WriteOptions};
pub use run::{run, CompareOptions, Report, Row, Run, Shard, CALIBRATION_LOADS};

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
    /// Making runs.csv.
    #[error("writing runs.csv: {0}")]
    Csv(#[from] csv::Error),
}
