//! The `pushlab` command: `serve`, `get`, and the research tools.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

/// mimalloc: many small, short-lived allocations per request (headers,
/// frames, tasks); glibc's malloc cost about a tenth of the CPU time of a
/// small-response benchmark (perf, `pushlab bench h2`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use pushlab::client::parse_url;
use pushlab::client::{ClientOptions, Conn, Proto, Response};
use pushlab::config::{SchedulerMode, ServeOptions};
use pushlab::sched::Policy;
use pushlab::sendq::SendConfig;
use pushlab::server::{RunningServer, ServerOptions};
use pushlab::site::Site;
use pushlab::tls::Identity;
use pushlab::units::{fmt_bytes, parse_bytes, parse_duration};

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
    Serve(ServeArgs),
    /// Fetch URLs over HTTP/3 on one connection and report what arrived.
    Get(GetArgs),
    /// Load a page like a browser: discovery as parents arrive, Chromium's
    /// priorities, push and HTTP caches, 103 preloads; report each resource.
    Load(LoadArgs),
    /// Benchmarks that print figures (never run as tests).
    Bench(BenchArgs),
    /// Compare HTTP/2 and HTTP/3 page loads under push policies, hints and
    /// cache states over emulated links (needs root): `--preset NAME`.
    Compare(CompareArgs),
    /// Run a command behind an emulated link (delay, rate, bottleneck queue,
    /// loss), like Mahimahi's mm-link: `pushlab netem --profile 3g -- CMD`.
    /// Needs root.
    Netem(NetemArgs),
    /// Inspect a site: `pushlab site graph [DIR]` prints its fetch graph.
    Site {
        #[command(subcommand)]
        cmd: SiteCmd,
    },
}

#[derive(Subcommand)]
enum SiteCmd {
    /// Print the fetch dependency graph (the demo site without DIR).
    Graph {
        /// A site directory (with optional site.toml).
        dir: Option<PathBuf>,
    },
}

