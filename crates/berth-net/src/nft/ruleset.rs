//! berth's firewall as data: one `inet` table whose rules never change; networks and
//! containers only add and remove set and map elements (O(1) per container).
//!
//! ```text
//! forward:     user chain first; replies accepted; same-network traffic accepted;
//!              internal networks sealed; traffic between networks dropped; traffic out of
//!              a network accepted; traffic into one only when DNATed (published ports)
//! prerouting,
//! output:      to a local address -> publish: DNAT through the port maps
//! postrouting: masquerade what leaves a non-internal network, hairpin and localhost DNAT
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use super::expr::{ifname, reg32, Base, CmpOp, CtKey, Expr, MetaKey, Verdict};
use super::{BaseChain, Batch, ChainDef, DataType, Element, Family, Hook, RuleDef, SetDef};

/// The set of every berth bridge.
pub const SET_BRIDGES: &str = "bridges";
/// Every berth subnet.
pub const SET_NETS: &str = "nets";
/// Subnets whose traffic leaving the host is masqueraded (not internal).
pub const SET_MASQ_NETS: &str = "masq_nets";
/// Bridges of internal networks.
pub const SET_INTERNAL: &str = "internal";
/// `bridge . bridge` pairs: traffic that stays inside one network.
pub const SET_INTRA: &str = "intra";
/// Published ports on every host address: `proto . port : ip . port`.
pub const MAP_PUB_ANY: &str = "pub_any4";
/// Published ports on one host address: `addr . proto . port : ip . port`.
pub const MAP_PUB_ADDR: &str = "pub_addr4";
/// Every berth IPv6 subnet.
pub const SET_NETS6: &str = "nets6";
/// IPv6 subnets whose traffic leaving the host is masqueraded.
pub const SET_MASQ_NETS6: &str = "masq_nets6";
/// Published ports on every host IPv6 address: `proto . port : ip6 . port`.
pub const MAP_PUB_ANY6: &str = "pub_any6";
/// Published ports on one host IPv6 address: `addr6 . proto . port : ip6 . port`.
pub const MAP_PUB_ADDR6: &str = "pub_addr6";
/// The chain users own; berth creates it and never touches its rules.
pub const CHAIN_USER: &str = "user";

const CT_ESTABLISHED_RELATED: u32 = 2 | 4;
const CT_STATUS_DNAT: u32 = 1 << 5;
const RTN_LOCAL: u32 = 2;

/// What differs between the IPv4 and IPv6 halves of the table.
#[derive(Clone, Copy)]
struct Fam {
    v6: bool,
    /// `ip` or `ip6`, as nft writes it.
    kw: &'static str,
    /// 32-bit registers an address takes.
    addr_regs: u32,
    nets: &'static str,
    masq_nets: &'static str,
    pub_any: &'static str,
    pub_addr: &'static str,
}

const V4: Fam = Fam {
    v6: false,
    kw: "ip",
    addr_regs: 1,
    nets: SET_NETS,
    masq_nets: SET_MASQ_NETS,
    pub_any: MAP_PUB_ANY,
    pub_addr: MAP_PUB_ADDR,
};

const V6: Fam = Fam {
    v6: true,
    kw: "ip6",
    addr_regs: 4,
    nets: SET_NETS6,
    masq_nets: SET_MASQ_NETS6,
    pub_any: MAP_PUB_ANY6,
    pub_addr: MAP_PUB_ADDR6,
};

impl Fam {
    /// `meta nfproto ipv4|ipv6`.
    fn only(self) -> Vec<Expr> {
        vec![
            meta(MetaKey::NfProto, reg32(0)),
            Expr::Cmp {
                op: CmpOp::Eq,
                sreg: reg32(0),
                data: vec![if self.v6 { 10 } else { 2 }],
            },
        ]
    }
    /// The source or destination address into `dreg` and the registers after it.
    fn addr(self, source: bool, dreg: u32) -> Expr {
        let (offset, len) = match (self.v6, source) {
            (false, true) => (12, 4),
            (false, false) => (16, 4),
            (true, true) => (8, 16),
            (true, false) => (24, 16),
        };
        Expr::Payload {
            base: Base::Network,
            offset,
            len,
            dreg,
        }
    }
}

