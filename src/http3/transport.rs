//! QUIC transport options of the server: stateless Retry, session
//! resumption and 0-RTT, key updates, migration, the cipher suite, the
//! congestion controller and its initial window, idle timeout and
//! keep-alive, and the ALPN `hq-interop` beside `h3`. What quinn and
//! rustls do with each is in `proto-notes/quic-transport.md`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use parking_lot::Mutex;

use crate::config::{Congestion, QuicOptions};

/// The ALPN protocols the QUIC side offers.
pub fn alpn(opts: &QuicOptions) -> Vec<&'static [u8]> {
    let mut v: Vec<&'static [u8]> = vec![b"h3"];
    if opts.hq_interop {
        v.push(b"hq-interop");
    }
    v
}

/// A crypto provider with only ChaCha20-Poly1305 as TLS 1.3 suite.
pub fn chacha20_provider() -> Arc<rustls::crypto::CryptoProvider> {
    let base = rustls::crypto::ring::default_provider();
    Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: vec![rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256],
        ..base
    })
}

/// The suite protecting Initial packets (RFC 9001 section 5.2:
/// AES-128-GCM), needed when the configured suites lack it.
pub fn initial_suite() -> Option<rustls::quic::Suite> {
    rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()?
        .quic_suite()
}

/// The rustls server configuration for QUIC under these options.
pub fn rustls_server_config(
    identity: &crate::tls::Identity,
    opts: &QuicOptions,
) -> Result<rustls::ServerConfig, crate::tls::TlsError> {
    let provider = if opts.chacha20_only {
        chacha20_provider()
    } else {
        crate::tls::provider()
    };
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(identity.certs.clone(), identity.key.clone_key())?;
    cfg.alpn_protocols = alpn(opts).iter().map(|a| a.to_vec()).collect();
    if opts.resumption {
        // Stateful tickets: rustls accepts early data only with them, and
        // its cache hands each one out once (a replayed ClientHello finds
        // nothing and falls back to a full handshake).
        cfg.session_storage = rustls::server::ServerSessionMemoryCache::new(4096);
    } else {
        cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        cfg.send_tls13_tickets = 0;
    }
    //= https://www.rfc-editor.org/rfc/rfc9001#section-4.6.1
    //# Servers MUST NOT send the early_data extension with a
    //# max_early_data_size field set to any value other than 0xffffffff.
    cfg.max_early_data_size = if opts.zero_rtt && opts.resumption {
        u32::MAX
    } else {
        0
    };
    Ok(cfg)
}

/// The quinn transport configuration.
///
/// `window_floor`: see [`super::cc::ObservingFactory`] (on with in-flight
/// control).
pub fn transport(
    opts: &QuicOptions,
    max_bidi: u64,
    idle_timeout: Duration,
    window_floor: bool,
) -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u64(max_bidi).unwrap_or(quinn::VarInt::MAX));
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(16));
    t.max_idle_timeout(quinn::IdleTimeout::try_from(idle_timeout).ok());
    t.keep_alive_interval(opts.keep_alive);
    if let Some(rtt) = opts.initial_rtt {
        t.initial_rtt(rtt);
    }
    if !opts.mtu_discovery {
        t.mtu_discovery_config(None);
    }
    if let Some(m) = opts.initial_mtu {
        t.initial_mtu(m);
    }
    // Every controller is wrapped so that traces can read what quinn does
    // not publish (bytes in flight, application-limited); see cc.rs.
    let factory: Arc<dyn quinn::congestion::ControllerFactory + Send + Sync> = match opts.congestion
    {
        Congestion::Cubic => {
            let mut c = quinn::congestion::CubicConfig::default();
            if let Some(w) = opts.initial_window {
                c.initial_window(w);
            }
            Arc::new(c)
        }
        Congestion::NewReno => {
            let mut c = quinn::congestion::NewRenoConfig::default();
            if let Some(w) = opts.initial_window {
                c.initial_window(w);
            }
            Arc::new(c)
        }
        Congestion::Bbr => {
            let mut c = quinn::congestion::BbrConfig::default();
            if let Some(w) = opts.initial_window {
                c.initial_window(w);
            }
            Arc::new(c)
        }
    };
    t.congestion_controller_factory(Arc::new(super::cc::ObservingFactory {
        inner: factory,
        window_floor,
        stall_check: opts.ack_stall_check,
    }));
    t
}

