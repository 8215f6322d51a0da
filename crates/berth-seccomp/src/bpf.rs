//! A tiny classic-BPF assembler with forward labels, for seccomp filters.
//!
//! Conditional jumps in classic BPF have 8-bit offsets (at most 255 instructions ahead) while
//! `ja` has a 32-bit one. The compiler lays its code out so that every conditional jump is short
//! and uses `ja` for long distances; [`Asm::finish`] checks this and fails instead of truncating.

use crate::error::{Error, Result};

/// `BPF_MAXINSNS`: the kernel refuses longer programs.
pub const MAX_INSNS: usize = 4096;

// Instruction classes and fields (linux/filter.h, linux/bpf_common.h).
const BPF_LD: u16 = 0x00;
const BPF_ALU: u16 = 0x04;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_AND: u16 = 0x50;
const BPF_JA: u16 = 0x00;
const BPF_JEQ: u16 = 0x10;
const BPF_JGT: u16 = 0x20;
const BPF_JGE: u16 = 0x30;
const BPF_JSET: u16 = 0x40;
const BPF_K: u16 = 0x00;

/// Offsets into `struct seccomp_data`.
pub const OFF_NR: u32 = 0;
/// Offset of `seccomp_data.arch`.
pub const OFF_ARCH: u32 = 4;

/// Offset of the low (`hi == false`) or high 32-bit word of `seccomp_data.args[index]`.
pub fn arg_offset(index: usize, hi: bool) -> u32 {
    // args start at 16, 8 bytes each; little endian keeps the low word first.
    let base = 16 + 8 * index as u32;
    let hi_first = cfg!(target_endian = "big");
    if hi == hi_first {
        base
    } else {
        base + 4
    }
}

/// A position in the program, bound later with [`Asm::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// Where a conditional jump goes.
#[derive(Clone, Copy, Debug)]
pub enum To {
    /// The next instruction (offset 0).
    Next,
    /// A label further ahead.
    L(Label),
}

/// Comparison of a conditional jump against a constant.
#[derive(Clone, Copy, Debug)]
pub enum Cmp {
    /// `A == k`
    Eq,
    /// `A > k` (unsigned)
    Gt,
    /// `A >= k` (unsigned)
    Ge,
    /// `A & k != 0`
    Set,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Stmt { code: u16, k: u32 },
    Jmp { code: u16, k: u32, jt: To, jf: To },
    Ja(Label),
    Bind(Label),
}