/// The table's sets and maps.
pub fn sets() -> Vec<SetDef> {
    use DataType::*;
    vec![
        SetDef {
            name: SET_BRIDGES,
            key: vec![IfName],
            data: None,
            interval: false,
        },
        SetDef {
            name: SET_INTERNAL,
            key: vec![IfName],
            data: None,
            interval: false,
        },
        SetDef {
            name: SET_INTRA,
            key: vec![IfName, IfName],
            data: None,
            interval: false,
        },
        SetDef {
            name: SET_NETS,
            key: vec![Ipv4Addr],
            data: None,
            interval: true,
        },
        SetDef {
            name: SET_MASQ_NETS,
            key: vec![Ipv4Addr],
            data: None,
            interval: true,
        },
        SetDef {
            name: MAP_PUB_ANY,
            key: vec![InetProto, InetService],
            data: Some(vec![Ipv4Addr, InetService]),
            interval: false,
        },
        SetDef {
            name: MAP_PUB_ADDR,
            key: vec![Ipv4Addr, InetProto, InetService],
            data: Some(vec![Ipv4Addr, InetService]),
            interval: false,
        },
        SetDef {
            name: SET_NETS6,
            key: vec![Ipv6Addr],
            data: None,
            interval: true,
        },
        SetDef {
            name: SET_MASQ_NETS6,
            key: vec![Ipv6Addr],
            data: None,
            interval: true,
        },
        SetDef {
            name: MAP_PUB_ANY6,
            key: vec![InetProto, InetService],
            data: Some(vec![Ipv6Addr, InetService]),
            interval: false,
        },
        SetDef {
            name: MAP_PUB_ADDR6,
            key: vec![Ipv6Addr, InetProto, InetService],
            data: Some(vec![Ipv6Addr, InetService]),
            interval: false,
        },
    ]
}

fn base(name: &'static str, kind: &'static str, hook: Hook, priority: i32) -> ChainDef {
    ChainDef {
        name,
        base: Some(BaseChain {
            kind,
            hook,
            priority,
        }),
        owned: true,
    }
}

/// The table's chains, in the order they are created.
pub fn chains() -> Vec<ChainDef> {
    vec![
        ChainDef {
            name: CHAIN_USER,
            base: None,
            owned: false,
        },
        ChainDef {
            name: "publish",
            base: None,
            owned: true,
        },
        base("forward", "filter", Hook::Forward, 0),
        base("prerouting", "nat", Hook::Prerouting, -100),
        base("output", "nat", Hook::Output, -100),
        base("postrouting", "nat", Hook::Postrouting, 100),
    ]
}

fn meta(key: MetaKey, dreg: u32) -> Expr {
    Expr::Meta { key, dreg }
}

fn in_set(set: &str, sreg: u32, invert: bool) -> Expr {
    Expr::Lookup {
        set: set.into(),
        sreg,
        dreg: None,
        invert,
    }
}

fn iif_in(set: &str) -> Vec<Expr> {
    vec![
        meta(MetaKey::IifName, reg32(0)),
        in_set(set, reg32(0), false),
    ]
}

fn oif_in(set: &str) -> Vec<Expr> {
    vec![
        meta(MetaKey::OifName, reg32(0)),
        in_set(set, reg32(0), false),
    ]
}

fn ct_has(key: CtKey, bits: u32) -> Vec<Expr> {
    vec![
        Expr::Ct {
            key,
            dreg: reg32(0),
        },
        Expr::Bitwise {
            sreg: reg32(0),
            dreg: reg32(0),
            mask: bits.to_ne_bytes().to_vec(),
        },
        Expr::Cmp {
            op: CmpOp::Neq,
            sreg: reg32(0),
            data: 0u32.to_ne_bytes().to_vec(),
        },
    ]
}

fn to_local() -> Vec<Expr> {
    vec![
        Expr::FibDaddrType { dreg: reg32(0) },
        Expr::Cmp {
            op: CmpOp::Eq,
            sreg: reg32(0),
            data: RTN_LOCAL.to_ne_bytes().to_vec(),
        },
    ]
}

fn rule(chain: &'static str, text: &str, parts: Vec<Vec<Expr>>, end: Option<Expr>) -> RuleDef {
    let mut exprs: Vec<Expr> = parts.into_iter().flatten().collect();
    exprs.extend(end);
    RuleDef {
        chain,
        exprs,
        text: text.to_string(),
    }
}

fn v(verdict: Verdict) -> Option<Expr> {
    Some(Expr::Immediate(verdict))
}

