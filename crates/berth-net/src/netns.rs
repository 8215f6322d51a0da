//! Network namespaces: opening one by path, running work inside one on a scoped thread
//! (the caller's thread never changes namespace), and per-netns sysctls.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::sched::{setns, CloneFlags};

use crate::error::{Context, Error, Result};

/// Opens a netns file (`/proc/PID/ns/net`, `/run/netns/NAME`).
pub fn open(path: &Path) -> Result<OwnedFd> {
    let f = File::open(path).ctx(|| format!("opening network namespace {}", path.display()))?;
    Ok(OwnedFd::from(f))
}

/// Runs `f` on a fresh thread that has joined `ns`; netlink sockets opened there stay
/// bound to `ns`.
pub fn run_in<T: Send>(ns: BorrowedFd<'_>, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(ns.as_fd(), CloneFlags::CLONE_NEWNET)
                .ctx(|| "joining the container's network namespace".to_string())?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Protocol("netns worker thread panicked".into())))
    })
}

/// Writes a sysctl of the calling thread's netns, e.g. `net/ipv4/ip_forward`. Skips the
/// write when the value is already there (a read is cheaper than a write).
pub fn sysctl(key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/{key}");
    if let Ok(cur) = std::fs::read_to_string(&path) {
        if cur.trim() == value {
            return Ok(());
        }
    }
    std::fs::write(&path, value).ctx(|| format!("setting sysctl {key}={value}"))
}

/// Switches IPv6 off on interface `ifname` of the calling thread's netns, before it goes up:
/// no link-local address, DAD, MLD or router solicitations, and no per-interface IPv6
/// routes (a bridge port needs none; each one costs the whole host at scale). A kernel
/// without IPv6 has nothing to switch off.
pub fn disable_ipv6(ifname: &str) -> Result<()> {
    let key = format!("net/ipv6/conf/{ifname}/disable_ipv6");
    match std::fs::write(format!("/proc/sys/{key}"), "1") {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r.ctx(|| format!("setting sysctl {key}=1")),
    }
}