#[derive(Args)]
struct BenchArgs {
    /// Which benchmark: h3 (bulk, small responses, preemption), push
    /// (page loads under each push policy), h2 (h2load against pushlab's
    /// HTTP/2 side and nginx) or netem (the link emulator; needs root).
    #[arg(default_value = "h3")]
    which: String,
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
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

fn bytes_arg(s: &str) -> Result<u64, String> {
    parse_bytes(s).map_err(|e| e.to_string())
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address to listen on (UDP).
    #[arg(long, default_value = "127.0.0.1:4433")]
    addr: SocketAddr,
    /// Serve this directory (with its optional site.toml) instead of the demo site.
    #[arg(long)]
    site: Option<PathBuf>,
    /// Certificate chain (PEM); without it a self-signed certificate is made.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Private key (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Write the certificate (PEM) here, for clients' --ca.
    #[arg(long)]
    write_cert: Option<PathBuf>,
    /// Send scheduling: rfc9218, fifo, round-robin, or off (plain h3-quinn, no queue).
    #[arg(long, default_value = "rfc9218")]
    scheduler: String,
    /// Bytes per scheduling decision.
    #[arg(long, default_value = "16KiB", value_parser = bytes_arg)]
    quantum: u64,
    /// Bytes quinn may hold beyond the congestion window (low-water mark).
    #[arg(long, default_value = "32KiB", value_parser = bytes_arg)]
    lowat: u64,
    /// Per-stream user-space queue bound.
    #[arg(long, default_value = "128KiB", value_parser = bytes_arg)]
    stream_buffer: u64,
    /// Do not map urgency to quinn's stream priority.
    #[arg(long)]
    no_quinn_priorities: bool,
    /// Push and hint policy: none, push-all, rot, cache-aware, preload, push-preload,
    /// or list:/a.js,/b.css (exactly those, in that order).
    #[arg(long, default_value = "none")]
    push_policy: String,
    /// Largest request header section accepted.
    #[arg(long, default_value = "16KiB", value_parser = bytes_arg)]
    max_field_section_size: u64,
    /// Concurrent request streams per connection.
    #[arg(long, default_value_t = 100)]
    max_streams: u64,
    /// Body bytes per DATA frame.
    #[arg(long, default_value = "16KiB", value_parser = bytes_arg)]
    body_chunk: u64,
    /// Write one qlog file per connection into this directory.
    #[arg(long)]
    qlog_dir: Option<PathBuf>,
    /// Connection idle timeout.
    #[arg(long, default_value = "30s", value_parser = duration_arg)]
    idle_timeout: Duration,
    /// Reset a response that makes no progress for this long.
    #[arg(long, default_value = "60s", value_parser = duration_arg)]
    stall_timeout: Duration,
    /// On Ctrl-C, wait at most this long for in-flight responses.
    #[arg(long, default_value = "5s", value_parser = duration_arg)]
    shutdown_timeout: Duration,
    /// Do not serve HTTP/2 and HTTP/1.1 on TCP.
    #[arg(long)]
    no_h2: bool,
    /// Do not serve HTTP/3 on UDP.
    #[arg(long)]
    no_h3: bool,
    /// Set TCP_NOTSENT_LOWAT on TCP connections (H2O's mitigation of
    /// head-of-line blocking in the kernel's send buffer); default: kernel's.
    #[arg(long, value_parser = bytes_arg)]
    tcp_notsent_lowat: Option<u64>,
    /// QUIC: validate every client address with a stateless Retry first.
    #[arg(long)]
    retry: bool,
    /// QUIC: also listen on this UDP port with Retry always on.
    #[arg(long)]
    retry_port: Option<u16>,
    /// QUIC: issue no session tickets (no resumption, no 0-RTT).
    #[arg(long)]
    no_resumption: bool,
    /// QUIC: accept 0-RTT early data (GET/HEAD are served, other methods
    /// get 425 Too Early).
    #[arg(long = "0rtt")]
    zero_rtt: bool,
    /// QUIC: the server initiates a key update every N packets it sends.
    #[arg(long)]
    key_update_every: Option<u64>,
    /// QUIC: do not follow clients that change address (migration, NAT rebinding).
    #[arg(long)]
    no_migration: bool,
    /// QUIC: offer only the TLS_CHACHA20_POLY1305_SHA256 cipher suite.
    #[arg(long)]
    chacha20_only: bool,
    /// QUIC congestion controller: cubic, newreno, bbr.
    #[arg(long, default_value = "cubic")]
    cc: String,
    /// QUIC initial congestion window (default: the controller's, 12,000
    /// bytes for cubic and newreno: 10 datagrams of 1,200; RFC 9002 allows
    /// up to 14,720).
    #[arg(long, value_parser = bytes_arg)]
    initial_window: Option<u64>,
    /// QUIC: send keep-alive PINGs this often.
    #[arg(long, value_parser = duration_arg)]
    keep_alive: Option<Duration>,
    /// QUIC initial RTT estimate (default 333 ms).
    #[arg(long, value_parser = duration_arg)]
    initial_rtt: Option<Duration>,
    /// QUIC: no path MTU discovery (stay at 1200-byte datagrams).
    #[arg(long)]
    no_mtu_discovery: bool,
    /// QUIC: do not offer ALPN hq-interop (HTTP/0.9) beside h3.
    #[arg(long)]
    no_hq_interop: bool,
}

#[derive(Args)]
struct CompareArgs {
    /// push-order, fill-window, preemption, repeat-visit, push-vs-hints
    /// (default with --quick: a small sampler of all the machinery).
    #[arg(long)]
    preset: Option<String>,
    /// A small version: one run, fewer variants (under two minutes).
    #[arg(long)]
    quick: bool,
    /// Runs per configuration (default: the preset's).
    #[arg(long)]
    runs: Option<usize>,
    /// Where to write table.md, runs.csv, runs.json and the SVG plots
    /// (default: results/compare-PRESET).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Draw the waterfall of the median run of the configuration whose
    /// label contains this (e.g. "h2 /index.html push-all").
    #[arg(long)]
    waterfall: Option<String>,
    /// Script run time per KB in the emulated browser (ms).
    #[arg(long, default_value_t = 1.0)]
    cpu_ms_per_kb: f64,
    /// Seed of the links' loss generators.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Instead of a preset, a matrix of your own: a push policy (repeat the
    /// flag; `serve --push-policy` names, `list:/a.js,/b.js` too; default
    /// all six).
    #[arg(long = "policy")]
    policies: Vec<String>,
    /// Matrix: link profiles, comma-separated (default 3g).
    #[arg(long = "profiles", value_delimiter = ',')]
    profiles: Vec<String>,
    /// Matrix: cold, warm or both, comma-separated (default cold).
    #[arg(long = "cache", value_delimiter = ',')]
    caches: Vec<String>,
    /// Matrix: h2, h3 or both, comma-separated (default both).
    #[arg(long = "protocols", value_delimiter = ',')]
    protocols: Vec<String>,
    /// Matrix: pages to load, comma-separated (default /index.html).
    #[arg(long = "pages", value_delimiter = ',')]
    pages: Vec<String>,
    /// Matrix: serve this site directory (with its site.toml) instead of
    /// the demo site.
    #[arg(long)]
    site: Option<PathBuf>,
    /// The servers' QUIC initial RTT estimate (quinn's default: 333 ms),
    /// to study its effect on long-RTT links.
    #[arg(long, value_parser = duration_arg)]
    initial_rtt: Option<Duration>,
    /// The servers' QUIC initial congestion window, e.g. 14720 (quinn's
    /// default is 12,000 bytes: 10 datagrams of 1,200; Linux TCP's is 10
    /// segments, 14,480 bytes on these links).
    #[arg(long, value_parser = bytes_arg)]
    initial_window: Option<u64>,
    /// List the presets and exit.
    #[arg(long)]
    list: bool,
}

#[derive(Args)]
struct LoadArgs {
    /// The page, https://host:port/path.
    url: String,
    /// Use HTTP/2 (over TLS/TCP) instead of HTTP/3.
    #[arg(long)]
    http2: bool,
    /// Accept server push.
    #[arg(long)]
    push: bool,
    /// Load twice on fresh connections and report the second (warm cache).
    #[arg(long)]
    warm: bool,
    /// Accept any certificate.
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Trust this CA (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Script run time per KB (ms).
    #[arg(long, default_value_t = 1.0)]
    cpu_ms_per_kb: f64,
    /// Give up after this long.
    #[arg(long, default_value = "60s", value_parser = duration_arg)]
    timeout: Duration,
    /// Print the whole record as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct NetemArgs {
    /// Start from a named profile (interop, 2g, 3g, lte, cable); the other
    /// options override it. Without one: interop (15 ms, 10 Mbit/s, 25 pkt).
    #[arg(long)]
    profile: Option<String>,
    /// One-way delay, each direction (e.g. 40ms).
    #[arg(long)]
    delay: Option<String>,
    /// Rate, each direction, in bits per second (e.g. 1.6mbit, 500kbit;
    /// "mbps" also means megabits here, unlike in tc), or "unlimited".
    #[arg(long)]
    rate: Option<String>,
    /// Drop-tail bottleneck queue: packets (100pkt), bytes (64KiB) or unlimited.
    #[arg(long)]
    queue: Option<String>,
    /// Random loss, each direction (e.g. 1%).
    #[arg(long)]
    loss: Option<String>,
    /// Mean length of loss bursts in packets (Gilbert model; 1 = independent).
    #[arg(long, default_value_t = 1.0)]
    loss_burst: f64,
    /// Client-to-server overrides.
    #[arg(long)]
    up_delay: Option<String>,
    #[arg(long)]
    up_rate: Option<String>,
    #[arg(long)]
    up_queue: Option<String>,
    #[arg(long)]
    up_loss: Option<String>,
    /// Server-to-client overrides.
    #[arg(long)]
    down_delay: Option<String>,
    #[arg(long)]
    down_rate: Option<String>,
    #[arg(long)]
    down_queue: Option<String>,
    #[arg(long)]
    down_loss: Option<String>,
    /// Give the server side its own namespace (default: the root namespace
    /// is the server side, as with mm-link).
    #[arg(long)]
    server_ns: bool,
    /// A shell command to run on the server side first (e.g.
    /// 'pushlab serve --addr $PUSHLAB_NETEM_SERVER:4433'); stopped at the end.
    #[arg(long)]
    serve: Option<String>,
    /// Wait until this TCP port on the server side accepts connections
    /// (from the client side, through the link) before running COMMAND.
    #[arg(long)]
    ready_port: Option<u16>,
    /// Seed of the loss generators.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the relay's counters here as JSON at the end.
    #[arg(long)]
    stats_json: Option<PathBuf>,
    /// List the profiles and exit.
    #[arg(long)]
    list_profiles: bool,
    /// The command to run in the client namespace (default: $SHELL).
    #[arg(last = true)]
    command: Vec<String>,
}

impl NetemArgs {
    /// Both directions' parameters, all parsed before anything is created.
    fn specs(&self) -> Result<(pushlab::netem::LinkSpec, pushlab::netem::LinkSpec)> {
        use pushlab::netem::{parse_loss, parse_queue, profile, Loss};
        let base = profile(self.profile.as_deref().unwrap_or("interop"))?;
        let apply = |mut spec: pushlab::netem::LinkSpec,
                     delay: &Option<String>,
                     rate: &Option<String>,
                     queue: &Option<String>,
                     loss: &Option<String>|
         -> Result<pushlab::netem::LinkSpec> {
            if let Some(d) = delay.as_ref().or(self.delay.as_ref()) {
                spec.delay = parse_duration(d).map_err(|e| anyhow!("--delay: {e}"))?;
            }
            if let Some(r) = rate.as_ref().or(self.rate.as_ref()) {
                spec.rate = if matches!(r.as_str(), "unlimited" | "inf" | "none") {
                    None
                } else {
                    Some(pushlab::units::parse_rate(r).map_err(|e| anyhow!("--rate: {e}"))?)
                };
            }
            if let Some(q) = queue.as_ref().or(self.queue.as_ref()) {
                spec.queue = parse_queue(q)?;
            }
            if let Some(l) = loss.as_ref().or(self.loss.as_ref()) {
                if !(self.loss_burst.is_finite() && self.loss_burst >= 1.0) {
                    bail!("--loss-burst must be at least 1 (packets)");
                }
                spec.loss = Loss::with_rate(parse_loss(l)?, self.loss_burst);
            }
            pushlab::netem::validate(&spec)?;
            Ok(spec)
        };
        let up = apply(
            base.up,
            &self.up_delay,
            &self.up_rate,
            &self.up_queue,
            &self.up_loss,
        )?;
        let down = apply(
            base.down,
            &self.down_delay,
            &self.down_rate,
            &self.down_queue,
            &self.down_loss,
        )?;
        Ok((up, down))
    }
}

#[derive(Args)]
struct GetArgs {
    /// URLs (https://host:port/path), all on one connection.
    #[arg(required = true)]
    urls: Vec<String>,
    /// Accept any server certificate.
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Trust this CA certificate (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Save the body of the (first) response here.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// Fetch every URL this many times.
    #[arg(short = 'n', long, default_value_t = 1)]
    repeat: u32,
    /// Send this `priority` header, e.g. "u=1, i".
    #[arg(long)]
    priority: Option<String>,
    /// Extra request header fields, "name: value".
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Send HEAD instead of GET.
    #[arg(long)]
    head: bool,
    /// Speak HTTP/2 over TLS on TCP instead of HTTP/3.
    #[arg(long)]
    http2: bool,
    /// Fetch one after another instead of concurrently.
    #[arg(long)]
    sequential: bool,
    /// Allow pushes: send MAX_PUSH_ID with this value (HTTP/3), or enable
    /// push (HTTP/2, any value).
    #[arg(long)]
    accept_push: Option<u64>,
    /// Cancel promised pushes whose path contains this.
    #[arg(long)]
    cancel_push: Option<String>,
    /// Save pushed bodies into this directory.
    #[arg(long)]
    save_pushes: Option<PathBuf>,
    /// Wait this long for promised pushes after the responses.
    #[arg(long, default_value = "2s", value_parser = duration_arg)]
    push_wait: Duration,
    /// Connection receive window (slows a transfer down).
    #[arg(long, value_parser = bytes_arg)]
    recv_window: Option<u64>,
    /// Per-stream receive window.
    #[arg(long, value_parser = bytes_arg)]
    stream_recv_window: Option<u64>,
    /// Print header fields.
    #[arg(short = 'i', long)]
    include: bool,
    /// Print one JSON report instead of text.
    #[arg(long)]
    json: bool,
    /// Overall timeout.
    #[arg(long, default_value = "30s", value_parser = duration_arg)]
    timeout: Duration,
    /// ALPN: h3 (default) or hq-interop (HTTP/0.9 over QUIC, one stream per URL).
    #[arg(long, default_value = "h3")]
    alpn: String,
    /// HTTP/3: connect once first (fetching the first URL), then make the
    /// reported connection resume that session.
    #[arg(long)]
    resume: bool,
    /// HTTP/3: like --resume, and send the requests in 0-RTT early data.
    #[arg(long = "0rtt")]
    zero_rtt: bool,
    /// HTTP/3: initiate a TLS key update during the transfer (after --mid).
    #[arg(long)]
    key_update: bool,
    /// HTTP/3: move to a new local UDP port during the transfer (after --mid).
    #[arg(long)]
    rebind: bool,
    /// When --key-update and --rebind act, after the requests were sent.
    #[arg(long, default_value = "50ms", value_parser = duration_arg)]
    mid: Duration,
    /// HTTP/3: offer only TLS_CHACHA20_POLY1305_SHA256.
    #[arg(long)]
    chacha20: bool,
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
    init_logging(if matches!(cli.cmd, Cmd::Compare(_)) {
        "warn"
    } else {
        "info"
    });
    if let Cmd::Compare(a) = &cli.cmd {
        // Its servers run in this process: their per-request lines would
        // bury the progress bar (RUST_LOG still wins).
        // It owns its runtimes and threads (some inside namespaces).
        return compare(a);
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
            Cmd::Serve(a) => serve(a).await,
            Cmd::Get(a) => get(a).await,
            Cmd::Bench(a) => bench(a).await,
            Cmd::Load(a) => load(a).await,
            Cmd::Compare(_) => unreachable!("handled before the runtime starts"),
            Cmd::Netem(a) => {
                let code = netem(a).await?;
                // Everything is torn down by now.
                std::process::exit(code)
            }
            Cmd::Site {
                cmd: SiteCmd::Graph { dir },
            } => {
                let site = match &dir {
                    Some(d) => {
                        Site::load(d).with_context(|| format!("loading site {}", d.display()))?
                    }
                    None => Site::demo(),
                };
                println!("site: {} ({} files)\n", site.name, site.len());
                print!("{}", site.graph().render(&site));
                Ok(())
            }
        }
    })
}

fn h3_options(a: &ServeArgs) -> Result<ServeOptions> {
    let site = match &a.site {
        Some(dir) => Site::load(dir).with_context(|| format!("loading site {}", dir.display()))?,
        None => Site::demo(),
    };
    let mode = if a.scheduler == "off" {
        SchedulerMode::Off
    } else {
        let policy: Policy = a
            .scheduler
            .parse()
            .map_err(|e| anyhow!("--scheduler: {e} (or off)"))?;
        SchedulerMode::Queue(SendConfig {
            policy,
            quantum: a.quantum as usize,
            lowat: a.lowat,
            stream_buffer: a.stream_buffer as usize,
            quinn_priorities: !a.no_quinn_priorities,
            ..SendConfig::default()
        })
    };
    let policy = pushlab::push::policy_by_name(&a.push_policy).ok_or_else(|| {
        anyhow!(
            "--push-policy {:?}: expected one of {}, or list:/path,/path",
            a.push_policy,
            pushlab::push::POLICY_NAMES.join(", ")
        )
    })?;
    let quic = pushlab::config::QuicOptions {
        retry: a.retry,
        retry_port: a.retry_port,
        resumption: !a.no_resumption,
        zero_rtt: a.zero_rtt,
        key_update_every: a.key_update_every,
        migration: !a.no_migration,
        chacha20_only: a.chacha20_only,
        congestion: a.cc.parse().map_err(|e: String| anyhow!("--cc: {e}"))?,
        initial_window: a.initial_window,
        keep_alive: a.keep_alive,
        initial_rtt: a.initial_rtt,
        mtu_discovery: !a.no_mtu_discovery,
        hq_interop: !a.no_hq_interop,
        retry_token_lifetime: None,
    };
    let opts = ServeOptions {
        quic,
        site: Arc::new(site),
        mode,
        max_field_section_size: a.max_field_section_size,
        body_chunk: a.body_chunk as usize,
        stall_timeout: a.stall_timeout,
        max_concurrent_bidi: a.max_streams,
        qlog_dir: a.qlog_dir.clone(),
        idle_timeout: a.idle_timeout,
        shutdown_timeout: a.shutdown_timeout,
        policy,
        ..ServeOptions::default()
    };
    opts.validate()?;
    Ok(opts)
}

async fn serve(a: ServeArgs) -> Result<()> {
    let h3 = h3_options(&a)?;
    let server_quic = h3.quic.clone();
    if let Some(dir) = &a.qlog_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let identity = match (&a.cert, &a.key) {
        (Some(c), Some(k)) => Identity::from_pem(c, k)?,
        _ => Identity::self_signed()?,
    };
    if let Some(p) = &a.write_cert {
        std::fs::write(p, &identity.cert_pem)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let site_name = h3.site.name.clone();
    let files = h3.site.len();
    let sched = match &h3.mode {
        SchedulerMode::Off => "off (h3-quinn, no queue)".to_string(),
        SchedulerMode::Queue(c) => {
            format!("{} (quantum {}, lowat {})", c.policy, c.quantum, c.lowat)
        }
    };
    let server = RunningServer::start(ServerOptions {
        addr: a.addr,
        identity,
        serve: h3,
        h3: !a.no_h3,
        h2: !a.no_h2,
        tcp_notsent_lowat: a
            .tcp_notsent_lowat
            .map(|v| u32::try_from(v).map_err(|_| anyhow!("--tcp-notsent-lowat: at most 4 GiB")))
            .transpose()?,
    })
    .await?;
    let port = server.addr.port();
    let host = match server.addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    println!(
        "pushlab {} serving {site_name} ({files} files) on https://{host}:{port}/ over {}",
        env!("CARGO_PKG_VERSION"),
        match server.protocols {
            (true, true) => "HTTP/3 (UDP) and HTTP/2 + HTTP/1.1 (TCP)",
            (true, false) => "HTTP/3 (UDP)",
            _ => "HTTP/2 + HTTP/1.1 (TCP)",
        }
    );
    println!("scheduler: {sched}; push policy: {}", a.push_policy);
    if let Some(r) = server.retry_addr {
        println!(
            "the same server with Retry always on: UDP port {}",
            r.port()
        );
    }
    let q = &server_quic;
    println!(
        "QUIC: retry {}, resumption {}, 0-RTT {}, migration {}, congestion {:?}{}{}",
        if q.retry { "always" } else { "off" },
        if q.resumption { "on" } else { "off" },
        if q.zero_rtt {
            "on (unsafe methods get 425)"
        } else {
            "off"
        },
        if q.migration { "on" } else { "off" },
        q.congestion,
        if q.chacha20_only {
            ", ChaCha20-Poly1305 only"
        } else {
            ""
        },
        if q.hq_interop {
            "; ALPN h3 and hq-interop"
        } else {
            "; ALPN h3"
        },
    );
    println!("certificate SPKI SHA-256 (base64): {}", server.spki_sha256);
    println!(
        "chromium --headless=new --no-sandbox --disable-gpu --disable-background-networking \\\n  --disable-component-update --disable-sync --no-first-run --user-data-dir=$(mktemp -d) \\\n  --enable-quic --origin-to-force-quic-on={host}:{port} \\\n  --ignore-certificate-errors-spki-list={} \\\n  https://{host}:{port}/",
        server.spki_sha256
    );
    println!("fetch with: pushlab get -k https://{host}:{port}/");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!(
        "shutting down: GOAWAY sent, waiting for in-flight responses (at most {:?})",
        a.shutdown_timeout
    );
    let stats = server.stats.clone();
    server.shutdown().await;
    let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "served {} requests ({} failed) on {} connections; {} Retries, {} requests in 0-RTT ({} refused with 425), {} key updates initiated, {} hq-interop connections",
        n(&stats.requests),
        n(&stats.failed),
        n(&stats.connections),
        n(&stats.retries),
        n(&stats.early_requests),
        n(&stats.too_early),
        n(&stats.key_updates),
        n(&stats.hq_connections)
    );
    Ok(())
}

fn print_response(r: &Response, include: bool) {
    for i in &r.informational {
        println!("<- {} (informational) at {:.1} ms", i.status, i.at_ms);
        if include {
            for (n, v) in &i.headers {
                println!("   {n}: {v}");
            }
        }
    }
    match &r.error {
        Some(e) => println!("{} -> error: {e}", r.path),
        None => println!(
            "{} -> {} {} in {:.1} ms (headers {:.1} ms) stream {} sha256 {}",
            r.path,
            r.status,
            fmt_bytes(r.body_len),
            r.done_ms.unwrap_or(0.0),
            r.headers_ms.unwrap_or(0.0),
            r.stream_id,
            &r.sha256.get(..16).unwrap_or("")
        ),
    }
    if include {
        for (n, v) in &r.headers {
            println!("   {n}: {v}");
        }
    }
}

async fn get(a: GetArgs) -> Result<()> {
    let (host, port, _) = parse_url(&a.urls[0])?;
    let mut paths = Vec::new();
    for u in &a.urls {
        let (h, p, path) = parse_url(u)?;
        if h != host || p != port {
            bail!("all URLs must share one origin ({host}:{port}); {u} does not");
        }
        paths.push(path);
    }
    let keep = a.output.is_some() || a.save_pushes.is_some();
    let opts = ClientOptions {
        insecure: a.insecure,
        ca: a.ca.clone(),
        max_push_id: a.accept_push,
        keep_bodies: keep,
        receive_window: a.recv_window,
        stream_receive_window: a.stream_recv_window,
        timeout: a.timeout,
        cancel_push: a.cancel_push.clone(),
        ..ClientOptions::default()
    };
    let mut extra: Vec<(String, String)> = Vec::new();
    if let Some(p) = &a.priority {
        extra.push(("priority".into(), p.clone()));
    }
    for h in &a.headers {
        let (n, v) = h
            .split_once(':')
            .ok_or_else(|| anyhow!("-H {h:?}: expected \"name: value\""))?;
        extra.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let method = if a.head { "HEAD" } else { "GET" };
    let proto = if a.http2 { Proto::H2 } else { Proto::H3 };
    let quic_only = a.resume || a.zero_rtt || a.key_update || a.rebind || a.chacha20;
    if a.http2 && quic_only {
        bail!("--resume, --0rtt, --key-update, --rebind and --chacha20 are HTTP/3 (QUIC) options");
    }
    let mut opts = opts;
    opts.chacha20 = a.chacha20;
    match a.alpn.as_str() {
        "h3" => {}
        "hq-interop" => return get_hq(&a, &host, port, &paths, opts).await,
        other => bail!("--alpn {other:?}: h3 or hq-interop"),
    }
    if a.resume || a.zero_rtt {
        // A first connection to receive a session ticket.
        let session = pushlab::client::h3::session(&opts)?;
        opts.session = Some(session);
        let first = pushlab::client::h3::Client::connect(&host, port, opts.clone()).await?;
        let r = first
            .read_response(first.send_request("GET", &paths[0], &[]).await?)
            .await;
        // Give the server's NewSessionTicket time to arrive.
        tokio::time::sleep(Duration::from_millis(50)).await;
        first.close().await;
        eprintln!(
            "first connection: handshake {:.1} ms, {} {}",
            first_ms(&r),
            paths[0],
            r.status
        );
        opts.zero_rtt = a.zero_rtt;
    }
    let work = async {
        let client = Arc::new(Conn::connect(proto, &host, port, opts).await?);
        if let Conn::H3(c) = &*client {
            if a.key_update || a.rebind {
                let c2 = client.clone();
                let (ku, rb, mid) = (a.key_update, a.rebind, a.mid);
                tokio::spawn(async move {
                    tokio::time::sleep(mid).await;
                    if let Conn::H3(c) = &*c2 {
                        if ku {
                            c.force_key_update();
                            eprintln!("key update initiated at {:.1} ms", c.elapsed_ms());
                        }
                        if rb {
                            match c.rebind() {
                                Ok(addr) => {
                                    eprintln!("moved to local {addr} at {:.1} ms", c.elapsed_ms())
                                }
                                Err(e) => eprintln!("rebind failed: {e}"),
                            }
                        }
                    }
                });
            }
            let _ = c;
        }
        let mut responses = Vec::new();
        let all: Vec<String> = (0..a.repeat).flat_map(|_| paths.clone()).collect();
        if a.sequential {
            for p in &all {
                let pending = client.send_request(method, p, &extra).await?;
                responses.push(client.read_response(pending).await);
            }
        } else {
            let mut tasks = Vec::new();
            for p in &all {
                let pending = client.send_request(method, p, &extra).await?;
                let c = client.clone();
                tasks.push(tokio::spawn(async move { c.read_response(pending).await }));
            }
            for t in tasks {
                responses.push(t.await?);
            }
        }
        if a.accept_push.is_some() {
            client.wait_pushes(a.push_wait).await;
        }
        anyhow::Ok((client, responses))
    };
    let (client, responses) = tokio::time::timeout(a.timeout, work)
        .await
        .map_err(|_| anyhow!("timed out after {:?}", a.timeout))??;
    let zero_rtt = match &*client {
        Conn::H3(c) if a.zero_rtt => c.zero_rtt_accepted().await,
        _ => None,
    };
    if a.zero_rtt {
        eprintln!(
            "0-RTT: {}",
            match zero_rtt {
                Some(true) => "accepted",
                Some(false) => "rejected (the requests were lost; retry without --0rtt)",
                None => "not attempted (no session ticket)",
            }
        );
    }
    let pushes = client.pushes();
    if let Some(out) = &a.output {
        if let Some(body) = responses.first().and_then(|r| r.body.as_ref()) {
            std::fs::write(out, body).with_context(|| format!("writing {}", out.display()))?;
        }
    }
    if let Some(dir) = &a.save_pushes {
        std::fs::create_dir_all(dir)?;
        for p in &pushes {
            if let Some(body) = &p.body {
                let name = p
                    .path
                    .rsplit('/')
                    .next()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("index.html");
                let name: String = name
                    .chars()
                    .map(|c| {
                        if c.is_alphanumeric() || ".-_".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                std::fs::write(dir.join(format!("push-{}-{name}", p.push_id)), body)?;
            }
        }
    }
    let failed = responses
        .iter()
        .filter(|r| r.error.is_some() || r.status == 0)
        .count();
    if a.json {
        let report = serde_json::json!({
            "protocol": proto,
            "zero_rtt_accepted": zero_rtt,
            "handshake_ms": client.handshake().as_secs_f64() * 1e3,
            "responses": responses,
            "pushes": pushes,
            "server_settings": match &*client { Conn::H3(c) => c.server_settings(), Conn::H2(_) => Vec::new() },
            "goaway": match &*client { Conn::H3(c) => c.goaway(), Conn::H2(_) => None },
            "error": match &*client { Conn::H3(c) => c.error(), Conn::H2(_) => None },
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "connected over {} in {:.1} ms",
            if a.http2 { "HTTP/2" } else { "HTTP/3" },
            client.handshake().as_secs_f64() * 1e3
        );
        for r in &responses {
            print_response(r, a.include);
        }
        for p in &pushes {
            let state = if p.cancelled {
                "cancelled".to_string()
            } else if p.complete {
                format!("{} {}", p.status, fmt_bytes(p.body_len))
            } else {
                p.error.clone().unwrap_or_else(|| "incomplete".into())
            };
            println!(
                "push {} {} -> {state} (promised at {:.1} ms on stream {}, done at {:.1} ms)",
                p.push_id,
                p.path,
                p.promised_ms.unwrap_or(0.0),
                p.promised_on
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "?".into()),
                p.done_ms.unwrap_or(0.0)
            );
        }
    }
    if let Ok(c) = Arc::try_unwrap(client) {
        c.close().await;
    }
    if failed > 0 {
        bail!("{failed} of {} requests failed", responses.len());
    }
    Ok(())
}

fn first_ms(r: &pushlab::client::Response) -> f64 {
    r.headers_ms.unwrap_or(0.0)
}

/// `pushlab get --alpn hq-interop`.
async fn get_hq(
    a: &GetArgs,
    host: &str,
    port: u16,
    paths: &[String],
    mut opts: ClientOptions,
) -> Result<()> {
    if a.http2 || a.head || a.accept_push.is_some() {
        bail!("--alpn hq-interop is HTTP/0.9: no --http2, --head or pushes");
    }
    opts.keep_bodies = a.output.is_some();
    let all: Vec<String> = (0..a.repeat).flat_map(|_| paths.to_vec()).collect();
    let (handshake, responses) = tokio::time::timeout(
        a.timeout,
        pushlab::client::hq::fetch(host, port, &all, opts),
    )
    .await
    .map_err(|_| anyhow!("timed out after {:?}", a.timeout))??;
    if let (Some(out), Some(body)) = (&a.output, responses.first().and_then(|r| r.body.as_ref())) {
        std::fs::write(out, body).with_context(|| format!("writing {}", out.display()))?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "protocol": "hq-interop",
                "handshake_ms": handshake.as_secs_f64() * 1e3,
                "responses": responses,
            }))?
        );
    } else {
        println!(
            "connected over hq-interop in {:.1} ms",
            handshake.as_secs_f64() * 1e3
        );
        for r in &responses {
            match &r.error {
                None => println!(
                    "{} -> {} in {:.1} ms sha256 {}",
                    r.path,
                    fmt_bytes(r.len),
                    r.ms,
                    &r.sha256[..16]
                ),
                Some(e) => println!("{} -> failed: {e}", r.path),
            }
        }
    }
    let failed = responses.iter().filter(|r| r.error.is_some()).count();
    if failed > 0 {
        bail!("{failed} of {} requests failed", responses.len());
    }
    Ok(())
}

