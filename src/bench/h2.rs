//! `pushlab bench h2`: h2load requests per second against pushlab's HTTP/2
//! side and, in the same run, against nginx (Debian's 1.22, which still has
//! `http2_push`) serving the same files with the same certificate, TLS 1.3
//! only, access logging off and one worker. Server and h2load each get a
//! core when there are two; runs alternate between the servers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{median, pin_self, pinning_possible, BenchError, BenchOptions, Row, ServerProcess};
use crate::tls::Identity;

/// The files both servers serve: (name, size).
const FILES: [(&str, usize); 2] = [("1k.bin", 1024), ("100k.bin", 100 * 1024)];

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Server(e.to_string())
}

pub(super) fn tool_version(cmd: &str, arg: &str) -> Option<String> {
    let out = std::process::Command::new(cmd).arg(arg).output().ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines().next().map(|l| l.trim().to_string())
}

/// Writes the document root, certificate and key; returns the root.
pub(super) fn prepare(dir: &Path, id: &Identity) -> Result<PathBuf, BenchError> {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).map_err(err)?;
    for (name, size) in FILES {
        let data = crate::site::generated_chunk(size as u64, 0, size);
        std::fs::write(www.join(name), &data).map_err(err)?;
    }
    std::fs::write(dir.join("cert.pem"), &id.cert_pem).map_err(err)?;
    std::fs::write(dir.join("key.pem"), id.key_pem()).map_err(err)?;
    // nginx's worker may run as another user: it must read the files.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [dir, www.as_path()] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).map_err(err)?;
        }
    }
    Ok(www)
}

/// A running nginx (killed on drop).
pub(super) struct Nginx {
    child: std::process::Child,
    /// Where it listens (127.0.0.1).
    pub port: u16,
}

impl Nginx {
    /// The PID of its worker process (`worker_processes 1`).
    pub fn worker(&self) -> Option<u32> {
        let master = self.child.id();
        let text =
            std::fs::read_to_string(format!("/proc/{master}/task/{master}/children")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, BenchError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(err)?;
    Ok(l.local_addr().map_err(err)?.port())
}

pub(super) async fn start_nginx(
    dir: &Path,
    www: &Path,
    cpu: Option<usize>,
) -> Result<Nginx, BenchError> {
    let port = free_port()?;
    let user = if nix_is_root() { "user root;\n" } else { "" };
    let conf = format!(
        "{user}daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    http2_max_concurrent_streams 100;
    default_type application/octet-stream;
    client_body_temp_path {dir}/tmp-body;
    proxy_temp_path {dir}/tmp-proxy;
    fastcgi_temp_path {dir}/tmp-fastcgi;
    uwsgi_temp_path {dir}/tmp-uwsgi;
    scgi_temp_path {dir}/tmp-scgi;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        ssl_protocols TLSv1.3;
        root {www};
    }}
}}
",
        dir = dir.display(),
        www = www.display(),
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).map_err(err)?;
    let mut cmd = match cpu {
        Some(c) => {
            let mut cmd = std::process::Command::new("taskset");
            cmd.arg("-c").arg(c.to_string()).arg("nginx");
            cmd
        }
        None => std::process::Command::new("nginx"),
    };
    let child = cmd
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("nginx-error.log"))
        .arg("-c")
        .arg(&conf_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| err(format!("starting nginx: {e}")))?;
    let mut nginx = Nginx { child, port };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(nginx);
        }
        if let Ok(Some(status)) = nginx.child.try_wait() {
            let log = std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default();
            return Err(err(format!("nginx exited ({status}): {log}")));
        }
        if std::time::Instant::now() > deadline {
            return Err(err("nginx did not start in 10 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// What one h2load run reported.
#[derive(Debug, Clone, Default)]
pub(super) struct H2loadRun {
    /// Requests that succeeded.
    pub succeeded: usize,
    /// Requests that failed, errored or timed out, or got no 2xx.
    pub failed: usize,
    /// Requests per second.
    pub rps: f64,
    /// Each successful request's time until the end of its response, ms
    /// (from `--log-file`, when asked for).
    pub latencies_ms: Vec<f64>,
}

/// Parses h2load's summary (`requests:` and `status codes:` lines and the
/// `finished in` rate) for `n` requests.
pub(super) fn parse_h2load(text: &str, n: usize) -> Option<H2loadRun> {
    let count = |line: &str, what: &str| -> Option<usize> {
        line.split(", ").find_map(|part| {
            part.trim()
                .strip_suffix(what)?
                .trim()
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
    };
    let req = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("requests: "))?;
    let codes = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("status codes: "))?;
    let succeeded = count(req, "succeeded")?;
    let ok = count(codes, "2xx")?.min(succeeded);
    let rps = text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("finished in ")?;
        rest.split(", ")
            .nth(1)?
            .strip_suffix(" req/s")?
            .parse()
            .ok()
    })?;
    Some(H2loadRun {
        succeeded: ok,
        failed: n.saturating_sub(ok),
        rps,
        latencies_ms: Vec::new(),
    })
}

/// Per-request times (ms) of successful requests from an h2load
/// `--log-file` (start us, status, duration us per line).
pub(super) fn parse_h2load_log(text: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let _start = cols.next()?;
            let status: i32 = cols.next()?.trim().parse().ok()?;
            let us: f64 = cols.next()?.trim().parse().ok()?;
            (200..300).contains(&status).then_some(us / 1e3)
        })
        .collect()
}

