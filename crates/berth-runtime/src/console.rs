//! Terminals: a pty allocated inside the container, its master handed to the caller over the
//! console socket with SCM_RIGHTS, its slave made the process's stdio and controlling tty.

use crate::error::{Context, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Open a new pty pair from the container's /dev/ptmx (call after pivot_root).
pub fn open_pty() -> Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "opening /dev/ptmx")?;
    nix::pty::grantpt(&master).ctx(|| "grantpt")?;
    nix::pty::unlockpt(&master).ctx(|| "unlockpt")?;
    let name = nix::pty::ptsname_r(&master).ctx(|| "ptsname")?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("opening {name}"))?;
    // SAFETY: posix_openpt returned a fresh fd we own; into_raw_fd transfers that ownership.
    let master = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
    Ok((master, slave))
}

/// Send `fd` over the connected unix socket `sock` (runc's console-socket protocol: the
/// payload is the pty's name, the fd rides as SCM_RIGHTS).
pub fn send_fd(sock: RawFd, fd: RawFd, name: &str) -> Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None)
        .ctx(|| "sending the pty master over the console socket")?;
    Ok(())
}

/// Make `slave` the stdio and controlling terminal of this process (a new session).
pub fn become_tty(slave: &OwnedFd) -> Result<()> {
    nix::unistd::setsid().ctx(|| "setsid")?;
    // SAFETY: TIOCSCTTY takes an int argument; `slave` is an open tty fd.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "TIOCSCTTY");
    }
    for target in 0..3 {
        // SAFETY: dup2 onto stdio numbers; `slave` stays open for the duration of the call.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| "dup2 pty onto stdio");
        }
    }
    Ok(())
}

/// The whole terminal setup of a container process: a pty from the container's /dev/ptmx,
/// sized as the process asks, its master sent over `sock`, its slave made our stdio and
/// controlling terminal.
pub fn attach_terminal(sock: &OwnedFd, process: &oci_spec::runtime::Process) -> Result<()> {
    let (master, slave) = open_pty()?;
    if let Some(size) = process.console_size() {
        set_size(
            master.as_raw_fd(),
            size.height() as u16,
            size.width() as u16,
        )?;
    }
    send_fd(sock.as_raw_fd(), master.as_raw_fd(), "/dev/ptmx")?;
    become_tty(&slave)
}

/// Set a terminal's window size.
pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives across the call.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "TIOCSWINSZ");
    }
    Ok(())
}
