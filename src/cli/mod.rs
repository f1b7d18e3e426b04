//! The subcommands, one module each. Binary-side: they turn parsed
//! arguments into the library's options, call it, and print.

pub mod bench;
pub mod compare;
pub mod get;
pub mod load;
pub mod netem;
pub mod serve;
pub mod site;

use std::time::Duration;

use pushlab::units::{parse_bytes, parse_duration};

/// clap value parser for durations (`300ms`, `1.5s`, `2m`).
fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// clap value parser for byte counts (`16KiB`, `64kb`, `1200`).
fn bytes_arg(s: &str) -> Result<u64, String> {
    parse_bytes(s).map_err(|e| e.to_string())
}

/// A switch spelled `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

/// The command-line spellings of a closed set of values, in order.
#[cfg(test)]
fn value_names<T: clap::ValueEnum>() -> Vec<String> {
    T::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value())
        .map(|v| v.get_name().to_string())
        .collect()
}