/// Runs `h2load -n N -c C -m M -t 1 URL` (with a per-request log when
/// `log` is given) and reads its figures; an h2load that did not run or
/// printed no summary is an error, failed requests are counted.
pub(super) async fn h2load_run(
    url: &str,
    n: usize,
    conns: usize,
    streams: usize,
    cpu: Option<usize>,
    log: Option<&Path>,
) -> Result<H2loadRun, BenchError> {
    let mut cmd = match cpu {
        Some(c) => {
            let mut cmd = tokio::process::Command::new("taskset");
            cmd.arg("-c").arg(c.to_string()).arg("h2load");
            cmd
        }
        None => tokio::process::Command::new("h2load"),
    };
    cmd.args([
        "-n",
        &n.to_string(),
        "-c",
        &conns.to_string(),
        "-m",
        &streams.to_string(),
        "-t",
        "1",
    ]);
    if let Some(l) = log {
        cmd.arg(format!("--log-file={}", l.display()));
    }
    let out = cmd
        .arg(url)
        .output()
        .await
        .map_err(|e| err(format!("running h2load: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut run = parse_h2load(&text, n).ok_or_else(|| {
        BenchError::Check(format!("h2load against {url} printed no summary:\n{text}"))
    })?;
    if let Some(l) = log {
        let t = std::fs::read_to_string(l).map_err(err)?;
        run.latencies_ms = parse_h2load_log(&t);
    }
    Ok(run)
}

/// One h2load run (`-c 50 -m 10`): requests per second; fails unless
/// every request succeeded with a 2xx.
async fn h2load(url: &str, n: usize, cpu: Option<usize>) -> Result<f64, BenchError> {
    let run = h2load_run(url, n, 50, 10, cpu, None).await?;
    if run.failed > 0 {
        return Err(BenchError::Check(format!(
            "h2load against {url}: {} of {n} requests failed",
            run.failed
        )));
    }
    Ok(run.rps)
}

/// What `bench h2` and `bench load` set up alike.
pub(super) struct H2Setup {
    /// `nginx -v`.
    pub nginx_version: String,
    /// The servers' CPU and this process's (the client's), when pinning
    /// is possible.
    pub server_cpu: Option<usize>,
    pub client_cpu: Option<usize>,
    /// A scratch directory (the caller removes it).
    pub dir: PathBuf,
    /// The site in it, with its certificate and key beside.
    pub www: PathBuf,
}

/// Checks that nginx and h2load are there, pins this process to CPU 1
/// (servers go on CPU 0) when it can, and prepares a scratch directory
/// `pushlab-bench-NAME-PID` with the site, certificate and key.
pub(super) fn h2_setup(opts: &BenchOptions, name: &str) -> Result<H2Setup, BenchError> {
    let nginx_version = tool_version("nginx", "-v")
        .ok_or_else(|| err("nginx is not installed (interop/install-deps.sh installs it)"))?;
    tool_version("h2load", "--version")
        .ok_or_else(|| err("h2load is not installed (Debian nghttp2-client)"))?;
    let pin = pinning_possible();
    if pin {
        pin_self(1);
    }
    let (server_cpu, client_cpu) = if pin {
        (Some(0), Some(1))
    } else {
        (None, None)
    };
    let dir = std::env::temp_dir().join(format!("pushlab-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(err)?;
    std::fs::create_dir_all(&opts.log_dir).map_err(err)?;
    let id = Identity::self_signed().map_err(err)?;
    let www = prepare(&dir, &id)?;
    Ok(H2Setup {
        nginx_version,
        server_cpu,
        client_cpu,
        dir,
        www,
    })
}

/// Runs the comparison; rows per file size: pushlab (queue), pushlab
/// (`--scheduler off`), nginx, and the ratios in the notes.
pub async fn run_h2(opts: &BenchOptions) -> Result<Vec<Row>, BenchError> {
    let H2Setup {
        nginx_version,
        server_cpu,
        client_cpu,
        dir,
        www,
    } = h2_setup(opts, "h2")?;
    let runs = if opts.quick { 1 } else { opts.runs.max(1) };
    let result = async {
        let cert = dir.join("cert.pem").display().to_string();
        let key = dir.join("key.pem").display().to_string();
        let base = |sched: &str| -> Vec<String> {
            vec![
                "--site".into(),
                www.display().to_string(),
                "--cert".into(),
                cert.clone(),
                "--key".into(),
                key.clone(),
                "--no-h3".into(),
                "--scheduler".into(),
                sched.into(),
            ]
        };
        let configs = ["rfc9218", "off"];
        let mut servers = Vec::new();
        for sched in configs {
            servers.push(
                ServerProcess::spawn(
                    &opts.exe,
                    &base(sched),
                    opts.log_dir.join(format!("bench-h2-{sched}.log")),
                    server_cpu,
                )
                .await?,
            );
        }
        let nginx = start_nginx(&dir, &www, server_cpu).await?;
        let mut rows = Vec::new();
        for (name, size) in FILES {
            let n = match (size, opts.quick) {
                (1024, false) => 100_000,
                (1024, true) => 20_000,
                (_, false) => 20_000,
                (_, true) => 5_000,
            };
            let mut v: Vec<Vec<f64>> = vec![Vec::new(); configs.len() + 1];
            for _ in 0..runs {
                for (i, s) in servers.iter().enumerate() {
                    let url = format!("https://127.0.0.1:{}/{name}", s.addr.port());
                    v[i].push(h2load(&url, n, client_cpu).await?);
                }
                let url = format!("https://127.0.0.1:{}/{name}", nginx.port);
                v[configs.len()].push(h2load(&url, n, client_cpu).await?);
            }
            let nginx_median = median(&v[configs.len()]);
            let label = format!("{} KB x {n}, h2load -c 50 -m 10", size / 1024);
            for (i, sched) in configs.iter().enumerate() {
                let m = median(&v[i]);
                rows.push(super::row(
                    label.clone(),
                    &format!("pushlab {sched}"),
                    v[i].clone(),
                    "req/s",
                    format!("{:.2} x nginx", m / nginx_median),
                ));
            }
            rows.push(super::row(
                label,
                &nginx_version.replace("nginx version: ", ""),
                v[configs.len()].clone(),
                "req/s",
                "TLS 1.3, 1 worker, access_log off".into(),
            ));
        }
        drop(nginx);
        for s in servers {
            s.stop().await;
        }
        Ok(rows)
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    // h2load 1.52 (Debian) against `pushlab serve --no-h3`: 6 requests, two
    // of them for a missing path.
    const SUMMARY: &str = "finished in 4.87ms, 1233.05 req/s, 7.25MB/s
requests: 6 total, 6 started, 6 done, 4 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 4 2xx, 0 3xx, 2 4xx, 0 5xx
traffic: 36.12KB (36984) total, 366B (366) headers (space savings 66.48%), 35.60KB (36450) data
                     min         max         mean         sd        +/- sd
time for request:      455us       915us       732us       216us    66.67%
";

    #[test]
    fn summary_counts_only_2xx_successes() {
        let r = parse_h2load(SUMMARY, 6).expect("a summary");
        assert_eq!((r.succeeded, r.failed), (4, 2));
        assert!((r.rps - 1233.05).abs() < 1e-9);
        // Requests h2load never got to (asked for more than it reports) fail.
        assert_eq!(parse_h2load(SUMMARY, 10).map(|r| r.failed), Some(6));
        // A run that could not connect: a summary, every request failed.
        let refused = "finished in 698us, 0.00 req/s, 0B/s
requests: 20 total, 0 started, 0 done, 0 succeeded, 20 failed, 20 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
";
        let r = parse_h2load(refused, 20).expect("a summary");
        assert_eq!((r.succeeded, r.failed, r.rps), (0, 20, 0.0));
        // No summary at all (h2load died) is not a run.
        assert!(parse_h2load("starting benchmark...\n", 20).is_none());
    }

    #[test]
    fn log_lines_give_successful_request_times() {
        // `--log-file`: start (us since the epoch), status, duration (us).
        let log = "1796534780339038\t200\t2578\n1796534780339039\t404\t2660\n\
                   1796534780341804\t200\t271\n-1\t-1\t-1\nnot a line\n";
        assert_eq!(parse_h2load_log(log), vec![2.578, 0.271]);
    }
}
