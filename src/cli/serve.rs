//! `pushlab serve`: the server on the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::{Args, ValueEnum};
use pushlab::config::{Congestion, QuicOptions, SchedulerMode, ServeOptions};
use pushlab::sched::inflight::InflightMode;
use pushlab::sched::Policy;
use pushlab::sendq::SendConfig;
use pushlab::server::{RunningServer, ServerOptions};
use pushlab::site::Site;
use pushlab::tls::Identity;

use super::{bytes_arg, duration_arg, OnOff};

/// `--scheduler`: the send queue's policy, or no queue at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scheduler {
    /// RFC 9218 section 10: urgency, then incremental round-robin.
    Rfc9218,
    /// Request order, one response at a time, priorities ignored.
    Fifo,
    /// One quantum per stream per turn, priorities ignored.
    RoundRobin,
    /// Plain h3-quinn, no user-space queue.
    Off,
}

impl Scheduler {
    /// The queue's policy; `None` for no queue.
    fn policy(self) -> Option<Policy> {
        match self {
            Scheduler::Rfc9218 => Some(Policy::Rfc9218),
            Scheduler::Fifo => Some(Policy::Fifo),
            Scheduler::RoundRobin => Some(Policy::RoundRobin),
            Scheduler::Off => None,
        }
    }
}

#[derive(Args, Clone)]
pub struct ServeArgs {
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
    /// Send scheduling.
    #[arg(long, value_enum, default_value_t = Scheduler::Rfc9218)]
    scheduler: Scheduler,
    /// Bytes per scheduling decision.
    #[arg(long, default_value = "16KiB", value_parser = bytes_arg)]
    quantum: u64,
    /// Bytes quinn may hold beyond the congestion window (low-water mark).
    #[arg(long, default_value = "32KiB", value_parser = bytes_arg)]
    lowat: u64,
    /// In-flight control for preemptible bytes (pushes, and responses less
    /// urgent than another open response): while they are what goes next,
    /// quinn may hold only about one estimated bandwidth-delay product
    /// unacknowledged, so they do not fill the bottleneck queue ahead of a
    /// response that becomes ready. Urgent bytes always get the congestion
    /// window. See proto-notes/priorities.md.
    #[arg(long, value_enum, default_value_t = InflightMode::default())]
    inflight: InflightMode,
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
    /// TCP congestion control for HTTP/2 connections (bbr, cubic, reno, ...
    /// as the kernel offers; default: the kernel's,
    /// net.ipv4.tcp_congestion_control). QUIC's is --cc.
    #[arg(long)]
    tcp_cc: Option<String>,
    /// The largest TLS record on HTTP/2 and HTTP/1.1 connections, bytes
    /// (default: 16 KiB). 1400 puts each record in one TCP segment, so the
    /// client can decrypt a response's first bytes as they arrive.
    #[arg(long, value_parser = bytes_arg)]
    tls_max_record: Option<u64>,
    /// Kernel TCP pacing on HTTP/2 and HTTP/1.1 connections: the kernel
    /// spreads each window over the RTT (as the fq qdisc would), instead
    /// of sending it as fast as the window allows. BBR paces regardless.
    #[arg(long)]
    tcp_pacing: bool,
    /// quinn's pacer: on (default) or off. Off is an ablation for builds
    /// with the patched quinn-proto (patches/build-pacing-switch.sh).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    quic_pacing: OnOff,
    /// Whether the ACK-spacing estimator behind in-flight control drops
    /// ACK trains that cross a client's reading stall: off (default) or on
    /// (an ablation; on LTE it made Chromium's loads slower).
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    ack_stall_check: OnOff,
    /// Whether HTTP/3 responses carry `alt-svc: h3=":PORT"` as HTTP/2's do:
    /// on (default) or off. Without it, Chromium forced onto QUIC does not
    /// know the origin supports request priorities and holds low-priority
    /// requests as for an HTTP/1.1 host (at most 6 in flight).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    h3_alt_svc: OnOff,
    /// In-flight control for preemptible bytes on HTTP/2 (off by default):
    /// pushed bytes go to h2 only while the kernel's unacknowledged and
    /// unsent bytes stay within the in-flight limit (from TCP_INFO), and
    /// its unsent ones within a cushion of a few milliseconds of the link.
    /// See proto-notes/priorities.md.
    #[arg(long, value_enum, default_value_t = InflightMode::Off)]
    tcp_inflight: InflightMode,
    /// QUIC: validate every client address with a stateless Retry first.
    #[arg(long)]
    retry: bool,
    /// QUIC: also listen on this UDP port with Retry always on.
    #[arg(long)]
    retry_port: Option<u16>,
    /// QUIC: the UDP socket's receive and send buffers (SO_RCVBUF,
    /// SO_SNDBUF); 0 keeps the kernel's default. The kernel caps it at
    /// net.core.rmem_max/wmem_max; the startup line shows what it gave.
    #[arg(long, default_value = "4MiB", value_parser = bytes_arg)]
    udp_buffer: u64,
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
    /// QUIC congestion controller.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Congestion::Cubic)]
    cc: Congestion,
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
    /// QUIC: the UDP payload size to start with (default 1,200), e.g. 1472
    /// on a 1,500-byte path, the size of a full TCP segment.
    #[arg(long)]
    initial_mtu: Option<u16>,
    /// QUIC: do not offer ALPN hq-interop (HTTP/0.9) beside h3.
    #[arg(long)]
    no_hq_interop: bool,
    /// QUIC: advertise this address of the host as the server's preferred
    /// address (RFC 9000 §9.6; repeat for one IPv4 and one IPv6), on the
    /// server's port. Needs --addr 0.0.0.0:PORT or [::]:PORT, so that the
    /// one socket receives on it.
    #[arg(long, value_name = "IP")]
    preferred_address: Vec<std::net::IpAddr>,
}

