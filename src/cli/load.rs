//! `pushlab load`: one page load by the emulated browser.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use pushlab::browser::{load_page, Cpu, HttpCache, LoadOptions};
use pushlab::client::{ClientOptions, Proto};
use pushlab::units::fmt_bytes;

use super::duration_arg;

#[derive(Args)]
pub struct LoadArgs {
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
    /// Also write the load as a HAR 1.2 file (for HAR viewers and
    /// DevTools' import; pushlab's own facts in `_` fields).
    #[arg(long, value_name = "FILE")]
    har: Option<PathBuf>,
}

/// `pushlab load`: one emulated-browser page load.
pub async fn run(a: LoadArgs) -> Result<()> {
    let opts = LoadOptions {
        url: a.url.clone(),
        proto: if a.http2 { Proto::H2 } else { Proto::H3 },
        accept_push: a.push,
        cpu: Cpu {
            script_ms_per_kb: a.cpu_ms_per_kb,
            ..Cpu::default()
        },
        timeout: a.timeout,
        client: ClientOptions {
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
    if let Some(path) = &a.har {
        let har = pushlab::har::page_har(&page, &page.url);
        std::fs::write(path, serde_json::to_string_pretty(&har)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
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
