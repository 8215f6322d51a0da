//! cgroup v2 device rules. v2 has no devices.allow file: the OCI rules are compiled to an
//! eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE and attached to the container's cgroup,
//! as runc and crun do. The kernel runs it on every open and mknod of a device node by a
//! process in the cgroup; it answers 1 (allow) or 0 (deny, EPERM).

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

// Opcodes (linux/bpf.h, linux/bpf_common.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV32_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }, where access_type is
// (access << 16) | type.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: u32 = 1;
const ACC_READ: u32 = 2;
const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// A rule after the list's resets are applied: which devices, which accesses, the verdict.
#[derive(Debug, Clone, Copy)]
struct Rule {
    allow: bool,
    typ: Option<i32>,
    major: Option<i32>,
    minor: Option<i32>,
    access: u32,
}

fn access_bits(a: Option<&str>) -> u32 {
    match a {
        None | Some("") => ACC_ALL,
        Some(s) => s.chars().fold(0, |acc, c| {
            acc | match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => 0,
            }
        }),
    }
}

/// The OCI list as the kernel's v1 devices controller reads it: a rule for every device and
/// every access ("a *:* rwm") resets the default and forgets the rules before it; the others
/// are checked newest first, and the first that matches decides. Fifos are never checked.
/// With no rule at all every device is allowed (as in a v2 cgroup without a program).
fn normalize(rules: &[LinuxDeviceCgroup]) -> (bool, Vec<Rule>) {
    let mut default_allow = true;
    let mut list = Vec::new();
    for r in rules {
        let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C | LinuxDeviceType::U => Some(DEV_CHAR),
            LinuxDeviceType::P => continue,
        };
        let num = |n: Option<i64>| n.filter(|v| *v >= 0).and_then(|v| i32::try_from(v).ok());
        let rule = Rule {
            allow: r.allow(),
            typ,
            major: num(r.major()),
            minor: num(r.minor()),
            access: access_bits(r.access().as_deref()),
        };
        if rule.typ.is_none()
            && rule.major.is_none()
            && rule.minor.is_none()
            && rule.access == ACC_ALL
        {
            default_allow = rule.allow;
            list.clear();
        } else {
            list.push(rule);
        }
    }
    (default_allow, list)
}

