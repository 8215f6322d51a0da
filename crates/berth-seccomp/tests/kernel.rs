//! Installs compiled filters for real in forked children and checks what the kernel does.
//!
//! Each child sets `no_new_privs`, installs the filter, runs a body of raw syscalls (no
//! allocation: the test process is multithreaded), writes the results to a pipe and `_exit`s.

use berth_seccomp::{compile, install, Program};
use oci_spec::runtime::LinuxSeccomp;

/// Results a child reports: syscall return values, or `-errno`.
type Report = [i64; 8];

enum Outcome {
    /// Exited with this code, having written this report (if any).
    Exited(i32, Option<Report>),
    /// Killed by this signal.
    Signaled(i32),
}

fn profile(json: &str) -> Program {
    let p: LinuxSeccomp = serde_json::from_str(json).unwrap();
    compile(&p).unwrap()
}

fn errno() -> i64 {
    // SAFETY: reading the thread's errno location.
    i64::from(unsafe { *libc::__errno_location() })
}

/// A raw syscall with up to 5 arguments: the result or `-errno`.
fn sys(nr: libc::c_long, a: [u64; 5]) -> i64 {
    // SAFETY: the tests only pass arguments valid for the syscall (or ones it rejects).
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4]) };
    if r < 0 {
        -errno()
    } else {
        r as i64
    }
}

/// Forks; the child installs `prog` and reports `body()`.
fn in_child(prog: &Program, body: fn() -> Report) -> Outcome {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid 2-int array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the child only makes raw syscalls and `_exit`s (async-signal-safe).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: plain syscalls on valid arguments, then `_exit`; no allocation in the child.
        unsafe {
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(101);
            }
            if install(prog).is_err() {
                libc::_exit(102);
            }
            let r = body();
            let n = libc::write(fds[1], r.as_ptr().cast(), std::mem::size_of::<Report>());
            libc::_exit(if n == std::mem::size_of::<Report>() as isize {
                0
            } else {
                103
            });
        }
    }
    // SAFETY: closing our copy of the write end, reading into a correctly sized buffer.
    let report = unsafe {
        libc::close(fds[1]);
        let mut r: Report = [0; 8];
        let mut got = 0usize;
        let size = std::mem::size_of::<Report>();
        while got < size {
            let n = libc::read(
                fds[0],
                r.as_mut_ptr().cast::<u8>().add(got).cast(),
                size - got,
            );
            if n <= 0 {
                break;
            }
            got += n as usize;
        }
        libc::close(fds[0]);
        (got == size).then_some(r)
    };
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    if libc::WIFSIGNALED(status) {
        Outcome::Signaled(libc::WTERMSIG(status))
    } else {
        Outcome::Exited(libc::WEXITSTATUS(status), report)
    }
}

fn report(o: Outcome) -> Report {
    match o {
        Outcome::Exited(0, Some(r)) => r,
        Outcome::Exited(code, _) => panic!("child exited with {code}"),
        Outcome::Signaled(sig) => panic!("child killed by signal {sig}"),
    }
}

const EPERM: i64 = -(libc::EPERM as i64);
const EBADF: i64 = -(libc::EBADF as i64);
const ENOSYS: i64 = -(libc::ENOSYS as i64);
const MISSING: &std::ffi::CStr = c"/nonexistent-berth-seccomp-test/dir";

fn mkdir_probe() -> Report {
    let path = MISSING.as_ptr() as u64;
    [
        sys(
            libc::SYS_mkdirat,
            [libc::AT_FDCWD as u64, path, 0o755, 0, 0],
        ),
        sys(libc::SYS_getpid, [0; 5]),
        sys(libc::SYS_getppid, [0; 5]),
        0,
        0,
        0,
        0,
        0,
    ]
}

#[test]
fn errno_rule_with_allow_default() {
    // Unfiltered, the path does not exist.
    assert_eq!(mkdir_probe()[0], -(libc::ENOENT as i64));
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let r = report(in_child(&p, mkdir_probe));
    assert_eq!(r[0], EPERM);
    assert!(r[1] > 0, "getpid works");
    // SAFETY: getpid has no preconditions.
    assert_eq!(
        r[2],
        i64::from(unsafe { libc::getpid() }),
        "getppid is the test"
    );
}

#[test]
fn errno_ret_is_honoured() {
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
    );
    assert_eq!(report(in_child(&p, mkdir_probe))[0], -38);
}

