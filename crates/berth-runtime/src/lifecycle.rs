//! Operations on an existing container: start, state, kill, delete, pause, resume, update,
//! ps, stats, list, and `run` (create + start + wait).

use crate::create::{create, CreateOpts};
use crate::error::{Context, Error, Result};
use crate::hooks;
use crate::state::{init_alive, ContainerDir, PublicState, Record, Status};
use berth_cgroups::Cgroup;
use nix::sys::signal::{kill as send_signal, SigSet, Signal};
use nix::unistd::Pid;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A loaded container: its record and where it lives.
pub struct Container {
    pub dir: ContainerDir,
    pub rec: Record,
}

impl Container {
    pub fn load(root: &Path, id: &str) -> Result<Container> {
        let dir = ContainerDir::new(root, id)?;
        let rec = dir.load(id)?;
        Ok(Container { dir, rec })
    }

    pub fn cgroup(&self) -> Result<Cgroup> {
        Ok(Cgroup::new(
            &crate::host_hierarchy()?,
            &self.rec.cgroup_path,
        ))
    }

    /// The live status: init alive? still waiting on its fifo? frozen?
    pub fn status(&self) -> Status {
        if !init_alive(&self.rec) {
            return Status::Stopped;
        }
        if self.dir.fifo().exists() {
            return Status::Created;
        }
        match self.cgroup().and_then(|c| Ok(c.is_frozen()?)) {
            Ok(true) => Status::Paused,
            _ => Status::Running,
        }
    }

    pub fn public(&self) -> PublicState {
        let status = self.status();
        let pid = if status == Status::Stopped {
            0
        } else {
            self.rec.pid
        };
        let mut st = PublicState::new(
            &self.rec.spec,
            &self.rec.id,
            pid,
            status,
            &self.rec.bundle,
            &self.rec.rootfs,
        );
        st.created = self.rec.created.clone();
        st
    }

    fn wrong_state(&self, status: Status, what: &str) -> Error {
        Error::State {
            id: self.rec.id.clone(),
            status: status.to_string(),
            what: what.to_string(),
        }
    }

    /// Let a created container's init exec the user's process.
    pub fn start(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Created {
            return Err(self.wrong_state(status, "cannot start a container that is not created"));
        }
        let fifo = self.dir.fifo();
        let fd = nix::fcntl::open(
            &fifo,
            nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_NONBLOCK
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| format!("opening {}", fifo.display()))?;
        // Wait for init to open its end and write; bail out if it died meanwhile.
        loop {
            let mut pfd = [nix::poll::PollFd::new(
                fd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let n = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16))
                .or_else(|e| {
                    if e == nix::errno::Errno::EINTR {
                        Ok(0)
                    } else {
                        Err(e)
                    }
                })
                .ctx(|| "waiting on exec.fifo")?;
            if n > 0 {
                break;
            }
            if !init_alive(&self.rec) {
                return Err(Error::Init("the container's init died before start".into()));
            }
        }
        let mut b = [0u8; 1];
        let n = nix::unistd::read(fd.as_fd(), &mut b).ctx(|| "reading exec.fifo")?;
        std::fs::remove_file(&fifo).ctx(|| format!("removing {}", fifo.display()))?;
        if n != 1 {
            return Err(Error::Init("the container's init exited at start".into()));
        }
        if let Err(e) = hooks::run(&self.rec.spec, hooks::Kind::Poststart, || self.public()) {
            // runc: a failing poststart hook is reported, and the container is left running.
            eprintln!("warning: {e}");
        }
        Ok(())
    }

    /// Send a signal to init, or with `all` to every process in the container's cgroup.
    pub fn kill(&self, sig: Signal, all: bool) -> Result<()> {
        let status = self.status();
        if status == Status::Stopped && !all {
            return Err(self.wrong_state(status, "container not running"));
        }
        if all {
            return Ok(self.cgroup()?.kill_all(sig as i32)?);
        }
        send_signal(Pid::from_raw(self.rec.pid), sig).ctx(|| format!("kill {} {sig}", self.rec.pid))
    }

