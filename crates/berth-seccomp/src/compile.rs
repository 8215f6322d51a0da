//! Compiles an OCI `LinuxSeccomp` profile into a classic-BPF seccomp program for the host arch.
//!
//! Layout of the generated program:
//!
//! 1. `arch != native` → the *bad-arch action*; on x86_64 also x32-ABI numbers (bit 30 set).
//! 2. When the default action denies (ERRNO, KILL*, TRAP): syscall numbers above the highest one
//!    the profile names → `ERRNO(ENOSYS)`, like runc's `patchbpf`, so that libcs fall back from
//!    syscalls newer than the profile (e.g. `clone3` → `clone`) instead of failing with EPERM.
//! 3. Syscalls with only an unconditional rule, grouped by action: chains of at most 255 `jeq`s
//!    followed by one shared `ret`, so every conditional jump stays within its 8-bit offset.
//! 4. Syscalls with argument rules: `jeq nr` then a `ja` (32-bit offset) over the syscall's block.
//!    Inside the block each rule is an AND of its conditions (each failing condition jumps to the
//!    next rule); rules are tried in profile order and the first that matches returns its action;
//!    if none matches, the syscall's unconditional rule (if any) or the default action applies.
//! 5. `ret default`.

use std::collections::BTreeMap;

use libc::sock_filter;
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompArg, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Op,
};

use crate::bpf::{arg_offset, Asm, Cmp, Label, To, OFF_ARCH, OFF_NR};
use crate::error::{Error, Result};
use crate::syscalls;

/// Highest errno the kernel returns (`MAX_ERRNO`); larger `SECCOMP_RET_DATA` values are clamped.
const MAX_ERRNO: u32 = 4095;

/// Largest number of `jeq`s sharing one `ret` (the 8-bit jump offset limit).
const CHAIN: usize = 255;

/// A compiled seccomp filter, ready for [`crate::install`].
#[derive(Clone)]
pub struct Program {
    insns: Vec<sock_filter>,
    flags: libc::c_ulong,
    unknown: Vec<String>,
}

impl Program {
    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether the program has no instructions (never true for a compiled profile).
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The BPF instructions.
    pub fn instructions(&self) -> &[sock_filter] {
        &self.insns
    }

    /// `SECCOMP_FILTER_FLAG_*` bits requested by the profile's `flags`.
    pub fn flags(&self) -> libc::c_ulong {
        self.flags
    }

    /// Syscall names in the profile that this architecture does not have (or that berth's table
    /// does not know); they were skipped, as runc skips names libseccomp does not know.
    pub fn unknown_syscalls(&self) -> &[String] {
        &self.unknown
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("len", &self.insns.len())
            .field("flags", &self.flags)
            .field("unknown", &self.unknown)
            .finish()
    }
}

/// One argument rule: all conditions must hold.
struct Rule {
    conds: Vec<LinuxSeccompArg>,
    action: u32,
}

/// Everything the profile says about one syscall number.
#[derive(Default)]
struct PerSyscall {
    conditional: Vec<Rule>,
    unconditional: Option<u32>,
}

/// Compiles `profile` for the host architecture.
///
/// Rules whose action equals the default action are dropped (they are redundant; runc does the
/// same). Unknown syscall names are skipped and listed in [`Program::unknown_syscalls`]. When an
/// unconditional rule names a syscall twice, the first rule wins.
pub fn compile(profile: &LinuxSeccomp) -> Result<Program> {
    if syscalls::AUDIT_ARCH == 0 {
        return Err(Error::UnsupportedArch);
    }
    let default = action(profile.default_action(), profile.default_errno_ret())?;

    let mut per: BTreeMap<u32, PerSyscall> = BTreeMap::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut highest: Option<u32> = None;
    for entry in profile.syscalls().iter().flatten() {
        let act = action(entry.action(), entry.errno_ret())?;
        let first = entry.names().first().cloned().unwrap_or_default();
        let args = entry.args().as_deref().unwrap_or_default();
        if let Some(bad) = args.iter().find(|a| a.index() > 5) {
            return Err(Error::ArgIndex {
                syscall: first,
                index: bad.index(),
            });
        }
        let rules = rules_for(args, act);
        for name in entry.names() {
            if name.is_empty() {
                return Err(Error::EmptyName);
            }
            let Some(nr) = syscalls::number(name) else {
                if !unknown.contains(name) {
                    unknown.push(name.clone());
                }
                continue;
            };
            highest = highest.max(Some(nr));
            if act == default {
                continue;
            }
            let slot = per.entry(nr).or_default();
            match &rules {
                None => {
                    slot.unconditional.get_or_insert(act);
                }
                Some(rules) => slot.conditional.extend(rules.iter().map(|r| Rule {
                    conds: r.conds.clone(),
                    action: r.action,
                })),
            }
        }
    }

    let enosys_above = if denies(default) { highest } else { None };
    let insns = emit(default, &per, enosys_above)?;
    Ok(Program {
        insns,
        flags: flags(profile.flags().as_deref().unwrap_or_default()),
        unknown,
    })
}

