//! What a connection's transport and send queue hold at a moment, for
//! traces that say why a response waited (see `pushlab compare`: sampled
//! through every load, and at the moment the document became ready).
//!
//! Each connection registers a [`ConnProbe`] with the server's [`Probes`];
//! the registry keeps weak references, so a closed connection drops out by
//! itself.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// One connection's state as the server sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnState {
    /// "h3" or "h2".
    pub protocol: String,
    /// Congestion window, bytes (quinn's path statistics, or TCP_INFO).
    pub cwnd: u64,
    /// Smoothed RTT, microseconds.
    pub srtt_us: u64,
    /// Minimum RTT, microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rtt_us: Option<u64>,
    /// Bytes the transport has sent (QUIC: UDP payload bytes; TCP:
    /// TCP_INFO's bytes sent, retransmissions included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_bytes: Option<u64>,
    /// Bytes sent and not yet acknowledged (TCP_INFO; for QUIC, quinn's
    /// count at the last batch of ACKs plus what was sent since, from the
    /// observing congestion controller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<u64>,
    /// Whether quinn was application-limited at the last ACKs (it had
    /// nothing to send with window to spare, so NewReno and CUBIC did not
    /// grow the window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_limited: Option<bool>,
    /// Bytes the transport holds unsent (TCP_INFO's notsent bytes; quinn
    /// does not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_unsent: Option<u64>,
    /// Bytes the HTTP/2 writer holds: DATA payload the queue handed to h2
    /// and h2 has not yet written to TLS (what TLS buffers is not counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer_held: Option<u64>,
    /// The transport's delivery-rate estimate, bytes per second: TCP_INFO's
    /// for HTTP/2, the rate from ACK spacing for HTTP/3
    /// ([`crate::sched::dispersion`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_rate: Option<u64>,
    /// Loss so far: TCP_INFO's retransmitted segments (HTTP/2), or the
    /// packets quinn declared lost (HTTP/3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrans: Option<u64>,
    /// HTTP/2: retransmission timeouts so far (TCP_INFO, kernel 6.7+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtos: Option<u64>,
    /// HTTP/2: retransmissions the client reported as duplicates (DSACK):
    /// spurious ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spurious_retrans: Option<u64>,
    /// HTTP/2: the kernel's congestion-avoidance state (open, disorder,
    /// cwr, recovery, loss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_state: Option<String>,
    /// HTTP/2: the receive window the client last advertised, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_window: Option<u64>,
    /// HTTP/2: segments sent and not yet acknowledged (TCP_INFO's
    /// `tcpi_unacked`). Linux's congestion window counts segments, not
    /// bytes: small segments fill it early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments_in_flight: Option<u64>,
    /// HTTP/2: the congestion window in segments (`tcpi_snd_cwnd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwnd_segments: Option<u64>,
    /// The congestion controller: the kernel's for the TCP socket
    /// (`bbr`, `cubic`, ...), quinn's for QUIC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub congestion_control: Option<String>,
    /// Bytes waiting in pushlab's user-space send queue.
    pub queued: u64,
    /// The send window pushlab last set in quinn: stream bytes written and
    /// not yet acknowledged, in flight or held in quinn, stay below it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_window: Option<u64>,
    /// The in-flight budget's estimate of the path's BDP, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bdp_estimate: Option<u64>,
    /// Whether the window is currently limited for preemptible bytes.
    pub window_limited: bool,
    /// Whether quinn's send window is full (the queue's last pass found it
    /// refusing data): then quinn holds `send_window - in_flight` bytes
    /// unsent, give or take packet overhead.
    pub transport_full: bool,
}

impl ConnState {
    /// Bytes held unsent above the wire, when that can be told. HTTP/3:
    /// stream bytes quinn holds unsent, when its send window is full (then
    /// unacknowledged plus unsent equals the window; packet overhead counted
    /// in flight makes it a slight underestimate). HTTP/2: TCP_INFO's
    /// notsent bytes plus what h2 holds.
    pub fn transport_held_unsent(&self) -> Option<u64> {
        if let Some(u) = self.transport_unsent {
            // HTTP/2: the kernel's unsent bytes and h2's.
            return Some(u + self.writer_held.unwrap_or(0));
        }
        if !self.transport_full {
            return None;
        }
        Some(self.send_window?.saturating_sub(self.in_flight?))
    }
}

/// Something that can report a connection's state.
pub trait ConnProbe: Send + Sync {
    /// The state now.
    fn state(&self) -> ConnState;
}

/// The live connections of a server.
#[derive(Default)]
pub struct Probes {
    list: Mutex<Vec<Weak<dyn ConnProbe>>>,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("registered", &self.list.lock().len())
            .finish()
    }
}

impl Probes {
    /// Registers a connection; it stays listed while `probe` lives.
    pub fn register(&self, probe: &Arc<dyn ConnProbe>) {
        let mut l = self.list.lock();
        l.retain(|w| w.strong_count() > 0);
        l.push(Arc::downgrade(probe));
    }

    /// How many registered connections are still open.
    pub fn live(&self) -> usize {
        let mut l = self.list.lock();
        l.retain(|w| w.strong_count() > 0);
        l.len()
    }

    /// The state of every live connection, oldest first.
    pub fn sample(&self) -> Vec<ConnState> {
        let live: Vec<Arc<dyn ConnProbe>> = {
            let mut l = self.list.lock();
            l.retain(|w| w.strong_count() > 0);
            l.iter().filter_map(Weak::upgrade).collect()
        };
        live.iter().map(|p| p.state()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u64);
    impl ConnProbe for Fixed {
        fn state(&self) -> ConnState {
            ConnState {
                cwnd: self.0,
                ..Default::default()
            }
        }
    }

    /// A dropped connection leaves the registry; live ones stay in order.
    #[test]
    fn closed_connections_drop_out() {
        let probes = Probes::default();
        let a: Arc<dyn ConnProbe> = Arc::new(Fixed(1));
        let b: Arc<dyn ConnProbe> = Arc::new(Fixed(2));
        probes.register(&a);
        probes.register(&b);
        assert_eq!(
            probes.sample().iter().map(|s| s.cwnd).collect::<Vec<_>>(),
            [1, 2]
        );
        drop(a);
        assert_eq!(
            probes.sample().iter().map(|s| s.cwnd).collect::<Vec<_>>(),
            [2]
        );
    }
}
