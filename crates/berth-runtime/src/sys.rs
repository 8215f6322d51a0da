//! Thin wrappers over system calls: clone3, pivot_root, pidfd-free waits, and the CPU
//! affinity nudge that lets the init and the parent run at once.

use crate::error::{Context, Result};
use std::os::fd::RawFd;

/// The kernel's `struct clone_args` (clone3(2)).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Where a fork-style clone returned.
pub enum Forked {
    Parent(i32),
    Child,
}

/// Fork-style clone3: the child continues on a copy of the caller's stack, already inside
/// the new namespaces in `flags` and, when `cgroup_fd` is given, inside that cgroup v2 dir.
/// The caller must be single-threaded (the child may allocate).
pub fn clone_fork(flags: u64, cgroup_fd: Option<RawFd>) -> Result<Forked> {
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 with stack == 0 behaves like fork(2): the child gets a copy of our address
    // space. `args` is a valid, fully initialised clone_args of the size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(std::io::Error::last_os_error()).ctx(|| "clone3 into the new namespaces"),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// pivot_root(2), which has no libc wrapper.
pub fn pivot_root(new_root: &str, put_old: &str) -> Result<()> {
    let new = std::ffi::CString::new(new_root)
        .map_err(|_| crate::Error::Invalid("nul in path".into()))?;
    let old =
        std::ffi::CString::new(put_old).map_err(|_| crate::Error::Invalid("nul in path".into()))?;
    // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, new.as_ptr(), old.as_ptr()) };
    if ret == -1 {
        return Err(std::io::Error::last_os_error()).ctx(|| "pivot_root");
    }
    Ok(())
}

/// Bring `lo` up in the calling process's (new) network namespace, as runc and crun do: one
/// SIOCSIFFLAGS ioctl, no netlink.
pub fn loopback_up() -> Result<()> {
    // SAFETY: socket(2) with constant arguments; the fd is owned right after.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "socket for the loopback ioctl");
    }
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = *s as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as i16;
    use std::os::fd::AsRawFd;
    // SAFETY: SIOCSIFFLAGS reads a struct ifreq, which `req` is, for the ioctl's duration.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as libc::Ioctl, &req) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "bringing up lo");
    }
    Ok(())
}

/// Terminate the current process at once, without running destructors or atexit handlers
/// (used by the container init after a failure has been reported).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat); used
/// to tell a container's init from a later process that reused its pid.
pub fn pid_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// The process state letter of /proc/PID/stat (R, S, D, Z, T...).
pub fn pid_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// An O_PATH fd of the cgroup's v2 directory for clone3(CLONE_INTO_CGROUP); None on v1.
pub fn open_cgroup_dir(cg: &berth_cgroups::Cgroup) -> Result<Option<std::os::fd::OwnedFd>> {
    use nix::fcntl::OFlag;
    cg.v2_dir()
        .map(|d| {
            nix::fcntl::open(
                &d,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ctx(|| format!("opening cgroup {}", d.display()))
        })
        .transpose()
}

/// Nudge a just-cloned child off the caller's CPU, so that it runs while the caller goes on
/// working. A new task is usually queued on its parent's CPU and waits there until the
/// parent sleeps, even with another CPU idle. `mask` is the caller's affinity, read before
/// the clone (the child inherited it); the child is allowed every CPU of it but the one the
/// caller is on now; the child puts `mask` back itself ([`restore_affinity`]). Nothing
/// changes with fewer than two CPUs allowed; a failure only loses the overlap.
pub fn run_elsewhere(child: i32, mask: &nix::sched::CpuSet) {
    let Ok(cur) = nix::sched::sched_getcpu() else {
        return;
    };
    let mut other = *mask;
    let any_left = |s: &nix::sched::CpuSet| {
        (0..nix::sched::CpuSet::count()).any(|c| s.is_set(c).unwrap_or(false))
    };
    if other.unset(cur).is_ok() && any_left(&other) {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(child), &other);
    }
}

/// The calling process's CPU affinity.
pub fn own_affinity() -> Option<nix::sched::CpuSet> {
    nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()
}

/// Put back the affinity the parent narrowed with [`run_elsewhere`].
pub fn restore_affinity(mask: &nix::sched::CpuSet) -> Result<()> {
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), mask)
        .ctx(|| "restoring the CPU affinity")
}