/// The quinn server configuration from a rustls one.
pub fn quinn_server_config(
    tls: rustls::ServerConfig,
    opts: &QuicOptions,
    transport: quinn::TransportConfig,
) -> Result<quinn::ServerConfig, rustls::Error> {
    let crypto = if opts.chacha20_only {
        let initial = initial_suite().ok_or_else(|| {
            rustls::Error::General("no AES-128-GCM suite for Initial packets".into())
        })?;
        quinn::crypto::rustls::QuicServerConfig::with_initial(Arc::new(tls), initial)
            .map_err(|e| rustls::Error::General(e.to_string()))?
    } else {
        quinn::crypto::rustls::QuicServerConfig::try_from(tls)
            .map_err(|e| rustls::Error::General(e.to_string()))?
    };
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    cfg.transport_config(Arc::new(transport));
    cfg.migration(opts.migration);
    if let Some(l) = opts.retry_token_lifetime {
        cfg.retry_token_lifetime(l);
    }
    Ok(cfg)
}

/// Whether a connection accepted with 0-RTT has completed its handshake:
/// requests processed before that came in early data, which an attacker
/// can replay.
//= https://www.rfc-editor.org/rfc/rfc9001#section-9.2
//# Ultimately, the responsibility for managing the risks of replay attacks
//# with 0-RTT lies with an application protocol.
pub struct Handshake {
    pending: Mutex<Option<Pin<Box<dyn Future<Output = bool> + Send>>>>,
    done: AtomicBool,
}

impl Handshake {
    /// A connection whose handshake completed before the application saw it.
    pub fn complete() -> Arc<Handshake> {
        Arc::new(Handshake {
            pending: Mutex::new(None),
            done: AtomicBool::new(true),
        })
    }

    /// A connection accepted in 0-RTT; `accepted` resolves when the
    /// handshake completes.
    pub fn early(accepted: quinn::ZeroRttAccepted) -> Arc<Handshake> {
        Arc::new(Handshake {
            pending: Mutex::new(Some(Box::pin(accepted))),
            done: AtomicBool::new(false),
        })
    }

    /// Whether the handshake is complete now (polls quinn's state, so no
    /// task can lag behind it).
    pub fn is_complete(&self) -> bool {
        if self.done.load(Ordering::Acquire) {
            return true;
        }
        let mut pending = self.pending.lock();
        let ready = match pending.as_mut() {
            Some(f) => {
                let mut cx = Context::from_waker(Waker::noop());
                f.as_mut().poll(&mut cx).is_ready()
            }
            None => true,
        };
        if ready {
            *pending = None;
            self.done.store(true, Ordering::Release);
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn congestion_names() {
        assert_eq!("cubic".parse::<Congestion>(), Ok(Congestion::Cubic));
        assert_eq!("NewReno".parse::<Congestion>(), Ok(Congestion::NewReno));
        assert_eq!("bbr".parse::<Congestion>(), Ok(Congestion::Bbr));
        assert!("vegas".parse::<Congestion>().is_err());
    }

    /// ChaCha20-only configurations build (with an AES Initial suite), and
    /// 0-RTT is only ever announced with the value QUIC requires.
    #[test]
    fn configurations_build() {
        let id = crate::tls::Identity::self_signed().unwrap();
        for (chacha, zero, resume) in [
            (false, false, true),
            (true, true, true),
            (false, true, false),
        ] {
            let o = QuicOptions {
                chacha20_only: chacha,
                zero_rtt: zero,
                resumption: resume,
                ..QuicOptions::default()
            };
            let tls = rustls_server_config(&id, &o).unwrap();
            assert!(tls.max_early_data_size == 0 || tls.max_early_data_size == u32::MAX);
            assert_eq!(tls.max_early_data_size == u32::MAX, zero && resume);
            assert_eq!(tls.alpn_protocols.len(), 2);
            let t = transport(&o, 100, Duration::from_secs(30), false);
            quinn_server_config(tls, &o, t).unwrap();
        }
        assert!(initial_suite().is_some());
    }

    #[test]
    fn a_completed_handshake_is_complete() {
        assert!(Handshake::complete().is_complete());
    }
}