/// Loads `proto . port` of a packet into consecutive 32-bit registers from `first`.
fn proto_port(first: u32) -> Vec<Expr> {
    vec![
        meta(MetaKey::L4Proto, reg32(first)),
        Expr::Payload {
            base: Base::Transport,
            offset: 2,
            len: 2,
            dreg: reg32(first + 1),
        },
    ]
}

/// DNAT to the `addr . port` a map lookup left in the registers from reg32(0).
fn dnat_to_lookup(f: Fam) -> Expr {
    Expr::Nat {
        dnat: true,
        ipv6: f.v6,
        reg_addr: reg32(0),
        reg_proto: Some(reg32(f.addr_regs)),
    }
}

fn lookup_to_reg0(set: &str) -> Expr {
    Expr::Lookup {
        set: set.into(),
        sreg: reg32(0),
        dreg: Some(reg32(0)),
        invert: false,
    }
}

/// The publish chain's rules of one family: a host address's own ports, then every
/// address's.
fn publish_rules(f: Fam) -> Vec<RuleDef> {
    let (kw, proto) = (f.kw, if f.v6 { "ipv6" } else { "ipv4" });
    vec![
        rule(
            "publish",
            &format!(
                "dnat {kw} to {kw} daddr . meta l4proto . th dport map @{}",
                f.pub_addr
            ),
            vec![
                f.only(),
                vec![f.addr(false, reg32(0))],
                proto_port(f.addr_regs),
                vec![lookup_to_reg0(f.pub_addr)],
            ],
            Some(dnat_to_lookup(f)),
        ),
        rule(
            "publish",
            &format!(
                "meta nfproto {proto} dnat {kw} to meta l4proto . th dport map @{}",
                f.pub_any
            ),
            vec![f.only(), proto_port(0), vec![lookup_to_reg0(f.pub_any)]],
            Some(dnat_to_lookup(f)),
        ),
    ]
}

/// The postrouting rules of one family: masquerade what leaves a non-internal network
/// (IPv4 also localhost DNAT) and hairpin.
fn masquerade_rules(f: Fam) -> Vec<RuleDef> {
    let kw = f.kw;
    let mut out = vec![
        // Bridged frames (br_netfilter) reach postrouting without an input interface, so
        // these match on source subnets, as docker's `-s subnet ! -o bridge` does.
        rule(
            "postrouting",
            &format!("{kw} saddr @{} oifname != @bridges masquerade", f.masq_nets),
            vec![
                f.only(),
                vec![f.addr(true, reg32(0)), in_set(f.masq_nets, reg32(0), false)],
                vec![
                    meta(MetaKey::OifName, reg32(0)),
                    in_set(SET_BRIDGES, reg32(0), true),
                ],
            ],
            Some(Expr::Masquerade),
        ),
    ];
    if !f.v6 {
        // route_localnet lets 127.0.0.1 be DNATed out; IPv6 has nothing like it for ::1.
        let loopback_src = vec![
            f.addr(true, reg32(0)),
            Expr::Bitwise {
                sreg: reg32(0),
                dreg: reg32(0),
                mask: vec![255, 0, 0, 0],
            },
            Expr::Cmp {
                op: CmpOp::Eq,
                sreg: reg32(0),
                data: vec![127, 0, 0, 0],
            },
        ];
        out.push(rule(
            "postrouting",
            "ip saddr 127.0.0.0/8 ct status dnat masquerade",
            vec![
                f.only(),
                loopback_src,
                ct_has(CtKey::Status, CT_STATUS_DNAT),
            ],
            Some(Expr::Masquerade),
        ));
    }
    // Hairpin: a container reaching a published port (its own too) through a host
    // address; the reply must come back through the host to be un-NATed.
    out.push(rule(
        "postrouting",
        &format!(
            "oifname @bridges {kw} saddr @{} ct status dnat masquerade",
            f.nets
        ),
        vec![
            oif_in(SET_BRIDGES),
            f.only(),
            vec![f.addr(true, reg32(0)), in_set(f.nets, reg32(0), false)],
            ct_has(CtKey::Status, CT_STATUS_DNAT),
        ],
        Some(Expr::Masquerade),
    ));
    out
}

