//! Making the process: the state directory and control socket, the stdio pipes (or the pty
//! received over the console socket), and the runtime's `create` (run in a short-lived helper
//! child so that none of its memory stays in the container's shim; the container is handed
//! to the shim, a child subreaper, when the helper exits) or `exec`.

use super::args::{Args, Mode};
use super::log::JsonLog;
use super::sys;
use berth_cgroups::{Cgroup, Hierarchy};
use berth_runtime::Container;
use berth_shim::protocol::{CONSOLE_SOCKET, EXIT_FILE, LOG_FILE, PID_FILE, SOCKET};
use berth_shim::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

/// The process, made, and what the serve loop needs of it.
pub struct Launched {
    pub pid: i32,
    pub listener: UnixListener,
    /// Output to read: (fd, stream) — stdout and stderr pipes, or the pty master as stdout.
    pub outputs: Vec<(OwnedFd, u8)>,
    /// Where attach input goes: the stdin pipe, or the pty master with `--stdin`.
    pub stdin: Option<OwnedFd>,
    pub pty: Option<OwnedFd>,
    pub log: Option<JsonLog>,
    /// The container's cgroup path, read again for its OOM kills when the process exits.
    pub cgroup: Option<String>,
    pub oom_before: u64,
    /// The container's mount namespace, held until its exit is reported: otherwise the
    /// init's own exit tears it down (every mount, and an RCU grace period) before we are
    /// told of the exit.
    pub mnt_ns: Option<OwnedFd>,
}

/// Prepare the state directory and make the process. On failure nothing is left: the files
/// the shim made are removed, and the runtime removes what it made.
pub fn launch(a: &Args) -> Result<Launched> {
    let made_dir = !a.dir.exists();
    std::fs::create_dir_all(&a.dir).ctx(|| format!("creating {}", a.dir.display()))?;
    for stale in [SOCKET, CONSOLE_SOCKET, EXIT_FILE] {
        let _ = std::fs::remove_file(a.dir.join(stale));
    }
    let r = launch_in(a);
    let _ = std::fs::remove_file(a.dir.join(CONSOLE_SOCKET));
    if r.is_err() {
        let _ = std::fs::remove_file(a.dir.join(SOCKET));
        let _ = std::fs::remove_file(a.dir.join(PID_FILE));
        let log = a.dir.join(LOG_FILE);
        if std::fs::metadata(&log).is_ok_and(|m| m.len() == 0) {
            let _ = std::fs::remove_file(&log);
        }
        if made_dir {
            let _ = std::fs::remove_dir(&a.dir);
        }
    }
    r
}

