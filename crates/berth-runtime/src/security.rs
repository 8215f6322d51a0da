//! Dropping into the container's identity: rlimits, capability sets, uid/gid and groups,
//! no_new_privs. Runs in the container's init (and exec'd processes) just before execve.

use crate::error::{Context, Error, Result};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, PosixRlimit, PosixRlimitType, Process};

/// Capability names in kernel bit order (without the CAP_ prefix).
pub const CAP_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// A capability set as a 64-bit mask.
pub fn cap_mask(set: Option<&Capabilities>) -> u64 {
    let mut mask = 0u64;
    for c in set.into_iter().flatten() {
        let name = c.to_string();
        let name = name.strip_prefix("CAP_").unwrap_or(&name);
        if let Some(bit) = CAP_NAMES.iter().position(|n| *n == name) {
            mask |= 1 << bit;
        }
    }
    mask
}

/// The five sets as masks, precomputed in the parent so the child only makes system calls.
#[derive(Clone, Copy, Default)]
pub struct CapMasks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

impl CapMasks {
    pub fn from_spec(c: Option<&LinuxCapabilities>) -> CapMasks {
        match c {
            None => CapMasks::default(),
            Some(c) => CapMasks {
                bounding: cap_mask(c.bounding().as_ref()),
                effective: cap_mask(c.effective().as_ref()),
                permitted: cap_mask(c.permitted().as_ref()),
                inheritable: cap_mask(c.inheritable().as_ref()),
                // The kernel only lets a capability be ambient if it is also permitted and
                // inheritable; runc skips the others too.
                ambient: cap_mask(c.ambient().as_ref())
                    & cap_mask(c.permitted().as_ref())
                    & cap_mask(c.inheritable().as_ref()),
            },
        }
    }
}

/// setrlimit's resource type: an enum in glibc, an int in musl.
#[cfg(target_env = "gnu")]
type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type RlimitResource = libc::c_int;

fn rlimit_resource(t: PosixRlimitType) -> RlimitResource {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

pub fn set_rlimits(limits: &[PosixRlimit]) -> Result<()> {
    for l in limits {
        let lim = libc::rlimit {
            rlim_cur: l.soft(),
            rlim_max: l.hard(),
        };
        // SAFETY: `lim` is a valid rlimit struct; setrlimit only reads it.
        if unsafe { libc::setrlimit(rlimit_resource(l.typ()), &lim) } != 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| {
                format!(
                    "setrlimit {:?} soft {} hard {}",
                    l.typ(),
                    l.soft(),
                    l.hard()
                )
            });
        }
    }
    Ok(())
}

fn prctl(op: libc::c_int, a: libc::c_ulong, b: libc::c_ulong) -> std::io::Result<()> {
    // SAFETY: these prctl operations take integer arguments only.
    if unsafe { libc::prctl(op, a, b, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn last_cap() -> u64 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Drop the bounding set, switch to the process user keeping capabilities, then set the
/// effective/permitted/inheritable and ambient sets.
pub fn become_user(process: &Process, caps: &CapMasks) -> Result<()> {
    let last = last_cap();
    for bit in 0..=last {
        if caps.bounding & (1 << bit) == 0 {
            match prctl(libc::PR_CAPBSET_DROP, bit as _, 0) {
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                r => r.ctx(|| format!("dropping capability {bit} from the bounding set"))?,
            }
        }
    }
    prctl(libc::PR_SET_KEEPCAPS, 1, 0).ctx(|| "PR_SET_KEEPCAPS")?;
    let user = process.user();
    let groups: Vec<nix::unistd::Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    match nix::unistd::setgroups(&groups) {
        // A user namespace with setgroups denied: only an empty list could have worked.
        Err(nix::errno::Errno::EPERM) if groups.is_empty() => {}
        r => r.ctx(|| format!("setgroups {:?}", user.additional_gids()))?,
    }
    let gid = nix::unistd::Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).ctx(|| format!("setgid {}", user.gid()))?;
    let uid = nix::unistd::Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).ctx(|| format!("setuid {}", user.uid()))?;
    prctl(libc::PR_SET_KEEPCAPS, 0, 0).ctx(|| "PR_SET_KEEPCAPS")?;
    capset(caps)?;
    prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as _, 0)
        .ctx(|| "clearing ambient capabilities")?;
    for bit in 0..=last {
        if caps.ambient & (1 << bit) != 0 {
            prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as _,
                bit as _,
            )
            .ctx(|| format!("raising ambient capability {bit}"))?;
        }
    }
    Ok(())
}

fn capset(caps: &CapMasks) -> Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let split = |m: u64| (m as u32, (m >> 32) as u32);
    let (e0, e1) = split(caps.effective);
    let (p0, p1) = split(caps.permitted);
    let (i0, i1) = split(caps.inheritable);
    let data = [
        Data {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        Data {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: header and the two data structs have the layout capset(2) v3 expects and
    // outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "capset");
    }
    Ok(())
}

pub fn set_no_new_privs() -> Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).ctx(|| "PR_SET_NO_NEW_PRIVS")
}

/// Find `cmd` the way execvp would, using the PATH from the container's environment.
pub fn find_executable(cmd: &str, env: &[String]) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if cmd.contains('/') {
        let p = std::path::PathBuf::from(cmd);
        return if is_exec(&p) {
            Ok(p)
        } else {
            Err(Error::Init(format!(
                "exec: {cmd:?}: stat {cmd}: no such file or directory"
            )))
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .map(|d| std::path::Path::new(d).join(cmd))
        .find(|p| is_exec(p))
        .ok_or_else(|| Error::Init(format!("exec: {cmd:?}: executable file not found in $PATH")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Capability;

    #[test]
    fn capability_masks_follow_kernel_bits() {
        let set: Capabilities = [
            Capability::Chown,
            Capability::Kill,
            Capability::NetBindService,
            Capability::CheckpointRestore,
        ]
        .into_iter()
        .collect();
        assert_eq!(cap_mask(Some(&set)), 1 | 1 << 5 | 1 << 10 | 1 << 40);
    }
}
