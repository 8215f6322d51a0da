//! The local terminal: raw mode (restored on drop), its window size, and a thread that
//! receives SIGWINCH and proxied signals synchronously (sigwait) instead of by handlers.

use std::io::{self, IsTerminal};
use std::os::fd::AsRawFd;
use std::thread;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::termios::{self, SetArg, Termios};

use crate::error::Result;

/// True when stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    io::stdin().is_terminal()
}

/// True when stdout is a terminal.
pub fn stdout_is_tty() -> bool {
    io::stdout().is_terminal()
}

/// Puts stdin in raw mode until dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Raw mode on stdin, or None when stdin is not a terminal.
    pub fn enter() -> Result<Option<RawMode>> {
        let stdin = io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let saved = termios::tcgetattr(&stdin).map_err(io::Error::from)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw).map_err(io::Error::from)?;
        Ok(Some(RawMode { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin(), SetArg::TCSANOW, &self.saved);
    }
}

/// The terminal's size as (rows, columns), from stdout or else stdin.
pub fn size() -> Option<(u16, u16)> {
    let fds = [io::stdout().as_raw_fd(), io::stdin().as_raw_fd()];
    fds.into_iter().find_map(|fd| {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which points to a
        // live, properly aligned local; the fd is only read.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws as *mut libc::winsize) };
        (rc == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
    })
}

/// The terminal width for progress bars (0 when not a terminal).
pub fn width() -> u16 {
    size().map(|(_, c)| c).unwrap_or(0)
}

/// Signals docker's `--sig-proxy` forwards to the container.
pub const PROXIED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Blocks `signals` in this thread (and threads started after) and hands each one that
/// arrives to `handle` on a dedicated thread. Call before starting other threads.
pub fn on_signals(signals: &[Signal], handle: impl Fn(Signal) + Send + 'static) -> Result<()> {
    if signals.is_empty() {
        return Ok(());
    }
    let mut set = SigSet::empty();
    for s in signals {
        set.add(*s);
    }
    set.thread_block().map_err(io::Error::from)?;
    thread::spawn(move || loop {
        match set.wait() {
            Ok(sig) => handle(sig),
            Err(_) => return,
        }
    });
    Ok(())
}
