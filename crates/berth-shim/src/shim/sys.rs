//! The system calls the shim needs that std does not wrap: fork, stdio redirection, pipes,
//! non-blocking fds, SIGPIPE and SIGCHLD handling, fd passing, window sizes, poll.

use berth_shim::{Context, Result};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{SigHandler, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Fork; true in the child.
pub fn fork_child() -> Result<bool> {
    // SAFETY: called first thing in main, while the process is single-threaded.
    let r = unsafe { nix::unistd::fork() }.ctx(|| "fork")?;
    Ok(r.is_child())
}

/// /dev/null, read-write.
pub fn dev_null() -> Result<OwnedFd> {
    nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "opening /dev/null")
}

/// Point fds 0, 1 and 2 at these.
pub fn set_stdio(stdin: impl AsFd, stdout: impl AsFd, stderr: impl AsFd) -> Result<()> {
    nix::unistd::dup2_stdin(stdin).ctx(|| "dup2 stdin")?;
    nix::unistd::dup2_stdout(stdout).ctx(|| "dup2 stdout")?;
    nix::unistd::dup2_stderr(stderr).ctx(|| "dup2 stderr")
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).ctx(|| "pipe")
}

pub fn set_nonblocking(fd: &impl AsFd) -> Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd.as_fd(), FcntlArg::F_GETFL).ctx(|| "F_GETFL")?);
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).ctx(|| "F_SETFL")?;
    Ok(())
}

/// SIGPIPE's disposition: ignored while the shim serves (a gone reader is an EPIPE), the
/// default while it makes the process, which inherits it across execve.
pub fn ignore_sigpipe(ignore: bool) -> Result<()> {
    let h = if ignore {
        SigHandler::SigIgn
    } else {
        SigHandler::SigDfl
    };
    // SAFETY: SigIgn and SigDfl install no handler code.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, h) }.ctx(|| "setting SIGPIPE")?;
    Ok(())
}

/// Become a child subreaper: orphans below this process (the process a launch helper made
/// and left) become our children, not init's.
pub fn set_child_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true).ctx(|| "PR_SET_CHILD_SUBREAPER")
}

/// Block SIGCHLD and return a non-blocking signalfd that reports it.
pub fn sigchld_fd() -> Result<SignalFd> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    set.thread_block().ctx(|| "blocking SIGCHLD")?;
    SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ctx(|| "signalfd")
}

/// Receive one fd sent with SCM_RIGHTS on `sock` (the runtime's console-socket protocol).
pub fn recv_fd(sock: RawFd) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut name = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .ctx(|| "receiving the pty master")?;
    for c in msg.cmsgs().ctx(|| "reading the control message")? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: SCM_RIGHTS installed this fd in our table just now; we own it.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(berth_shim::Error::Shim(
        "the console socket carried no pty master".into(),
    ))
}

/// Set a terminal's window size.
pub fn set_winsize(fd: BorrowedFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives across the call; fd is open.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "TIOCSWINSZ");
    }
    Ok(())
}

/// poll(2) over `fds`, retrying on EINTR; `timeout_ms` < 0 waits forever.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> Result<()> {
    loop {
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).ctx(|| "poll");
        }
    }
}

/// Give back the memory that only setup needed. Code and read-only data read while making
/// the process stay mapped but leave this process's page tables (they are clean file pages:
/// still in the page cache, and the few the serve loop uses fault back in); the main stack's
/// pages below the current frame, which only setup's deep calls used, are dropped; free heap
/// is returned to the kernel. Call it from a shallow frame.
pub fn release_setup_memory() {
    let maps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let (files, stack) = releasable(&maps);
    drop(maps);
    for (start, end) in files {
        // SAFETY: [start, end) is a whole private, read-only, file-backed mapping with no
        // anonymous pages: dropping its page-table entries discards nothing that the file
        // does not hold, and later accesses fault the same bytes back in.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
    if let Some(lo) = stack {
        release_stack_below_here(lo);
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Drop the pages of the main stack from its lowest address up to 16 KiB below this frame.
#[inline(never)]
fn release_stack_below_here(lo: usize) {
    const PAGE: usize = 4096;
    let marker = std::hint::black_box(0u8);
    let here = std::hint::black_box(std::ptr::addr_of!(marker) as usize);
    let end = (here & !(PAGE - 1)).saturating_sub(4 * PAGE);
    if end > lo {
        // SAFETY: the stack grows down and nothing lives below the stack pointer (x86-64 and
        // aarch64 keep at most a 128-byte red zone, for leaf functions only; no signal
        // handler runs on this stack). The range ends 16 KiB below this frame, so neither
        // this frame nor madvise's call reaches it; the pages come back zeroed when the
        // stack grows into them again, as fresh stack pages do.
        unsafe { libc::madvise(lo as *mut libc::c_void, end - lo, libc::MADV_DONTNEED) };
    }
}

/// From a smaps text: the private, read-only, file-backed mappings with no anonymous pages,
/// and the lowest address of the main stack.
fn releasable(smaps: &str) -> (Vec<(usize, usize)>, Option<usize>) {
    let mut files = Vec::new();
    let mut stack = None;
    let mut cur: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or("");
        if !first.ends_with(':') && first.contains('-') {
            files.extend(cur.take());
            let (perms, path) = (f.next().unwrap_or(""), f.nth(3).unwrap_or(""));
            let Some(range) = first.split_once('-').and_then(|(a, b)| {
                Some((
                    usize::from_str_radix(a, 16).ok()?,
                    usize::from_str_radix(b, 16).ok()?,
                ))
            }) else {
                continue;
            };
            if path == "[stack]" {
                stack = Some(range.0);
            }
            let p = perms.as_bytes();
            let clean = p.len() == 4 && p[1] != b'w' && p[3] == b'p' && path.starts_with('/');
            cur = clean.then_some(range);
        } else if first == "Anonymous:" && f.next() != Some("0") {
            cur = None;
        }
    }
    files.extend(cur);
    (files, stack)
}

/// Close every fd above stderr that the caller left open without close-on-exec: the shim
/// outlives its caller, and the container would inherit them.
pub fn close_inherited_fds() {
    // SAFETY: close_range(3, ~0, 0) closes fds this process does not use yet (it runs first
    // thing in main); it touches no memory.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if r == 0 {
        return;
    }
    // Kernels before 5.9: walk /proc/self/fd (collected first: closing while reading the
    // directory would close the directory's own fd).
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|&fd| fd > 2)
                .collect()
        })
        .unwrap_or_default();
    for fd in fds {
        // SAFETY: as above; an fd that is already closed (the directory's) gives EBADF.
        unsafe { libc::close(fd) };
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_clean_read_only_file_mappings_are_released() {
        let smaps = "\
1000-3000 r-xp 00000000 fe:01 12 /usr/bin/x
Rss: 8 kB
Anonymous: 0 kB
3000-4000 r--p 00002000 fe:01 12 /usr/bin/x
Anonymous: 4 kB
4000-5000 rw-p 00003000 fe:01 12 /usr/bin/x
Anonymous: 0 kB
5000-6000 r--s 00000000 fe:01 13 /dev/shm/y
Anonymous: 0 kB
6000-7000 rw-p 00000000 00:00 0 [heap]
Anonymous: 4 kB
7000-8000 r--p 00000000 fe:01 14 /usr/lib/libc.so.6
Anonymous: 0 kB
9000-b000 rw-p 00000000 00:00 0 [stack]
Anonymous: 8 kB
";
        assert_eq!(
            super::releasable(smaps),
            (vec![(0x1000, 0x3000), (0x7000, 0x8000)], Some(0x9000))
        );
    }
}