/// `pushlab compare`.
fn compare(a: &CompareArgs) -> Result<()> {
    use pushlab::compare;
    if a.list {
        for name in compare::PRESETS {
            let p = compare::preset(name, false)?;
            println!("{name:14} {}", p.about);
        }
        return Ok(());
    }
    let custom = !(a.policies.is_empty()
        && a.profiles.is_empty()
        && a.caches.is_empty()
        && a.protocols.is_empty()
        && a.pages.is_empty()
        && a.site.is_none());
    let preset = match (&a.preset, a.quick, custom) {
        (Some(_), _, true) | (None, true, true) => bail!(
            "--policy, --profiles, --cache, --protocols, --pages and --site make a matrix of \
             their own: give them without --preset and --quick"
        ),
        (Some(p), _, false) => p.clone(),
        (None, true, false) => "quick".to_string(),
        (None, false, true) => "matrix".to_string(),
        (None, false, false) => bail!(
            "--preset NAME (one of {}), --quick, or a matrix (--policy, --profiles, --cache, \
             --protocols, --pages, --site)",
            compare::PRESETS.join(", ")
        ),
    };
    let matrix = if custom {
        let mut protocols = Vec::new();
        for p in &a.protocols {
            protocols.push(match p.as_str() {
                "h2" => pushlab::client::Proto::H2,
                "h3" => pushlab::client::Proto::H3,
                other => bail!("--protocols: {other:?} is neither h2 nor h3"),
            });
        }
        let mut caches = Vec::new();
        for c in &a.caches {
            caches.push(match c.as_str() {
                "cold" => compare::CacheState::Cold,
                "warm" => compare::CacheState::Warm,
                other => bail!("--cache: {other:?} is neither cold nor warm"),
            });
        }
        let m = compare::Matrix {
            site_dir: a.site.clone(),
            pages: a.pages.clone(),
            policies: a.policies.clone(),
            profiles: a.profiles.clone(),
            protocols,
            caches,
        };
        // Every name checked before anything starts.
        compare::matrix(&m)?;
        Some(m)
    } else {
        None
    };
    if !(a.cpu_ms_per_kb.is_finite() && a.cpu_ms_per_kb >= 0.0) {
        bail!("--cpu-ms-per-kb must be a non-negative number");
    }
    if a.runs == Some(0) {
        bail!("--runs must be at least 1");
    }
    // The servers' options are checked by the one validator they share.
    pushlab::config::QuicOptions {
        initial_window: a.initial_window,
        ..Default::default()
    }
    .validate()?;
    let opts = compare::CompareOptions {
        out_dir: a
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("results/compare-{preset}"))),
        preset,
        runs: a.runs,
        quick: a.quick,
        cpu: pushlab::browser::Cpu {
            script_ms_per_kb: a.cpu_ms_per_kb,
            ..pushlab::browser::Cpu::default()
        },
        seed: a.seed,
        waterfall: a.waterfall.clone(),
        progress: true,
        initial_rtt: a.initial_rtt,
        initial_window: a.initial_window,
        matrix,
    };
    let started = std::time::Instant::now();
    let report = compare::run(&opts)?;
    println!(
        "pushlab {} on {}, pushlab {} ({} runs per configuration, {:.0} s)\n",
        std::env::args()
            .skip(1)
            .map(|s| if s.contains([' ', ';', '*']) {
                format!("'{s}'")
            } else {
                s
            })
            .collect::<Vec<_>>()
            .join(" "),
        report.machine,
        report.version,
        report.runs_per_config,
        started.elapsed().as_secs_f64()
    );
    println!("{}\n", report.about);
    print!("{}", compare::table(&report));
    let files = compare::write(&report, &opts)?;
    println!();
    for f in files {
        println!("wrote {}", f.display());
    }
    let failed: usize = report.rows.iter().map(|r| r.failed).sum();
    if failed > 0 {
        bail!("{failed} page loads failed (see runs.csv)");
    }
    Ok(())
}

