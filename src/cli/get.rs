//! `pushlab get`: fetch URLs on one connection (HTTP/3, HTTP/2, or
//! hq-interop) and report what arrived.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use pushlab::client::{parse_url, ClientOptions, Conn, Proto, Response};
use pushlab::units::fmt_bytes;

use super::{bytes_arg, duration_arg};

/// `--alpn`: the application protocol offered in the QUIC handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Alpn {
    /// HTTP/3.
    H3,
    /// HTTP/0.9 over QUIC, one stream per URL.
    HqInterop,
}

#[derive(Args)]
pub struct GetArgs {
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
    /// ALPN.
    #[arg(long, value_enum, default_value_t = Alpn::H3)]
    alpn: Alpn,
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

/// `pushlab get`.
pub async fn run(a: GetArgs) -> Result<()> {
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
    if a.alpn == Alpn::HqInterop {
        return get_hq(&a, &host, port, &paths, opts).await;
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

fn first_ms(r: &Response) -> f64 {
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
