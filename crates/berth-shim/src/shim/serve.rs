//! The poll loop: the process's output to the log and to attach clients, attach input to its
//! stdin, control requests, and the exit — reaped, drained, recorded, answered.

use super::conn::{Conn, Got, State};
use super::launch::{oom_kills, Launched};
use super::log::JsonLog;
use super::sys;
use berth_shim::protocol::{write_exit, SOCKET};
use berth_shim::{ExitInfo, Reply, Request};
use nix::errno::Errno;
use nix::sys::signalfd::SignalFd;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One read of output.
const CHUNK: usize = 16 * 1024;
/// Output queued for one attach client beyond which the process's output is not read.
const HIGH_WATER: usize = 256 * 1024;
/// Attach input queued for stdin beyond which clients are not read.
const STDIN_HIGH: usize = 64 * 1024;
/// An exec process's output kept for its first attach client.
const EARLY_MAX: usize = 1024 * 1024;
/// After the exit, output still open is given up once silent this long...
const DRAIN_QUIET: Duration = Duration::from_millis(500);
/// ...or this long after the exit.
const DRAIN_MAX: Duration = Duration::from_secs(5);
/// How long clients get to read their last bytes.
const CLOSE: Duration = Duration::from_secs(5);
/// How long an exec shim with unread output waits for its first attach client after the
/// exit.
const LINGER: Duration = Duration::from_secs(10);

enum Phase {
    Running,
    /// Exited: reading what is left of the output.
    Draining {
        since: Instant,
        quiet: Instant,
    },
    /// Recorded and answered: writing out the last bytes.
    Closing {
        until: Instant,
    },
}

/// An exec process's output before anyone attached.
#[derive(Default)]
struct Early {
    chunks: Vec<(u8, Vec<u8>)>,
    len: usize,
}

impl Early {
    fn push(&mut self, stream: u8, data: &[u8]) {
        let data = &data[..data.len().min(EARLY_MAX - self.len)];
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        match self.chunks.last_mut() {
            Some((s, d)) if *s == stream => d.extend_from_slice(data),
            _ => self.chunks.push((stream, data.to_vec())),
        }
    }
}

struct Stdin {
    fd: OwnedFd,
    buf: Vec<u8>,
    /// Close once `buf` is written.
    eof: bool,
}

enum Slot {
    Signal,
    Listener,
    Output(usize),
    Stdin,
    Conn(usize),
}

pub struct Serve {
    dir: PathBuf,
    pid: i32,
    tty: bool,
    listener: UnixListener,
    sigfd: SignalFd,
    outputs: Vec<Option<(OwnedFd, u8)>>,
    stdin: Option<Stdin>,
    pty: Option<OwnedFd>,
    log: Option<JsonLog>,
    cgroup: Option<String>,
    oom_before: u64,
    /// Dropped once the exit is reported (see `Launched::mnt_ns`).
    mnt_ns: Option<std::os::fd::OwnedFd>,
    conns: Vec<Conn>,
    early: Option<Early>,
    /// Exit code and time, once reaped.
    status: Option<(i32, String)>,
    exit: Option<ExitInfo>,
    phase: Phase,
}

impl Serve {
    pub fn new(l: Launched, sigfd: SignalFd, dir: PathBuf, tty: bool, exec: bool) -> Serve {
        Serve {
            dir,
            pid: l.pid,
            tty,
            listener: l.listener,
            sigfd,
            outputs: l.outputs.into_iter().map(Some).collect(),
            stdin: l.stdin.map(|fd| Stdin {
                fd,
                buf: Vec::new(),
                eof: false,
            }),
            pty: l.pty,
            log: l.log,
            cgroup: l.cgroup,
            oom_before: l.oom_before,
            mnt_ns: l.mnt_ns,
            conns: Vec::new(),
            early: exec.then(Early::default),
            status: None,
            exit: None,
            phase: Phase::Running,
        }
    }

    /// Serve until the process has exited and everything is delivered; then remove the
    /// control socket.
    pub fn run(mut self) {
        self.reap();
        // Made at the first read: a container that never prints and is never attached to
        // never touches (so never pays for) these 16 KiB.
        let mut buf: Vec<u8> = Vec::new();
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut slots: Vec<Slot> = Vec::new();
        loop {
            let now = Instant::now();
            self.outputs.retain(Option::is_some);
            self.advance(now);
            // After advance: finishing may have let connections go.
            self.conns.retain(|c| !c.dead);
            if self.done(now) {
                break;
            }
            fds.clear();
            slots.clear();
            self.interest(&mut fds, &mut slots);
            if sys::poll(&mut fds, self.timeout(now)).is_err() {
                break;
            }
            for (pfd, slot) in fds.iter().zip(&slots) {
                if pfd.revents != 0 {
                    if buf.is_empty() && matches!(slot, Slot::Output(_) | Slot::Conn(_)) {
                        buf = vec![0u8; CHUNK];
                    }
                    self.handle(slot, pfd.revents, &mut buf);
                }
            }
        }
        let _ = std::fs::remove_file(self.dir.join(SOCKET));
    }