/// `pushlab load`: one emulated-browser page load.
async fn load(a: LoadArgs) -> Result<()> {
    use pushlab::browser::{load_page, Cpu, HttpCache, LoadOptions};
    let opts = LoadOptions {
        url: a.url.clone(),
        proto: if a.http2 {
            pushlab::client::Proto::H2
        } else {
            pushlab::client::Proto::H3
        },
        accept_push: a.push,
        cpu: Cpu {
            script_ms_per_kb: a.cpu_ms_per_kb,
            ..Cpu::default()
        },
        timeout: a.timeout,
        client: pushlab::client::ClientOptions {
            insecure: a.insecure,
            ca: a.ca.clone(),
            ..Default::default()
        },
    };
    let mut cache = HttpCache::new();
    if a.warm {
        let (first, c) = load_page(&opts, cache).await;
        if let Some(e) = first.error {
            bail!("first (cold) visit: {e}");
        }
        cache = c;
    }
    let (page, _) = load_page(&opts, cache).await;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&page)?);
    } else {
        let s = &page.summary;
        let t = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
        println!(
            "{} over {:?}: handshake {:.1} ms; render-ready {} ms; load {} ms; {} received, {} wasted; pushes used {} / wasted {}; {} from cache",
            page.url,
            page.protocol,
            page.handshake_ms,
            t(s.render_ready_ms),
            t(s.load_ms),
            fmt_bytes(s.bytes_received),
            fmt_bytes(s.bytes_wasted),
            s.pushes_used,
            s.pushes_wasted,
            s.cached
        );
        println!(
            "{:<28} {:<11} {:<7} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "resource", "source", "prio", "found", "asked", "1st byte", "done", "bytes"
        );
        for r in &s.resources {
            println!(
                "{:<28} {:<11} {:<7} {:>9.1} {:>9} {:>9} {:>9} {:>9}",
                r.path,
                format!("{:?}", r.source),
                r.priority,
                r.discovered_ms,
                t(r.requested_ms),
                t(r.first_byte_ms),
                t(r.done_ms),
                r.bytes
            );
        }
    }
    if let Some(e) = &page.error {
        bail!("{e}");
    }
    Ok(())
}