/// Accumulates instructions; labels are resolved by [`Asm::finish`].
#[derive(Debug, Default)]
pub struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    /// A fresh, unbound label.
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Binds `l` to the next instruction emitted.
    pub fn bind(&mut self, l: Label) {
        self.ops.push(Op::Bind(l));
    }

    /// `A = seccomp_data[off]` (32-bit load).
    pub fn load(&mut self, off: u32) {
        self.ops.push(Op::Stmt {
            code: BPF_LD | BPF_W | BPF_ABS,
            k: off,
        });
    }

    /// `A &= k`.
    pub fn and(&mut self, k: u32) {
        self.ops.push(Op::Stmt {
            code: BPF_ALU | BPF_AND | BPF_K,
            k,
        });
    }

    /// `return k` (a `SECCOMP_RET_*` value).
    pub fn ret(&mut self, k: u32) {
        self.ops.push(Op::Stmt {
            code: BPF_RET | BPF_K,
            k,
        });
    }

    /// Conditional jump: to `jt` when `A cmp k` holds, else to `jf`; both must be near.
    pub fn jump(&mut self, cmp: Cmp, k: u32, jt: To, jf: To) {
        let op = match cmp {
            Cmp::Eq => BPF_JEQ,
            Cmp::Gt => BPF_JGT,
            Cmp::Ge => BPF_JGE,
            Cmp::Set => BPF_JSET,
        };
        self.ops.push(Op::Jmp {
            code: BPF_JMP | op | BPF_K,
            k,
            jt,
            jf,
        });
    }

    /// Unconditional jump with a 32-bit offset.
    pub fn ja(&mut self, l: Label) {
        self.ops.push(Op::Ja(l));
    }

    /// Resolves labels into offsets. Fails on an unbound label, a backward jump, a conditional
    /// jump further than 255 instructions, or a program over [`MAX_INSNS`].
    pub fn finish(self) -> Result<Vec<libc::sock_filter>> {
        let mut pos = vec![None; self.labels];
        let mut n = 0usize;
        for op in &self.ops {
            match op {
                Op::Bind(l) => pos[l.0] = Some(n),
                _ => n += 1,
            }
        }
        if n > MAX_INSNS {
            return Err(Error::TooLarge(n));
        }
        let mut out = Vec::with_capacity(n);
        for op in &self.ops {
            let at = out.len();
            // Offset from the instruction after `at` to label `l`.
            let dist = |l: Label| -> Result<usize> {
                let target = pos[l.0].ok_or(Error::Internal("unbound label"))?;
                target
                    .checked_sub(at + 1)
                    .ok_or(Error::Internal("backward jump"))
            };
            let short = |t: To| -> Result<u8> {
                match t {
                    To::Next => Ok(0),
                    To::L(l) => u8::try_from(dist(l)?)
                        .map_err(|_| Error::Internal("conditional jump beyond 255 instructions")),
                }
            };
            let insn = match *op {
                Op::Bind(_) => continue,
                Op::Stmt { code, k } => stmt(code, k),
                Op::Jmp { code, k, jt, jf } => libc::sock_filter {
                    code,
                    jt: short(jt)?,
                    jf: short(jf)?,
                    k,
                },
                Op::Ja(l) => {
                    let off = u32::try_from(dist(l)?)
                        .map_err(|_| Error::Internal("jump offset overflow"))?;
                    stmt(BPF_JMP | BPF_JA, off)
                }
            };
            out.push(insn);
        }
        Ok(out)
    }
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A userspace interpreter for the subset [`Asm`] emits, to test programs without the kernel.
#[cfg(test)]
pub(crate) fn run(prog: &[libc::sock_filter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_ne_bytes());
    data[4..8].copy_from_slice(&arch.to_ne_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
    }
    let mut acc = 0u32;
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        pc += 1;
        match i.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                let o = i.k as usize;
                acc = u32::from_ne_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => acc &= i.k,
            c if c == BPF_RET | BPF_K => return i.k,
            c if c == BPF_JMP | BPF_JA => pc += i.k as usize,
            c => {
                let taken = match c & 0xf0 {
                    BPF_JEQ => acc == i.k,
                    BPF_JGT => acc > i.k,
                    BPF_JGE => acc >= i.k,
                    BPF_JSET => acc & i.k != 0,
                    _ => panic!("unexpected opcode {c:#x}"),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_resolve_and_far_conditional_jumps_fail() {
        let mut a = Asm::default();
        let l = a.label();
        a.load(OFF_NR);
        a.jump(Cmp::Eq, 1, To::L(l), To::Next);
        a.ret(0);
        a.bind(l);
        a.ret(7);
        let p = a.finish().unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[1].jt, 1);
        assert_eq!(run(&p, 1, 0, [0; 6]), 7);
        assert_eq!(run(&p, 2, 0, [0; 6]), 0);

        let mut a = Asm::default();
        let l = a.label();
        a.jump(Cmp::Eq, 1, To::L(l), To::Next);
        for _ in 0..256 {
            a.ret(0);
        }
        a.bind(l);
        a.ret(1);
        assert!(matches!(a.finish(), Err(Error::Internal(_))));

        let mut a = Asm::default();
        let l = a.label();
        a.ja(l);
        for _ in 0..1000 {
            a.ret(0);
        }
        a.bind(l);
        a.ret(1);
        let p = a.finish().unwrap();
        assert_eq!(run(&p, 0, 0, [0; 6]), 1);
    }

    #[test]
    fn too_large() {
        let mut a = Asm::default();
        for _ in 0..=MAX_INSNS {
            a.ret(0);
        }
        assert!(matches!(a.finish(), Err(Error::TooLarge(4097))));
    }
}
