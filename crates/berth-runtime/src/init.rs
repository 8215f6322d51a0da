//! The container's init, from the moment clone3 returns in the child until execve: joins
//! namespaces, builds the rootfs, waits for `start`, drops privileges, execs the process.
//! Everything it needs was prepared by the parent in an [`InitPlan`]; failures go back to the
//! parent over the channel and the child exits.

use crate::channel::{Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::hooks;
use crate::rootfs::{self, CgroupDirs};
use crate::security::{self, CapMasks};
use crate::state::{PublicState, Status};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// Everything the child needs, computed by the parent before clone.
pub struct InitPlan {
    pub id: String,
    pub spec: Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Namespaces to join by path, the user namespace first.
    pub join: Vec<(LinuxNamespaceType, OwnedFd)>,
    pub new_flags: CloneFlags,
    pub cgroup_dirs: CgroupDirs,
    pub seccomp: Option<berth_seccomp::Program>,
    pub caps: CapMasks,
    /// O_PATH fd of exec.fifo: the init blocks on it until `start`.
    pub fifo: Option<OwnedFd>,
    /// Connected console socket when process.terminal is set.
    pub console: Option<OwnedFd>,
    /// Hooks to ask the parent to run before pivot_root (prestart, createRuntime).
    pub parent_hooks: bool,
    /// cgroup v1 without a new user namespace: the init moves itself into its cgroup
    /// (writing "0" to `tasks` skips the kernel's threadgroup lock and its RCU wait, which
    /// costs 5-15 ms when the parent writes the pid to cgroup.procs).
    pub self_attach: Option<berth_cgroups::Cgroup>,
    /// The parent makes the cgroup after the clone, while the init builds its mounts, and
    /// says `CgroupReady`; the init joins it just before the first cgroup mount (v1 with
    /// a new mount namespace and no namespace joined by path: see `create`).
    pub late_cgroup: bool,
    /// With `late_cgroup`: the affinity the init had at clone. The parent may narrow it to
    /// get the init onto another CPU while it makes the cgroup; the init puts it back
    /// before joining.
    pub affinity: Option<nix::sched::CpuSet>,
}

/// Run the init; never returns.
pub fn run(plan: InitPlan, chan: Channel) -> ! {
    if let Err(e) = setup(&plan, &chan) {
        // Before `start` the runtime is listening; after it, only the process's stderr is.
        if chan.send(&Msg::Failed(e.for_parent())).is_err() {
            eprintln!("berth init: {e}");
        }
        crate::sys::exit_now(1);
    }
    crate::sys::exit_now(127)
}

pub(crate) fn unblock_signals() {
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
}

fn setup(plan: &InitPlan, chan: &Channel) -> Result<()> {
    unblock_signals();
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    chan.expect(Msg::Go)?;
    // Join the cgroup, then make the cgroup namespace (not by clone3, so that its root is
    // the container's cgroup, which we are in only now on v1).
    let join_cgroup = || -> Result<()> {
        if plan.late_cgroup {
            chan.expect(Msg::CgroupReady)?;
            if let Some(mask) = &plan.affinity {
                crate::sys::restore_affinity(mask)?;
            }
        }
        if let Some(cg) = &plan.self_attach {
            cg.attach_self()?;
        }
        if plan.new_flags.contains(CloneFlags::CLONE_NEWCGROUP) {
            nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
                .ctx(|| "unshare the cgroup namespace")?;
        }
        Ok(())
    };
    if !plan.late_cgroup {
        join_cgroup()?;
    }
    let host_pid: i32 = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0);

    // A new network namespace starts with lo down; runc and crun bring it up. Before any
    // namespace is joined: a joined user namespace would not own the new netns.
    if plan.new_flags.contains(CloneFlags::CLONE_NEWNET) {
        crate::sys::loopback_up()?;
    }
    for (typ, fd) in &plan.join {
        nix::sched::setns(fd, clone_flag(*typ)).ctx(|| format!("joining the {typ} namespace"))?;
    }
    let process = plan
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Config("no process".into()))?;
    let in_userns = plan.new_flags.contains(CloneFlags::CLONE_NEWUSER)
        || plan
            .join
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::User);
    if in_userns {
        let root = nix::unistd::Uid::from_raw(0);
        let groot = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(groot, groot, groot)
            .ctx(|| "becoming root in the user namespace")?;
        nix::unistd::setresuid(root, root, root).ctx(|| "becoming root in the user namespace")?;
    }
    if plan.new_flags.contains(CloneFlags::CLONE_NEWUTS) {
        if let Some(h) = plan.spec.hostname() {
            nix::unistd::sethostname(h).ctx(|| format!("sethostname {h}"))?;
        }
        if let Some(d) = plan.spec.domainname() {
            set_domainname(d)?;
        }
    }
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .ctx(|| format!("setting oom_score_adj to {adj}"))?;
    }
    let state = |status| {
        PublicState::new(
            &plan.spec,
            &plan.id,
            host_pid,
            status,
            &plan.bundle,
            &plan.rootfs,
        )
    };
    if plan.new_flags.contains(CloneFlags::CLONE_NEWNS) {
        let new_cgroupns = plan.new_flags.contains(CloneFlags::CLONE_NEWCGROUP);
        let mut join_late = || {
            if plan.late_cgroup {
                join_cgroup()
            } else {
                Ok(())
            }
        };
        rootfs::prepare(
            &plan.rootfs,
            &plan.spec,
            &plan.cgroup_dirs,
            new_cgroupns,
            &mut join_late,
        )?;
        if plan.parent_hooks {
            chan.send(&Msg::RunHooks)?;
            chan.expect(Msg::Go)?;
        }
        hooks::run(&plan.spec, hooks::Kind::CreateContainer, || {
            state(Status::Created)
        })?;
        rootfs::pivot(&plan.rootfs)?;
        rootfs::finish(&plan.spec)?;
    }
    if process.terminal().unwrap_or(false) {
        let console = plan
            .console
            .as_ref()
            .ok_or_else(|| Error::Invalid("process.terminal needs a console socket".into()))?;
        crate::console::attach_terminal(console, process)?;
    }
    nix::unistd::chdir(process.cwd())
        .ctx(|| format!("chdir to cwd {}", process.cwd().display()))?;
    let args = process.args().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    let exe = security::find_executable(&args[0], &env)?;

    chan.send(&Msg::Ready)?;
    // With startContainer hooks (they run as the runtime, after `start`), the old order:
    // wait, hooks, then drop privileges and exec.
    if !hooks::of_kind(&plan.spec, hooks::Kind::StartContainer).is_empty() {
        if let Some(fifo) = &plan.fifo {
            wait_for_start(fifo)?;
        }
        hooks::run(&plan.spec, hooks::Kind::StartContainer, || {
            state(Status::Running)
        })?;
        return exec_process(
            process,
            &plan.caps,
            plan.seccomp.as_ref(),
            &exe,
            &args,
            &env,
        );
    }
    // Otherwise the process becomes its user now, while the runtime records the container
    // (as runc does before its fifo); only a no_new_privs seccomp filter waits for the exec,
    // so that the fifo's open and write are not subject to it.
    let late_seccomp = drop_privileges(process, &plan.caps, plan.seccomp.as_ref())?;
    if let Some(fifo) = &plan.fifo {
        wait_for_start(fifo)?;
    }
    exec_now(late_seccomp, &exe, &args, &env)
}