/// `pushlab netem`: the emulated link around a command. Returns its exit
/// code (128 + signal if it was killed).
async fn netem(a: NetemArgs) -> Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    use tokio::signal::unix::{signal, SignalKind};
    if a.list_profiles {
        for p in pushlab::netem::profiles() {
            println!("{:8} {}", p.name, p.about);
            println!("         up:   {}", p.up);
            println!("         down: {}", p.down);
        }
        return Ok(0);
    }
    let (up, down) = a.specs()?;
    let emu = pushlab::netem::Emulator::start(pushlab::netem::EmulatorOptions {
        up,
        down,
        server_ns: a.server_ns,
        seed: a.seed,
    })?;
    eprintln!(
        "netem: client {} (own namespace) <-> server {} ({})",
        emu.client_addr,
        emu.server_addr,
        if a.server_ns {
            "own namespace".to_string()
        } else {
            format!(
                "root namespace, device {}",
                emu.root_device.as_deref().unwrap_or("?")
            )
        }
    );
    eprintln!("netem: up   {up}\nnetem: down {down}");
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let terminate = |child: &tokio::process::Child| {
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    };
    let mut server = match &a.serve {
        Some(cmd) => {
            let mut c = emu.server_command("sh", true);
            c.args(["-c", cmd]);
            Some(
                tokio::process::Command::from(c)
                    .kill_on_drop(true)
                    .spawn()
                    .context("starting the --serve command")?,
            )
        }
        None => None,
    };
    if let Some(port) = a.ready_port {
        let addr = std::net::SocketAddr::from((emu.server_addr, port));
        let ready = emu
            .in_client(move || {
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while std::time::Instant::now() < deadline {
                    if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok() {
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                false
            })?
            .join()
            .unwrap_or(false);
        if !ready {
            if let Some(s) = &server {
                terminate(s);
            }
            bail!("nothing accepted connections on {addr} within 30 s");
        }
    }
    let (program, args) = match a.command.split_first() {
        Some((p, rest)) => (p.clone(), rest.to_vec()),
        None => (
            std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()),
            Vec::new(),
        ),
    };
    let mut c = emu.client_command(&program, true);
    c.args(&args);
    let mut child = tokio::process::Command::from(c)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let status = tokio::select! {
        s = child.wait() => s?,
        _ = sigint.recv() => {
            terminate(&child);
            tokio::time::timeout(Duration::from_secs(5), child.wait()).await.ok().transpose()?
                .unwrap_or_else(|| std::process::ExitStatus::from_raw(130 << 8))
        }
        _ = sigterm.recv() => {
            terminate(&child);
            tokio::time::timeout(Duration::from_secs(5), child.wait()).await.ok().transpose()?
                .unwrap_or_else(|| std::process::ExitStatus::from_raw(143 << 8))
        }
    };
    let _ = child.kill().await;
    if let Some(s) = server.as_mut() {
        terminate(s);
        if tokio::time::timeout(Duration::from_secs(3), s.wait())
            .await
            .is_err()
        {
            let _ = s.kill().await;
        }
    }
    let counters = emu.stop();
    for (name, d) in [("up", counters.up), ("down", counters.down)] {
        eprintln!(
            "netem: {name:4} {} packets ({}) in, {} out; {} queue drops, {} random drops; peak queue {} packets / {}",
            d.packets_in,
            fmt_bytes(d.bytes_in),
            d.packets_out,
            d.queue_drops,
            d.random_drops,
            d.peak_queue_packets,
            fmt_bytes(d.peak_queue_bytes)
        );
    }
    if let Some(p) = &a.stats_json {
        let v = serde_json::json!({ "up": up, "down": down, "counters": counters });
        std::fs::write(p, serde_json::to_string_pretty(&v)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

async fn bench(a: BenchArgs) -> Result<()> {
    if !matches!(a.which.as_str(), "h3" | "push" | "h2" | "netem") {
        bail!(
            "unknown benchmark {:?} (expected h3, push, h2 or netem)",
            a.which
        );
    }
    let exe = std::env::current_exe().context("locating the pushlab binary")?;
    let opts = pushlab::bench::BenchOptions {
        exe,
        quick: a.quick,
        runs: a.runs,
        log_dir: a.log_dir.clone(),
    };
    let started = std::time::Instant::now();
    let rows = match a.which.as_str() {
        "h3" => pushlab::bench::run_h3(&opts).await?,
        "h2" => pushlab::bench::h2::run_h2(&opts).await?,
        "netem" => {
            let o = opts.clone();
            tokio::task::spawn_blocking(move || pushlab::bench::netem::run_netem(&o)).await??
        }
        _ => pushlab::bench::run_push(&opts).await?,
    };
    println!(
        "pushlab {} bench {}{} on {} ({} runs per row, {:.0} s)",
        env!("CARGO_PKG_VERSION"),
        a.which,
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
    Ok(())
}
