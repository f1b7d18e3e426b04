//! The system calls the emulator needs that std does not offer: creating a
//! network namespace held only by a file descriptor (so that it disappears
//! with the last descriptor and the last process inside, whatever happens
//! to pushlab), entering one, and opening a TUN device.
//!
//! Every `unsafe` block here is a plain libc call on values this module
//! owns; the reasons are written next to each.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags at the
/// start of the 24-byte union.
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;

/// Opens a new TUN device (IP packets, no packet-information header) in the
/// calling thread's network namespace.
pub fn open_tun(name: &str) -> io::Result<File> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || !name.is_ascii() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TUN | IFF_NO_PI,
        _pad: [0; 22],
    };
    for (i, b) in name.bytes().enumerate() {
        req.name[i] = b as libc::c_char;
    }
    // SAFETY: TUNSETIFF reads a `struct ifreq` (40 bytes on Linux, which
    // `IfReq` matches) with a NUL-terminated name; `req` outlives the call
    // and the descriptor is open.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as libc::Ioctl, &mut req) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Moves the calling thread into the network namespace `ns`.
pub fn enter(ns: RawFd) -> io::Result<()> {
    // SAFETY: setns only changes the calling thread's namespace; `ns` is an
    // open namespace descriptor owned by the caller.
    if unsafe { libc::setns(ns, libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Creates a network namespace and returns the descriptor that holds it.
/// It is made on a short-lived thread, so the caller's threads stay where
/// they are.
pub fn new_netns() -> io::Result<OwnedFd> {
    std::thread::spawn(|| {
        // SAFETY: unshare(CLONE_NEWNET) moves only this new thread, which
        // exits right after, into a fresh namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from(File::open("/proc/thread-self/ns/net")?))
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// Runs `f` on a new thread inside namespace `ns` (sockets and devices it
/// creates belong to that namespace).
pub fn in_netns<T: Send + 'static>(
    ns: RawFd,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    std::thread::spawn(move || {
        enter(ns)?;
        f()
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// Makes `cmd` start inside namespace `ns`; with `die_with_parent`, the
/// child is killed if the thread that spawns it dies (so a crashed pushlab
/// leaves no process holding the namespace).
pub fn command_in_netns(cmd: &mut Command, ns: RawFd, die_with_parent: bool) {
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls (setns, prctl); `ns` is inherited by
    // the child and stays open until exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(ns, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            if die_with_parent && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Moves the calling thread to the real-time FIFO class at `priority`
/// (1-99): it then runs as soon as it wakes, ahead of every normal thread
/// (browsers, servers, compilers). Needs root or CAP_SYS_NICE. The kernel's
/// RT throttling (sched_rt_runtime_us) still leaves normal threads 5% of
/// each second should a real-time thread spin.
pub fn realtime(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: pid 0 is the calling thread; `param` lives on the stack for
    // the call.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits up to `timeout_ms` for `fd` to become readable.
pub fn poll_readable(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd on the stack, count 1.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(r > 0 && p.revents & libc::POLLIN != 0)
}

/// The inode number of a namespace descriptor (to find out, in tests, that
/// no process or descriptor refers to it any more).
pub fn netns_inode(ns: RawFd) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let path = format!("/proc/self/fd/{ns}");
    Ok(std::fs::metadata(path)?.ino())
}