/// The rules of one profile entry: `None` for an unconditional rule. Like runc, an entry with
/// several conditions on the same argument index becomes one single-condition rule per condition
/// (ORed), otherwise one rule with all conditions ANDed.
fn rules_for(args: &[LinuxSeccompArg], action: u32) -> Option<Vec<Rule>> {
    if args.is_empty() {
        return None;
    }
    let mut counts = [0usize; 6];
    for a in args {
        counts[a.index()] += 1;
    }
    Some(if counts.iter().any(|&c| c > 1) {
        args.iter()
            .map(|a| Rule {
                conds: vec![*a],
                action,
            })
            .collect()
    } else {
        vec![Rule {
            conds: args.to_vec(),
            action,
        }]
    })
}

/// The `SECCOMP_RET_*` value of an OCI action. ERRNO and TRACE default to EPERM, as in runc.
fn action(act: Act, errno: Option<u32>) -> Result<u32> {
    let data = || -> Result<u32> {
        let e = errno.unwrap_or(libc::EPERM as u32);
        if e > MAX_ERRNO {
            return Err(Error::Errno(e));
        }
        Ok(e)
    };
    Ok(match act {
        Act::ScmpActKill | Act::ScmpActKillThread => libc::SECCOMP_RET_KILL_THREAD,
        Act::ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        Act::ScmpActTrap => libc::SECCOMP_RET_TRAP,
        Act::ScmpActErrno => libc::SECCOMP_RET_ERRNO | data()?,
        Act::ScmpActTrace => libc::SECCOMP_RET_TRACE | data()?,
        Act::ScmpActLog => libc::SECCOMP_RET_LOG,
        Act::ScmpActAllow => libc::SECCOMP_RET_ALLOW,
        Act::ScmpActNotify => return Err(Error::UnsupportedAction("SCMP_ACT_NOTIFY")),
    })
}

/// Whether an action refuses the syscall (as opposed to ALLOW, LOG and TRACE, which let it run
/// or hand it to a tracer).
fn denies(ret: u32) -> bool {
    let act = ret & libc::SECCOMP_RET_ACTION_FULL;
    !matches!(
        act,
        libc::SECCOMP_RET_ALLOW | libc::SECCOMP_RET_LOG | libc::SECCOMP_RET_TRACE
    )
}

/// The profile's filter flags as `SECCOMP_FILTER_FLAG_*` bits. `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`
/// only applies to notify listeners, which berth does not create, so it is dropped.
fn flags(list: &[Flag]) -> libc::c_ulong {
    list.iter().fold(0, |acc, f| {
        acc | match f {
            Flag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            Flag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            Flag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            Flag::SeccompFilterFlagWaitKillableRecv => 0,
        }
    })
}

