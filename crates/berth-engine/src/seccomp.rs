//! The container's seccomp profile: berth's default (an allowlist in the spirit of docker's:
//! what ordinary programs call is allowed, what the container's capabilities do not cover
//! gets EPERM, syscalls newer than the list ENOSYS), none for `--privileged` or
//! `--security-opt seccomp=unconfined`, or the user's profile (`seccomp=<profile JSON>`, the
//! docker CLI sends the file's content), translated to the OCI form for the runtime.

use crate::error::{Error, Result};
use serde_json::{json, Value};

/// Allowed for every container.
#[rustfmt::skip]
const BASE: &[&str] = &[
    "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk", "cachestat",
    "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
    "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
    "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
    "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
    "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
    "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
    "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
    "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
    "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
    "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
    "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
    "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
    "prlimit64", "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
    "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
    "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
    "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
    "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget",
    "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
    "sendmsg", "sendto", "setdomainname", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32",
    "setgid", "setgid32", "setgroups", "setgroups32", "sethostname", "setitimer", "setpgid",
    "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
    "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
    "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat",
    "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
    "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64",
    "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee",
    "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
    "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
    "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev",
];

/// Allowed only with a capability (the kernel would check it too; the profile keeps the
/// attack surface of what the container cannot use closed).
#[rustfmt::skip]
const BY_CAP: &[(&str, &[&str])] = &[
    ("CAP_SYS_ADMIN", &[
        "bpf", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
        "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
        "pivot_root", "quotactl", "quotactl_fd", "setns", "syslog", "umount", "umount2", "unshare",
    ]),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    ("CAP_SYS_MODULE", &["delete_module", "init_module", "finit_module"]),
    ("CAP_SYS_PACCT", &["acct"]),
    ("CAP_SYS_PTRACE", &["kcmp", "pidfd_getfd", "process_madvise", "userfaultfd"]),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    ("CAP_SYS_TIME", &["settimeofday", "stime", "clock_settime", "clock_settime64"]),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    ("CAP_SYS_NICE", &["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
];

/// The namespace flags of clone(2): without CAP_SYS_ADMIN a clone may not ask for any.
const CLONE_NS_FLAGS: u64 = 0x7E02_0000;
/// AF_VSOCK: a way out of the container to the hypervisor.
const AF_VSOCK: u64 = 40;
/// personality(2) values ordinary programs use (PER_LINUX, PER_LINUX32, UNAME26 with
/// either, and the query 0xffffffff).
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];
const EPERM: i64 = 1;
const ENOSYS: i64 = 38;

/// The OCI `linux.seccomp` for a container with capabilities `caps` (None: unconfined).
pub fn profile(
    security_opt: &[String],
    caps: &[String],
    privileged: bool,
) -> Result<Option<Value>> {
    match chosen(security_opt) {
        Some("unconfined") => Ok(None),
        Some(json) => from_docker(json, caps).map(Some),
        None if privileged => Ok(None),
        None => Ok(Some(default_profile(caps))),
    }
}

/// Checks a user's profile (`seccomp=<JSON>`), if one is given, so that a bad one fails
/// `create`; the default and `unconfined` need no check.
pub fn validate(security_opt: &[String], caps: &[String]) -> Result<()> {
    match chosen(security_opt) {
        Some(json) if json != "unconfined" => from_docker(json, caps).map(drop),
        _ => Ok(()),
    }
}

/// The last `seccomp=` (or `seccomp:`) value of the security options.
fn chosen(security_opt: &[String]) -> Option<&str> {
    security_opt
        .iter()
        .filter_map(|o| {
            o.strip_prefix("seccomp=")
                .or_else(|| o.strip_prefix("seccomp:"))
        })
        .next_back()
}

/// berth's default profile for a container holding `caps`.
pub fn default_profile(caps: &[String]) -> Value {
    let has = |c: &str| caps.iter().any(|x| x == c);
    let mut allowed: Vec<&str> = BASE.to_vec();
    for (cap, names) in BY_CAP {
        if has(cap) {
            for n in *names {
                if !allowed.contains(n) {
                    allowed.push(n);
                }
            }
        }
    }
    let allow = |names: &[&str], args: Value| json!({"names": names, "action": "SCMP_ACT_ALLOW", "args": args});
    let mut rules = vec![allow(&allowed, json!([]))];
    rules.push(allow(
        &["socket"],
        json!([{"index": 0, "value": AF_VSOCK, "op": "SCMP_CMP_NE"}]),
    ));
    for p in PERSONALITIES {
        rules.push(allow(
            &["personality"],
            json!([{"index": 0, "value": p, "op": "SCMP_CMP_EQ"}]),
        ));
    }
    if has("CAP_SYS_ADMIN") {
        rules.push(allow(&["clone"], json!([])));
    } else {
        rules.push(allow(
            &["clone"],
            json!([{"index": 0, "value": CLONE_NS_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]),
        ));
        // ENOSYS, not EPERM: a libc then falls back to clone(2), which the rule above checks.
        rules.push(json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS}));
    }
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "syscalls": rules,
    })
}

