//! What the kernel knows about a TCP connection (TCP_INFO) and the
//! TCP_NOTSENT_LOWAT option, for the HTTP/2 path: `rot` needs the
//! congestion window, and the head-of-line study needs to bound (or not)
//! what waits unsent in the kernel.
//!
//! This is one of the crate's two `unsafe` places (the other is the
//! counting allocator in `memory`): one `getsockopt` call, because no
//! maintained safe wrapper for TCP_INFO builds here without bindgen.

use std::io;
use std::os::fd::AsRawFd;

/// The part of TCP_INFO pushlab uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    /// Congestion window in bytes (segments x MSS).
    pub cwnd_bytes: u64,
    /// Bytes sent and not yet acknowledged (segments x MSS).
    pub in_flight_bytes: u64,
    /// Smoothed round-trip time in microseconds.
    pub rtt_us: u32,
    /// Sender MSS in bytes.
    pub mss: u32,
    /// Total retransmitted segments.
    pub total_retrans: u32,
    /// Bytes written to the socket and not yet sent (kernel 4.6+).
    pub notsent_bytes: Option<u64>,
    /// Minimum RTT the kernel has seen, microseconds (kernel 4.6+).
    pub min_rtt_us: Option<u32>,
    /// The kernel's delivery-rate estimate, bytes per second (kernel 4.9+).
    pub delivery_rate: Option<u64>,
    /// The pacing rate in use, bytes per second (kernel 4.6+).
    pub pacing_rate: Option<u64>,
    /// Bytes sent so far, retransmissions included (kernel 4.19+).
    pub bytes_sent: Option<u64>,
    /// Bytes acknowledged so far (kernel 4.1+).
    pub bytes_acked: Option<u64>,
    /// Bytes retransmitted so far (kernel 4.19+).
    pub bytes_retrans: Option<u64>,
    /// The congestion-avoidance state: 0 open, 1 disorder, 2 CWR,
    /// 3 recovery, 4 loss (after a retransmission timeout).
    pub ca_state: u8,
    /// Retransmission timeouts so far (kernel 6.7+).
    pub total_rto: Option<u16>,
    /// Segments the receiver reported twice with DSACK: retransmissions
    /// that were not needed (kernel 5.4+).
    pub dsack_dups: Option<u32>,
    /// The receive window the peer last advertised, bytes (kernel 5.4+).
    pub snd_wnd: Option<u32>,
}

/// The name of a TCP_INFO congestion-avoidance state.
pub fn ca_state_name(state: u8) -> &'static str {
    match state {
        0 => "open",
        1 => "disorder",
        2 => "cwr",
        3 => "recovery",
        4 => "loss",
        _ => "unknown",
    }
}

impl TcpInfo {
    /// Bytes sent and not yet acknowledged, counted in bytes (sent minus
    /// retransmitted minus acknowledged) where the kernel reports them:
    /// [`TcpInfo::in_flight_bytes`] counts segments times the MSS, which
    /// overstates small segments (a sender that writes 1.2 kB at a time
    /// reached 60% of the link, gated on it).
    pub fn unacked_bytes(&self) -> u64 {
        match (self.bytes_sent, self.bytes_retrans, self.bytes_acked) {
            (Some(s), Some(r), Some(a)) => s.saturating_sub(r).saturating_sub(a),
            _ => self.in_flight_bytes,
        }
    }
}

/// The TCP congestion controls this kernel offers to sockets
/// (`net.ipv4.tcp_available_congestion_control`).
pub fn available_congestion_controls() -> Vec<String> {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The congestion control new TCP sockets get here
/// (`net.ipv4.tcp_congestion_control`).
pub fn default_congestion_control() -> Option<String> {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Checks that TCP congestion control `name` can be set on a socket here
/// (it must be loaded: see [`available_congestion_controls`]).
pub fn check_congestion_control(name: &str) -> io::Result<()> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.set_tcp_congestion(name.as_bytes()).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "TCP congestion control {name:?}: {e} (available: {})",
                available_congestion_controls().join(", ")
            ),
        )
    })
}

