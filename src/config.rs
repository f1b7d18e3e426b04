//! Server configuration shared by every protocol: what to serve, the send
//! queue, the push policy, limits and timeouts, the QUIC transport options,
//! and one [`ServeOptions::validate`] that owns every cross-option check.
//! Protocol-neutral: the protocols import it, it imports none of them.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::push::PushPolicy;
use crate::reply::CoreOptions;
use crate::sendq::SendConfig;
use crate::site::Site;

/// `--scheduler`: the user-space queue with a policy, or plain h3-quinn.
#[derive(Debug, Clone)]
pub enum SchedulerMode {
    /// No user-space queue: h3-quinn writes straight into quinn.
    Off,
    /// The send queue with its configuration.
    Queue(SendConfig),
}

/// Everything a server needs besides its sockets and TLS identity, for all
/// of its protocols (HTTP/3, hq-interop, HTTP/2, HTTP/1.1); the QUIC-only
/// options are in [`ServeOptions::quic`].
#[derive(Clone)]
pub struct ServeOptions {
    /// What to serve.
    pub site: Arc<Site>,
    /// Send queue or baseline.
    pub mode: SchedulerMode,
    /// Largest request header section accepted (SETTINGS_MAX_FIELD_SECTION_SIZE
    /// on HTTP/3, SETTINGS_MAX_HEADER_LIST_SIZE on HTTP/2, the head limit on
    /// HTTP/1.1).
    pub max_field_section_size: u64,
    /// Body bytes per chunk (one DATA frame on HTTP/2 and HTTP/3).
    pub body_chunk: usize,
    /// A response that makes no progress for this long is reset.
    pub stall_timeout: Duration,
    /// Core options.
    pub core: CoreOptions,
    /// Concurrent request streams per connection (QUIC and HTTP/2).
    pub max_concurrent_bidi: u64,
    /// Write one qlog file per connection here.
    pub qlog_dir: Option<PathBuf>,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// Bounded wait for in-flight responses on shutdown.
    pub shutdown_timeout: Duration,
    /// The push and hint policy.
    pub policy: Arc<dyn PushPolicy>,
    /// QUIC transport options (Retry, resumption, 0-RTT, key updates, ...).
    pub quic: QuicOptions,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            site: Arc::new(Site::demo()),
            mode: SchedulerMode::Queue(SendConfig::default()),
            max_field_section_size: 16 * 1024,
            body_chunk: 16 * 1024,
            stall_timeout: Duration::from_secs(60),
            core: CoreOptions::default(),
            max_concurrent_bidi: 100,
            qlog_dir: None,
            idle_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(5),
            policy: crate::push::policy_by_name("none")
                .unwrap_or_else(|| Arc::new(crate::push::NoPush)),
            quic: QuicOptions::default(),
        }
    }
}

/// A congestion controller quinn offers (`--cc`; the spellings are those of
/// its [`FromStr`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Congestion {
    /// CUBIC (quinn's default).
    Cubic,
    /// NewReno.
    #[value(name = "newreno", alias = "new-reno", alias = "reno")]
    NewReno,
    /// BBR (quinn marks it experimental).
    Bbr,
}

impl Congestion {
    /// The name `--cc` takes.
    pub fn name(self) -> &'static str {
        match self {
            Congestion::Cubic => "cubic",
            Congestion::NewReno => "newreno",
            Congestion::Bbr => "bbr",
        }
    }
}

impl FromStr for Congestion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cubic" => Ok(Congestion::Cubic),
            "newreno" | "new-reno" | "reno" => Ok(Congestion::NewReno),
            "bbr" => Ok(Congestion::Bbr),
            other => Err(format!(
                "unknown congestion controller {other:?} (cubic, newreno, bbr)"
            )),
        }
    }
}