/// Every rule of the table, in chain order.
pub fn rules() -> Vec<RuleDef> {
    use Verdict::*;
    let both_ifnames = vec![
        meta(MetaKey::IifName, reg32(0)),
        meta(MetaKey::OifName, reg32(4)),
    ];
    let mut out = vec![
        rule("forward", "jump user", vec![], v(Jump(CHAIN_USER.into()))),
        rule(
            "forward",
            "oifname @bridges ct state established,related accept",
            vec![
                oif_in(SET_BRIDGES),
                ct_has(CtKey::State, CT_ESTABLISHED_RELATED),
            ],
            v(Accept),
        ),
        rule(
            "forward",
            "iifname . oifname @intra accept",
            vec![both_ifnames, vec![in_set(SET_INTRA, reg32(0), false)]],
            v(Accept),
        ),
        rule(
            "forward",
            "iifname @internal drop",
            vec![iif_in(SET_INTERNAL)],
            v(Drop),
        ),
        rule(
            "forward",
            "oifname @internal drop",
            vec![oif_in(SET_INTERNAL)],
            v(Drop),
        ),
        rule(
            "forward",
            "iifname @bridges oifname @bridges drop",
            vec![iif_in(SET_BRIDGES), oif_in(SET_BRIDGES)],
            v(Drop),
        ),
        rule(
            "forward",
            "iifname @bridges accept",
            vec![iif_in(SET_BRIDGES)],
            v(Accept),
        ),
        rule(
            "forward",
            "oifname @bridges ct status dnat accept",
            vec![oif_in(SET_BRIDGES), ct_has(CtKey::Status, CT_STATUS_DNAT)],
            v(Accept),
        ),
        rule(
            "forward",
            "oifname @bridges drop",
            vec![oif_in(SET_BRIDGES)],
            v(Drop),
        ),
        rule(
            "prerouting",
            "fib daddr type local jump publish",
            vec![to_local()],
            v(Jump("publish".into())),
        ),
        rule(
            "output",
            "fib daddr type local jump publish",
            vec![to_local()],
            v(Jump("publish".into())),
        ),
    ];
    for f in [V4, V6] {
        out.extend(publish_rules(f));
    }
    for f in [V4, V6] {
        out.extend(masquerade_rules(f));
    }
    out
}

/// A batch that creates the table if needed and (re)writes berth's rules, keeping the
/// elements already in its sets and the user chain's rules.
pub fn apply(table: &str) -> Batch {
    let mut b = Batch::new(Family::Inet, table);
    b.add_table();
    for s in sets() {
        b.add_set(&s);
    }
    let chains = chains();
    for c in &chains {
        b.add_chain(c);
    }
    for c in chains.iter().filter(|c| c.owned) {
        b.flush_chain(c.name);
    }
    for r in rules() {
        b.add_rule(&r);
    }
    b
}

/// The start and (exclusive) end elements of an address span in an interval set.
fn span(first: &[u8], end: Option<Vec<u8>>) -> Vec<Element> {
    let start = Element {
        key: first.to_vec(),
        value: None,
        interval_end: false,
    };
    match end {
        Some(end) => vec![
            start,
            Element {
                key: end,
                value: None,
                interval_end: true,
            },
        ],
        None => vec![start],
    }
}

fn range(subnet: &crate::config::Ipv4Net) -> Vec<Element> {
    let end = u32::from(subnet.broadcast())
        .checked_add(1)
        .map(|e| Ipv4Addr::from(e).octets().to_vec());
    span(&subnet.network().octets(), end)
}

fn range6(subnet: &crate::config::Ipv6Net) -> Vec<Element> {
    let end = u128::from(subnet.last())
        .checked_add(1)
        .map(|e| Ipv6Addr::from(e).octets().to_vec());
    span(&subnet.network().octets(), end)
}

/// One network's elements: (set, element).
pub fn network_elements(net: &crate::config::Network) -> Vec<(&'static str, Element)> {
    let one = Element {
        key: ifname(&net.bridge),
        value: None,
        interval_end: false,
    };
    let mut pair = ifname(&net.bridge);
    pair.extend(ifname(&net.bridge));
    let mut out = vec![
        (SET_BRIDGES, one.clone()),
        (
            SET_INTRA,
            Element {
                key: pair,
                value: None,
                interval_end: false,
            },
        ),
    ];
    let v4 = range(&net.subnet);
    let v6 = net.subnet6.as_ref().map(range6).unwrap_or_default();
    out.extend(v4.iter().cloned().map(|e| (SET_NETS, e)));
    out.extend(v6.iter().cloned().map(|e| (SET_NETS6, e)));
    if net.internal {
        out.push((SET_INTERNAL, one));
    } else {
        out.extend(v4.into_iter().map(|e| (SET_MASQ_NETS, e)));
        out.extend(v6.into_iter().map(|e| (SET_MASQ_NETS6, e)));
    }
    out
}

