//! A link emulator in user space, in the manner of Mahimahi's mm-delay and
//! mm-link: a client network namespace (and a server namespace, or the
//! root namespace as the server side) joined only through a relay between
//! two TUN devices, which applies per direction random loss, a drop-tail
//! bottleneck queue, the link's rate and a one-way delay
//! ([`link::LinkModel`]). The same link carries TCP and UDP alike, so
//! HTTP/2 and HTTP/3 see the same round trips, bottleneck and queue.
//!
//! Nothing outlives the emulator: each namespace is created unnamed, held
//! only by a file descriptor (and by the processes started inside it), and
//! the TUN devices live as long as the relay's descriptors. Dropping the
//! [`Emulator`] (on success, error, panic or Ctrl-C), or pushlab dying,
//! removes them all.

pub mod link;
pub mod packet;
mod relay;
mod sys;

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use link::{DirCounters, LinkSpec, Loss, QueueLimit};
pub use relay::{Lateness, LATE};

/// The emulator could not be set up or was misconfigured.
#[derive(Debug, thiserror::Error)]
pub enum NetemError {
    /// A parameter is out of range or unparseable.
    #[error("invalid link parameter: {0}")]
    Invalid(String),
    /// Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN).
    #[error("the link emulator needs root (network namespaces and TUN devices): {0}")]
    Permission(String),
    /// A system call or `ip` command failed.
    #[error("setting up the emulated link: {0}")]
    Setup(String),
}

/// Parses a queue size: `25pkt` (packets), `64KiB` / `100kb` (bytes), or
/// `unlimited`.
pub fn parse_queue(s: &str) -> Result<QueueLimit, NetemError> {
    let t = s.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "unlimited" | "inf" | "none") {
        return Ok(QueueLimit::Unlimited);
    }
    for suffix in ["packets", "packet", "pkts", "pkt", "p"] {
        if let Some(n) = t.strip_suffix(suffix) {
            let n: u32 = n.trim().parse().map_err(|_| {
                NetemError::Invalid(format!(
                    "queue {s:?}: expected e.g. 25pkt, 64KiB or unlimited"
                ))
            })?;
            if n == 0 {
                return Err(NetemError::Invalid(format!(
                    "queue {s:?}: a queue of 0 packets drops everything behind the packet on the wire"
                )));
            }
            return Ok(QueueLimit::Packets(n));
        }
    }
    let bytes = crate::units::parse_bytes(&t)
        .map_err(|e| NetemError::Invalid(format!("queue: {e}; or a packet count like 25pkt")))?;
    if bytes < 1500 {
        return Err(NetemError::Invalid(format!(
            "queue {s:?}: under one full-size packet (1500 bytes)"
        )));
    }
    Ok(QueueLimit::Bytes(bytes))
}

/// Parses a loss rate: `1%`, `0.5%`, `0%`.
pub fn parse_loss(s: &str) -> Result<f64, NetemError> {
    let t = s.trim();
    let Some(n) = t.strip_suffix('%') else {
        return Err(NetemError::Invalid(format!(
            "loss {s:?}: write a percentage, e.g. 1% or 0.5%"
        )));
    };
    let v: f64 = n
        .trim()
        .parse()
        .map_err(|_| NetemError::Invalid(format!("loss {s:?}: not a number")))?;
    if !(0.0..=100.0).contains(&v) || !v.is_finite() {
        return Err(NetemError::Invalid(format!(
            "loss {s:?}: must be between 0% and 100%"
        )));
    }
    Ok(v / 100.0)
}

