//! `create`: validate the bundle, make the cgroup, clone the init into its namespaces, write
//! id maps, run the pre-pivot hooks, and record the container once init reports ready.

use crate::channel::{self, Msg};
use crate::config::{load_bundle, Bundle};
use crate::error::{Context, Error, Result};
use crate::hooks;
use crate::init::{self, InitPlan};
use crate::security::CapMasks;
use crate::state::{now_rfc3339, ContainerDir, PublicState, Record, Status};
use crate::sys::{clone_fork, Forked};
use berth_cgroups::Cgroup;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, LinuxResources, Spec};
use std::os::fd::OwnedFd;
use std::path::Path;

/// What `create` (and `run`) are asked to do.
pub struct CreateOpts<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
}

/// Create a container: on success its init is waiting for `start` and its pid is returned.
/// On failure nothing is left behind: no process, cgroup or state directory.
pub fn create(opts: &CreateOpts) -> Result<i32> {
    crate::state::check_id(opts.id)?;
    let bundle = load_bundle(opts.bundle)?;
    std::fs::create_dir_all(opts.root).ctx(|| format!("creating {}", opts.root.display()))?;
    let dir = ContainerDir::new(opts.root, opts.id)?;
    match std::fs::create_dir(&dir.path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Exists(opts.id.to_string()))
        }
        r => r.ctx(|| format!("creating {}", dir.path.display()))?,
    }
    let mut guard = Cleanup {
        dir: &dir,
        cgroup: None,
        pid: None,
        armed: true,
    };
    let pid = create_in(opts, &bundle, &dir, &mut guard)?;
    guard.disarm();
    Ok(pid)
}

/// Removes what a failed create made: the init process, the cgroup, the state directory.
struct Cleanup<'a> {
    dir: &'a ContainerDir,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
    armed: bool,
}

impl Cleanup<'_> {
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(p, None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.destroy();
        }
        let _ = self.dir.remove();
    }
}

/// The cgroup path of a container: the spec's cgroupsPath or /berth/<id>.
pub fn cgroup_path(spec: &Spec, id: &str) -> String {
    spec.linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| format!("/berth/{id}"))
}