    /// Remove the container; `force` kills it first if it still runs.
    pub fn delete(&self, force: bool) -> Result<()> {
        let status = self.status();
        match status {
            Status::Stopped | Status::Created => {}
            _ if force => {}
            _ => {
                return Err(self.wrong_state(
                    status,
                    "cannot delete a running container; stop it first or use --force",
                ))
            }
        }
        let cgroup = self.cgroup()?;
        if status != Status::Stopped || cgroup.exists() {
            let _ = cgroup.kill_all(libc::SIGKILL);
            if status == Status::Paused {
                let _ = cgroup.thaw();
            }
            if init_alive(&self.rec) {
                let _ = send_signal(Pid::from_raw(self.rec.pid), Signal::SIGKILL);
            }
            self.wait_gone(Duration::from_secs(10))?;
        }
        cgroup.destroy()?;
        if let Err(e) = hooks::run(&self.rec.spec, hooks::Kind::Poststop, || self.public()) {
            eprintln!("warning: {e}");
        }
        self.dir.remove()
    }

    fn wait_gone(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while init_alive(&self.rec) {
            // Our own child (foreground run): reap it so it stops being a zombie.
            let _ = nix::sys::wait::waitpid(
                Pid::from_raw(self.rec.pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
            if Instant::now() > deadline {
                return Err(Error::Init(format!(
                    "container {} init {} did not exit",
                    self.rec.id, self.rec.pid
                )));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }

    pub fn pause(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Running && status != Status::Created {
            return Err(self.wrong_state(status, "container not running"));
        }
        Ok(self.cgroup()?.freeze()?)
    }

    pub fn resume(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Paused {
            return Err(self.wrong_state(status, "container not paused"));
        }
        Ok(self.cgroup()?.thaw()?)
    }

    /// Apply new resource limits and remember them.
    pub fn update(&mut self, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
        let status = self.status();
        if status == Status::Stopped {
            return Err(self.wrong_state(status, "container not running"));
        }
        self.cgroup()?.apply(r)?;
        if let Some(linux) = self.rec.spec.linux_mut() {
            linux.set_resources(Some(r.clone()));
        }
        self.dir.save(&self.rec)
    }

    pub fn pids(&self) -> Result<Vec<i32>> {
        Ok(self.cgroup()?.pids()?)
    }

    pub fn stats(&self) -> Result<berth_cgroups::Stats> {
        Ok(self.cgroup()?.stats()?)
    }
}

/// Every container under `root`.
pub fn list(root: &Path) -> Result<Vec<Container>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        r => r.ctx(|| format!("reading {}", root.display()))?,
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Ok(c) = Container::load(root, &name) {
            out.push(c);
        }
    }
    out.sort_by(|a, b| a.rec.id.cmp(&b.rec.id));
    Ok(out)
}

/// Signals `run` passes on to the container instead of dying of them.
pub(crate) const FORWARDED: [Signal; 8] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// Block the forwarded signals and SIGCHLD; returns the set for [`wait_forwarding`].
pub(crate) fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set.thread_block().ctx(|| "blocking signals")?;
    Ok(set)
}

/// Wait for our child `pid` to exit, forwarding signals to it; the shell-style exit code.
pub(crate) fn wait_forwarding(pid: i32, set: &SigSet) -> Result<i32> {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let child = Pid::from_raw(pid);
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)).ctx(|| "waitpid")? {
            WaitStatus::Exited(_, code) => return Ok(code),
            WaitStatus::Signaled(_, sig, _) => return Ok(128 + sig as i32),
            _ => {}
        }
        let sig = set.wait().ctx(|| "sigwait")?;
        if sig != Signal::SIGCHLD {
            let _ = send_signal(child, sig);
        }
    }
}

/// `run`: create and start; unless detached, wait for the process, forward signals, and
/// delete the container when it exits. Returns the exit code (0 when detached).
pub fn run(opts: &CreateOpts, detach: bool) -> Result<i32> {
    let set = if detach { None } else { Some(block_signals()?) };
    let pid = create(opts)?;
    let c = Container::load(opts.root, opts.id)?;
    if let Err(e) = c.start() {
        let _ = c.delete(true);
        return Err(e);
    }
    let Some(set) = set else { return Ok(0) };
    let code = wait_forwarding(pid, &set)?;
    c.delete(true)?;
    Ok(code)
}

/// Parse a signal given as a name (`KILL`, `SIGKILL`) or number.
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| Error::Invalid(format!("unknown signal {s:?}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>()
        .map_err(|_| Error::Invalid(format!("unknown signal {s:?}")))
}

/// Absolute path of a bundle argument (runc resolves it against the cwd).
pub fn bundle_path(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_like_runc() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
    }
}
