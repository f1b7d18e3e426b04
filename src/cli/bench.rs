//! `pushlab bench`: benchmarks that print figures.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

/// Which benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Which {
    /// Bulk, small responses, preemption.
    H3,
    /// Page loads under each push policy.
    Push,
    /// h2load against pushlab's HTTP/2 side and nginx.
    H2,
    /// The link emulator (needs root).
    Netem,
    /// HTTP/3 transfers through a faulty emulated link, byte-exact (root).
    Faults,
    /// Thousands of connections, idle memory, slow readers (QUIC, HTTP/2, nginx).
    Load,
}

impl Which {
    /// The name on the command line.
    fn name(self) -> &'static str {
        match self {
            Which::H3 => "h3",
            Which::Push => "push",
            Which::H2 => "h2",
            Which::Netem => "netem",
            Which::Faults => "faults",
            Which::Load => "load",
        }
    }
}

#[derive(Args)]
pub struct BenchArgs {
    /// Which benchmark: h3 (bulk, small responses, preemption), push
    /// (page loads under each push policy), h2 (h2load against pushlab's
    /// HTTP/2 side and nginx), netem (the link emulator; needs root) or
    /// faults (the interop runner's fault cases through the emulator,
    /// every transfer byte-exact; needs root) or load (2,000 QUIC
    /// connections x 10 streams, h2load -c 1000 -m 20 against pushlab and
    /// nginx, memory per idle connection, 500 slow readers per protocol).
    #[arg(value_enum, default_value_t = Which::H3)]
    which: Which,
    /// A small, fast version.
    #[arg(long)]
    quick: bool,
    /// Runs per configuration.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also write the rows as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Server logs go here.
    #[arg(long, default_value = "results/bench-logs")]
    log_dir: PathBuf,
    /// load: one more argument for its pushlab servers, e.g.
    /// `--server-arg=--udp-buffer=0` (repeatable; given last, so it wins).
    #[arg(long, allow_hyphen_values = true)]
    server_arg: Vec<String>,
    /// load: the servers' per-stream queue bound (`pushlab serve
    /// --stream-buffer`), against which slow readers' memory is checked.
    #[arg(long, default_value = "128KiB", value_parser = super::bytes_arg)]
    stream_buffer: u64,
    /// faults: write every connection's qlog, the server's and the
    /// client's, under this folder (DIR/CASE/server/, DIR/CASE/client-N.sqlog).
    #[arg(long)]
    qlog_dir: Option<PathBuf>,
    /// faults: run only this case (handshakeloss, transferloss, blackhole,
    /// transfercorruption, longrtt; repeatable).
    #[arg(long = "case")]
    cases: Vec<String>,
    /// faults: transfers per case (default: each case's own, 50 handshakes
    /// or 3 transfers; 10 and 1 with --quick), e.g. for a tail estimate.
    #[arg(long)]
    transfers: Option<usize>,
}

/// `pushlab bench`.
pub async fn run(a: BenchArgs) -> Result<()> {
    let exe = std::env::current_exe().context("locating the pushlab binary")?;
    let opts = pushlab::bench::BenchOptions {
        exe,
        quick: a.quick,
        runs: a.runs,
        log_dir: a.log_dir.clone(),
        server_args: a.server_arg.clone(),
        stream_buffer: a.stream_buffer,
        qlog_dir: a.qlog_dir.clone(),
        cases: a.cases.clone(),
        transfers: a.transfers,
    };
    let started = std::time::Instant::now();
    let mut failures = 0;
    let rows = match a.which {
        Which::H3 => pushlab::bench::run_h3(&opts).await?,
        Which::H2 => pushlab::bench::h2::run_h2(&opts).await?,
        Which::Netem => {
            let o = opts.clone();
            tokio::task::spawn_blocking(move || pushlab::bench::netem::run_netem(&o)).await??
        }
        Which::Push => pushlab::bench::run_push(&opts).await?,
        Which::Faults => {
            let o = opts.clone();
            let (rows, failed) =
                tokio::task::spawn_blocking(move || pushlab::bench::faults::run_faults(&o))
                    .await??;
            failures = failed;
            rows
        }
        Which::Load => {
            let (rows, failed) = pushlab::bench::load::run_load(&opts).await?;
            failures = failed;
            rows
        }
    };
    println!(
        "pushlab {} bench {}{} on {} ({} runs per row, {:.0} s)",
        env!("CARGO_PKG_VERSION"),
        a.which.name(),
        if a.quick { " --quick" } else { "" },
        pushlab::bench::machine(),
        if a.quick { 1 } else { a.runs },
        started.elapsed().as_secs_f64()
    );
    pushlab::bench::print_table(&rows);
    for test in ["bulk", "1 KB"] {
        let get = |s: &str| {
            rows.iter()
                .find(|r| r.test.starts_with(test) && r.scheduler == s)
                .map(|r| r.value)
        };
        if let (Some(on), Some(off)) = (get("rfc9218"), get("off")) {
            println!("{test}: queue on / off = {:.2}", on / off);
        }
    }
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&rows)?)?;
    }
    if failures > 0 {
        anyhow::bail!("{failures} transfers, connections or bounds failed (see the notes)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_command_line_values() {
        let mine: Vec<&str> = Which::value_variants().iter().map(|w| w.name()).collect();
        assert_eq!(crate::cli::value_names::<Which>(), mine);
    }
}