    fn interest(&self, fds: &mut Vec<libc::pollfd>, slots: &mut Vec<Slot>) {
        let mut add = |fd: i32, events: i16, slot: Slot| {
            fds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
            slots.push(slot);
        };
        add(self.sigfd.as_raw_fd(), libc::POLLIN, Slot::Signal);
        add(self.listener.as_raw_fd(), libc::POLLIN, Slot::Listener);
        if !self.backpressure() {
            for (i, (fd, _)) in self
                .outputs
                .iter()
                .enumerate()
                .filter_map(|(i, o)| Some((i, o.as_ref()?)))
            {
                add(fd.as_raw_fd(), libc::POLLIN, Slot::Output(i));
            }
        }
        if let Some(s) = self.stdin.as_ref().filter(|s| !s.buf.is_empty()) {
            add(s.fd.as_raw_fd(), libc::POLLOUT, Slot::Stdin);
        }
        let stdin_full = self
            .stdin
            .as_ref()
            .is_some_and(|s| s.buf.len() > STDIN_HIGH);
        for (i, c) in self.conns.iter().enumerate() {
            let mut ev = 0;
            if c.wants_read() && !(stdin_full && c.takes_stdin()) {
                ev |= libc::POLLIN;
            }
            if !c.out.is_empty() {
                ev |= libc::POLLOUT;
            }
            add(c.sock.as_raw_fd(), ev, Slot::Conn(i));
        }
    }

    /// A client is behind: stop reading output until it catches up.
    fn backpressure(&self) -> bool {
        self.conns.iter().any(|c| c.out.len() > HIGH_WATER)
    }

    fn timeout(&self, now: Instant) -> i32 {
        let until = match self.phase {
            Phase::Running => return -1,
            Phase::Draining { since, quiet } => (quiet + DRAIN_QUIET).min(since + DRAIN_MAX),
            Phase::Closing { until } => until,
        };
        let ms = until.saturating_duration_since(now).as_millis() + 1;
        i32::try_from(ms).unwrap_or(i32::MAX)
    }

    fn handle(&mut self, slot: &Slot, revents: i16, buf: &mut [u8]) {
        match *slot {
            Slot::Signal => {
                while let Ok(Some(_)) = self.sigfd.read_signal() {}
                self.reap();
            }
            Slot::Listener => self.accept(),
            Slot::Output(i) => self.read_output(i, buf),
            Slot::Stdin => self.write_stdin(),
            Slot::Conn(i) => {
                if revents & libc::POLLERR != 0 {
                    self.conns[i].dead = true;
                    return;
                }
                if revents & libc::POLLOUT != 0 {
                    self.conns[i].flush();
                }
                if self.conns[i].wants_read() && revents & (libc::POLLIN | libc::POLLHUP) != 0 {
                    self.read_conn(i, buf);
                } else if revents & libc::POLLHUP != 0 {
                    self.conns[i].dead = true;
                }
            }
        }
    }

    fn accept(&mut self) {
        while let Ok((s, _)) = self.listener.accept() {
            if s.set_nonblocking(true).is_ok() {
                self.conns.push(Conn::new(s));
            }
        }
    }

    fn read_output(&mut self, i: usize, buf: &mut [u8]) {
        let Some((fd, stream)) = &self.outputs[i] else {
            return;
        };
        let stream = *stream;
        match nix::unistd::read(fd.as_fd(), buf) {
            Ok(0) => self.outputs[i] = None,
            Ok(n) => {
                self.dispatch(stream, &buf[..n]);
                if let Phase::Draining { quiet, .. } = &mut self.phase {
                    *quiet = Instant::now();
                }
            }
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
            // EIO: the pty's last slave fd closed.
            Err(_) => self.outputs[i] = None,
        }
    }

    /// Output of `stream` to the log, the early buffer and every attach client that takes it.
    fn dispatch(&mut self, stream: u8, data: &[u8]) {
        if let Some(log) = &mut self.log {
            let _ = log.write(stream, data);
        }
        if let Some(e) = &mut self.early {
            e.push(stream, data);
        }
        for c in &mut self.conns {
            if c.takes(stream) {
                c.send_output(stream, data, self.tty);
                c.flush();
            }
        }
    }

    fn feed_stdin(&mut self, data: &[u8]) {
        if let Some(s) = self.stdin.as_mut().filter(|s| !s.eof) {
            s.buf.extend_from_slice(data);
            self.write_stdin();
        }
    }

