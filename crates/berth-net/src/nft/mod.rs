//! nftables over nfnetlink, in-process: tables, chains, sets and maps, rules and set
//! elements, sent as one atomic batch per change (no `nft` process anywhere).

pub mod expr;
pub mod ruleset;

use crate::error::Result;
use crate::netlink::{Message, Socket, NETLINK_NETFILTER, NLM_F_APPEND, NLM_F_CREATE};
use expr::{Expr, Verdict, NFTA_DATA_VALUE};

const SUBSYS: u16 = 10 << 8;
const MSG_NEWTABLE: u16 = 0;
const MSG_NEWCHAIN: u16 = 3;
const MSG_NEWRULE: u16 = 6;
const MSG_DELRULE: u16 = 8;
const MSG_NEWSET: u16 = 9;
const MSG_NEWSETELEM: u16 = 12;
const MSG_DESTROYTABLE: u16 = 26;
const MSG_DESTROYSETELEM: u16 = 30;
const BATCH_BEGIN: u16 = 0x10;
const BATCH_END: u16 = 0x11;

/// Address families of nf_tables tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Inet = 1,
    Ip = 2,
}

/// Netfilter hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Prerouting = 0,
    Input = 1,
    Forward = 2,
    Output = 3,
    Postrouting = 4,
}

/// A base chain's attachment: type, hook and priority (policy is always accept: berth
/// never decides the fate of packets that are not its own).
#[derive(Debug, Clone)]
pub struct BaseChain {
    pub kind: &'static str,
    pub hook: Hook,
    pub priority: i32,
}

/// A chain of berth's table.
#[derive(Debug, Clone)]
pub struct ChainDef {
    pub name: &'static str,
    pub base: Option<BaseChain>,
    /// Chains berth owns are flushed and refilled on every apply; the user chain is not.
    pub owned: bool,
}

/// nftables data types (the numbers `nft` uses to print keys and values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Ipv4Addr,
    Ipv6Addr,
    InetProto,
    InetService,
    IfName,
}

impl DataType {
    fn id(self) -> u32 {
        match self {
            DataType::Ipv4Addr => 7,
            DataType::Ipv6Addr => 8,
            DataType::InetProto => 12,
            DataType::InetService => 13,
            DataType::IfName => 41,
        }
    }
    fn len(self) -> u32 {
        match self {
            DataType::Ipv4Addr => 4,
            DataType::Ipv6Addr => 16,
            DataType::InetProto => 1,
            DataType::InetService => 2,
            DataType::IfName => 16,
        }
    }
    /// nft's byte order for the type (1 host, 2 big endian); `nft list` needs it in
    /// the set's user data to print single-type keys.
    fn byteorder(self) -> u8 {
        match self {
            DataType::IfName | DataType::InetProto => 1,
            DataType::Ipv4Addr | DataType::Ipv6Addr | DataType::InetService => 2,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            DataType::Ipv4Addr => "ipv4_addr",
            DataType::Ipv6Addr => "ipv6_addr",
            DataType::InetProto => "inet_proto",
            DataType::InetService => "inet_service",
            DataType::IfName => "ifname",
        }
    }
}

/// A concatenation's type id and length (each part padded to 4 bytes).
fn concat(types: &[DataType]) -> (u32, u32) {
    let id = types.iter().fold(0u32, |acc, t| (acc << 6) | t.id());
    let len = types.iter().map(|t| (t.len() + 3) & !3).sum();
    (id, len)
}

/// A named set or map in berth's table.
#[derive(Debug, Clone)]
pub struct SetDef {
    pub name: &'static str,
    pub key: Vec<DataType>,
    /// For a map: the value's types.
    pub data: Option<Vec<DataType>>,
    /// Elements are ranges (prefixes), each sent as a start and an end element.
    pub interval: bool,
}

/// A rule: its expressions and the `nft` text it lists as.
#[derive(Debug, Clone)]
pub struct RuleDef {
    pub chain: &'static str,
    pub exprs: Vec<Expr>,
    pub text: String,
}

/// A set element: the key (concatenation parts padded to 4 bytes) and, in maps, a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
    /// Marks the end (exclusive) of a range in an interval set.
    pub interval_end: bool,
}

/// Builds the concatenated bytes of several parts, each padded to 4 bytes.
pub fn concat_bytes(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for p in parts {
        v.extend_from_slice(p);
        v.resize((v.len() + 3) & !3, 0);
    }
    v
}

/// One nf_tables transaction on one table: every message is applied, or none.
pub struct Batch {
    family: Family,
    table: String,
    msgs: Vec<Message>,
    whats: Vec<String>,
    next_set_id: u32,
}

impl Batch {
    pub fn new(family: Family, table: &str) -> Self {
        let mut begin = Message::new(BATCH_BEGIN, 0).without_ack();
        begin.push(&[0, 0, 0, 10]); // AF_UNSPEC, v0, res_id = NFNL_SUBSYS_NFTABLES (BE)
        Batch {
            family,
            table: table.to_string(),
            msgs: vec![begin],
            whats: vec!["nftables batch".into()],
            next_set_id: 1,
        }
    }

    fn msg(&mut self, kind: u16, flags: u16, what: String) -> &mut Message {
        let mut m = Message::new(SUBSYS | kind, flags);
        m.push(&[self.family as u8, 0, 0, 0]);
        self.msgs.push(m);
        self.whats.push(what);
        let last = self.msgs.len() - 1;
        &mut self.msgs[last]
    }