/// The QUIC transport options.
#[derive(Debug, Clone)]
pub struct QuicOptions {
    /// Validate every client address with a stateless Retry first.
    pub retry: bool,
    /// Also listen on this UDP port with Retry always on (side-by-side
    /// tests of the same server with and without Retry).
    pub retry_port: Option<u16>,
    /// Issue session tickets (TLS 1.3 resumption).
    pub resumption: bool,
    /// Accept 0-RTT early data (safe methods only; others get 425).
    pub zero_rtt: bool,
    /// Initiate a key update after every this many packets sent.
    pub key_update_every: Option<u64>,
    /// Follow clients that change address (NAT rebinding, migration),
    /// after path validation.
    pub migration: bool,
    /// Offer only TLS_CHACHA20_POLY1305_SHA256 (Initial packets still use
    /// AES-128-GCM, as QUIC requires).
    pub chacha20_only: bool,
    /// Congestion controller.
    pub congestion: Congestion,
    /// Initial congestion window in bytes (default: the controller's).
    pub initial_window: Option<u64>,
    /// Send keep-alive PINGs this often.
    pub keep_alive: Option<Duration>,
    /// Initial RTT estimate.
    pub initial_rtt: Option<Duration>,
    /// Probe for a larger path MTU (DPLPMTUD).
    pub mtu_discovery: bool,
    /// The UDP payload size to start with (quinn's default: 1,200), for
    /// paths known to carry more.
    pub initial_mtu: Option<u16>,
    /// Offer ALPN `hq-interop` (HTTP/0.9 over QUIC) beside `h3`.
    pub hq_interop: bool,
    /// How long a Retry token stays valid (quinn's default: 15 s).
    pub retry_token_lifetime: Option<Duration>,
    /// Addresses of this host to advertise as the server's preferred
    /// address (RFC 9000 §9.6), at most one per family, on the server's
    /// own port (the one socket, bound to the unspecified address, receives
    /// on them).
    pub preferred_address: Vec<std::net::IpAddr>,
    /// SO_RCVBUF and SO_SNDBUF asked for on the UDP socket (0: the
    /// kernel's default, 208 KiB on Linux); the kernel caps it at
    /// net.core.rmem_max / wmem_max.
    pub udp_buffer: usize,
    /// quinn's pacer (on by default). Turning it off is an ablation that
    /// needs a build against a patched quinn-proto
    /// (`patches/build-pacing-switch.sh`); quinn has no such option. It is
    /// process-wide: every QUIC connection of the process.
    pub pacing: bool,
    /// Whether the ACK-spacing estimator behind in-flight control drops
    /// trains that cross a receiver's stall (off by default: on LTE the
    /// check made Chromium's loads slower; see
    /// [`crate::sched::dispersion`]).
    pub ack_stall_check: bool,
}

/// Whether this build can turn quinn's pacer off: built with
/// `--cfg pushlab_pacing_switch` against the patched quinn-proto, as
/// `patches/build-pacing-switch.sh` does. A cfg, not a cargo feature:
/// `--all-features` must not ask for a crate the registry does not have.
pub const PACING_SWITCH: bool = cfg!(pushlab_pacing_switch);

/// Whether this build can run with quinn's pacer `on` (or off).
fn pacing_available(on: bool) -> Result<(), ConfigError> {
    if on || PACING_SWITCH {
        Ok(())
    } else {
        Err(ConfigError::NoPacingSwitch)
    }
}

/// Sets quinn's pacer on or off for the whole process (the patched
/// quinn-proto's switch); other builds refuse `false`, as
/// [`QuicOptions::validate`] does.
pub fn apply_pacing(on: bool) -> Result<(), ConfigError> {
    pacing_available(on)?;
    #[cfg(pushlab_pacing_switch)]
    quinn_proto::pacing_switch::set_pacing(on);
    Ok(())
}

/// The UDP socket buffer `pushlab serve` asks for by default: thousands of
/// clients sending at once overflow the kernel's 208 KiB default
/// (`pushlab bench load` counts the drops), and each drop costs a PTO.
pub const UDP_BUFFER: usize = 4 << 20;

impl Default for QuicOptions {
    fn default() -> Self {
        QuicOptions {
            retry: false,
            retry_port: None,
            resumption: true,
            zero_rtt: false,
            key_update_every: None,
            migration: true,
            chacha20_only: false,
            congestion: Congestion::Cubic,
            initial_window: None,
            keep_alive: None,
            initial_rtt: None,
            mtu_discovery: true,
            initial_mtu: None,
            hq_interop: true,
            retry_token_lifetime: None,
            preferred_address: Vec::new(),
            udp_buffer: UDP_BUFFER,
            pacing: true,
            ack_stall_check: false,
        }
    }
}

/// A combination of options that cannot work, found before anything starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `--quantum` or `--stream-buffer` is zero.
    #[error("--quantum and --stream-buffer must be positive")]
    QueueSizes,
    /// `--body-chunk` is zero.
    #[error("--body-chunk must be positive")]
    BodyChunk,
    /// `--key-update-every 0`.
    #[error("--key-update-every must be at least 1 packet")]
    KeyUpdateEvery,
    /// An initial window below two full-size datagrams.
    #[error("--initial-window must be at least 2400 bytes (two 1200-byte packets)")]
    InitialWindow,
    /// An initial datagram size QUIC cannot use.
    #[error("--initial-mtu must be at least 1200 bytes (RFC 9000 section 14)")]
    InitialMtu,
    /// 0-RTT without session tickets.
    #[error("--0rtt needs session tickets (drop --no-resumption)")]
    ZeroRttWithoutResumption,
    /// Two preferred addresses of one family, or an unusable one.
    #[error("--preferred-address: {0}")]
    PreferredAddress(String),
    /// Pacing off in a build whose quinn-proto cannot turn it off.
    #[error(
        "--quic-pacing off needs a build with the patched quinn-proto: \
         patches/build-pacing-switch.sh builds target/pacing-switch/release/pushlab"
    )]
    NoPacingSwitch,
}