/// The program for `rules`.
/// - r2 = device type, r3 = requested access, r4 = major, r5 = minor;
/// - one block per rule, the last rule first: each test that fails jumps to the next block;
///   a request matches a rule when its accesses are all among the rule's (as in runc);
/// - the default verdict at the end.
pub(crate) fn program(rules: &[LinuxDeviceCgroup]) -> Vec<Insn> {
    let (default_allow, list) = normalize(rules);
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(MOV32_X, 3, 2, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for r in list.iter().rev() {
        // Jumps carry a placeholder offset until the block's length is known.
        let mut block = Vec::new();
        if let Some(t) = r.typ {
            block.push(insn(JNE_K, 2, 0, 0, t));
        }
        if r.access != ACC_ALL {
            block.push(insn(MOV32_X, 1, 3, 0, 0));
            block.push(insn(AND32_K, 1, 0, 0, r.access as i32));
            block.push(insn(JNE_X, 1, 3, 0, 0));
        }
        if let Some(m) = r.major {
            block.push(insn(JNE_K, 4, 0, 0, m));
        }
        if let Some(m) = r.minor {
            block.push(insn(JNE_K, 5, 0, 0, m));
        }
        block.push(insn(MOV64_K, 0, 0, 0, i32::from(r.allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K || ins.code == JNE_X {
                // Relative to the next instruction: past the rest of this block.
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(insn(MOV64_K, 0, 0, 0, i32::from(default_allow)));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

// bpf(2) commands, program and attach types, flags.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The leading fields of `union bpf_attr` for BPF_PROG_LOAD.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// BPF_PROG_ATTACH and BPF_PROG_DETACH.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// BPF_PROG_QUERY.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<i64> {
    // SAFETY: `attr` is a live, exclusively borrowed, fully initialised #[repr(C)] prefix of
    // union bpf_attr for `cmd`, and its size is passed with it; the kernel zero-extends it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this new fd to us; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

fn fs_err(op: &'static str, dir: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = dir.to_path_buf();
    move |source| Error::Fs { op, path, source }
}

/// Load the program for `rules` and make it the device filter of the v2 cgroup `dir`,
/// replacing any this cgroup had (an `update`); its ancestors' programs still apply.
pub(crate) fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let insns = program(rules);
    // Loaded without the verifier's log (it is written on every load, and this runs at every
    // container start); only a refused program is loaded again, with it, to say why.
    let prog = load(&insns, None).map_err(|source| {
        let mut log = vec![0u8; 16 * 1024];
        let _ = load(&insns, Some(&mut log));
        let verifier = String::from_utf8_lossy(&log);
        let verifier = verifier.trim_end_matches('\0').trim();
        Error::Invalid(format!(
            "loading the device filter for {} (cgroup v2 device rules need BPF): {source}{}",
            dir.display(),
            if verifier.is_empty() {
                String::new()
            } else {
                format!("; verifier: {verifier}")
            }
        ))
    })?;
    let cg = std::fs::File::open(dir).map_err(fs_err("opening", dir))?;
    let old = attached(&cg).map_err(fs_err("listing the device filters of", dir))?;
    let mut attach = AttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attach).map_err(fs_err("attaching the device filter to", dir))?;
    for id in old {
        let mut get = GetFdAttr {
            prog_id: id,
            ..Default::default()
        };
        // A program detached meanwhile is gone already; what matters is that ours is on.
        let Ok(fd) = bpf(BPF_PROG_GET_FD_BY_ID, &mut get).map(owned) else {
            continue;
        };
        let mut detach = AttachAttr {
            target_fd: cg.as_raw_fd() as u32,
            attach_bpf_fd: fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        bpf(BPF_PROG_DETACH, &mut detach)
            .map_err(fs_err("detaching the old device filter from", dir))?;
    }
    Ok(())
}

/// BPF_PROG_LOAD of a device program; `log` receives the verifier's account when given.
fn load(insns: &[Insn], log: Option<&mut [u8]>) -> std::io::Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    if let Some(log) = log {
        attr.log_level = 1;
        attr.log_size = log.len() as u32;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    attr.prog_name[..11].copy_from_slice(b"berth_devcg");
    bpf(BPF_PROG_LOAD, &mut attr).map(owned)
}

/// The ids of the device programs attached to this cgroup itself (not its ancestors').
fn attached(cg: &std::fs::File) -> std::io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut q = QueryAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut q)?;
    ids.truncate(q.prog_cnt as usize);
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::v1::new_device_rule as rule;

    /// A tiny interpreter of the instructions `program` emits, to check verdicts offline.
    fn run(p: &[Insn], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
        let mut r = [0u64; 11];
        let ctx = [(access << 16) | typ, major, minor];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (d, s) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[d] = u64::from(ctx[(i.off / 4) as usize]),
                MOV32_X => r[d] = r[s] & 0xffff_ffff,
                AND32_K => r[d] = (r[d] & 0xffff_ffff) & (i.imm as u32 as u64),
                RSH32_K => r[d] = (r[d] & 0xffff_ffff) >> i.imm,
                MOV64_K => r[d] = i.imm as i64 as u64,
                JNE_K if r[d] != i.imm as i64 as u64 => pc += i.off as usize,
                JNE_X if r[d] != r[s] => pc += i.off as usize,
                JNE_K | JNE_X => {}
                EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn deny_all_then_allow_some() {
        use LinuxDeviceType::*;
        let p = program(&[
            rule(false, A, None, None, "rwm"),
            rule(true, C, None, None, "m"),
            rule(true, C, Some(1), Some(3), "rwm"),
            rule(true, C, Some(136), None, "rw"),
        ]);
        let (chr, blk) = (DEV_CHAR as u32, DEV_BLOCK as u32);
        assert_eq!(run(&p, chr, ACC_READ | ACC_WRITE, 1, 3), 1, "/dev/null rw");
        assert_eq!(run(&p, chr, ACC_READ, 1, 5), 0, "/dev/zero not listed");
        assert_eq!(run(&p, chr, ACC_MKNOD, 1, 5), 1, "mknod of any char device");
        assert_eq!(run(&p, blk, ACC_MKNOD, 8, 0), 0, "no block mknod");
        assert_eq!(run(&p, chr, ACC_WRITE, 136, 7), 1, "any pts");
        assert_eq!(
            run(&p, chr, ACC_MKNOD, 136, 7),
            1,
            "pts mknod through c *:* m"
        );
    }

    #[test]
    fn later_rules_win_and_resets_forget() {
        use LinuxDeviceType::*;
        let chr = DEV_CHAR as u32;
        let p = program(&[
            rule(true, C, Some(1), Some(5), "rwm"),
            rule(false, C, Some(1), Some(5), "rwm"),
        ]);
        assert_eq!(run(&p, chr, ACC_READ, 1, 5), 0, "the later deny wins");
        assert_eq!(
            run(&p, chr, ACC_READ, 1, 3),
            1,
            "default allow without a reset"
        );
        let p = program(&[
            rule(true, C, Some(1), Some(5), "rwm"),
            rule(false, A, None, None, "rwm"),
        ]);
        assert_eq!(
            run(&p, chr, ACC_READ, 1, 5),
            0,
            "a deny-all reset forgets the allow"
        );
        assert_eq!(program(&[]).len(), 8, "no rules: the prologue and allow");
        assert_eq!(run(&program(&[]), chr, ACC_READ, 4, 4), 1);
    }
}