/// Checks a direction's parameters.
pub fn validate(spec: &LinkSpec) -> Result<(), NetemError> {
    if spec.delay > Duration::from_secs(10) {
        return Err(NetemError::Invalid(format!(
            "one-way delay {:?} is over 10 s",
            spec.delay
        )));
    }
    if let Some(r) = spec.rate {
        if r < 8_000 {
            return Err(NetemError::Invalid(format!(
                "rate {r} bit/s is under 8 kbit/s (one 1500-byte packet takes 1.5 s)"
            )));
        }
    }
    if !(0.0..=1.0).contains(&spec.loss.rate()) {
        return Err(NetemError::Invalid("loss outside 0..100%".into()));
    }
    if !(0.0..=1.0).contains(&spec.corrupt) {
        return Err(NetemError::Invalid("corruption outside 0..100%".into()));
    }
    if spec.jitter > Duration::from_secs(10) {
        return Err(NetemError::Invalid(format!(
            "jitter {:?} is over 10 s",
            spec.jitter
        )));
    }
    Ok(())
}

/// A named link profile.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// Its name for `--profile`.
    pub name: &'static str,
    /// What it models and where the numbers come from.
    pub about: &'static str,
    /// Client to server.
    pub up: LinkSpec,
    /// Server to client.
    pub down: LinkSpec,
}

fn spec(delay_ms: f64, rate_kbit: u64, queue: QueueLimit) -> LinkSpec {
    LinkSpec {
        delay: Duration::from_secs_f64(delay_ms / 1e3),
        rate: Some(rate_kbit * 1000),
        queue,
        loss: Loss::None,
        corrupt: 0.0,
        jitter: Duration::ZERO,
    }
}

/// The built-in profiles (their sources are in `proto-notes/emulation.md`).
/// The 2G and 3G ones are the networks of the *Rules of Thumb for HTTP/2
/// Push* experiments as measured there (throughput of a 1 MB download, RTT
/// from TCP connect); its shaper (WebPageTest's) had a 100-packet buffer,
/// which the cellular and cable profiles keep.
pub fn profiles() -> Vec<Profile> {
    vec![
        Profile {
            name: "interop",
            about: "the QUIC interop runner's link: 15 ms each way, 10 Mbit/s, 25-packet drop-tail queue",
            up: spec(15.0, 10_000, QueueLimit::Packets(25)),
            down: spec(15.0, 10_000, QueueLimit::Packets(25)),
        },
        Profile {
            name: "2g",
            about: "Rules of Thumb's India-2G: 113 kbit/s, 1420 ms RTT (BDP 20 KB), 100-packet queue",
            up: spec(710.0, 113, QueueLimit::Packets(100)),
            down: spec(710.0, 113, QueueLimit::Packets(100)),
        },
        Profile {
            name: "3g",
            about: "Rules of Thumb's India-3G: 1360 kbit/s, 209 ms RTT (BDP 35 KB), 100-packet queue",
            up: spec(104.5, 1_360, QueueLimit::Packets(100)),
            down: spec(104.5, 1_360, QueueLimit::Packets(100)),
        },
        Profile {
            name: "lte",
            about: "WebPageTest's LTE: 12 Mbit/s both ways, 70 ms RTT (BDP 105 KB), 100-packet queue",
            up: spec(35.0, 12_000, QueueLimit::Packets(100)),
            down: spec(35.0, 12_000, QueueLimit::Packets(100)),
        },
        Profile {
            name: "cable",
            about: "WebPageTest's Cable: 5 Mbit/s down, 1 Mbit/s up, 28 ms RTT (BDP 17.5 KB), 100-packet queue",
            up: spec(14.0, 1_000, QueueLimit::Packets(100)),
            down: spec(14.0, 5_000, QueueLimit::Packets(100)),
        },
    ]
}

/// A profile by name.
pub fn profile(name: &str) -> Result<Profile, NetemError> {
    profiles()
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = profiles().iter().map(|p| p.name).collect();
            NetemError::Invalid(format!(
                "unknown profile {name:?} (known: {})",
                names.join(", ")
            ))
        })
}

