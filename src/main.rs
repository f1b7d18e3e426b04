//! The `pushlab` command: `serve`, `get`, and the research tools. This file
//! parses the command line, sets up logging and the runtime, and dispatches
//! to one module of [`cli`] per subcommand.

mod cli;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// mimalloc: many small, short-lived allocations per request (headers,
/// frames, tasks); glibc's malloc cost about a tenth of the CPU time of a
/// small-response benchmark (perf, `pushlab bench h2`). Counted, so that
/// `pushlab serve` can report the heap it holds (SIGUSR1, `bench load`).
#[global_allocator]
static GLOBAL: pushlab::memory::Counting<mimalloc::MiMalloc> =
    pushlab::memory::Counting(mimalloc::MiMalloc);

#[derive(Parser)]
#[command(
    name = "pushlab",
    version,
    about = "An HTTP/3 research server for server push, 103 Early Hints and stream prioritisation"
)]
struct Cli {
    /// Worker threads of the async runtime (default: one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve a site (the built-in demo unless --site is given) over HTTP/3.
    Serve(cli::serve::ServeArgs),
    /// Fetch URLs over HTTP/3 on one connection and report what arrived.
    Get(cli::get::GetArgs),
    /// Load a page like a browser: discovery as parents arrive, Chromium's
    /// priorities, push and HTTP caches, 103 preloads; report each resource.
    Load(cli::load::LoadArgs),
    /// Benchmarks that print figures (never run as tests).
    Bench(cli::bench::BenchArgs),
    /// Compare HTTP/2 and HTTP/3 page loads under push policies, hints and
    /// cache states over emulated links (needs root): `--preset NAME`.
    Compare(cli::compare::CompareArgs),
    /// Run a command behind an emulated link (delay, rate, bottleneck queue,
    /// loss), like Mahimahi's mm-link: `pushlab netem --profile 3g -- CMD`.
    /// Needs root.
    Netem(cli::netem::NetemArgs),
    /// Inspect a site: `pushlab site graph [DIR]` prints its fetch graph.
    Site {
        #[command(subcommand)]
        cmd: cli::site::SiteCmd,
    },
}

fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // compare's and bench's servers run in this process: their
    // per-request lines would bury the progress and the table (RUST_LOG
    // still wins).
    init_logging(if matches!(cli.cmd, Cmd::Compare(_) | Cmd::Bench(_)) {
        "warn"
    } else {
        "info"
    });
    if let Cmd::Compare(a) = &cli.cmd {
        // It owns its runtimes and threads (some inside namespaces).
        return cli::compare::run(a);
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        builder.worker_threads(n);
    }
    let rt = builder
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        match cli.cmd {
            Cmd::Serve(a) => cli::serve::run(a).await,
            Cmd::Get(a) => cli::get::run(a).await,
            Cmd::Bench(a) => cli::bench::run(a).await,
            Cmd::Load(a) => cli::load::run(a).await,
            Cmd::Netem(a) => {
                let code = cli::netem::run(a).await?;
                // Everything is torn down by now.
                std::process::exit(code)
            }
            Cmd::Site { cmd } => cli::site::run(cmd),
            Cmd::Compare(_) => unreachable!("handled before the runtime starts"),
        }
    })
}
