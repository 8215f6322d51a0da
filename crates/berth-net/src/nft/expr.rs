//! nf_tables expressions (the kernel's rule bytecode) and their netlink encoding.

use crate::netlink::Message;

const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
pub(crate) const NFTA_DATA_VALUE: u16 = 1;
pub(crate) const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;

/// The verdict register.
pub const REG_VERDICT: u32 = 0;
/// 32-bit register n (NFT_REG32_00 + n); concatenations use consecutive ones.
pub const fn reg32(n: u32) -> u32 {
    8 + n
}

/// Verdicts a rule can end with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
}

impl Verdict {
    pub(crate) fn encode(&self, m: &mut Message) {
        let (code, chain): (i32, Option<&str>) = match self {
            Verdict::Drop => (0, None),
            Verdict::Accept => (1, None),
            Verdict::Jump(c) => (-3, Some(c)),
            Verdict::Goto(c) => (-4, Some(c)),
            Verdict::Return => (-5, None),
        };
        m.begin(NFTA_DATA_VERDICT)
            .attr_be32(NFTA_VERDICT_CODE, code as u32);
        if let Some(c) = chain {
            m.attr_str(NFTA_VERDICT_CHAIN, c);
        }
        m.end();
    }
}

/// meta keys berth uses.
#[derive(Debug, Clone, Copy)]
pub enum MetaKey {
    IifName = 6,
    OifName = 7,
    NfProto = 15,
    L4Proto = 16,
}

/// Where a payload load starts.
#[derive(Debug, Clone, Copy)]
pub enum Base {
    Network = 1,
    Transport = 2,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy)]
pub enum CmpOp {
    Eq = 0,
    Neq = 1,
}

/// conntrack keys berth uses.
#[derive(Debug, Clone, Copy)]
pub enum CtKey {
    State = 0,
    Status = 2,
}

/// One expression of a rule.
#[derive(Debug, Clone)]
pub enum Expr {
    Meta {
        key: MetaKey,
        dreg: u32,
    },
    Payload {
        base: Base,
        offset: u32,
        len: u32,
        dreg: u32,
    },
    Cmp {
        op: CmpOp,
        sreg: u32,
        data: Vec<u8>,
    },
    Bitwise {
        sreg: u32,
        dreg: u32,
        mask: Vec<u8>,
    },
    Ct {
        key: CtKey,
        dreg: u32,
    },
    /// `fib daddr type`: the route type of the destination address.
    FibDaddrType {
        dreg: u32,
    },
    Lookup {
        set: String,
        sreg: u32,
        dreg: Option<u32>,
        invert: bool,
    },
    Immediate(Verdict),
    /// DNAT (or SNAT) to the address in `reg_addr` and port in `reg_proto`.
    Nat {
        dnat: bool,
        ipv6: bool,
        reg_addr: u32,
        reg_proto: Option<u32>,
    },
    Masquerade,
}

impl Expr {
    fn name(&self) -> &'static str {
        match self {
            Expr::Meta { .. } => "meta",
            Expr::Payload { .. } => "payload",
            Expr::Cmp { .. } => "cmp",
            Expr::Bitwise { .. } => "bitwise",
            Expr::Ct { .. } => "ct",
            Expr::FibDaddrType { .. } => "fib",
            Expr::Lookup { .. } => "lookup",
            Expr::Immediate(_) => "immediate",
            Expr::Nat { .. } => "nat",
            Expr::Masquerade => "masq",
        }
    }

    fn encode_data(&self, m: &mut Message) {
        match self {
            Expr::Meta { key, dreg } => {
                m.attr_be32(1, *dreg).attr_be32(2, *key as u32);
            }
            Expr::Payload {
                base,
                offset,
                len,
                dreg,
            } => {
                m.attr_be32(1, *dreg)
                    .attr_be32(2, *base as u32)
                    .attr_be32(3, *offset)
                    .attr_be32(4, *len);
            }
            Expr::Cmp { op, sreg, data } => {
                m.attr_be32(1, *sreg).attr_be32(2, *op as u32);
                m.begin(3).attr(NFTA_DATA_VALUE, data).end();
            }
            Expr::Bitwise { sreg, dreg, mask } => {
                m.attr_be32(1, *sreg)
                    .attr_be32(2, *dreg)
                    .attr_be32(3, mask.len() as u32);
                m.begin(4).attr(NFTA_DATA_VALUE, mask).end();
                m.begin(5)
                    .attr(NFTA_DATA_VALUE, &vec![0u8; mask.len()])
                    .end();
            }
            Expr::Ct { key, dreg } => {
                m.attr_be32(1, *dreg).attr_be32(2, *key as u32);
            }
            Expr::FibDaddrType { dreg } => {
                // NFTA_FIB_DREG, NFTA_FIB_RESULT = ADDRTYPE (3), NFTA_FIB_FLAGS = DADDR (2)
                m.attr_be32(1, *dreg).attr_be32(2, 3).attr_be32(3, 2);
            }
            Expr::Lookup {
                set,
                sreg,
                dreg,
                invert,
            } => {
                m.attr_str(1, set).attr_be32(2, *sreg);
                if let Some(d) = dreg {
                    m.attr_be32(3, *d);
                }
                if *invert {
                    m.attr_be32(5, 1);
                }
            }
            Expr::Immediate(v) => {
                m.attr_be32(1, REG_VERDICT);
                m.begin(2);
                v.encode(m);
                m.end();
            }
            Expr::Nat {
                dnat,
                ipv6,
                reg_addr,
                reg_proto,
            } => {
                let family = if *ipv6 { 10 } else { 2 };
                m.attr_be32(1, u32::from(*dnat))
                    .attr_be32(2, family)
                    .attr_be32(3, *reg_addr);
                if let Some(p) = reg_proto {
                    m.attr_be32(5, *p);
                }
            }
            Expr::Masquerade => {}
        }
    }

    /// Appends this expression as one element of NFTA_RULE_EXPRESSIONS.
    pub(crate) fn encode(&self, m: &mut Message) {
        m.begin(NFTA_LIST_ELEM)
            .attr_str(NFTA_EXPR_NAME, self.name());
        if !matches!(self, Expr::Masquerade) {
            m.begin(NFTA_EXPR_DATA);
            self.encode_data(m);
            m.end();
        }
        m.end();
    }
}

/// An interface name as nf_tables compares it: 16 bytes, NUL padded.
pub fn ifname(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.resize(16, 0);
    v
}
