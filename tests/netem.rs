//! The link emulator (`pushlab::netem`, `pushlab netem`), checked against
//! what it is configured to do: round-trip time, TCP and QUIC throughput
//! at the bottleneck rate, random loss within statistical bounds (also in
//! bursts), the drop-tail queue limit and the delay a full queue adds;
//! that the relay's threads run at real-time priority (unless asked not to)
//! and count every packet they deliver and how late;
//! that nothing (devices, namespaces, processes, the `--serve` command's
//! process group) is left after success, a panic, a crashed command or
//! Ctrl-C; that two emulators coexist; and that
//! bad parameters are refused before anything is created. Needs root: the
//! tests skip loudly without it (and fail under CI=true).

mod common;

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use pushlab::netem::{Emulator, EmulatorOptions, LinkSpec, Loss, QueueLimit};
use pushlab::summary::upper_median;

fn link(delay_ms: u64, rate: Option<u64>, queue: QueueLimit) -> LinkSpec {
    LinkSpec {
        delay: Duration::from_millis(delay_ms),
        rate,
        queue,
        loss: Loss::None,
        corrupt: 0.0,
        jitter: Duration::ZERO,
    }
}

fn both(spec: LinkSpec) -> EmulatorOptions {
    EmulatorOptions {
        up: spec,
        down: spec,
        ..EmulatorOptions::default()
    }
}

/// Every network namespace some process or descriptor refers to.
fn live_namespaces() -> HashSet<String> {
    let mut out = HashSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let path = p.path();
        if let Ok(l) = std::fs::read_link(path.join("ns/net")) {
            out.insert(l.display().to_string());
        }
        if let Ok(fds) = std::fs::read_dir(path.join("fd")) {
            for fd in fds.flatten() {
                if let Ok(l) = std::fs::read_link(fd.path()) {
                    let l = l.display().to_string();
                    if l.starts_with("net:[") {
                        out.insert(l);
                    }
                }
            }
        }
    }
    out
}

fn ns_gone(inodes: &[u64]) -> bool {
    let live = live_namespaces();
    inodes.iter().all(|i| !live.contains(&format!("net:[{i}]")))
}

fn netem_devices() -> HashSet<String> {
    std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("plnetem"))
                .collect()
        })
        .unwrap_or_default()
}

/// TCP connect times from the client side to a listener on the server
/// side, in ms.
fn connect_rtts(emu: &Emulator, listener_addr: SocketAddr, n: usize) -> Vec<f64> {
    emu.in_client(move || {
        (0..n)
            .map(|_| {
                let t = Instant::now();
                let s = TcpStream::connect_timeout(&listener_addr, Duration::from_secs(5))
                    .expect("connect through the link");
                let ms = t.elapsed().as_secs_f64() * 1e3;
                drop(s);
                ms
            })
            .collect()
    })
    .unwrap()
    .join()
    .unwrap()
}

/// The TCP handshake takes one round trip: 2 x the one-way delay, within
/// 5% (or 1 ms), with the server side in the root namespace and in its own.
#[test]
fn round_trip_time_is_twice_the_delay() {
    if !require_root("round_trip_time_is_twice_the_delay") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for server_ns in [false, true] {
        let emu = Emulator::start(EmulatorOptions {
            server_ns,
            ..both(link(20, None, QueueLimit::Unlimited))
        })
        .unwrap();
        let addr = SocketAddr::from((emu.server_addr, 0));
        let listener = emu
            .in_server(move || {
                let l = TcpListener::bind(addr).unwrap();
                let addr = l.local_addr().unwrap();
                std::thread::spawn(move || {
                    for c in l.incoming() {
                        drop(c);
                    }
                });
                addr
            })
            .unwrap()
            .join()
            .unwrap();
        let rtt = upper_median(&connect_rtts(&emu, listener, 15)).expect("RTT samples");
        assert!(
            (rtt - 40.0).abs() <= (40.0f64 * 0.05).max(1.0),
            "server_ns={server_ns}: RTT {rtt:.2} ms for 2 x 20 ms"
        );
        emu.stop();
    }
}