/// How to set up an emulated link.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Client to server.
    pub up: LinkSpec,
    /// Server to client.
    pub down: LinkSpec,
    /// Give the server side its own namespace (otherwise the server side
    /// is the root namespace, reachable from the client at the server
    /// address, like mm-link's outside).
    pub server_ns: bool,
    /// Seed of the loss generators (runs with the same seed lose the same
    /// packet numbers).
    pub seed: u64,
    /// Run the relay's threads at real-time priority (when allowed; a
    /// warning says when not). Off only to measure what it changes.
    pub realtime: bool,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            up: LinkSpec::default(),
            down: LinkSpec::default(),
            server_ns: false,
            seed: 1,
            realtime: true,
        }
    }
}

/// Both directions' counters.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counters {
    /// Client to server.
    pub up: DirCounters,
    /// Server to client.
    pub down: DirCounters,
    /// Packets the relay could not write to a device.
    pub write_errors: u64,
}

/// A running emulated link. Dropping it tears everything down.
pub struct Emulator {
    client_ns: OwnedFd,
    server_ns: Option<OwnedFd>,
    /// The client side's address (in the client namespace).
    pub client_addr: Ipv4Addr,
    /// The server side's address (in the server namespace, or the root
    /// namespace).
    pub server_addr: Ipv4Addr,
    /// The server-side TUN device's name when it is in the root namespace.
    pub root_device: Option<String>,
    opts: EmulatorOptions,
    stop: Arc<AtomicBool>,
    up: Option<relay::Direction>,
    down: Option<relay::Direction>,
}

/// The TUN device's name in a namespace of the emulator's own.
const DEV: &str = "netem0";

