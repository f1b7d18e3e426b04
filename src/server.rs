//! Starting and stopping a pushlab server: the library API behind
//! `pushlab serve`, used by tests, benchmarks and experiments alike. HTTP/3
//! listens on UDP and HTTP/2 (with a minimal HTTP/1.1) on TCP, on the same
//! port.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::ServeOptions;
use crate::http2::server::{self as h2srv, TcpOptions};
use crate::http3::server as h3srv;
use crate::sched::inflight::InflightMode;
use crate::stats::ServerStats;
use crate::tls::{Identity, TlsError};

/// Problems starting a server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Options that cannot work together.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// TLS set-up failed.
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// Binding a socket failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// rustls refused the QUIC configuration.
    #[error("QUIC TLS configuration: {0}")]
    Quic(#[from] rustls::Error),
    /// A TLS record size out of range.
    #[error("--tls-max-record {0}: must be 64 to 16384 bytes")]
    TlsRecordSize(usize),
    /// A TCP congestion control this kernel does not offer.
    #[error("{0}")]
    TcpCongestion(std::io::Error),
    /// Both protocols were turned off.
    #[error("--no-h2 and --no-h3 together leave nothing to serve")]
    NothingToServe,
    /// A preferred address the server cannot receive on.
    #[error("--preferred-address {addr}: {why}")]
    PreferredAddress {
        /// The address.
        addr: std::net::IpAddr,
        /// Why it cannot be used.
        why: String,
    },
}

/// The server configuration advertising `preferred` (IP addresses of this
/// host) on the bound port. quinn routes datagrams by connection ID within
/// one endpoint, so the endpoint's one socket must receive on them too: it
/// must be bound to the unspecified address of a family that covers them.
fn with_preferred(
    mut cfg: quinn::ServerConfig,
    preferred: &[std::net::IpAddr],
    bound: SocketAddr,
) -> Result<quinn::ServerConfig, ServeError> {
    use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
    for &ip in preferred {
        let why = |why: &str| ServeError::PreferredAddress {
            addr: ip,
            why: why.to_string(),
        };
        let covered = match (bound.ip(), ip) {
            (IpAddr::V4(b), IpAddr::V4(_)) => b.is_unspecified(),
            // A dual-stack socket on [::] receives IPv4 too.
            (IpAddr::V6(b), _) => b.is_unspecified(),
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        };
        if !covered {
            return Err(why(&format!(
                "the server must listen on the unspecified address (0.0.0.0 or [::]) to \
                 receive on it with its one socket, not on {}",
                bound.ip()
            )));
        }
        if ip == bound.ip() {
            return Err(why("it is the address the server listens on"));
        }
        // An address of this host, or no datagram sent to it arrives.
        std::net::UdpSocket::bind((ip, 0))
            .map_err(|e| why(&format!("not an address of this host ({e})")))?;
        match ip {
            IpAddr::V4(v4) => {
                cfg.preferred_address_v4(Some(SocketAddrV4::new(v4, bound.port())));
            }
            IpAddr::V6(v6) => {
                cfg.preferred_address_v6(Some(SocketAddrV6::new(v6, bound.port(), 0, 0)));
            }
        }
    }
    Ok(cfg)
}

/// Everything needed to start a server.
#[derive(Clone)]
pub struct ServerOptions {
    /// UDP and TCP address.
    pub addr: SocketAddr,
    /// Certificate and key.
    pub identity: Identity,
    /// Options shared by the protocols.
    pub serve: ServeOptions,
    /// Serve HTTP/3 on UDP.
    pub h3: bool,
    /// Serve HTTP/2 and HTTP/1.1 on TCP.
    pub h2: bool,
    /// TCP_NOTSENT_LOWAT for TCP connections.
    pub tcp_notsent_lowat: Option<u32>,
    /// TCP congestion control for TCP connections (None: the kernel's
    /// default, `net.ipv4.tcp_congestion_control`).
    pub tcp_cc: Option<String>,
    /// The largest TLS record plaintext on TCP connections (None: rustls's
    /// 16 KiB). Small records let a client decrypt the first bytes of a
    /// response before the rest of a 16 KiB record has arrived.
    pub tls_max_record: Option<usize>,
    /// In-flight control for preemptible bytes on TCP connections
    /// ([`crate::http2::gate`]).
    pub tcp_inflight: InflightMode,
    /// Kernel TCP pacing on TCP connections (see
    /// [`crate::netinfo::enable_tcp_pacing`]).
    pub tcp_pacing: bool,
    /// HTTP/3 responses carry `alt-svc` advertising HTTP/3 on this port
    /// (on by default; see the comment where it is set).
    pub h3_alt_svc: bool,
}