fn h3_options(a: &ServeArgs) -> Result<ServeOptions> {
    let site = match &a.site {
        Some(dir) => Site::load(dir).with_context(|| format!("loading site {}", dir.display()))?,
        None => Site::demo(),
    };
    let mode = match a.scheduler.policy() {
        None => SchedulerMode::Off,
        Some(policy) => SchedulerMode::Queue(SendConfig {
            policy,
            quantum: a.quantum as usize,
            lowat: a.lowat,
            inflight: a.inflight,
            stream_buffer: a.stream_buffer as usize,
            quinn_priorities: !a.no_quinn_priorities,
            ..SendConfig::default()
        }),
    };
    let policy = pushlab::push::policy_by_name(&a.push_policy).ok_or_else(|| {
        anyhow!(
            "--push-policy {:?}: expected one of {}, or list:/path,/path",
            a.push_policy,
            pushlab::push::POLICY_NAMES.join(", ")
        )
    })?;
    let quic = QuicOptions {
        retry: a.retry,
        retry_port: a.retry_port,
        udp_buffer: usize::try_from(a.udp_buffer).unwrap_or(usize::MAX),
        resumption: !a.no_resumption,
        zero_rtt: a.zero_rtt,
        key_update_every: a.key_update_every,
        migration: !a.no_migration,
        chacha20_only: a.chacha20_only,
        congestion: a.cc,
        initial_window: a.initial_window,
        keep_alive: a.keep_alive,
        initial_rtt: a.initial_rtt,
        mtu_discovery: !a.no_mtu_discovery,
        initial_mtu: a.initial_mtu,
        hq_interop: !a.no_hq_interop,
        retry_token_lifetime: None,
        preferred_address: a.preferred_address.clone(),
        pacing: a.quic_pacing == OnOff::On,
        ack_stall_check: a.ack_stall_check == OnOff::On,
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

/// `pushlab serve`: runs until Ctrl-C.
pub async fn run(a: ServeArgs) -> Result<()> {
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
            format!(
                "{} (quantum {}, lowat {}, inflight {})",
                c.policy,
                c.quantum,
                c.lowat,
                c.inflight.name()
            )
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
        tcp_cc: a.tcp_cc.clone(),
        tls_max_record: a.tls_max_record.map(|v| v as usize),
        tcp_inflight: a.tcp_inflight,
        tcp_pacing: a.tcp_pacing,
        h3_alt_svc: a.h3_alt_svc == OnOff::On,
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
        "QUIC: retry {}, resumption {}, 0-RTT {}, migration {}, congestion {:?}{}{}{}",
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
        if q.pacing {
            ""
        } else {
            "; quinn's pacer OFF (patched quinn-proto)"
        },
    );
    for ip in &q.preferred_address {
        println!(
            "QUIC preferred address (RFC 9000 §9.6): {}",
            std::net::SocketAddr::new(*ip, server.addr.port())
        );
    }
    println!("certificate SPKI SHA-256 (base64): {}", server.spki_sha256);
    println!(
        "chromium --headless=new --no-sandbox --disable-gpu --disable-background-networking \\\n  --disable-component-update --disable-sync --no-first-run --user-data-dir=$(mktemp -d) \\\n  --enable-quic --origin-to-force-quic-on={host}:{port} \\\n  --ignore-certificate-errors-spki-list={} \\\n  https://{host}:{port}/",
        server.spki_sha256
    );
    println!("fetch with: pushlab get -k https://{host}:{port}/");
    println!("memory report: kill -USR1 {}", std::process::id());
    let report_stats = server.stats.clone();
    tokio::spawn(async move {
        let Ok(mut usr1) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
        else {
            return;
        };
        while usr1.recv().await.is_some() {
            let q = &report_stats.queues;
            let n = |g: &std::sync::atomic::AtomicI64| {
                g.load(std::sync::atomic::Ordering::Relaxed).max(0) as u64
            };
            let r = pushlab::memory::Report::now(
                n(&q.queued_bytes),
                n(&q.streams),
                report_stats.probes.live() as u64,
            );
            println!("{r}");
        }
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every policy the library names is a `--scheduler` value, spelt the same.
    #[test]
    fn scheduler_names_match_the_library() {
        for (policy, name) in Policy::ALL {
            let arg = Scheduler::from_str(name, false).expect("a --scheduler value");
            assert_eq!(arg.policy(), Some(policy));
        }
        assert_eq!(Scheduler::from_str("off", false), Ok(Scheduler::Off));
    }

    #[test]
    fn congestion_spellings() {
        for (s, c) in [
            ("cubic", Congestion::Cubic),
            ("newreno", Congestion::NewReno),
            ("new-reno", Congestion::NewReno),
            ("reno", Congestion::NewReno),
            ("BBR", Congestion::Bbr),
        ] {
            assert_eq!(Congestion::from_str(s, true), Ok(c), "{s}");
            assert_eq!(s.parse::<Congestion>(), Ok(c), "{s}");
        }
    }
}