fn launch_in(a: &Args) -> Result<Launched> {
    let sock = a.dir.join(SOCKET);
    let listener = UnixListener::bind(&sock).ctx(|| format!("binding {}", sock.display()))?;
    listener
        .set_nonblocking(true)
        .ctx(|| "non-blocking control socket")?;
    std::fs::write(a.dir.join(PID_FILE), std::process::id().to_string())
        .ctx(|| "writing shim.pid")?;
    let log = match &a.mode {
        Mode::Start {
            log_max_size,
            log_max_file,
            ..
        } => Some(JsonLog::open(
            &a.dir.join(LOG_FILE),
            *log_max_size,
            *log_max_file,
        )?),
        Mode::Exec { .. } => None,
    };
    let null = sys::dev_null()?;
    let console_path = a.dir.join(CONSOLE_SOCKET);
    let console = a
        .tty
        .then(|| UnixListener::bind(&console_path))
        .transpose()
        .ctx(|| format!("binding {}", console_path.display()))?;
    if let Some(l) = &console {
        // Accepted only after create/exec returned: the connection is queued by then.
        l.set_nonblocking(true)
            .ctx(|| "non-blocking console socket")?;
    }

    // The process's ends of the pipes (None: /dev/null) and ours.
    let mut outputs = Vec::new();
    let (mut child_in, mut child_out, mut child_err, mut stdin) = (None, None, None, None);
    if !a.tty {
        let (r, w) = sys::pipe()?;
        sys::set_nonblocking(&r)?;
        outputs.push((r, 1));
        child_out = Some(w);
        let (r, w) = sys::pipe()?;
        sys::set_nonblocking(&r)?;
        outputs.push((r, 2));
        child_err = Some(w);
        if a.stdin {
            let (r, w) = sys::pipe()?;
            sys::set_nonblocking(&w)?;
            child_in = Some(r);
            stdin = Some(w);
        }
    }
    let make_it = || {
        sys::ignore_sigpipe(false)?;
        sys::set_stdio(
            child_in.as_ref().unwrap_or(&null),
            child_out.as_ref().unwrap_or(&null),
            child_err.as_ref().unwrap_or(&null),
        )?;
        make(a, console.as_ref().map(|_| console_path.as_path()))
    };
    let Made {
        pid,
        cgroup,
        oom_before,
    } = match a.mode {
        Mode::Start { .. } => in_helper(make_it)?,
        // An exec'd process usually lives briefly, and a user waits for its start: it is
        // made in place (through a helper an exec took 13.6 ms instead of 11.4 here).
        Mode::Exec { .. } => {
            let r = make_it();
            sys::set_stdio(&null, &null, &null)?;
            sys::ignore_sigpipe(true)?;
            r?
        }
    };
    drop((child_in, child_out, child_err));
    let mnt_ns = match a.mode {
        Mode::Start { .. } => std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
            .ok()
            .map(OwnedFd::from),
        Mode::Exec { .. } => None,
    };

    let mut pty = None;
    if let Some(l) = &console {
        match receive_pty(l) {
            Ok(master) => {
                sys::set_nonblocking(&master)?;
                let read = master.try_clone().ctx(|| "dup pty master")?;
                if a.stdin {
                    stdin = Some(master.try_clone().ctx(|| "dup pty master")?);
                }
                outputs.push((read, 1));
                pty = Some(master);
            }
            Err(e) => {
                undo(a, pid);
                return Err(e);
            }
        }
    }
    Ok(Launched {
        pid,
        listener,
        outputs,
        stdin,
        pty,
        log,
        cgroup,
        oom_before,
        mnt_ns,
    })
}

/// What the helper made: the process, its cgroup path and the OOM kills counted there so far.
#[derive(Serialize, Deserialize)]
struct Made {
    pid: i32,
    cgroup: Option<String>,
    oom_before: u64,
}

/// Run `make` in a forked helper and take its result.
/// - Why: making a process parses the spec, compiles seccomp, walks mounts and cgroups. In
///   the shim, the heap that left behind stayed resident for the container's whole life
///   (about 100 KiB a container, in pages that hold a few live bytes each).
/// - The process the helper makes is its child; when the helper exits, the kernel hands it
///   to the nearest child subreaper above it: the shim.
/// - The result comes back as one JSON line on a pipe: the process may keep the pipe's write
///   end open until it execs, so the shim reads up to the newline, not to end of file.
fn in_helper(make: impl FnOnce() -> Result<Made>) -> Result<Made> {
    sys::set_child_subreaper()?;
    let (r, w) = sys::pipe()?;
    // SAFETY: the shim is single-threaded, so the child may run any code after fork.
    match unsafe { nix::unistd::fork() }.ctx(|| "fork")? {
        nix::unistd::ForkResult::Child => {
            super::arena::bump_from_now_on();
            drop(r);
            let made = make().map_err(|e| e.to_string());
            let mut line = serde_json::to_vec(&made).unwrap_or_default();
            line.push(b'\n');
            let _ = std::fs::File::from(w).write_all(&line);
            // SAFETY: _exit ends the helper at once, running no exit handlers: nothing is
            // flushed into the process's stdio, which is ours now.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let line = read_line(std::fs::File::from(r));
            let _ = nix::sys::wait::waitpid(child, None);
            let made: std::result::Result<Made, String> = serde_json::from_slice(&line?)
                .map_err(|e| Error::Protocol(format!("the launch helper's report: {e}")))?;
            made.map_err(Error::Shim)
        }
    }
}