impl ServerOptions {
    /// Both protocols on `addr` with the given options.
    pub fn new(addr: SocketAddr, identity: Identity, serve: ServeOptions) -> Self {
        ServerOptions {
            addr,
            identity,
            serve,
            h3: true,
            h2: true,
            tcp_notsent_lowat: None,
            tcp_cc: None,
            tls_max_record: None,
            tcp_inflight: InflightMode::Off,
            tcp_pacing: false,
            h3_alt_svc: true,
        }
    }
}

/// A running server.
pub struct RunningServer {
    /// The bound address (the port is real even if 0 was asked for).
    pub addr: SocketAddr,
    /// base64 SHA-256 of the certificate's SPKI.
    pub spki_sha256: String,
    /// The certificate as PEM.
    pub cert_pem: String,
    /// Counters.
    pub stats: Arc<ServerStats>,
    /// Whether HTTP/3 and HTTP/2 are on.
    pub protocols: (bool, bool),
    /// The Retry-always endpoint (`--retry-port`).
    pub retry_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// A quinn server endpoint on a UDP socket whose buffers were asked to be
/// `buffer` bytes (0: the kernel's default). What the kernel granted is
/// logged, and a warning says when it capped the request.
fn udp_endpoint(
    config: quinn::ServerConfig,
    addr: SocketAddr,
    buffer: usize,
) -> Result<quinn::Endpoint, ServeError> {
    let sock = std::net::UdpSocket::bind(addr).map_err(bind_err(addr))?;
    if buffer > 0 {
        let s = socket2::SockRef::from(&sock);
        let _ = s.set_recv_buffer_size(buffer);
        let _ = s.set_send_buffer_size(buffer);
        // Linux reports twice the size set (its bookkeeping overhead).
        let got = |r: std::io::Result<usize>| r.map(|n| n / 2).unwrap_or(0);
        let (rcv, snd) = (got(s.recv_buffer_size()), got(s.send_buffer_size()));
        if rcv < buffer || snd < buffer {
            tracing::warn!(
                asked = buffer,
                rcvbuf = rcv,
                sndbuf = snd,
                "UDP socket buffers capped by the kernel (raise net.core.rmem_max and wmem_max)"
            );
        } else {
            tracing::debug!(rcvbuf = rcv, sndbuf = snd, "UDP socket buffers");
        }
    }
    let runtime = quinn::default_runtime()
        .ok_or_else(|| bind_err(addr)(std::io::Error::other("no async runtime")))?;
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        sock,
        runtime,
    )
    .map_err(bind_err(addr))
}

fn bind_err(addr: SocketAddr) -> impl FnOnce(std::io::Error) -> ServeError {
    move |source| ServeError::Bind { addr, source }
}