fn create_in(
    opts: &CreateOpts,
    b: &Bundle,
    dir: &ContainerDir,
    guard: &mut Cleanup,
) -> Result<i32> {
    let spec = &b.spec;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::Config("no linux section".into()))?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Config("no process".into()))?;

    let mut new_flags = CloneFlags::empty();
    let mut join: Vec<(LinuxNamespaceType, OwnedFd)> = Vec::new();
    let mut join_pid = None;
    for ns in linux.namespaces().iter().flatten() {
        match ns.path() {
            None => new_flags |= init::clone_flag(ns.typ()),
            Some(p) => {
                let fd = open_ns(p)?;
                match ns.typ() {
                    LinuxNamespaceType::Pid => join_pid = Some(fd),
                    LinuxNamespaceType::User => join.insert(0, (ns.typ(), fd)),
                    t => join.push((t, fd)),
                }
            }
        }
    }
    if let Some(fd) = &join_pid {
        nix::sched::setns(fd, CloneFlags::CLONE_NEWPID).ctx(|| "joining the pid namespace")?;
    }

    let hierarchy = crate::host_hierarchy()?;
    let cg_path = cgroup_path(spec, opts.id);
    let cgroup = Cgroup::new(&hierarchy, &cg_path);
    let self_attach = !hierarchy.is_v2() && !new_flags.contains(CloneFlags::CLONE_NEWUSER);
    // On v1 the init can join its cgroup late (it moves itself in): the cgroup is then made
    // after the clone, while the init builds its mounts, instead of before it (about a
    // millisecond of mkdirs and limit writes off the critical path). Not with a namespace
    // joined by path (the init would be in it, without the host's rights over cgroupfs), nor
    // without a mount namespace (no mounts to overlap with).
    let late_cgroup = self_attach && join.is_empty() && new_flags.contains(CloneFlags::CLONE_NEWNS);
    let make_cgroup = |guard: &mut Cleanup| -> Result<()> {
        guard.cgroup = Some(Cgroup::new(&hierarchy, &cg_path));
        cgroup.create()?;
        cgroup.apply(&cgroup_resources(spec))?;
        Ok(())
    };
    if !late_cgroup {
        make_cgroup(guard)?;
    }
    let seccomp = linux
        .seccomp()
        .as_ref()
        .map(berth_seccomp::compile)
        .transpose()?;

    let fifo_path = dir.fifo();
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .ctx(|| format!("mkfifo {}", fifo_path.display()))?;
    // mkfifo's mode is cut by the umask; the init may be root of a user namespace, which
    // is "other" to the host: make it writable for others, as runc does.
    std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .ctx(|| format!("chmod {}", fifo_path.display()))?;
    let fifo = nix::fcntl::open(&fifo_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .ctx(|| format!("opening {}", fifo_path.display()))?;

    let console = if process.terminal().unwrap_or(false) {
        let sock = opts.console_socket.ok_or_else(|| {
            Error::Invalid("process.terminal is set: --console-socket is required".into())
        })?;
        let stream = std::os::unix::net::UnixStream::connect(sock)
            .ctx(|| format!("connecting to console socket {}", sock.display()))?;
        Some(OwnedFd::from(stream))
    } else {
        None
    };

    let parent_hooks = !hooks::of_kind(spec, hooks::Kind::Prestart).is_empty()
        || !hooks::of_kind(spec, hooks::Kind::CreateRuntime).is_empty();
    let cg_dir_fd = crate::sys::open_cgroup_dir(&cgroup)?;
    let affinity = late_cgroup.then(crate::sys::own_affinity).flatten();
    let plan = InitPlan {
        id: opts.id.to_string(),
        spec: spec.clone(),
        bundle: b.dir.clone(),
        rootfs: b.rootfs.clone(),
        join,
        new_flags,
        cgroup_dirs: cgroup.mount_dirs(),
        seccomp,
        caps: CapMasks::from_spec(process.capabilities().as_ref()),
        fifo: Some(fifo),
        console,
        parent_hooks,
        self_attach: self_attach.then(|| Cgroup::new(&hierarchy, &cg_path)),
        late_cgroup,
        affinity,
    };
    let (parent_chan, child_chan) = channel::pair()?;
    use std::os::fd::AsRawFd;
    // The cgroup namespace is left to the init, after it joins its cgroup (init.rs).
    let clone_flags = new_flags - CloneFlags::CLONE_NEWCGROUP;
    let pid = match clone_fork(
        clone_flags.bits() as u64,
        cg_dir_fd.as_ref().map(|f| f.as_raw_fd()),
    )? {
        Forked::Child => {
            drop(parent_chan);
            init::run(plan, child_chan)
        }
        Forked::Parent(pid) => pid,
    };
    // The init builds its mounts on another CPU while we make its cgroup; it puts its
    // affinity back before joining the cgroup (which, on v1 cpuset, sets it anyway).
    if let Some(mask) = &affinity {
        crate::sys::run_elsewhere(pid, mask);
    }
    drop(child_chan);
    drop(plan);
    guard.pid = Some(pid);

    if new_flags.contains(CloneFlags::CLONE_NEWUSER) {
        write_id_maps(pid, spec)?;
    }
    if !hierarchy.is_v2() && new_flags.contains(CloneFlags::CLONE_NEWUSER) {
        cgroup.add_pid(pid)?;
    }
    parent_chan.send(&Msg::Go)?;
    if late_cgroup {
        make_cgroup(guard)?;
        if let Err(e) = parent_chan.send(&Msg::CgroupReady) {
            // The init failed meanwhile: its own report says why.
            return Err(match parent_chan.recv() {
                Ok(Some(Msg::Failed(m))) => Error::Init(m),
                _ => e,
            });
        }
    }
    let public = |status| PublicState::new(spec, opts.id, pid, status, &b.dir, &b.rootfs);
    loop {
        match parent_chan.recv()? {
            Some(Msg::RunHooks) => {
                hooks::run(spec, hooks::Kind::Prestart, || public(Status::Creating))?;
                hooks::run(spec, hooks::Kind::CreateRuntime, || {
                    public(Status::Creating)
                })?;
                parent_chan.send(&Msg::Go)?;
            }
            Some(Msg::Ready) => break,
            Some(Msg::Failed(e)) => return Err(Error::Init(e)),
            Some(m) => return Err(Error::Init(format!("unexpected {m:?} from init"))),
            None => {
                return Err(Error::Init(
                    "the container's init exited during setup".into(),
                ))
            }
        }
    }
    let mut rec = Record {
        id: opts.id.to_string(),
        pid,
        pid_start: crate::sys::pid_start_time(pid).unwrap_or(0),
        bundle: b.dir.clone(),
        rootfs: b.rootfs.clone(),
        created: now_rfc3339(),
        cgroup_path: cg_path,
        spec: spec.clone(),
        has_seccomp: false,
    };
    if let Some(profile) = rec
        .spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.seccomp_mut().take())
    {
        dir.save_seccomp(&profile)?;
        rec.has_seccomp = true;
    }
    dir.save(&rec)?;
    if let Some(p) = opts.pid_file {
        write_pid_file(p, pid)?;
    }
    Ok(pid)
}

fn open_ns(p: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(p, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .ctx(|| format!("opening namespace {}", p.display()))
}

fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let render = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.into_iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    let uid = render(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = render(linux.and_then(|l| l.gid_mappings().as_ref()));
    for (file, text) in [("uid_map", uid), ("gid_map", gid)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, &text).map_err(|e| {
            Error::Config(format!(
                "impossible id mapping {:?} ({path}): {e}",
                text.trim()
            ))
        })?;
    }
    Ok(())
}

/// Write the pid file atomically (runc writes it the same way).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("berth-tmp");
    std::fs::write(&tmp, pid.to_string()).ctx(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("writing pid file {}", path.display()))
}

/// The resources to write: the spec's, with the device rules completed as runc does — after
/// the spec's own rules, mknod of any node and use of the default ones (null, zero, full,
/// random, urandom, tty, ptmx, pts, net/tun: runc's and docker's list) are allowed, so a
/// deny-all rule does not break /dev/null. Nodes listed in `linux.devices` are made but not
/// allowed: access is the spec's resources' to grant (docker adds a rule per `--device`).
/// /dev/console (5:1) is not in the list: a container with CAP_MKNOD could otherwise make it
/// and write to the host's console.
pub fn cgroup_resources(spec: &Spec) -> LinuxResources {
    let linux = spec.linux().as_ref();
    let mut r = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let Some(mut rules) = r.devices().clone().filter(|d| !d.is_empty()) else {
        return r;
    };
    let rule = |typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str| {
        berth_cgroups::new_device_rule(true, typ, major, minor, access)
    };
    use LinuxDeviceType::{B, C};
    rules.push(rule(C, None, None, "m"));
    rules.push(rule(B, None, None, "m"));
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 2),
        (10, 200),
    ] {
        rules.push(rule(C, Some(major), Some(minor), "rwm"));
    }
    rules.push(rule(C, Some(136), None, "rwm"));
    r.set_devices(Some(rules));
    r
}