/// Generates the program (see the module docs for its layout).
///
/// Syscalls of another architecture (e.g. i386 via `int 0x80` on x86_64) or the x32 ABI cannot be
/// matched against the native table, so they get the default action when it denies; when the
/// default action lets syscalls through (ALLOW, LOG, TRACE) they get KILL_PROCESS instead, as
/// libseccomp's bad-arch action does, since otherwise a foreign ABI would bypass every rule.
fn emit(
    default: u32,
    per: &BTreeMap<u32, PerSyscall>,
    enosys_above: Option<u32>,
) -> Result<Vec<sock_filter>> {
    let bad_arch = if denies(default) {
        default
    } else {
        libc::SECCOMP_RET_KILL_PROCESS
    };
    let mut a = Asm::default();

    let arch_ok = a.label();
    a.load(OFF_ARCH);
    a.jump(Cmp::Eq, syscalls::AUDIT_ARCH, To::L(arch_ok), To::Next);
    a.ret(bad_arch);
    a.bind(arch_ok);
    a.load(OFF_NR);
    if let Some(bit) = syscalls::X32_SYSCALL_BIT {
        let ok = a.label();
        a.jump(Cmp::Set, bit, To::Next, To::L(ok));
        a.ret(bad_arch);
        a.bind(ok);
    }
    if let Some(max) = enosys_above {
        let ok = a.label();
        a.jump(Cmp::Gt, max, To::Next, To::L(ok));
        a.ret(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
        a.bind(ok);
    }

    // Unconditional syscalls, grouped by action.
    let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (&nr, p) in per {
        if let (true, Some(act)) = (p.conditional.is_empty(), p.unconditional) {
            groups.entry(act).or_default().push(nr);
        }
    }
    for (&act, nrs) in &groups {
        for chunk in nrs.chunks(CHAIN) {
            let hit = a.label();
            let miss = a.label();
            for (i, &nr) in chunk.iter().enumerate() {
                let jf = if i + 1 == chunk.len() {
                    To::L(miss)
                } else {
                    To::Next
                };
                a.jump(Cmp::Eq, nr, To::L(hit), jf);
            }
            a.bind(hit);
            a.ret(act);
            a.bind(miss);
        }
    }

    // Syscalls with argument rules: the nr is still in A here and after every `ja`.
    for (&nr, p) in per.iter().filter(|(_, p)| !p.conditional.is_empty()) {
        let body = a.label();
        let skip = a.label();
        a.jump(Cmp::Eq, nr, To::L(body), To::Next);
        a.ja(skip);
        a.bind(body);
        for rule in &p.conditional {
            let next = a.label();
            for c in &rule.conds {
                condition(&mut a, c, next);
            }
            a.ret(rule.action);
            a.bind(next);
        }
        a.ret(p.unconditional.unwrap_or(default));
        a.bind(skip);
    }

    a.ret(default);
    a.finish()
}

/// Emits a 64-bit argument comparison as two 32-bit ones (high word first). Falls through when
/// the condition holds, jumps to `fail` otherwise. Clobbers A.
fn condition(a: &mut Asm, c: &LinuxSeccompArg, fail: Label) {
    let (i, v) = (c.index(), c.value());
    let (hi, lo) = ((v >> 32) as u32, v as u32);
    let pass = a.label();
    let (f, p) = (To::L(fail), To::L(pass));
    match c.op() {
        Op::ScmpCmpEq => {
            a.load(arg_offset(i, true));
            a.jump(Cmp::Eq, hi, To::Next, f);
            a.load(arg_offset(i, false));
            a.jump(Cmp::Eq, lo, p, f);
        }
        Op::ScmpCmpNe => {
            a.load(arg_offset(i, true));
            a.jump(Cmp::Eq, hi, To::Next, p);
            a.load(arg_offset(i, false));
            a.jump(Cmp::Eq, lo, f, p);
        }
        Op::ScmpCmpGt | Op::ScmpCmpGe => {
            a.load(arg_offset(i, true));
            a.jump(Cmp::Gt, hi, p, To::Next);
            a.jump(Cmp::Eq, hi, To::Next, f);
            a.load(arg_offset(i, false));
            let cmp = if c.op() == Op::ScmpCmpGt {
                Cmp::Gt
            } else {
                Cmp::Ge
            };
            a.jump(cmp, lo, p, f);
        }
        Op::ScmpCmpLt | Op::ScmpCmpLe => {
            // arg < v  ⇔  !(arg >= v);  arg <= v  ⇔  !(arg > v)
            a.load(arg_offset(i, true));
            a.jump(Cmp::Gt, hi, f, To::Next);
            a.jump(Cmp::Eq, hi, To::Next, p);
            a.load(arg_offset(i, false));
            let cmp = if c.op() == Op::ScmpCmpLt {
                Cmp::Ge
            } else {
                Cmp::Gt
            };
            a.jump(cmp, lo, f, p);
        }
        Op::ScmpCmpMaskedEq => {
            // (arg & value) == valueTwo
            let d = c.value_two().unwrap_or(0);
            a.load(arg_offset(i, true));
            a.and(hi);
            a.jump(Cmp::Eq, (d >> 32) as u32, To::Next, f);
            a.load(arg_offset(i, false));
            a.and(lo);
            a.jump(Cmp::Eq, d as u32, p, f);
        }
    }
    a.bind(pass);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::run;

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    fn nr(name: &str) -> u32 {
        syscalls::number(name).unwrap()
    }

    fn eval(p: &Program, name: &str, args: [u64; 6]) -> u32 {
        run(p.instructions(), nr(name), syscalls::AUDIT_ARCH, args)
    }

    fn docker() -> LinuxSeccomp {
        profile(include_str!("../tests/fixtures/docker-default.json"))
    }

    #[test]
    fn comparisons_are_64_bit() {
        let edges = [
            0u64,
            1,
            0x7fff_ffff,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_0000_0001,
            0x1_ffff_ffff,
            0x2_0000_0000,
            0xffff_ffff_0000_0000,
            u64::MAX - 1,
            u64::MAX,
        ];
        type Pred = fn(u64, u64) -> bool;
        let ops: [(&str, Pred); 6] = [
            ("SCMP_CMP_EQ", |a, v| a == v),
            ("SCMP_CMP_NE", |a, v| a != v),
            ("SCMP_CMP_LT", |a, v| a < v),
            ("SCMP_CMP_LE", |a, v| a <= v),
            ("SCMP_CMP_GT", |a, v| a > v),
            ("SCMP_CMP_GE", |a, v| a >= v),
        ];
        for (op, f) in ops {
            for v in edges {
                let p = compile(&profile(&format!(
                    r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getpid"],
                    "action":"SCMP_ACT_ERRNO","args":[{{"index":3,"value":{v},"op":"{op}"}}]}}]}}"#
                )))
                .unwrap();
                for arg in edges {
                    let want = if f(arg, v) { EPERM } else { ALLOW };
                    let got = eval(&p, "getpid", [0, 0, 0, arg, 0, 0]);
                    assert_eq!(got, want, "{arg:#x} {op} {v:#x}");
                    // Other arguments do not matter.
                    assert_eq!(eval(&p, "getpid", [arg, 0, 0, arg, 0, !0]), want);
                }
            }
        }
    }

    #[test]
    fn masked_eq_uses_both_words() {
        let p = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],
            "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967311,"valueTwo":4294967298,
            "op":"SCMP_CMP_MASKED_EQ"}]}]}"#,
        ))
        .unwrap();
        // mask 0x1_0000_000f, datum 0x1_0000_0002
        for (arg, hit) in [
            (0x1_0000_0002u64, true),
            (0xff_1234_56f2, true),
            (0x2, false),
            (0x1_0000_0003, false),
            (0x2_0000_0002, false),
        ] {
            let want = if hit { EPERM } else { ALLOW };
            assert_eq!(eval(&p, "getpid", [arg, 0, 0, 0, 0, 0]), want, "{arg:#x}");
        }
    }

    #[test]
    fn conditions_and_rules_or_and_same_index_split() {
        let p = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":5,
             "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":2,"op":"SCMP_CMP_EQ"}]},
            {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":6,
             "args":[{"index":2,"value":3,"op":"SCMP_CMP_EQ"}]},
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
            {"names":["gettid"],"action":"SCMP_ACT_KILL_PROCESS"},
            {"names":["gettid"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":9,"op":"SCMP_CMP_EQ"}]}
            ]}"#,
        ))
        .unwrap();
        let e = |n: u32| libc::SECCOMP_RET_ERRNO | n;
        assert_eq!(eval(&p, "getpid", [1, 2, 0, 0, 0, 0]), e(5));
        assert_eq!(eval(&p, "getpid", [1, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(eval(&p, "getpid", [1, 2, 3, 0, 0, 0]), e(5));
        assert_eq!(eval(&p, "getpid", [0, 2, 3, 0, 0, 0]), e(6));
        // Same index twice: runc turns the entry into two ORed rules.
        assert_eq!(eval(&p, "getppid", [1, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(eval(&p, "getppid", [2, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(eval(&p, "getppid", [3, 0, 0, 0, 0, 0]), ALLOW);
        // Argument rules are tried before the syscall's unconditional rule.
        assert_eq!(eval(&p, "gettid", [9, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(eval(&p, "gettid", [0; 6]), libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(eval(&p, "getuid", [0; 6]), ALLOW);
    }

    #[test]
    fn actions() {
        let p = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":13,"syscalls":[
            {"names":["read"],"action":"SCMP_ACT_KILL"},
            {"names":["write"],"action":"SCMP_ACT_KILL_THREAD"},
            {"names":["openat"],"action":"SCMP_ACT_KILL_PROCESS"},
            {"names":["close"],"action":"SCMP_ACT_TRAP"},
            {"names":["fstat"],"action":"SCMP_ACT_TRACE"},
            {"names":["newfstatat"],"action":"SCMP_ACT_TRACE","errnoRet":77},
            {"names":["dup"],"action":"SCMP_ACT_LOG"},
            {"names":["dup3"],"action":"SCMP_ACT_ALLOW"},
            {"names":["lseek"],"action":"SCMP_ACT_ERRNO"},
            {"names":["mmap"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
            {"names":["mprotect"],"action":"SCMP_ACT_ERRNO","errnoRet":0},
            {"names":["getuid"],"action":"SCMP_ACT_ALLOW"}
            ]}"#,
        ))
        .unwrap();
        let e = |n: u32| libc::SECCOMP_RET_ERRNO | n;
        assert_eq!(eval(&p, "read", [0; 6]), libc::SECCOMP_RET_KILL_THREAD);
        assert_eq!(eval(&p, "write", [0; 6]), libc::SECCOMP_RET_KILL_THREAD);
        assert_eq!(eval(&p, "openat", [0; 6]), libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(eval(&p, "close", [0; 6]), libc::SECCOMP_RET_TRAP);
        assert_eq!(eval(&p, "fstat", [0; 6]), libc::SECCOMP_RET_TRACE | 1);
        assert_eq!(eval(&p, "newfstatat", [0; 6]), libc::SECCOMP_RET_TRACE | 77);
        assert_eq!(eval(&p, "dup", [0; 6]), libc::SECCOMP_RET_LOG);
        assert_eq!(eval(&p, "dup3", [0; 6]), ALLOW);
        assert_eq!(eval(&p, "lseek", [0; 6]), e(1));
        assert_eq!(eval(&p, "mmap", [0; 6]), e(13));
        assert_eq!(eval(&p, "mprotect", [0; 6]), e(0));
        // Not named, below the highest named syscall: the default action with its errno.
        assert_eq!(eval(&p, "brk", [0; 6]), e(13));
        assert_eq!(eval(&p, "getuid", [0; 6]), ALLOW);
    }

    #[test]
    fn foreign_arch_x32_and_too_new_syscalls() {
        let deny = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ))
        .unwrap();
        let i386 = 0x4000_0003;
        assert_eq!(run(deny.instructions(), nr("getpid"), i386, [0; 6]), EPERM);
        // Above the highest syscall named: ENOSYS (runc's patchbpf), below: the default.
        let enosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        let above = nr("getpid") + 1;
        assert_eq!(
            run(deny.instructions(), above, syscalls::AUDIT_ARCH, [0; 6]),
            enosys
        );
        assert_eq!(eval(&deny, "read", [0; 6]), EPERM);

        let allow = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
        ))
        .unwrap();
        let kill = libc::SECCOMP_RET_KILL_PROCESS;
        assert_eq!(run(allow.instructions(), nr("getpid"), i386, [0; 6]), kill);
        assert_eq!(
            run(allow.instructions(), 1000, syscalls::AUDIT_ARCH, [0; 6]),
            ALLOW
        );
        if let Some(bit) = syscalls::X32_SYSCALL_BIT {
            let x32 = bit | nr("getpid");
            assert_eq!(
                run(allow.instructions(), x32, syscalls::AUDIT_ARCH, [0; 6]),
                kill
            );
            assert_eq!(
                run(deny.instructions(), x32, syscalls::AUDIT_ARCH, [0; 6]),
                EPERM
            );
        }
    }

    #[test]
    fn docker_default_profile() {
        let p = compile(&docker()).unwrap();
        assert!(p.len() < crate::MAX_INSNS, "{} instructions", p.len());
        assert!(p.unknown_syscalls().iter().any(|n| n == "chown32"));
        assert!(!p.unknown_syscalls().iter().any(|n| n == "openat"));
        for name in [
            "read", "write", "openat", "getpid", "futex", "execve", "prctl", "chroot",
        ] {
            assert_eq!(eval(&p, name, [0; 6]), ALLOW, "{name}");
        }
        for name in [
            "mount",
            "unshare",
            "setns",
            "reboot",
            "bpf",
            "init_module",
            "io_uring_setup",
        ] {
            assert_eq!(eval(&p, name, [0; 6]), EPERM, "{name}");
        }
        let enosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        assert_eq!(eval(&p, "clone3", [0; 6]), enosys);
        assert_eq!(
            eval(&p, "socket", [libc::AF_INET as u64, 0, 0, 0, 0, 0]),
            ALLOW
        );
        assert_eq!(eval(&p, "socket", [40, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(eval(&p, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(eval(&p, "personality", [0x0040_0000, 0, 0, 0, 0, 0]), EPERM);
        let sigchld = libc::SIGCHLD as u64;
        assert_eq!(eval(&p, "clone", [sigchld, 0, 0, 0, 0, 0]), ALLOW);
        let newns = libc::CLONE_NEWNS as u64 | sigchld;
        assert_eq!(eval(&p, "clone", [newns, 0, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn big_profiles_use_long_jumps_correctly() {
        // Every known syscall with its own errno (one chain per action) and, for every other one,
        // an argument rule: far more than 255 instructions between the checks and the default.
        let names: Vec<(&str, u32)> = syscalls::all().collect();
        let mut rules = Vec::new();
        for (i, (name, _)) in names.iter().enumerate() {
            if i % 2 == 0 {
                rules.push(format!(
                    r#"{{"names":["{name}"],"action":"SCMP_ACT_ERRNO","errnoRet":{}}}"#,
                    i % 4000 + 1
                ));
            } else {
                rules.push(format!(
                    r#"{{"names":["{name}"],"action":"SCMP_ACT_ALLOW","args":[{{"index":1,"value":7,"op":"SCMP_CMP_EQ"}}]}}"#
                ));
            }
        }
        let p = compile(&profile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_TRAP","syscalls":[{}]}}"#,
            rules.join(",")
        )))
        .unwrap();
        assert!(p.len() > 1000);
        for (i, (_, n)) in names.iter().enumerate() {
            let got = |args| run(p.instructions(), *n, syscalls::AUDIT_ARCH, args);
            if i % 2 == 0 {
                let want = libc::SECCOMP_RET_ERRNO | (i as u32 % 4000 + 1);
                assert_eq!(got([0, 7, 0, 0, 0, 0]), want);
            } else {
                assert_eq!(got([0, 7, 0, 0, 0, 0]), ALLOW);
                assert_eq!(got([0, 8, 0, 0, 0, 0]), libc::SECCOMP_RET_TRAP);
            }
        }
    }

    #[test]
    fn too_large_profiles_are_refused() {
        let rules: Vec<String> = (0..5000)
            .map(|v| {
                format!(
                    r#"{{"names":["getpid"],"action":"SCMP_ACT_ALLOW","args":[{{"index":0,"value":{v},"op":"SCMP_CMP_EQ"}}]}}"#
                )
            })
            .collect();
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{}]}}"#,
            rules.join(",")
        );
        let err = compile(&profile(&json)).unwrap_err();
        assert!(matches!(err, Error::TooLarge(n) if n > 4096), "{err}");
        assert!(err.to_string().contains("4096"));
    }

    #[test]
    fn malformed_profiles() {
        let notify = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#;
        let err = compile(&profile(notify)).unwrap_err();
        assert!(err.to_string().contains("SCMP_ACT_NOTIFY"), "{err}");
        let err = compile(&profile(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#)).unwrap_err();
        assert!(matches!(err, Error::UnsupportedAction(_)));

        let index = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["personality"],
            "action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#;
        let err = compile(&profile(index)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "seccomp rule for personality: argument index 6 is out of range (syscalls have 6 arguments, 0..=5)"
        );

        let errno = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#;
        assert!(matches!(compile(&profile(errno)), Err(Error::Errno(70000))));

        let empty = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[""],"action":"SCMP_ACT_ALLOW"}]}"#;
        assert!(matches!(compile(&profile(empty)), Err(Error::EmptyName)));

        // Unknown action strings are rejected when the OCI spec is parsed, naming the variant.
        let bogus = r#"{"defaultAction":"SCMP_ACT_BOGUS"}"#;
        let err = serde_json::from_str::<LinuxSeccomp>(bogus).unwrap_err();
        assert!(err.to_string().contains("SCMP_ACT_BOGUS"), "{err}");
    }

    #[test]
    fn unknown_names_are_skipped_and_reported() {
        let p = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["mmap2","getpid","no_such_call","mmap2"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ))
        .unwrap();
        assert_eq!(p.unknown_syscalls(), ["mmap2", "no_such_call"]);
        assert_eq!(eval(&p, "getpid", [0; 6]), ALLOW);
    }

    #[test]
    fn rules_equal_to_the_default_are_dropped_and_flags_mapped() {
        let p = compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ))
        .unwrap();
        // arch check (3), nr load, x32 check (2 on x86_64), final ret.
        let expected = if syscalls::X32_SYSCALL_BIT.is_some() {
            7
        } else {
            5
        };
        assert_eq!(p.len(), expected);
        let want = libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        assert_eq!(p.flags(), want);
    }
}