impl RunningServer {
    /// Starts serving; returns once the sockets are bound.
    pub async fn start(opts: ServerOptions) -> Result<RunningServer, ServeError> {
        // quinn's pacer is process-wide in the patched build.
        crate::config::apply_pacing(opts.serve.quic.pacing)?;
        if !opts.h2 && !opts.h3 {
            return Err(ServeError::NothingToServe);
        }
        //= https://www.rfc-editor.org/rfc/rfc8446#section-5.1
        //# The length MUST NOT exceed 2^14 bytes.
        if let Some(n) = opts.tls_max_record {
            if !(64..=16_384).contains(&n) {
                return Err(ServeError::TlsRecordSize(n));
            }
        }
        if let Some(cc) = &opts.tcp_cc {
            crate::netinfo::check_congestion_control(cc).map_err(ServeError::TcpCongestion)?;
        }
        let quic_tls =
            crate::http3::transport::rustls_server_config(&opts.identity, &opts.serve.quic)?;
        let server_config = h3srv::quinn_server_config(quic_tls, &opts.serve)?;
        // With port 0 both sockets must end up on one port: bind UDP, then TCP
        // on the same port, retrying with another port if TCP's is taken.
        let mut attempt = 0;
        let (endpoint, listener, addr) = loop {
            attempt += 1;
            let endpoint = if opts.h3 {
                Some(udp_endpoint(
                    server_config.clone(),
                    opts.addr,
                    opts.serve.quic.udp_buffer,
                )?)
            } else {
                None
            };
            let addr = match &endpoint {
                Some(e) => e.local_addr().map_err(bind_err(opts.addr))?,
                None => opts.addr,
            };
            if !opts.h2 {
                break (endpoint, None, addr);
            }
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => {
                    let addr = l.local_addr().map_err(bind_err(addr))?;
                    break (endpoint, Some(l), addr);
                }
                Err(e) if opts.addr.port() == 0 && attempt < 10 => {
                    tracing::debug!(%addr, %e, "TCP port taken, trying another");
                    continue;
                }
                Err(e) => return Err(bind_err(addr)(e)),
            }
        };
        let server_config = match &endpoint {
            Some(ep) if !opts.serve.quic.preferred_address.is_empty() => {
                let cfg = with_preferred(server_config, &opts.serve.quic.preferred_address, addr)?;
                ep.set_server_config(Some(cfg.clone()));
                cfg
            }
            _ => server_config,
        };
        let (tx, rx) = watch::channel(false);
        let stats = Arc::new(ServerStats::default());
        let mut serve = opts.serve.clone();
        if opts.h3 && opts.h3_alt_svc && serve.core.alt_svc.is_none() {
            // HTTP/3 responses advertise HTTP/3 too, as deployed servers'
            // do. A client that reached the origin over QUIC without an
            // Alt-Svc record (Chromium with --origin-to-force-quic-on)
            // otherwise does not know the origin supports request
            // priorities, and Chromium's network service then holds
            // low-priority requests as for an HTTP/1.1 host (at most 6 in
            // flight per host): measured in its net logs, see
            // proto-notes/browser-model.md.
            serve.core.alt_svc = Some(format!("h3=\":{}\"; ma=86400", addr.port()));
        }
        let serve = Arc::new(serve);
        let mut tasks = Vec::new();
        let mut retry_addr = None;
        if let Some(endpoint) = endpoint {
            if let Some(port) = opts.serve.quic.retry_port {
                // The same server, with Retry always on, on another port.
                let raddr = SocketAddr::new(addr.ip(), port);
                let ep = udp_endpoint(server_config.clone(), raddr, opts.serve.quic.udp_buffer)?;
                retry_addr = Some(ep.local_addr().map_err(bind_err(raddr))?);
                tasks.push(tokio::spawn(h3srv::serve(
                    ep,
                    server_config.clone(),
                    serve.clone(),
                    stats.clone(),
                    rx.clone(),
                    true,
                )));
            }
            tasks.push(tokio::spawn(h3srv::serve(
                endpoint,
                server_config,
                serve.clone(),
                stats.clone(),
                rx.clone(),
                opts.serve.quic.retry,
            )));
        }
        if let Some(listener) = listener {
            let mut tls = opts.identity.server_config(&[b"h2", b"http/1.1"])?;
            tls.max_fragment_size = opts.tls_max_record;
            let tls = Arc::new(tls);
            let tcp = TcpOptions {
                notsent_lowat: opts.tcp_notsent_lowat,
                cc: opts.tcp_cc.clone(),
                pacing: opts.tcp_pacing,
                inflight: opts.tcp_inflight,
                alt_svc: opts
                    .h3
                    .then(|| format!("h3=\":{}\"; ma=86400", addr.port())),
            };
            tasks.push(tokio::spawn(h2srv::serve(
                listener,
                tls,
                serve,
                tcp,
                stats.clone(),
                rx,
            )));
        }
        Ok(RunningServer {
            addr,
            retry_addr,
            spki_sha256: opts.identity.spki_sha256.clone(),
            cert_pem: opts.identity.cert_pem.clone(),
            stats,
            protocols: (opts.h3, opts.h2),
            shutdown: tx,
            tasks,
        })
    }

    /// Graceful shutdown: GOAWAY, in-flight responses complete (bounded wait).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::QuicOptions;

    /// A preferred address is refused, saying why, unless the one socket
    /// can receive on it: bound to the unspecified address of a family
    /// that covers it, and an address of this host other than the bound one.
    #[test]
    fn preferred_addresses_the_socket_can_receive_on() {
        let id = Identity::self_signed().expect("a certificate");
        let o = QuicOptions::default();
        let tls = crate::http3::transport::rustls_server_config(&id, &o).expect("tls");
        let t =
            crate::http3::transport::transport(&o, 100, std::time::Duration::from_secs(30), false);
        let cfg = crate::http3::transport::quinn_server_config(tls, &o, t).expect("quinn");
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("an address");
        let sock = |s: &str| s.parse::<SocketAddr>().expect("a socket address");
        let err = |p: &str, bound: &str| match with_preferred(cfg.clone(), &[ip(p)], sock(bound)) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        assert_eq!(err("127.0.0.2", "0.0.0.0:4433"), "");
        assert_eq!(err("127.0.0.2", "[::]:4433"), "", "a dual-stack socket");
        assert!(err("127.0.0.2", "127.0.0.1:4433").contains("unspecified address"));
        assert!(err("::1", "0.0.0.0:4433").contains("unspecified address"));
        assert!(err("192.0.2.1", "0.0.0.0:4433").contains("not an address of this host"));
        assert!(err("0.0.0.0", "0.0.0.0:4433").contains("listens on"));
    }
}