impl ServeOptions {
    /// Checks every rule that spans options; the command line, `compare`
    /// and the library API all go through here before a server starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let SchedulerMode::Queue(c) = &self.mode {
            if c.quantum == 0 || c.stream_buffer == 0 {
                return Err(ConfigError::QueueSizes);
            }
        }
        if self.body_chunk == 0 {
            return Err(ConfigError::BodyChunk);
        }
        self.quic.validate()
    }
}

impl QuicOptions {
    /// The QUIC options' own rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.key_update_every == Some(0) {
            return Err(ConfigError::KeyUpdateEvery);
        }
        //= https://www.rfc-editor.org/rfc/rfc9002#section-7.2
        //# Endpoints SHOULD use an initial congestion
        //# window of ten times the maximum datagram size (max_datagram_size),
        //# while limiting the window to the larger of 14,720 bytes or twice the
        //# maximum datagram size.
        if self.initial_window.is_some_and(|w| w < 2400) {
            return Err(ConfigError::InitialWindow);
        }
        if self.zero_rtt && !self.resumption {
            return Err(ConfigError::ZeroRttWithoutResumption);
        }
        pacing_available(self.pacing)?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-14
        //# QUIC MUST NOT be used if the network path cannot support a
        //# maximum datagram size of at least 1200 bytes.
        if self.initial_mtu.is_some_and(|m| m < 1200) {
            return Err(ConfigError::InitialMtu);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-18.2
        //# The preferred_address transport parameter contains an address and
        //# port for both IPv4 and IPv6.
        let bad = |why: String| Err(ConfigError::PreferredAddress(why));
        let v4 = self
            .preferred_address
            .iter()
            .filter(|a| a.is_ipv4())
            .count();
        if v4 > 1 || self.preferred_address.len() - v4 > 1 {
            return bad("at most one IPv4 and one IPv6 address".into());
        }
        for a in &self.preferred_address {
            if a.is_unspecified() || a.is_multicast() {
                return bad(format!("{a} is not an address a client can send to"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(ServeOptions::default().validate(), Ok(()));
    }

    /// quinn's pacer can be turned off only in the patched build.
    #[test]
    fn pacing_off_needs_the_switch() {
        let off = QuicOptions {
            pacing: false,
            ..QuicOptions::default()
        };
        let want = if PACING_SWITCH {
            Ok(())
        } else {
            Err(ConfigError::NoPacingSwitch)
        };
        assert_eq!(off.validate(), want);
    }

    /// At most one preferred address per family, each one a client can
    /// send to.
    #[test]
    fn preferred_addresses() {
        let with = |a: &[&str]| QuicOptions {
            preferred_address: a.iter().map(|a| a.parse().expect("an address")).collect(),
            ..QuicOptions::default()
        };
        assert_eq!(with(&["127.0.0.2", "::1"]).validate(), Ok(()));
        for bad in [
            &["127.0.0.2", "127.0.0.3"][..],
            &["::1", "::2"],
            &["0.0.0.0"],
            &["224.0.0.1"],
        ] {
            assert!(
                matches!(with(bad).validate(), Err(ConfigError::PreferredAddress(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn each_cross_option_rule() {
        let o = ServeOptions {
            body_chunk: 0,
            ..ServeOptions::default()
        };
        assert_eq!(o.validate(), Err(ConfigError::BodyChunk));
        let o = ServeOptions {
            mode: SchedulerMode::Queue(SendConfig {
                quantum: 0,
                ..SendConfig::default()
            }),
            ..ServeOptions::default()
        };
        assert_eq!(o.validate(), Err(ConfigError::QueueSizes));
        let q = |f: fn(&mut QuicOptions)| {
            let mut q = QuicOptions::default();
            f(&mut q);
            q.validate()
        };
        assert_eq!(
            q(|q| q.key_update_every = Some(0)),
            Err(ConfigError::KeyUpdateEvery)
        );
        assert_eq!(
            q(|q| q.initial_window = Some(2399)),
            Err(ConfigError::InitialWindow)
        );
        assert_eq!(q(|q| q.initial_window = Some(2400)), Ok(()));
        assert_eq!(
            q(|q| q.initial_mtu = Some(1199)),
            Err(ConfigError::InitialMtu)
        );
        assert_eq!(q(|q| q.initial_mtu = Some(1472)), Ok(()));
        // Every controller's name parses back to it.
        for c in [Congestion::Cubic, Congestion::NewReno, Congestion::Bbr] {
            assert_eq!(c.name().parse::<Congestion>(), Ok(c));
        }
        assert_eq!(
            q(|q| {
                q.zero_rtt = true;
                q.resumption = false
            }),
            Err(ConfigError::ZeroRttWithoutResumption)
        );
    }
}