/// A docker-format profile (`defaultAction`, `syscalls` with `names`, `action`, `args`,
/// `errnoRet`, and `includes`/`excludes` by capability) as an OCI one. Architecture
/// fields are dropped (the runtime compiles for the native one).
fn from_docker(text: &str, caps: &[String]) -> Result<Value> {
    let bad = |m: String| Error::Invalid(format!("invalid seccomp profile: {m}"));
    let p: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let default = p["defaultAction"]
        .as_str()
        .ok_or_else(|| bad("defaultAction is missing".into()))?;
    let has = |c: &Value| c.as_str().is_some_and(|c| caps.iter().any(|x| x == c));
    let mut rules = Vec::new();
    for s in p["syscalls"].as_array().into_iter().flatten() {
        let needs = s["includes"]["caps"].as_array();
        if needs.is_some_and(|n| !n.iter().all(has)) {
            continue;
        }
        let unless = s["excludes"]["caps"].as_array();
        if unless.is_some_and(|n| n.iter().any(has)) {
            continue;
        }
        let mut names: Vec<Value> = s["names"].as_array().cloned().unwrap_or_default();
        if let Some(n) = s["name"].as_str() {
            names.push(json!(n));
        }
        let action = s["action"]
            .as_str()
            .ok_or_else(|| bad("a syscall rule has no action".into()))?;
        let mut rule = json!({"names": names, "action": action});
        if let Some(a) = s.get("args").filter(|a| !a.is_null()) {
            rule["args"] = a.clone();
        }
        if let Some(e) = s.get("errnoRet").filter(|e| !e.is_null()) {
            rule["errnoRet"] = e.clone();
        }
        rules.push(rule);
    }
    let mut out = json!({"defaultAction": default, "syscalls": rules});
    if let Some(e) = p.get("defaultErrnoRet").filter(|e| !e.is_null()) {
        out["defaultErrnoRet"] = e.clone();
    }
    // Checked now, so a bad profile fails `create`, not the start.
    let oci: oci_spec::runtime::LinuxSeccomp =
        serde_json::from_value(out.clone()).map_err(|e| bad(e.to_string()))?;
    berth_seccomp::compile(&oci).map_err(|e| bad(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_profile_compiles_and_knows_its_names() {
        let p = default_profile(&caps(&["CAP_CHOWN"]));
        let oci: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(p).unwrap();
        let prog = berth_seccomp::compile(&oci).unwrap();
        assert!(prog.len() > 10);
        // On x86_64 the only names not known are the 32-bit ABI's (no misspelt ones).
        if cfg!(target_arch = "x86_64") {
            let only_32 = [
                "ipc",
                "_llseek",
                "mmap2",
                "_newselect",
                "recv",
                "send",
                "sigprocmask",
                "sigreturn",
                "socketcall",
                "ugetrlimit",
                "waitpid",
            ];
            for n in prog.unknown_syscalls() {
                assert!(
                    n.ends_with("32") || n.ends_with("64") || only_32.contains(&n.as_str()),
                    "{n} is not a syscall here"
                );
            }
        }
    }

    #[test]
    fn capabilities_open_their_syscalls() {
        let names = |p: &Value| -> Vec<String> {
            p["syscalls"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
                .flat_map(|r| r["names"].as_array().unwrap().clone())
                .map(|n| n.as_str().unwrap().to_string())
                .collect()
        };
        let plain = names(&default_profile(&caps(&[])));
        assert!(!plain.contains(&"mount".to_string()));
        assert!(!plain.contains(&"unshare".to_string()));
        let admin = names(&default_profile(&caps(&["CAP_SYS_ADMIN"])));
        assert!(admin.contains(&"mount".to_string()));
        assert!(admin.contains(&"unshare".to_string()));
    }

    #[test]
    fn unconfined_privileged_and_user_profiles() {
        let none: Vec<String> = vec![];
        assert!(profile(&["seccomp=unconfined".into()], &none, false)
            .unwrap()
            .is_none());
        assert!(profile(&none, &none, true).unwrap().is_none());
        assert!(profile(&none, &none, false).unwrap().is_some());
        let user = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"},
                        {"names":["chmod"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_SYS_ADMIN"]}}]}"#;
        let p = profile(&[format!("seccomp={user}")], &none, false)
            .unwrap()
            .unwrap();
        assert_eq!(p["defaultAction"], "SCMP_ACT_ALLOW");
        assert_eq!(p["syscalls"].as_array().unwrap().len(), 1);
        let err = profile(&["seccomp={\"syscalls\":[]}".into()], &none, false).unwrap_err();
        assert!(err.to_string().contains("invalid seccomp profile"), "{err}");
        let err = profile(&["seccomp=not json".into()], &none, false).unwrap_err();
        assert!(err.to_string().contains("invalid seccomp profile"), "{err}");
    }
}