/// Runs `ip` (in namespace `ns`, or the caller's).
fn ip(ns: Option<&OwnedFd>, args: &[&str]) -> Result<(), NetemError> {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    if let Some(ns) = ns {
        sys::command_in_netns(&mut cmd, ns.as_raw_fd(), true);
    }
    let out = cmd
        .output()
        .map_err(|e| NetemError::Setup(format!("running ip (iproute2): {e}")))?;
    if !out.status.success() {
        return Err(NetemError::Setup(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Disables IPv6 on a device (no router solicitations on the link), in
/// the namespace the calling thread is in. Best effort.
fn no_ipv6(dev: &str) {
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
}

/// Picks a /30 in 10.64.0.0/10 not used by any address of the root
/// namespace, and a device name not in use.
fn pick_addresses() -> (Ipv4Addr, Ipv4Addr, String) {
    use rand::Rng;
    let used = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut rng = rand::rng();
    loop {
        let b: u8 = rng.random_range(64..128);
        let c: u8 = rng.random();
        let d: u8 = rng.random_range(0..64) * 4;
        let client = Ipv4Addr::new(10, b, c, d + 1);
        let server = Ipv4Addr::new(10, b, c, d + 2);
        let prefix = format!("10.{b}.{c}.");
        let clash = used.lines().any(|l| {
            l.split_whitespace()
                .any(|w| w.starts_with(&prefix) || w.starts_with(&format!("{client}")))
        });
        let name = format!("plnetem{:x}", rng.random::<u32>() & 0xff_ffff);
        let exists = std::path::Path::new("/sys/class/net").join(&name).exists();
        if !clash && !exists {
            return (client, server, name);
        }
    }
}

fn setup_err(what: &str) -> impl Fn(std::io::Error) -> NetemError + '_ {
    move |e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            NetemError::Permission(format!("{what}: {e}"))
        } else {
            NetemError::Setup(format!("{what}: {e}"))
        }
    }
}

impl Emulator {
    /// Sets up the namespaces, devices, addresses, routes and the relay.
    pub fn start(opts: EmulatorOptions) -> Result<Emulator, NetemError> {
        validate(&opts.up)?;
        validate(&opts.down)?;
        let (client_addr, server_addr, root_name) = pick_addresses();
        let client_ns = sys::new_netns().map_err(setup_err("creating a network namespace"))?;
        let server_ns = if opts.server_ns {
            Some(sys::new_netns().map_err(setup_err("creating a network namespace"))?)
        } else {
            None
        };
        let client_tun = sys::in_netns(client_ns.as_raw_fd(), || {
            let f = sys::open_tun(DEV)?;
            no_ipv6(DEV);
            Ok(f)
        })
        .map_err(setup_err("opening the client TUN device"))?;
        let (server_tun, server_dev) = match &server_ns {
            Some(ns) => (
                sys::in_netns(ns.as_raw_fd(), || {
                    let f = sys::open_tun(DEV)?;
                    no_ipv6(DEV);
                    Ok(f)
                })
                .map_err(setup_err("opening the server TUN device"))?,
                DEV.to_string(),
            ),
            None => {
                let f = sys::open_tun(&root_name)
                    .map_err(setup_err("opening the server TUN device"))?;
                no_ipv6(&root_name);
                (f, root_name.clone())
            }
        };
        let (c, s) = (client_addr.to_string(), server_addr.to_string());
        let cns = Some(&client_ns);
        ip(cns, &["link", "set", "lo", "up"])?;
        ip(cns, &["addr", "add", &c, "peer", &s, "dev", DEV])?;
        ip(cns, &["link", "set", DEV, "up"])?;
        ip(cns, &["route", "add", "default", "dev", DEV])?;
        let sns = server_ns.as_ref();
        if sns.is_some() {
            ip(sns, &["link", "set", "lo", "up"])?;
        }
        ip(sns, &["addr", "add", &s, "peer", &c, "dev", &server_dev])?;
        ip(sns, &["link", "set", &server_dev, "up"])?;
        if sns.is_some() {
            ip(sns, &["route", "add", "default", "dev", &server_dev])?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let dup = |f: &File| {
            f.try_clone()
                .map_err(setup_err("duplicating a TUN descriptor"))
        };
        let up = relay::Direction::start(
            "up",
            dup(&client_tun)?,
            dup(&server_tun)?,
            opts.up,
            opts.seed,
            opts.realtime,
            stop.clone(),
        )
        .map_err(setup_err("starting the relay"))?;
        let down = relay::Direction::start(
            "down",
            server_tun,
            client_tun,
            opts.down,
            opts.seed
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .wrapping_add(1),
            opts.realtime,
            stop.clone(),
        )
        .map_err(setup_err("starting the relay"))?;
        Ok(Emulator {
            client_ns,
            root_device: server_ns.is_none().then_some(root_name),
            server_ns,
            client_addr,
            server_addr,
            opts,
            stop,
            up: Some(up),
            down: Some(down),
        })
    }

    /// Sets the server side's TCP initial congestion window towards the
    /// client, in segments: `initcwnd` on its route to the client address
    /// (only that route; the root namespace's others are untouched).
    /// Connections opened after this start with it.
    pub fn set_server_initcwnd(&self, segments: u32) -> Result<(), NetemError> {
        if !(1..=1000).contains(&segments) {
            return Err(NetemError::Setup(format!(
                "TCP initial window of {segments} segments: give 1 to 1000"
            )));
        }
        let dev = self.root_device.as_deref().unwrap_or(DEV);
        let (c, s, n) = (
            self.client_addr.to_string(),
            self.server_addr.to_string(),
            segments.to_string(),
        );
        ip(
            self.server_ns.as_ref(),
            &[
                "route", "replace", &c, "dev", dev, "proto", "kernel", "scope", "link", "src", &s,
                "initcwnd", &n,
            ],
        )
    }

    /// The options it runs with.
    pub fn options(&self) -> &EmulatorOptions {
        &self.opts
    }

    /// A command that runs in the client namespace, with
    /// `PUSHLAB_NETEM_SERVER` and `PUSHLAB_NETEM_CLIENT` set. With
    /// `die_with_parent`, it is killed if the spawning thread dies.
    pub fn client_command(&self, program: &str, die_with_parent: bool) -> Command {
        let mut cmd = Command::new(program);
        self.env(&mut cmd);
        sys::command_in_netns(&mut cmd, self.client_ns.as_raw_fd(), die_with_parent);
        cmd
    }

    /// A command that runs on the server side (its namespace, or the root
    /// namespace).
    pub fn server_command(&self, program: &str, die_with_parent: bool) -> Command {
        let mut cmd = Command::new(program);
        self.env(&mut cmd);
        if let Some(ns) = &self.server_ns {
            sys::command_in_netns(&mut cmd, ns.as_raw_fd(), die_with_parent);
        }
        cmd
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("PUSHLAB_NETEM_SERVER", self.server_addr.to_string())
            .env("PUSHLAB_NETEM_CLIENT", self.client_addr.to_string());
    }

    /// Runs `f` on a new thread in the client namespace: sockets it opens
    /// (including a tokio runtime's) go through the emulated link.
    pub fn in_client<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<std::thread::JoinHandle<T>, NetemError> {
        let ns = self
            .client_ns
            .try_clone()
            .map_err(setup_err("duplicating the namespace descriptor"))?;
        Ok(std::thread::spawn(move || {
            if let Err(e) = sys::enter(ns.as_raw_fd()) {
                panic!("entering the client namespace: {e}");
            }
            drop(ns);
            f()
        }))
    }

    /// Like [`Emulator::in_client`], on the server side.
    pub fn in_server<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<std::thread::JoinHandle<T>, NetemError> {
        let ns = match &self.server_ns {
            Some(ns) => Some(
                ns.try_clone()
                    .map_err(setup_err("duplicating the namespace descriptor"))?,
            ),
            None => None,
        };
        Ok(std::thread::spawn(move || {
            if let Some(ns) = ns {
                if let Err(e) = sys::enter(ns.as_raw_fd()) {
                    panic!("entering the server namespace: {e}");
                }
            }
            f()
        }))
    }

    /// The namespaces' inode numbers (client, server), to check after the
    /// emulator is gone that nothing refers to them.
    pub fn namespace_inodes(&self) -> Vec<u64> {
        let mut v = Vec::new();
        if let Ok(i) = sys::netns_inode(self.client_ns.as_raw_fd()) {
            v.push(i);
        }
        if let Some(ns) = &self.server_ns {
            if let Ok(i) = sys::netns_inode(ns.as_raw_fd()) {
                v.push(i);
            }
        }
        v
    }

    /// Packets and bytes waiting in the server-to-client bottleneck queue
    /// now (not counting the packet being serialised).
    pub fn down_queued(&self) -> (usize, u64) {
        self.down.as_ref().map_or((0, 0), |d| d.queued())
    }

    /// Takes the link down in both directions (a black hole: everything
    /// sent is dropped, as when a route disappears) or brings it back up.
    pub fn set_down(&self, down: bool) {
        for d in [&self.up, &self.down].into_iter().flatten() {
            d.set_down(down);
        }
    }

    /// How punctually each direction delivered its packets since the last
    /// call (which starts a new count): (up, down).
    pub fn take_lateness(&self) -> (Lateness, Lateness) {
        let take = |d: &Option<relay::Direction>| d.as_ref().map(|d| d.take_lateness());
        (
            take(&self.up).unwrap_or_default(),
            take(&self.down).unwrap_or_default(),
        )
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        let mut c = Counters::default();
        if let Some(d) = &self.up {
            c.up = d.counters();
            c.write_errors += d.write_errors();
        }
        if let Some(d) = &self.down {
            c.down = d.counters();
            c.write_errors += d.write_errors();
        }
        c
    }

    /// Stops the relay and removes devices and namespaces; returns the
    /// final counters.
    pub fn stop(mut self) -> Counters {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Counters {
        let c = self.counters();
        self.stop.store(true, Ordering::Relaxed);
        for d in [self.up.take(), self.down.take()].into_iter().flatten() {
            d.join();
        }
        c
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Whether this process may set up emulated links (root, TUN present).
pub fn available() -> Result<(), NetemError> {
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err(NetemError::Setup("/dev/net/tun is missing".into()));
    }
    sys::new_netns().map_err(setup_err("creating a network namespace"))?;
    Ok(())
}