/// Bytes delivered per second over the bottleneck while a transfer runs,
/// measured at the relay (IP level), and the application's goodput.
fn check_rate(what: &str, rate: u64, link_bytes: u64, app_bytes: u64, secs: f64) {
    let link = link_bytes as f64 * 8.0 / secs;
    let goodput = app_bytes as f64 * 8.0 / secs;
    eprintln!(
        "{what}: link {:.2} Mbit/s, goodput {:.2} Mbit/s, configured {:.2}",
        link / 1e6,
        goodput / 1e6,
        rate as f64 / 1e6
    );
    assert!(
        (link - rate as f64).abs() <= 0.10 * rate as f64,
        "{what}: link-level throughput {:.2} Mbit/s for {:.2}",
        link / 1e6,
        rate as f64 / 1e6
    );
    assert!(
        goodput >= 0.85 * rate as f64,
        "{what}: goodput {:.2} Mbit/s",
        goodput / 1e6
    );
}

/// A 5 MB TCP transfer runs at the bottleneck rate (20 Mbit/s, 10 ms each
/// way, 100-packet queue), within 10%.
#[test]
fn tcp_throughput_is_the_rate() {
    if !require_root("tcp_throughput_is_the_rate") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rate = 20_000_000;
    let emu = Emulator::start(both(link(10, Some(rate), QueueLimit::Packets(100)))).unwrap();
    let l = TcpListener::bind((emu.server_addr, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    const N: usize = 5_000_000;
    let receiver = std::thread::spawn(move || {
        use std::io::Read;
        let (mut c, _) = l.accept().unwrap();
        let mut buf = vec![0u8; 65536];
        let mut got = 0;
        while got < N {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {got} bytes");
            got += n;
        }
    });
    let before = emu.counters().up.bytes_out;
    let t = Instant::now();
    emu.in_client(move || {
        use std::io::Write;
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&vec![7u8; N]).unwrap();
    })
    .unwrap()
    .join()
    .unwrap();
    receiver.join().unwrap();
    let secs = t.elapsed().as_secs_f64();
    let link_bytes = emu.counters().up.bytes_out - before;
    check_rate("TCP", rate, link_bytes, N as u64, secs);
    emu.stop();
}

/// A 5 MB HTTP/3 response (pushlab's server on the server side, its client
/// on the client side) runs at the bottleneck rate, within 10%.
#[test]
fn quic_throughput_is_the_rate() {
    if !require_root("quic_throughput_is_the_rate") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rate = 20_000_000;
    let emu = Emulator::start(both(link(10, Some(rate), QueueLimit::Packets(100)))).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server_addr = emu.server_addr;
    let srv = rt.block_on(async move {
        pushlab::server::RunningServer::start(pushlab::server::ServerOptions::new(
            SocketAddr::from((server_addr, 0)),
            pushlab::tls::Identity::self_signed().unwrap(),
            pushlab::config::ServeOptions::default(),
        ))
        .await
        .unwrap()
    });
    let port = srv.addr.port();
    let before = emu.counters().down.bytes_out;
    const N: u64 = 5_000_000;
    let (secs, len) = emu
        .in_client(move || {
            block_on_here(async move {
                let c = pushlab::client::h3::Client::connect(
                    &server_addr.to_string(),
                    port,
                    pushlab::client::ClientOptions {
                        insecure: true,
                        hash_bodies: false,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                let t = Instant::now();
                let r = c
                    .read_response(
                        c.send_request("GET", &format!("/bytes/{N}"), &[])
                            .await
                            .unwrap(),
                    )
                    .await;
                let secs = t.elapsed().as_secs_f64();
                c.close().await;
                (secs, r.body_len)
            })
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(len, N);
    let link_bytes = emu.counters().down.bytes_out - before;
    check_rate("QUIC", rate, link_bytes, N, secs);
    rt.block_on(srv.shutdown());
    emu.stop();
}

/// Sends `n` UDP datagrams of `size` bytes from the client side to the
/// server side as fast as possible; returns the sequence numbers received
/// and their arrival times (relative to the first).
fn udp_burst(emu: &Emulator, n: u32, size: usize, gap: Duration) -> Vec<(u32, f64)> {
    let rx = UdpSocket::bind((emu.server_addr, 0)).unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let dst = rx.local_addr().unwrap();
    let sender = emu
        .in_client(move || {
            let s = UdpSocket::bind("0.0.0.0:0").unwrap();
            let mut buf = vec![0u8; size];
            for i in 0..n {
                buf[..4].copy_from_slice(&i.to_be_bytes());
                s.send_to(&buf, dst).unwrap();
                if !gap.is_zero() {
                    std::thread::sleep(gap);
                }
            }
        })
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let mut first = None;
    while let Ok(len) = rx.recv(&mut buf) {
        let now = Instant::now();
        let t0 = *first.get_or_insert(now);
        assert_eq!(len, size);
        let seq = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        got.push((seq, (now - t0).as_secs_f64() * 1e3));
    }
    sender.join().unwrap();
    got
}

/// Random loss of 5% over 4000 datagrams: the count lost is within 5
/// standard deviations of 200, the relay counted exactly the missing ones,
/// and with bursts of mean length 4 losses come in runs of about 4.
#[test]
fn loss_is_within_statistical_bounds() {
    if !require_root("loss_is_within_statistical_bounds") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = 4000u32;
    for (burst, seed) in [(1.0, 3u64), (4.0, 5)] {
        let mut spec = link(1, None, QueueLimit::Unlimited);
        spec.loss = Loss::with_rate(0.05, burst);
        let emu = Emulator::start(EmulatorOptions {
            up: spec,
            down: link(1, None, QueueLimit::Unlimited),
            seed,
            ..EmulatorOptions::default()
        })
        .unwrap();
        let got = udp_burst(&emu, n, 200, Duration::from_micros(50));
        let c = emu.stop();
        let lost = (n as usize - got.len()) as f64;
        let sd = (n as f64 * 0.05 * 0.95).sqrt();
        // Bursty loss is more variable: allow for the correlation.
        let allowed = 5.0 * sd * burst.sqrt();
        assert!(
            (lost - 200.0).abs() <= allowed,
            "burst {burst}: lost {lost} of {n} (allowed 200 +- {allowed:.0})"
        );
        assert_eq!(c.up.random_drops as f64, lost, "relay count");
        let received: HashSet<u32> = got.iter().map(|(s, _)| *s).collect();
        let (mut runs, mut in_run) = (0, false);
        for i in 0..n {
            let missing = !received.contains(&i);
            if missing && !in_run {
                runs += 1;
            }
            in_run = missing;
        }
        let mean_run = lost / runs as f64;
        assert!(
            (mean_run - burst).abs() <= 0.35 * burst,
            "burst {burst}: mean run of losses {mean_run:.2}"
        );
    }
}

/// The relay's four threads (the emulator names its other threads after
/// its devices, `netem-<hex>`).
const RELAY_THREADS: [&str; 4] = [
    "netem-up-in",
    "netem-up-out",
    "netem-down-in",
    "netem-down-out",
];

/// The scheduling policy (0 normal, 1 FIFO) of each of this process's
/// relay threads.
fn relay_policies() -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let comm = comm.trim().to_string();
        if !RELAY_THREADS.contains(&comm.as_str()) {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap();
        // Fields after "pid (comm)": the state is field 3, the policy 41.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let policy = rest.split(' ').nth(41 - 3).unwrap().parse().unwrap();
        out.push((comm, policy));
    }
    out
}

#[test]
fn relay_threads_are_realtime_and_count_lateness() {
    if !require_root("relay_threads_are_realtime_and_count_lateness") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for realtime in [true, false] {
        let emu = Emulator::start(EmulatorOptions {
            realtime,
            ..both(link(1, None, QueueLimit::Unlimited))
        })
        .unwrap();
        let got = udp_burst(&emu, 200, 200, Duration::from_micros(200));
        // The threads set their policy as they start; the burst took
        // longer than that.
        let policies = relay_policies();
        assert_eq!(policies.len(), 4, "{policies:?}");
        for (name, policy) in &policies {
            assert_eq!(*policy, u32::from(realtime), "{name}, realtime={realtime}");
        }
        // Written packets are counted once each: as many as the link model
        // let through (the datagrams, and whatever the kernel sent besides).
        let counters = emu.counters();
        let (up, _down) = emu.take_lateness();
        assert_eq!(up.packets, counters.up.packets_out, "realtime={realtime}");
        assert!(
            up.packets as usize >= got.len(),
            "{up:?}, {} got",
            got.len()
        );
        assert!(up.late <= up.packets, "{up:?}");
        assert_eq!(emu.take_lateness().0.packets, 0, "taking resets the count");
        emu.stop();
    }
}

/// A burst into a 1 Mbit/s link with a 20-packet queue: one packet on the
/// wire plus 20 queued get through, the rest are dropped at the tail, and
/// the queued ones arrive one serialisation time apart, so the full queue
/// adds queue bytes / rate of delay.
#[test]
fn queue_limit_drops_and_full_queue_delays() {
    if !require_root("queue_limit_drops_and_full_queue_delays") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rate = 1_000_000;
    let emu = Emulator::start(both(link(5, Some(rate), QueueLimit::Packets(20)))).unwrap();
    let got = udp_burst(&emu, 60, 1000, Duration::ZERO);
    let c = emu.stop();
    assert!(
        (21..=23).contains(&got.len()),
        "{} of 60 got through",
        got.len()
    );
    assert_eq!(c.up.queue_drops, 60 - got.len() as u64);
    assert_eq!(c.up.peak_queue_packets, 20);
    // 1000 bytes of payload + 28 of UDP/IP headers at 1 Mbit/s: 8.224 ms.
    let per_packet = 1028.0 * 8.0 / rate as f64 * 1e3;
    let span = got.last().unwrap().1 - got.first().unwrap().1;
    let want = per_packet * (got.len() - 1) as f64;
    assert!(
        (span - want).abs() <= 0.05 * want,
        "queued packets spread over {span:.1} ms, expected {want:.1}"
    );
}

/// After stop, a panic in the code using the emulator, and with processes
/// started inside: no TUN device and no namespace is left.
#[test]
fn nothing_is_left_after_stop_or_panic() {
    if !require_root("nothing_is_left_after_stop_or_panic") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let devices_before = netem_devices();
    // Normal stop, with a process running inside.
    let emu = Emulator::start(EmulatorOptions {
        server_ns: true,
        ..EmulatorOptions::default()
    })
    .unwrap();
    let inodes = emu.namespace_inodes();
    assert_eq!(inodes.len(), 2);
    let mut child = emu.client_command("sleep", true).arg("30").spawn().unwrap();
    assert!(!ns_gone(&inodes));
    emu.stop();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        eventually_blocking(Duration::from_secs(3), || ns_gone(&inodes)),
        "namespaces still referenced"
    );
    // A panic while the emulator is in use.
    let r = std::thread::spawn(|| {
        let emu = Emulator::start(EmulatorOptions::default()).unwrap();
        let dev = emu.root_device.clone().unwrap();
        assert!(netem_devices().contains(&dev));
        let inodes = emu.namespace_inodes();
        std::fs::write(
            std::env::temp_dir().join(format!("pushlab-netem-panic-{}", std::process::id())),
            format!("{dev} {}", inodes[0]),
        )
        .unwrap();
        panic!("deliberate panic with the emulator running");
    })
    .join();
    assert!(r.is_err());
    let note = std::env::temp_dir().join(format!("pushlab-netem-panic-{}", std::process::id()));
    let text = std::fs::read_to_string(&note).unwrap();
    let _ = std::fs::remove_file(&note);
    let (dev, inode) = text.split_once(' ').unwrap();
    assert!(!netem_devices().contains(dev), "{dev} left after a panic");
    assert!(eventually_blocking(Duration::from_secs(3), || ns_gone(&[
        inode.parse().unwrap()
    ])));
    assert_eq!(netem_devices(), devices_before);
}

fn eventually_blocking(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

fn pushlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushlab"))
}

/// `pushlab netem -- CMD`: the command's exit code is passed on, also when
/// it crashes, and nothing is left afterwards; Ctrl-C (SIGINT to pushlab)
/// stops the command and tears everything down.
#[test]
fn cli_crash_and_ctrl_c_leave_nothing() {
    if !require_root("cli_crash_and_ctrl_c_leave_nothing") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let devices_before = netem_devices();
    let note = std::env::temp_dir().join(format!("pushlab-netem-cli-{}", std::process::id()));
    let script = format!(
        "readlink /proc/self/ns/net > {}; kill -SEGV $$",
        note.display()
    );
    let out = pushlab()
        .args(["netem", "--delay", "2ms", "--", "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128 + 11), "{out:?}");
    let ns = std::fs::read_to_string(&note).unwrap().trim().to_string();
    assert!(ns.starts_with("net:["), "{ns}");
    assert!(
        eventually_blocking(Duration::from_secs(3), || !live_namespaces().contains(&ns)),
        "{ns} left after the command crashed"
    );
    assert_eq!(netem_devices(), devices_before);

    // Ctrl-C.
    let _ = std::fs::remove_file(&note);
    let script = format!(
        "readlink /proc/self/ns/net > {}; exec sleep 30",
        note.display()
    );
    let mut child = pushlab()
        .args(["netem", "--", "sh", "-c", &script])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually_blocking(Duration::from_secs(5), || note
        .exists()
        && std::fs::read_to_string(&note)
            .map(|s| s.contains("net:["))
            .unwrap_or(false)));
    let ns = std::fs::read_to_string(&note).unwrap().trim().to_string();
    let t = Instant::now();
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "took {:?}",
        t.elapsed()
    );
    assert!(!status.success());
    assert!(
        eventually_blocking(Duration::from_secs(3), || !live_namespaces().contains(&ns)),
        "{ns} left after Ctrl-C"
    );
    assert_eq!(netem_devices(), devices_before);
    let _ = std::fs::remove_file(&note);
}

/// Unparseable or out-of-range parameters are refused with a clear message
/// before any device or namespace exists.
#[test]
fn bad_parameters_are_refused_before_setup() {
    if !require_root("bad_parameters_are_refused_before_setup") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let devices_before = netem_devices();
    let live_before = live_namespaces().len();
    for (args, needle) in [
        (vec!["--rate", "10furlongs"], "cannot parse"),
        (vec!["--delay", "soon"], "cannot parse"),
        (vec!["--delay", "20s"], "over 10 s"),
        (vec!["--loss", "1"], "percentage"),
        (vec!["--loss", "120%"], "between 0% and 100%"),
        (vec!["--queue", "0pkt"], "drops everything"),
        (vec!["--queue", "12"], "under one full-size packet"),
        (vec!["--rate", "100bit"], "under 8 kbit/s"),
        (vec!["--profile", "5g"], "unknown profile"),
        (vec!["--loss", "1%", "--loss-burst", "0.5"], "at least 1"),
    ] {
        let out = pushlab()
            .arg("netem")
            .args(&args)
            .args(["--", "true"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("netem: client"), "{args:?}: set up anyway");
    }
    assert_eq!(netem_devices(), devices_before);
    assert!(live_namespaces().len() <= live_before);
}

/// Two emulators at once get different addresses and devices, and each
/// carries its own traffic with its own delay.
#[test]
fn two_emulators_coexist() {
    if !require_root("two_emulators_coexist") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = Emulator::start(both(link(5, None, QueueLimit::Unlimited))).unwrap();
    let b = Emulator::start(both(link(25, None, QueueLimit::Unlimited))).unwrap();
    assert_ne!(a.server_addr, b.server_addr);
    assert_ne!(a.root_device, b.root_device);
    for (emu, want) in [(&a, 10.0), (&b, 50.0)] {
        let l = TcpListener::bind((emu.server_addr, 0)).unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for c in l.incoming() {
                drop(c);
            }
        });
        let rtt = upper_median(&connect_rtts(emu, addr, 7)).expect("RTT samples");
        assert!(
            (rtt - want).abs() <= (want * 0.05).max(1.0),
            "RTT {rtt:.2} ms, expected {want}"
        );
    }
    a.stop();
    b.stop();
}

/// Timing-sensitive tests run one at a time within this binary.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `pushlab netem --serve CMD`: when netem exits, CMD's whole process group
/// is gone, also a server the shell put in the background (left alone, it
/// would be reparented to init and keep its port, and netem's stdout pipe:
/// a script reading netem's output would wait forever).
#[test]
fn serve_command_group_is_stopped_with_netem() {
    if !require_root("serve_command_group_is_stopped_with_netem") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pidfile = std::env::temp_dir().join(format!("pushlab-netem-serve-{}", std::process::id()));
    let _ = std::fs::remove_file(&pidfile);
    let serve = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
    // The client command returns once the background server exists.
    let client = format!("while [ ! -s {} ]; do sleep 0.05; done", pidfile.display());
    let mut netem = pushlab()
        .args([
            "netem", "--delay", "1ms", "--serve", &serve, "--", "sh", "-c", &client,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Read netem's stdout to its end, as a script capturing it would: the
    // end comes only when every process holding the pipe is gone.
    let mut out = netem.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        let _ = tx.send(());
    });
    let closed = rx.recv_timeout(Duration::from_secs(30));
    let status = netem.wait().unwrap();
    let pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
    let _ = std::fs::remove_file(&pidfile);
    let pid = pid.trim().to_string();
    assert!(
        !pid.is_empty(),
        "the --serve command never started its server"
    );
    let gone = eventually_blocking(Duration::from_secs(3), || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    if !gone {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
    assert!(status.success(), "{status:?}");
    assert!(
        closed.is_ok(),
        "netem's output pipe was still open 30 s after the run: a --serve process outlived netem"
    );
    assert!(
        gone,
        "the --serve command's background server (pid {pid}) outlived netem"
    );
}