/// The congestion control a TCP socket uses.
pub fn congestion_control(sock: &socket2::SockRef<'_>) -> io::Result<String> {
    let name = sock.tcp_congestion()?;
    Ok(String::from_utf8_lossy(&name)
        .trim_end_matches('\0')
        .to_string())
}

/// Reads TCP_INFO for a connected TCP socket.
#[allow(unsafe_code)]
pub fn tcp_info(sock: &impl AsRawFd) -> io::Result<TcpInfo> {
    let mut info: libc::tcp_info = unsafe_zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `ext` is a valid, writable struct of `len` bytes; the kernel
    // writes at most `len` bytes and updates `len`. The fd is owned by
    // `sock`, which outlives the call.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let len = len as usize;
    // A field is valid when the kernel wrote past its end (older kernels
    // fill less of the struct).
    let has = |end: usize| len >= end;
    let mss = u64::from(info.tcpi_snd_mss);
    Ok(TcpInfo {
        cwnd_bytes: u64::from(info.tcpi_snd_cwnd) * mss,
        in_flight_bytes: u64::from(info.tcpi_unacked) * mss,
        rtt_us: info.tcpi_rtt,
        mss: info.tcpi_snd_mss,
        total_retrans: info.tcpi_total_retrans,
        notsent_bytes: has(std::mem::offset_of!(libc::tcp_info, tcpi_notsent_bytes) + 4)
            .then_some(u64::from(info.tcpi_notsent_bytes)),
        min_rtt_us: has(std::mem::offset_of!(libc::tcp_info, tcpi_min_rtt) + 4)
            .then_some(info.tcpi_min_rtt),
        delivery_rate: has(std::mem::offset_of!(libc::tcp_info, tcpi_delivery_rate) + 8)
            .then_some(info.tcpi_delivery_rate),
        pacing_rate: has(std::mem::offset_of!(libc::tcp_info, tcpi_pacing_rate) + 8)
            .then_some(info.tcpi_pacing_rate),
        bytes_sent: has(std::mem::offset_of!(libc::tcp_info, tcpi_bytes_sent) + 8)
            .then_some(info.tcpi_bytes_sent),
        bytes_acked: has(std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + 8)
            .then_some(info.tcpi_bytes_acked),
        bytes_retrans: has(std::mem::offset_of!(libc::tcp_info, tcpi_bytes_retrans) + 8)
            .then_some(info.tcpi_bytes_retrans),
        ca_state: info.tcpi_ca_state,
        total_rto: has(std::mem::offset_of!(libc::tcp_info, tcpi_total_rto) + 2)
            .then_some(info.tcpi_total_rto),
        dsack_dups: has(std::mem::offset_of!(libc::tcp_info, tcpi_dsack_dups) + 4)
            .then_some(info.tcpi_dsack_dups),
        snd_wnd: has(std::mem::offset_of!(libc::tcp_info, tcpi_snd_wnd) + 4)
            .then_some(info.tcpi_snd_wnd),
    })
}

/// An all-zero `tcp_info` (a plain C struct of integers, for which zero is
/// a valid value).
#[allow(unsafe_code)]
fn unsafe_zeroed() -> libc::tcp_info {
    // SAFETY: `tcp_info` consists only of integer fields; all-zero bytes
    // are a valid value of it.
    unsafe { std::mem::zeroed() }
}

/// Sets TCP_NOTSENT_LOWAT: the kernel keeps at most about `bytes` unsent
/// bytes queued beyond what is in flight (H2O's mitigation for
/// head-of-line blocking in the socket buffer).
pub fn set_notsent_lowat(sock: &tokio::net::TcpStream, bytes: u32) -> io::Result<()> {
    socket2::SockRef::from(sock).set_tcp_notsent_lowat(bytes)
}