#[test]
fn errno_default_with_allow_list() {
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":13,"syscalls":[
        {"names":["getpid","write","exit_group","exit","clone3"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let r = report(in_child(&p, || {
        [
            sys(libc::SYS_getpid, [0; 5]),
            sys(libc::SYS_getppid, [0; 5]),
            // Above every syscall the profile names: ENOSYS, like runc.
            sys(libc::SYS_mseal, [0; 5]),
            0,
            0,
            0,
            0,
            0,
        ]
    }));
    assert!(r[0] > 0);
    assert_eq!(r[1], -13);
    assert_eq!(r[2], ENOSYS);
}

#[test]
fn personality_only_with_allowed_values() {
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["write","exit_group"],"action":"SCMP_ACT_ALLOW"},
        {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
        {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let r = report(in_child(&p, || {
        [
            sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0]),
            sys(libc::SYS_personality, [0, 0, 0, 0, 0]),
            sys(libc::SYS_personality, [0x0040_0000, 0, 0, 0, 0]),
            sys(libc::SYS_personality, [8, 0, 0, 0, 0]),
            // High word set, low word 0: must not match `== 0`.
            sys(libc::SYS_personality, [0x1_0000_0000, 0, 0, 0, 0]),
            0,
            0,
            0,
        ]
    }));
    assert!(r[0] >= 0 && r[1] >= 0, "{r:?}");
    assert_eq!(&r[2..5], &[EPERM, EPERM, EPERM]);
}

#[test]
fn masked_eq_and_64_bit_comparisons() {
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["close"],"action":"SCMP_ACT_ERRNO",
         "args":[{"index":0,"value":65280,"valueTwo":4608,"op":"SCMP_CMP_MASKED_EQ"}]},
        {"names":["close"],"action":"SCMP_ACT_ERRNO","errnoRet":38,
         "args":[{"index":0,"value":4294967296,"op":"SCMP_CMP_GE"}]},
        {"names":["dup"],"action":"SCMP_ACT_ERRNO","errnoRet":5,
         "args":[{"index":0,"value":4294967296,"op":"SCMP_CMP_LT"}]}]}"#,
    );
    let r = report(in_child(&p, || {
        [
            sys(libc::SYS_close, [0x1234, 0, 0, 0, 0]),
            sys(libc::SYS_close, [0x3412, 0, 0, 0, 0]),
            sys(libc::SYS_close, [999, 0, 0, 0, 0]),
            sys(libc::SYS_close, [0x1_0000_03e7, 0, 0, 0, 0]),
            sys(libc::SYS_dup, [999, 0, 0, 0, 0]),
            // The kernel truncates the fd to 999, but the filter sees the high word.
            sys(libc::SYS_dup, [0x1_0000_03e7, 0, 0, 0, 0]),
            0,
            0,
        ]
    }));
    assert_eq!(r[..6], [EPERM, EBADF, EBADF, ENOSYS, -5, EBADF]);
}

#[test]
fn kill_process_and_trap_raise_sigsys() {
    for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_TRAP"] {
        let p = profile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {{"names":["getppid"],"action":"{action}"}}]}}"#
        ));
        match in_child(&p, mkdir_probe) {
            Outcome::Signaled(sig) => assert_eq!(sig, libc::SIGSYS, "{action}"),
            Outcome::Exited(code, _) => panic!("{action}: child exited with {code}"),
        }
    }
}

#[test]
fn log_flag_and_tsync_install() {
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls":[{"names":["mkdirat"],"action":"SCMP_ACT_LOG"},{"names":["getppid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let r = report(in_child(&p, mkdir_probe));
    assert_eq!(r[0], -(libc::ENOENT as i64), "LOG lets the syscall run");
    assert_eq!(r[2], EPERM);
}

fn docker_probe() -> Report {
    let null = c"/dev/null".as_ptr() as u64;
    let fd = sys(
        libc::SYS_openat,
        [libc::AT_FDCWD as u64, null, libc::O_RDONLY as u64, 0, 0],
    );
    if fd >= 0 {
        sys(libc::SYS_close, [fd as u64, 0, 0, 0, 0]);
    }
    // A missing path: should the filter fail, mount answers ENOENT and changes nothing.
    let missing = MISSING.as_ptr() as u64;
    let fork_ok = {
        // SAFETY: the grandchild `_exit`s at once; the child reaps it.
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                libc::_exit(7);
            }
            let mut st = 0;
            pid > 0 && libc::waitpid(pid, &mut st, 0) == pid && libc::WEXITSTATUS(st) == 7
        }
    };
    let unix = sys(
        libc::SYS_socket,
        [libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0, 0, 0],
    );
    [
        sys(libc::SYS_getpid, [0; 5]),
        fd,
        sys(libc::SYS_unshare, [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0]),
        sys(libc::SYS_mount, [missing, missing, 0, libc::MS_BIND, 0]),
        sys(libc::SYS_clone3, [0; 5]),
        sys(libc::SYS_socket, [40, libc::SOCK_STREAM as u64, 0, 0, 0]),
        unix,
        i64::from(fork_ok),
    ]
}

#[test]
fn docker_default_profile() {
    let spec: LinuxSeccomp =
        serde_json::from_str(include_str!("fixtures/docker-default.json")).unwrap();
    let p = compile(&spec).unwrap();
    assert!(
        p.len() < berth_seccomp::MAX_INSNS,
        "{} instructions",
        p.len()
    );
    let r = report(in_child(&p, docker_probe));
    assert!(r[0] > 0, "getpid {r:?}");
    assert!(r[1] >= 0, "openat /dev/null {r:?}");
    assert_eq!(r[2], EPERM, "unshare");
    assert_eq!(r[3], EPERM, "mount");
    assert_eq!(
        r[4], ENOSYS,
        "clone3 (errnoRet 38, so libcs fall back to clone)"
    );
    assert_eq!(r[5], EPERM, "socket(AF_VSOCK)");
    assert!(r[6] >= 0, "socket(AF_UNIX) {r:?}");
    assert_eq!(r[7], 1, "fork (clone without namespace flags) works");
}
