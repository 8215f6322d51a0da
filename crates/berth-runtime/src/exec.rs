//! `exec`: start another process inside a running container — join its namespaces and
//! cgroup, take the process's identity and the container's seccomp profile, execve.

use crate::channel::{self, Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::init::{clone_flag, exec_process};
use crate::lifecycle::{block_signals, wait_forwarding, Container};
use crate::security::{find_executable, CapMasks};
use crate::state::Status;
use crate::sys::{clone_fork, Forked};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Process};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// What to exec and how.
pub struct ExecOpts<'a> {
    pub process: Process,
    pub console_socket: Option<&'a Path>,
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
}

/// Run the process; the exit code when attached, 0 when detached.
pub fn exec(c: &Container, opts: ExecOpts) -> Result<i32> {
    let status = c.status();
    if status != Status::Running {
        return Err(Error::State {
            id: c.rec.id.clone(),
            status: status.to_string(),
            what: "cannot exec in a container that is not running".into(),
        });
    }
    let pid = c.rec.pid;
    let linux = c.rec.spec.linux().as_ref();
    let mut join: Vec<(LinuxNamespaceType, OwnedFd)> = Vec::new();
    let mut pid_ns = None;
    for ns in linux
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
    {
        // oci-spec displays each type as its /proc/PID/ns name (mnt, net, pid, ...).
        let path = format!("/proc/{pid}/ns/{}", ns.typ());
        let fd = nix::fcntl::open(
            path.as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("opening {path}"))?;
        match ns.typ() {
            LinuxNamespaceType::Pid => pid_ns = Some(fd),
            t => join.push((t, fd)),
        }
    }
    // The user namespace first (it grants the rights to join the rest), the mount namespace
    // last (it changes our root).
    join.sort_by_key(|(t, _)| match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 2,
        _ => 1,
    });
    // Kept apart from the record (state.rs); in the spec itself in records of older builds.
    let kept = if c.rec.has_seccomp {
        Some(c.dir.seccomp()?)
    } else {
        None
    };
    let seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .or(kept.as_ref())
        .map(berth_seccomp::compile)
        .transpose()?;
    let caps = CapMasks::from_spec(opts.process.capabilities().as_ref());
    let console = match (
        opts.process.terminal().unwrap_or(false),
        opts.console_socket,
    ) {
        (true, Some(sock)) => Some(OwnedFd::from(
            std::os::unix::net::UnixStream::connect(sock)
                .ctx(|| format!("connecting to console socket {}", sock.display()))?,
        )),
        (true, None) => return Err(Error::Invalid("a terminal needs --console-socket".into())),
        _ => None,
    };
    let cgroup = c.cgroup()?;
    let sigset = if opts.detach {
        None
    } else {
        Some(block_signals()?)
    };
    if let Some(fd) = &pid_ns {
        nix::sched::setns(fd, CloneFlags::CLONE_NEWPID).ctx(|| "joining the pid namespace")?;
    }
    let cg_fd = crate::sys::open_cgroup_dir(&cgroup)?;
    let (parent, child) = channel::pair()?;
    let child_pid = match clone_fork(0, cg_fd.as_ref().map(|f| f.as_raw_fd()))? {
        Forked::Child => {
            drop(parent);
            let attach = cg_fd.is_none().then_some(&cgroup);
            let r = exec_child(
                &opts.process,
                &join,
                attach,
                &caps,
                seccomp.as_ref(),
                console,
                &child,
            );
            let msg = match r {
                Err(e) => e.for_parent(),
                Ok(()) => "exec returned".into(),
            };
            let _ = child.send(&Msg::Failed(msg));
            crate::sys::exit_now(127)
        }
        Forked::Parent(p) => p,
    };
    drop(child);
    parent.send(&Msg::Go)?;
    match parent.recv()? {
        None => {}
        Some(Msg::Failed(e)) => {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child_pid), None);
            return Err(Error::Init(e));
        }
        Some(m) => return Err(Error::Init(format!("unexpected {m:?} from exec child"))),
    }
    if let Some(p) = opts.pid_file {
        crate::create::write_pid_file(p, child_pid)?;
    }
    match sigset {
        None => Ok(0),
        Some(set) => wait_forwarding(child_pid, &set),
    }
}

fn exec_child(
    process: &Process,
    join: &[(LinuxNamespaceType, OwnedFd)],
    attach: Option<&berth_cgroups::Cgroup>,
    caps: &CapMasks,
    seccomp: Option<&berth_seccomp::Program>,
    console: Option<OwnedFd>,
    chan: &Channel,
) -> Result<()> {
    crate::init::unblock_signals();
    chan.expect(Msg::Go)?;
    // Still in the host's namespaces: move ourselves into the container's cgroup (v1).
    if let Some(cg) = attach {
        cg.attach_self()?;
    }
    for (typ, fd) in join {
        nix::sched::setns(fd, clone_flag(*typ)).ctx(|| format!("joining the {typ} namespace"))?;
        if *typ == LinuxNamespaceType::User {
            let r = nix::unistd::Uid::from_raw(0);
            nix::unistd::setresuid(r, r, r).ctx(|| "becoming root in the user namespace")?;
        }
    }
    if let Some(sock) = console {
        crate::console::attach_terminal(&sock, process)?;
    }
    nix::unistd::chdir(process.cwd()).ctx(|| format!("chdir to {}", process.cwd().display()))?;
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(Error::Invalid("exec: no command given".into()));
    }
    let env = process.env().clone().unwrap_or_default();
    let exe = find_executable(&args[0], &env)?;
    exec_process(process, caps, seccomp, &exe, &args, &env)
}

/// Build an exec process from the container's own process with command-line overrides,
/// the way runc does.
pub fn process_from_args(
    c: &Container,
    args: Vec<String>,
    env: &[String],
    cwd: Option<&str>,
    user: Option<&str>,
    tty: bool,
) -> Result<Process> {
    let mut p = c
        .rec
        .spec
        .process()
        .clone()
        .ok_or_else(|| Error::Config("container has no process".into()))?;
    p.set_args(Some(args));
    let mut e = p.env().clone().unwrap_or_default();
    e.extend(env.iter().cloned());
    p.set_env(Some(e));
    if let Some(cwd) = cwd {
        p.set_cwd(cwd.into());
    }
    if let Some(u) = user {
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u, None),
        };
        let bad = || Error::Invalid(format!("--user {u:?}: expected UID[:GID] as numbers"));
        p.user_mut().set_uid(uid.parse().map_err(|_| bad())?);
        if let Some(g) = gid {
            p.user_mut().set_gid(g.parse().map_err(|_| bad())?);
        }
    }
    p.set_terminal(Some(tty));
    Ok(p)
}