    /// How many changes the batch holds.
    pub fn len(&self) -> usize {
        self.msgs.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Creates the table if it is missing.
    pub fn add_table(&mut self) -> &mut Self {
        let t = self.table.clone();
        self.msg(MSG_NEWTABLE, NLM_F_CREATE, format!("creating table {t}"))
            .attr_str(1, &t);
        self
    }

    /// Deletes the table and everything in it, if it exists.
    pub fn destroy_table(&mut self) -> &mut Self {
        let t = self.table.clone();
        self.msg(MSG_DESTROYTABLE, 0, format!("deleting table {t}"))
            .attr_str(1, &t);
        self
    }

    /// Creates a chain if it is missing.
    pub fn add_chain(&mut self, c: &ChainDef) -> &mut Self {
        let t = self.table.clone();
        let m = self.msg(
            MSG_NEWCHAIN,
            NLM_F_CREATE,
            format!("creating chain {}", c.name),
        );
        m.attr_str(1, &t).attr_str(3, c.name);
        if let Some(b) = &c.base {
            m.begin(4)
                .attr_be32(1, b.hook as u32)
                .attr_be32(2, b.priority as u32)
                .end()
                .attr_be32(5, 1)
                .attr_str(7, b.kind);
        }
        self
    }

    /// Removes every rule of a chain.
    pub fn flush_chain(&mut self, chain: &str) -> &mut Self {
        let t = self.table.clone();
        self.msg(MSG_DELRULE, 0, format!("flushing chain {chain}"))
            .attr_str(1, &t)
            .attr_str(2, chain);
        self
    }

    /// Creates a set or map if it is missing.
    pub fn add_set(&mut self, s: &SetDef) -> &mut Self {
        let t = self.table.clone();
        let id = self.next_set_id;
        self.next_set_id += 1;
        let (key_type, key_len) = concat(&s.key);
        // NFT_SET_MAP; concatenations in hash sets need no flag (NFT_SET_CONCAT is for
        // interval sets, with per-field lengths).
        let flags = if s.data.is_some() { 8 } else { 0 } | if s.interval { 4 } else { 0 };
        let m = self.msg(MSG_NEWSET, NLM_F_CREATE, format!("creating set {}", s.name));
        m.attr_str(1, &t)
            .attr_str(2, s.name)
            .attr_be32(3, flags)
            .attr_be32(4, key_type)
            .attr_be32(5, key_len);
        if let Some(d) = &s.data {
            let (data_type, data_len) = concat(d);
            m.attr_be32(6, data_type).attr_be32(7, data_len);
        }
        m.attr_be32(10, id);
        if let [single] = s.key[..] {
            // NFTA_SET_USERDATA: one TLV, NFTNL_UDATA_SET_KEYBYTEORDER (0), a u32
            m.attr(13, &[0, 4, single.byteorder(), 0, 0, 0]);
        }
        self
    }

    /// Appends a rule to its chain.
    pub fn add_rule(&mut self, r: &RuleDef) -> &mut Self {
        let t = self.table.clone();
        let m = self.msg(
            MSG_NEWRULE,
            NLM_F_CREATE | NLM_F_APPEND,
            format!("adding rule `{}` to chain {}", r.text, r.chain),
        );
        m.attr_str(1, &t).attr_str(2, r.chain).begin(4);
        for e in &r.exprs {
            e.encode(m);
        }
        m.end();
        self
    }

    fn elements(&mut self, kind: u16, set: &str, elems: &[Element], what: String) {
        if elems.is_empty() {
            return;
        }
        let t = self.table.clone();
        let m = self.msg(kind, NLM_F_CREATE, what);
        m.attr_str(1, &t).attr_str(2, set).begin(3);
        for e in elems {
            m.begin(1).begin(1).attr(NFTA_DATA_VALUE, &e.key).end();
            if let Some(v) = &e.value {
                m.begin(2).attr(NFTA_DATA_VALUE, v).end();
            }
            if e.interval_end {
                m.attr_be32(3, 1); // NFTA_SET_ELEM_FLAGS: NFT_SET_ELEM_INTERVAL_END
            }
            m.end();
        }
        m.end();
    }

    /// Adds elements, naming the change `what` in errors.
    pub fn add_elements_as(&mut self, set: &str, elems: &[Element], what: String) -> &mut Self {
        self.elements(MSG_NEWSETELEM, set, elems, what);
        self
    }

    /// Adds elements to a set or map (existing ones are left as they are).
    pub fn add_elements(&mut self, set: &str, elems: &[Element]) -> &mut Self {
        self.elements(
            MSG_NEWSETELEM,
            set,
            elems,
            format!("adding elements to {set}"),
        );
        self
    }

    /// Removes elements from a set or map; missing ones are not an error.
    pub fn remove_elements(&mut self, set: &str, elems: &[Element]) -> &mut Self {
        self.elements(
            MSG_DESTROYSETELEM,
            set,
            elems,
            format!("removing elements from {set}"),
        );
        self
    }

    /// Sends the batch on `sock` and waits for the kernel to apply it.
    pub fn commit(mut self, sock: &mut Socket) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        self.msgs.push({
            let mut end = Message::new(BATCH_END, 0).without_ack();
            end.push(&[0, 0, 0, 10]);
            end
        });
        self.whats.push("nftables batch".into());
        sock.transact(&mut self.msgs, &self.whats, |_| Ok(()))
    }
}

/// Opens an nfnetlink socket in the current netns.
pub fn socket() -> Result<Socket> {
    Socket::open(NETLINK_NETFILTER)
}

/// A verdict immediate, as a convenience for rule builders.
pub fn verdict(v: Verdict) -> Expr {
    Expr::Immediate(v)
}