/// The last steps shared by init and exec: rlimits, identity, capabilities, no_new_privs,
/// seccomp, then execve. Returns only on failure.
pub(crate) fn exec_process(
    process: &oci_spec::runtime::Process,
    caps: &CapMasks,
    seccomp: Option<&berth_seccomp::Program>,
    exe: &std::path::Path,
    args: &[String],
    env: &[String],
) -> Result<()> {
    let late = drop_privileges(process, caps, seccomp)?;
    exec_now(late, exe, args, env)
}

/// rlimits, seccomp (unless no_new_privs is set: then it is returned, for just before the
/// exec), identity, capabilities, umask, no_new_privs.
fn drop_privileges<'a>(
    process: &oci_spec::runtime::Process,
    caps: &CapMasks,
    seccomp: Option<&'a berth_seccomp::Program>,
) -> Result<Option<&'a berth_seccomp::Program>> {
    security::set_rlimits(process.rlimits().as_deref().unwrap_or_default())?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    if let (Some(p), false) = (seccomp, nnp) {
        berth_seccomp::install(p)?;
    }
    security::become_user(process, caps)?;
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask as _));
    if nnp {
        security::set_no_new_privs()?;
        return Ok(seccomp);
    }
    Ok(None)
}

/// Install the no_new_privs seccomp filter, if any, and execve. Returns only on failure.
fn exec_now(
    seccomp: Option<&berth_seccomp::Program>,
    exe: &std::path::Path,
    args: &[String],
    env: &[String],
) -> Result<()> {
    if let Some(p) = seccomp {
        berth_seccomp::install(p)?;
    }
    let cstr = |s: &str| CString::new(s).map_err(|_| Error::Invalid(format!("NUL byte in {s:?}")));
    let path = CString::new(exe.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Invalid("NUL byte in executable path".into()))?;
    let argv = args.iter().map(|a| cstr(a)).collect::<Result<Vec<_>>>()?;
    let envp = env.iter().map(|a| cstr(a)).collect::<Result<Vec<_>>>()?;
    let e = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    Err(Error::Init(format!("exec {}: {e}", exe.display())))
}

/// Block until `start` opens the fifo for reading, then tell it we are going.
fn wait_for_start(fifo: &OwnedFd) -> Result<()> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let fd = nix::fcntl::open(
        path.as_str(),
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "opening exec.fifo to wait for start")?;
    nix::unistd::write(&fd, b"0").ctx(|| "writing exec.fifo")?;
    Ok(())
}

fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes, valid for the call.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| format!("setdomainname {name}"));
    }
    Ok(())
}

/// The clone/setns flag of a namespace type.
pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}