/// A published port's map element: (map, element). `ip` is the container's address of the
/// host address's family (with no host address: the map of `ip`'s family).
pub fn port_element(
    host_ip: Option<std::net::IpAddr>,
    proto: u8,
    host_port: u16,
    ip: std::net::IpAddr,
    port: u16,
) -> (&'static str, Element) {
    use crate::link::ip_bytes;
    let value = Some(super::concat_bytes(&[&ip_bytes(&ip), &port.to_be_bytes()]));
    let f = if ip.is_ipv6() { V6 } else { V4 };
    let (map, key) = match host_ip {
        Some(h) if !h.is_unspecified() => (
            f.pub_addr,
            super::concat_bytes(&[&ip_bytes(&h), &[proto], &host_port.to_be_bytes()]),
        ),
        _ => (
            f.pub_any,
            super::concat_bytes(&[&[proto], &host_port.to_be_bytes()]),
        ),
    };
    (
        map,
        Element {
            key,
            value,
            interval_end: false,
        },
    )
}

/// The table as `nft list table` prints it (without elements): the golden form.
pub fn render(table: &str) -> String {
    let mut out = format!("table inet {table} {{\n");
    for s in sets() {
        let key: Vec<&str> = s.key.iter().map(|t| t.name()).collect();
        let (kw, ty) = match &s.data {
            Some(d) => {
                let data: Vec<&str> = d.iter().map(|t| t.name()).collect();
                ("map", format!("{} : {}", key.join(" . "), data.join(" . ")))
            }
            None => ("set", key.join(" . ")),
        };
        let flags = if s.interval {
            "\t\tflags interval\n"
        } else {
            ""
        };
        out.push_str(&format!(
            "\t{kw} {} {{\n\t\ttype {ty}\n{flags}\t}}\n\n",
            s.name
        ));
    }
    let rules = rules();
    let chains = chains();
    for (i, c) in chains.iter().enumerate() {
        out.push_str(&format!("\tchain {} {{\n", c.name));
        if let Some(b) = &c.base {
            let prio = match (b.hook, b.priority) {
                (Hook::Forward, 0) => "filter".to_string(),
                (Hook::Prerouting, -100) => "dstnat".to_string(),
                (Hook::Postrouting, 100) => "srcnat".to_string(),
                (_, p) => p.to_string(),
            };
            let hook = format!("{:?}", b.hook).to_lowercase();
            out.push_str(&format!(
                "\t\ttype {} hook {hook} priority {prio}; policy accept;\n",
                b.kind
            ));
        }
        for r in rules.iter().filter(|r| r.chain == c.name) {
            out.push_str(&format!("\t\t{}\n", r.text));
        }
        out.push_str("\t}\n");
        if i + 1 < chains.len() {
            out.push('\n');
        }
    }
    out.push_str("}\n");
    out
}

/// Names an element in words, for error messages (`port 8080/tcp on 127.0.0.1`).
pub fn describe(set: &str, e: &Element) -> String {
    let proto = |b: u8| match b {
        6 => "tcp".to_string(),
        17 => "udp".to_string(),
        n => format!("proto {n}"),
    };
    let k = &e.key;
    match set {
        MAP_PUB_ANY | MAP_PUB_ANY6 if k.len() >= 6 => {
            format!(
                "publishing port {}/{}",
                u16::from_be_bytes([k[4], k[5]]),
                proto(k[0])
            )
        }
        MAP_PUB_ADDR if k.len() >= 10 => format!(
            "publishing port {}:{}/{}",
            Ipv4Addr::new(k[0], k[1], k[2], k[3]),
            u16::from_be_bytes([k[8], k[9]]),
            proto(k[4])
        ),
        MAP_PUB_ADDR6 if k.len() >= 22 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&k[..16]);
            format!(
                "publishing port [{}]:{}/{}",
                Ipv6Addr::from(a),
                u16::from_be_bytes([k[20], k[21]]),
                proto(k[16])
            )
        }
        _ => format!("adding an element to {set}"),
    }
}