/// Bytes up to the first newline (or end of file).
fn read_line(mut f: std::fs::File) -> Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let n = f
            .read(&mut chunk)
            .ctx(|| "reading the launch helper's report")?;
        line.extend_from_slice(&chunk[..n]);
        if n == 0 || chunk[..n].contains(&b'\n') {
            return Ok(line);
        }
    }
}

/// The OOM kills counted so far in the cgroup at `path` (0 when it cannot be read).
pub fn oom_kills(path: Option<&str>) -> u64 {
    let cgroup = path.and_then(|p| Hierarchy::detect().ok().map(|h| Cgroup::new(&h, p)));
    oom_count(cgroup.as_ref())
}

/// Create the container or exec the process, with our stdio as its stdio.
fn make(a: &Args, console: Option<&Path>) -> Result<Made> {
    match &a.mode {
        Mode::Start { bundle, .. } => {
            let pid = berth_runtime::create(&berth_runtime::CreateOpts {
                root: &a.runtime_root,
                id: &a.id,
                bundle,
                pid_file: None,
                console_socket: console,
            })?;
            let c = Container::load(&a.runtime_root, &a.id).ok();
            let before = oom_count(c.as_ref().and_then(|c| c.cgroup().ok()).as_ref());
            Ok(Made {
                pid,
                cgroup: c.map(|c| c.rec.cgroup_path),
                oom_before: before,
            })
        }
        Mode::Exec { process } => {
            let c = Container::load(&a.runtime_root, &a.id)?;
            let text = std::fs::read(process).ctx(|| format!("reading {}", process.display()))?;
            let mut p: oci_spec::runtime::Process = serde_json::from_slice(&text)
                .map_err(|e| Error::Shim(format!("process file {}: {e}", process.display())))?;
            p.set_terminal(Some(a.tty));
            let before = oom_count(c.cgroup().ok().as_ref());
            // Detached: the process is our child and exec returns once it has exec'd; its
            // pid comes back through the pid file.
            let pid_file = a.dir.join("exec.pid");
            let r = berth_runtime::exec(
                &c,
                berth_runtime::ExecOpts {
                    process: p,
                    console_socket: console,
                    detach: true,
                    pid_file: Some(&pid_file),
                },
            );
            let pid = std::fs::read_to_string(&pid_file);
            let _ = std::fs::remove_file(&pid_file);
            r?;
            let pid = pid
                .ctx(|| "reading the exec pid file")?
                .trim()
                .parse()
                .map_err(|_| Error::Shim("bad exec pid file".into()))?;
            Ok(Made {
                pid,
                cgroup: Some(c.rec.cgroup_path),
                oom_before: before,
            })
        }
    }
}

fn oom_count(cg: Option<&Cgroup>) -> u64 {
    cg.and_then(|c| c.oom_kill_count().ok()).unwrap_or(0)
}

/// Accept the runtime's connection on the console socket (it is already queued: create and
/// exec return only after the pty master was sent) and take the master from it.
fn receive_pty(l: &UnixListener) -> Result<OwnedFd> {
    let (conn, _) = l.accept().ctx(|| "accepting on the console socket")?;
    sys::recv_fd(conn.as_raw_fd())
}

/// Take back a process made when the rest of the setup failed.
fn undo(a: &Args, pid: i32) {
    match a.mode {
        Mode::Start { .. } => {
            if let Ok(c) = Container::load(&a.runtime_root, &a.id) {
                let _ = c.delete(true);
            }
        }
        Mode::Exec { .. } => {
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
        }
    }
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
}