    fn write_stdin(&mut self) {
        let Some(s) = &mut self.stdin else { return };
        while !s.buf.is_empty() {
            match nix::unistd::write(&s.fd, &s.buf) {
                Ok(n) => {
                    s.buf.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break,
                // EPIPE: the process closed its stdin; the rest has nowhere to go.
                Err(_) => {
                    s.buf.clear();
                    s.eof = true;
                }
            }
        }
        if s.buf.is_empty() && s.eof {
            self.stdin = None;
        } else if s.buf.is_empty() && s.buf.capacity() > STDIN_HIGH {
            s.buf = Vec::new();
        }
    }

    fn read_conn(&mut self, i: usize, buf: &mut [u8]) {
        match self.conns[i].read(buf) {
            Got::Nothing => {}
            Got::Gone => self.conns[i].dead = true,
            Got::Eof => {
                if self.conns[i].ends_stdin() {
                    if let Some(s) = &mut self.stdin {
                        s.eof = true;
                    }
                    self.write_stdin();
                }
            }
            Got::Data(n) => {
                if self.conns[i].takes_stdin() {
                    self.feed_stdin(&buf[..n]);
                }
            }
            Got::Request(req, rest) => self.request(i, req, rest),
        }
    }

    fn request(&mut self, i: usize, req: Result<Request, String>, rest: Vec<u8>) {
        // Reaped: its pid may already belong to another process.
        let reaped = self.status.is_some();
        let exited = self.exit.is_some();
        let gone = || Reply::error("the process has exited");
        let c = &mut self.conns[i];
        match req {
            Err(e) => c.reply(&Reply::error(format!("bad request: {e}")), true),
            Ok(Request::Attach {
                stdin,
                stdout,
                stderr,
                keep_stdin,
            }) => {
                c.reply(&Reply::ok(), false);
                c.state = State::Attach {
                    stdin,
                    stdout,
                    stderr,
                    keep_stdin,
                };
                if stdout || stderr {
                    if let Some(early) = self.early.take() {
                        for (s, d) in &early.chunks {
                            if c.takes(*s) {
                                c.send_output(*s, d, self.tty);
                            }
                        }
                        if let Phase::Closing { until } = &mut self.phase {
                            *until = Instant::now() + CLOSE;
                        }
                    }
                }
                c.closing = exited;
                if stdin && !rest.is_empty() {
                    self.feed_stdin(&rest);
                }
            }
            Ok(Request::Wait) => match &self.exit {
                Some(e) => c.reply(&Reply::Exit(e.clone()), true),
                None => c.state = State::Wait,
            },
            Ok(Request::Resize { rows, cols }) => {
                let r = match &self.pty {
                    _ if reaped => gone(),
                    None => Reply::error("the process has no terminal"),
                    Some(p) => match sys::set_winsize(p.as_fd(), rows, cols) {
                        Ok(()) => Reply::ok(),
                        Err(e) => Reply::error(e.to_string()),
                    },
                };
                c.reply(&r, true);
            }
            Ok(Request::Kill { signal }) => {
                let r = if reaped {
                    gone()
                } else {
                    match nix::sys::signal::Signal::try_from(signal).and_then(|s| {
                        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), s)
                    }) {
                        Ok(()) => Reply::ok(),
                        Err(e) => Reply::error(format!("kill {signal}: {e}")),
                    }
                };
                c.reply(&r, true);
            }
        }
        self.conns[i].flush();
    }

    /// Reap children; note our process's end.
    fn reap(&mut self) {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        loop {
            let code = match waitpid(None::<nix::unistd::Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, code)) if p.as_raw() == self.pid => code,
                Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == self.pid => 128 + sig as i32,
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            let at = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
            self.status = Some((code, at));
        }
    }

    fn advance(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Running) && self.status.is_some() {
            self.phase = Phase::Draining {
                since: now,
                quiet: now,
            };
        }
        let blocked = self.backpressure();
        if let Phase::Draining { since, quiet } = &mut self.phase {
            if blocked {
                *quiet = now;
            }
            if self.outputs.is_empty()
                || now.duration_since(*quiet) >= DRAIN_QUIET
                || now.duration_since(*since) >= DRAIN_MAX
            {
                self.finish(now);
            }
        }
    }

    /// The output is drained: record the exit, answer the waiters, let attach clients go.
    fn finish(&mut self, now: Instant) {
        if let Some(log) = &mut self.log {
            let _ = log.flush();
        }
        self.log = None;
        self.stdin = None;
        self.outputs.clear();
        let (exit_code, finished_at) = self.status.clone().unwrap_or((-1, String::new()));
        let info = ExitInfo {
            exit_code,
            oom_killed: oom_kills(self.cgroup.as_deref()) > self.oom_before,
            finished_at,
        };
        let _ = write_exit(&self.dir, &info);
        let reply = Reply::Exit(info.clone());
        for c in &mut self.conns {
            match c.state {
                State::Wait => c.reply(&reply, true),
                State::Attach { .. } => c.closing = true,
                _ => {}
            }
            c.flush();
        }
        // Reported: the namespace's teardown no longer delays anyone.
        self.mnt_ns = None;
        self.exit = Some(info);
        let wait = if self.lingering() { LINGER } else { CLOSE };
        self.phase = Phase::Closing { until: now + wait };
    }

    fn done(&self, now: Instant) -> bool {
        match self.phase {
            Phase::Closing { until } => {
                now >= until || (self.conns.is_empty() && !self.lingering())
            }
            _ => false,
        }
    }

    /// An exec process's output still waits for its first attach client.
    fn lingering(&self) -> bool {
        self.early.as_ref().is_some_and(|e| e.len > 0)
    }
}