/// Turns on the kernel's own TCP pacing for a socket, uncapped: Linux
/// paces a socket whose `SO_MAX_PACING_RATE` was set (to anything but
/// "unlimited", `~0`), at the rate TCP computes, the window over the
/// smoothed RTT, doubled in slow start and 1.2 times after
/// (`tcp_update_pacing_rate`), with a high-resolution timer
/// (`tcp_internal_pacing`). The fq qdisc paces the same way, by the same
/// rate; this kernel has no fq (`sch_fq`), so this is how pushlab paces TCP.
/// BBR paces regardless.
#[allow(unsafe_code)]
pub fn enable_tcp_pacing(sock: &socket2::SockRef<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // Not ~0: any other value asks for pacing; this one caps nothing.
    let rate: u64 = u64::MAX - 1;
    // SAFETY: `rate` outlives the call, and its size is passed with it.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MAX_PACING_RATE,
            (&rate as *const u64).cast(),
            std::mem::size_of::<u64>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connected loopback socket reports a window and an MSS.
    #[tokio::test]
    async fn reads_tcp_info_of_a_connection() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (c, s) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
        let c = c.unwrap();
        let _s = s.unwrap();
        let info = tcp_info(&c).unwrap();
        assert!(info.mss > 0);
        assert!(info.cwnd_bytes >= u64::from(info.mss));
        // Every kernel this runs on (4.9+) fills the newer fields.
        assert_eq!(info.notsent_bytes, Some(0));
        assert!(info.min_rtt_us.is_some() && info.delivery_rate.is_some());
        assert!(info.bytes_sent.is_some() && info.bytes_acked.is_some());
        assert_eq!(info.unacked_bytes(), 0, "nothing sent yet");
        // A fresh connection: no loss, no timeout, the open state; the
        // peer's window is advertised (5.4+). Kernels before 6.7 leave
        // total_rto out.
        assert_eq!((info.total_retrans, info.ca_state), (0, 0));
        assert_eq!(ca_state_name(info.ca_state), "open");
        assert_eq!(ca_state_name(4), "loss");
        assert!(info.snd_wnd.is_some_and(|w| w > 0));
        assert_eq!(info.dsack_dups, Some(0));
        assert!(matches!(info.total_rto, None | Some(0)));
        // The congestion control: the kernel's default, or one set here.
        let sock = socket2::SockRef::from(&c);
        let default = congestion_control(&sock).unwrap();
        assert!(available_congestion_controls().contains(&default));
        assert_eq!(default_congestion_control(), Some(default));
        sock.set_tcp_congestion(b"reno").unwrap();
        assert_eq!(congestion_control(&sock).unwrap(), "reno");
        assert!(check_congestion_control("reno").is_ok());
        let e = check_congestion_control("no-such-cc").unwrap_err();
        assert!(e.to_string().contains("available: "), "{e}");
        set_notsent_lowat(&c, 16 * 1024).unwrap();
        assert_eq!(
            socket2::SockRef::from(&c).tcp_notsent_lowat().unwrap(),
            16 * 1024
        );
        // Pacing asked for: SO_MAX_PACING_RATE reads back as set, not as
        // "unlimited" (~0), which would leave the socket unpaced.
        assert_eq!(max_pacing_rate(&c), u64::MAX);
        enable_tcp_pacing(&socket2::SockRef::from(&c)).unwrap();
        assert_eq!(max_pacing_rate(&c), u64::MAX - 1);
    }

    #[allow(unsafe_code)]
    fn max_pacing_rate(sock: &tokio::net::TcpStream) -> u64 {
        use std::os::fd::AsRawFd;
        let mut v: u64 = 0;
        let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
        // SAFETY: `v` and `len` outlive the call; `len` is `v`'s size.
        let r = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_MAX_PACING_RATE,
                (&mut v as *mut u64).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0, "{}", io::Error::last_os_error());
        v
    }
}
