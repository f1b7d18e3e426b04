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
    /// Both protocols were turned off.
    #[error("--no-h2 and --no-h3 together leave nothing to serve")]
    NothingToServe,
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
    /// In-flight control for preemptible bytes on TCP connections
    /// ([`crate::http2::gate`]).
    pub tcp_inflight: InflightMode,
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
            tcp_inflight: InflightMode::Off,
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

fn bind_err(addr: SocketAddr) -> impl FnOnce(std::io::Error) -> ServeError {
    move |source| ServeError::Bind { addr, source }
}

impl RunningServer {
    /// Starts serving; returns once the sockets are bound.
    pub async fn start(opts: ServerOptions) -> Result<RunningServer, ServeError> {
        if !opts.h2 && !opts.h3 {
            return Err(ServeError::NothingToServe);
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
                Some(
                    quinn::Endpoint::server(server_config.clone(), opts.addr)
                        .map_err(bind_err(opts.addr))?,
                )
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
        let (tx, rx) = watch::channel(false);
        let stats = Arc::new(ServerStats::default());
        let serve = Arc::new(opts.serve.clone());
        let mut tasks = Vec::new();
        let mut retry_addr = None;
        if let Some(endpoint) = endpoint {
            if let Some(port) = opts.serve.quic.retry_port {
                // The same server, with Retry always on, on another port.
                let raddr = SocketAddr::new(addr.ip(), port);
                let ep = quinn::Endpoint::server(server_config.clone(), raddr)
                    .map_err(bind_err(raddr))?;
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
            let tls = Arc::new(opts.identity.server_config(&[b"h2", b"http/1.1"])?);
            let tcp = TcpOptions {
                notsent_lowat: opts.tcp_notsent_lowat,
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
