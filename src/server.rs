//! Starting and stopping a pushlab server: the library API behind
//! `pushlab serve`, used by tests, benchmarks and experiments alike.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::http3::server::{self as h3srv, H3Options, ServerStats};
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
}

/// Everything needed to start a server.
#[derive(Clone)]
pub struct ServerOptions {
    /// UDP (and later TCP) address.
    pub addr: SocketAddr,
    /// Certificate and key.
    pub identity: Identity,
    /// HTTP/3 options.
    pub h3: H3Options,
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
    shutdown: watch::Sender<bool>,
    h3: JoinHandle<()>,
}

impl RunningServer {
    /// Starts serving; returns once the sockets are bound.
    pub async fn start(opts: ServerOptions) -> Result<RunningServer, ServeError> {
        let tls = opts.identity.server_config(&[b"h3"])?;
        let server_config = h3srv::quinn_server_config(tls, &opts.h3)?;
        let endpoint =
            quinn::Endpoint::server(server_config.clone(), opts.addr).map_err(|source| {
                ServeError::Bind {
                    addr: opts.addr,
                    source,
                }
            })?;
        let addr = endpoint.local_addr().map_err(|source| ServeError::Bind {
            addr: opts.addr,
            source,
        })?;
        let (tx, rx) = watch::channel(false);
        let stats = Arc::new(ServerStats::default());
        let h3 = tokio::spawn(h3srv::serve(
            endpoint,
            server_config,
            Arc::new(opts.h3.clone()),
            stats.clone(),
            rx,
        ));
        Ok(RunningServer {
            addr,
            spki_sha256: opts.identity.spki_sha256.clone(),
            cert_pem: opts.identity.cert_pem.clone(),
            stats,
            shutdown: tx,
            h3,
        })
    }

    /// Graceful shutdown: GOAWAY, in-flight responses complete (bounded wait).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.h3.await;
    }
}
