//! `pushlab netem`: a command behind an emulated link.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use pushlab::netem::{parse_loss, parse_queue, profile, Emulator, EmulatorOptions, LinkSpec, Loss};
use pushlab::units::{fmt_bytes, parse_duration, parse_rate};

/// A named link profile (`pushlab netem --list-profiles` describes them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LinkProfile {
    /// The interop runner's link: 15 ms, 10 Mbit/s, 25 packets.
    Interop,
    /// Rules of Thumb's India-2G.
    #[value(name = "2g")]
    TwoG,
    /// Rules of Thumb's India-3G.
    #[value(name = "3g")]
    ThreeG,
    /// WebPageTest's LTE.
    Lte,
    /// WebPageTest's Cable.
    Cable,
}

impl LinkProfile {
    /// The library's name of the profile.
    pub fn name(self) -> &'static str {
        match self {
            LinkProfile::Interop => "interop",
            LinkProfile::TwoG => "2g",
            LinkProfile::ThreeG => "3g",
            LinkProfile::Lte => "lte",
            LinkProfile::Cable => "cable",
        }
    }
}

/// `--profile`: a name the library knows, refused with the library's own
/// message (which lists the known names) otherwise.
fn parse_profile(name: &str) -> Result<LinkProfile, String> {
    profile(name).map_err(|e| e.to_string())?;
    LinkProfile::from_str(name, false)
}

#[derive(Args)]
pub struct NetemArgs {
    /// Start from a named profile (interop, 2g, 3g, lte, cable; see
    /// --list-profiles); the other options override it. Without one: interop
    /// (15 ms, 10 Mbit/s, 25 pkt).
    #[arg(long, value_parser = parse_profile)]
    profile: Option<LinkProfile>,
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
    /// Corruption, each direction (e.g. 2%): that share of delivered
    /// packets gets one byte of its UDP or TCP payload changed, the
    /// checksum made to match (so the transport, not the kernel, sees it).
    #[arg(long)]
    corrupt: Option<String>,
    /// Jitter, each direction (e.g. 20ms): every packet gets an extra delay
    /// drawn uniformly below this, without reordering.
    #[arg(long)]
    jitter: Option<String>,
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
    fn specs(&self) -> Result<(LinkSpec, LinkSpec)> {
        let base = profile(self.profile.unwrap_or(LinkProfile::Interop).name())?;
        let apply = |mut spec: LinkSpec,
                     delay: &Option<String>,
                     rate: &Option<String>,
                     queue: &Option<String>,
                     loss: &Option<String>|
         -> Result<LinkSpec> {
            if let Some(d) = delay.as_ref().or(self.delay.as_ref()) {
                spec.delay = parse_duration(d).map_err(|e| anyhow!("--delay: {e}"))?;
            }
            if let Some(r) = rate.as_ref().or(self.rate.as_ref()) {
                spec.rate = if matches!(r.as_str(), "unlimited" | "inf" | "none") {
                    None
                } else {
                    Some(parse_rate(r).map_err(|e| anyhow!("--rate: {e}"))?)
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
            if let Some(c) = &self.corrupt {
                spec.corrupt = parse_loss(c).map_err(|e| anyhow!("--corrupt: {e}"))?;
            }
            if let Some(j) = &self.jitter {
                spec.jitter = parse_duration(j).map_err(|e| anyhow!("--jitter: {e}"))?;
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

/// The `--serve` command, in a process group of its own. The whole group is
/// stopped (SIGTERM, then SIGKILL after [`ServeGroup::GRACE`]) on every way
/// out of [`run`], including errors, through `Drop`: a server that the shell
/// forked (a compound command, or one put in the background) would
/// otherwise outlive netem, reparented to init, holding its port (the next
/// run fails or hangs) and netem's output pipe (a script reading that
/// output waits forever).
struct ServeGroup {
    child: tokio::process::Child,
    /// The group's id (the shell's pid); None once stopped.
    pgid: Option<u32>,
}

impl ServeGroup {
    const GRACE: Duration = Duration::from_secs(3);

    fn start(emu: &Emulator, cmd: &str) -> Result<Self> {
        use std::os::unix::process::CommandExt;
        let mut c = emu.server_command("sh", true);
        c.args(["-c", cmd]).process_group(0);
        let child = tokio::process::Command::from(c)
            .kill_on_drop(true)
            .spawn()
            .context("starting the --serve command")?;
        let pgid = child.id();
        Ok(ServeGroup { child, pgid })
    }

    /// Sends `signal` to the group; false when no process is left in it.
    fn signal(pgid: u32, signal: &str) -> bool {
        std::process::Command::new("kill")
            .args([signal, "--", &format!("-{pgid}")])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops the group and waits for it (blocking, at most GRACE + a bit).
    fn stop(&mut self) {
        let Some(pgid) = self.pgid.take() else {
            return;
        };
        if Self::signal(pgid, "-TERM") {
            let end = std::time::Instant::now() + Self::GRACE;
            while std::time::Instant::now() < end {
                // Reap the shell, so that the group test sees only the rest.
                let _ = self.child.try_wait();
                if !Self::signal(pgid, "-0") {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!("netem: --serve command still running after SIGTERM; killing it");
            Self::signal(pgid, "-KILL");
        }
        let _ = self.child.try_wait();
    }
}

impl Drop for ServeGroup {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `pushlab netem`: the emulated link around a command. Returns its exit
/// code (128 + signal if it was killed).
pub async fn run(a: NetemArgs) -> Result<i32> {
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
    let emu = Emulator::start(EmulatorOptions {
        up,
        down,
        server_ns: a.server_ns,
        seed: a.seed,
        realtime: true,
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
    // Declared after the emulator, so dropped (stopped) before it on every
    // way out of this function.
    let mut server = match &a.serve {
        Some(cmd) => Some(ServeGroup::start(&emu, cmd)?),
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
    if let Some(mut s) = server.take() {
        tokio::task::spawn_blocking(move || s.stop()).await?;
    }
    let counters = emu.stop();
    for (name, d) in [("up", counters.up), ("down", counters.down)] {
        eprintln!(
            "netem: {name:4} {} packets ({}) in, {} out; {} queue drops, {} random drops; peak queue {} packets / {}{}",
            d.packets_in,
            fmt_bytes(d.bytes_in),
            d.packets_out,
            d.queue_drops,
            d.random_drops,
            d.peak_queue_packets,
            fmt_bytes(d.peak_queue_bytes),
            if d.corrupted > 0 {
                format!("; {} corrupted", d.corrupted)
            } else {
                String::new()
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line offers exactly the library's profiles, by the same names.
    #[test]
    fn profiles_match_the_library() {
        let mine: Vec<&str> = LinkProfile::value_variants()
            .iter()
            .map(|p| p.name())
            .collect();
        assert_eq!(crate::cli::value_names::<LinkProfile>(), mine);
        let library: Vec<&str> = pushlab::netem::profiles().iter().map(|p| p.name).collect();
        assert_eq!(mine, library);
    }
}
