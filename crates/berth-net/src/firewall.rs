//! berth's firewall as a whole: applying the table, committing elements, checking that
//! nobody removed part of it, and watching the ruleset to repair it at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::netlink::{attrs, Message, NLM_F_DUMP};
use crate::nft::{self, ruleset, Batch, Element, Family};

const NFNLGRP_NFTABLES: u32 = 7;
const SUBSYS: u16 = 10 << 8;
const MSG_GETRULE: u16 = 7;
const MSG_GETSET: u16 = 10;

/// Creates (or re-creates, keeping elements) berth's table and rules in the current netns.
pub fn apply_firewall(table: &str) -> Result<()> {
    let mut sock = nft::socket()?;
    ruleset::apply(table).commit(&mut sock)
}

/// Commits `elems` (adding or removing); when berth's table is missing (first use, or a
/// firewall reload removed it), creates it and tries once more.
pub(crate) fn commit_elements(
    table: &str,
    elems: &[(&'static str, Element)],
    add: bool,
) -> Result<()> {
    if elems.is_empty() {
        return Ok(()); // nothing to send: not even a socket (teardown without ports)
    }
    let build = || {
        let mut b = Batch::new(Family::Inet, table);
        for (set, e) in elems {
            if add {
                b.add_elements_as(set, std::slice::from_ref(e), ruleset::describe(set, e));
            } else {
                b.remove_elements(set, std::slice::from_ref(e));
            }
        }
        b
    };
    let result = with_socket(|sock| match build().commit(sock) {
        Err(e) if e.is_errno(libc::ENOENT) => {
            if !add {
                return Ok(()); // no table: nothing to remove
            }
            ruleset::apply(table).commit(sock)?;
            build().commit(sock)
        }
        r => r,
    });
    match result {
        Err(Error::Netlink { what, errno, .. })
            if errno.raw_os_error() == Some(libc::EEXIST) && what.starts_with("publishing") =>
        {
            Err(Error::Config(format!(
                "{what}: the port is already published by another container"
            )))
        }
        r => r,
    }
}

thread_local! {
    /// This thread's nfnetlink socket and the netns it was opened in.
    static SOCKET: std::cell::RefCell<Option<(u64, crate::netlink::Socket)>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` on this thread's nfnetlink socket for its current netns, kept open between
/// commits: closing one makes nf_tables flush its pending destroy work, which waits a whole
/// RCU grace period (10 ms here) after any commit that removed elements.
fn with_socket<T>(f: impl FnOnce(&mut crate::netlink::Socket) -> Result<T>) -> Result<T> {
    use std::os::unix::fs::MetadataExt;
    let ns = std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0);
    let cached = SOCKET.with(|c| c.borrow_mut().take());
    let mut sock = match cached {
        Some((id, s)) if id == ns && ns != 0 => s,
        _ => nft::socket()?,
    };
    let r = f(&mut sock);
    // Kept unless the socket itself failed (a netlink error leaves it usable).
    if let Ok(_) | Err(Error::Netlink { .. }) = &r {
        SOCKET.with(|c| *c.borrow_mut() = Some((ns, sock)));
    }
    r
}

/// Dumps objects of `msg` kind in `table`, returning the string attribute `name_attr` of each.
fn dump_names(table: &str, msg: u16, name_attr: u16) -> Result<Vec<String>> {
    let mut sock = nft::socket()?;
    let mut m = Message::new(SUBSYS | msg, NLM_F_DUMP);
    m.push(&[Family::Inet as u8, 0, 0, 0]).attr_str(1, table);
    let replies = match sock.query(&mut m, "listing berth's nftables objects") {
        Ok(r) => r,
        Err(e) if e.is_errno(libc::ENOENT) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(replies
        .iter()
        .filter_map(|r| {
            let (_, v) = attrs(r.payload.get(4..)?).find(|(k, _)| *k == name_attr)?;
            Some(String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or(v)).into_owned())
        })
        .collect())
}

/// What is missing from berth's table (empty: intact). Compares the rules in every chain
/// berth owns and the sets with what berth would write.
pub fn check_firewall(table: &str) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut have: HashMap<String, usize> = HashMap::new();
    for chain in dump_names(table, MSG_GETRULE, 2)? {
        *have.entry(chain).or_default() += 1;
    }
    let mut want: HashMap<&str, usize> = HashMap::new();
    for r in ruleset::rules() {
        *want.entry(r.chain).or_default() += 1;
    }
    for (chain, n) in want {
        let got = have.get(chain).copied().unwrap_or(0);
        if got != n {
            problems.push(format!("chain {chain} has {got} of berth's {n} rules"));
        }
    }
    let sets = dump_names(table, MSG_GETSET, 2)?;
    for s in ruleset::sets() {
        if !sets.iter().any(|x| x == s.name) {
            problems.push(format!("set {} is missing", s.name));
        }
    }
    Ok(problems)
}

/// Watches the netns's ruleset until `stop` is set. Whenever it changes and berth's table
/// is no longer intact, re-applies it and calls `restore` (which re-adds the elements the
/// caller owns: networks and published ports). Returns how many repairs it made.
pub fn watch_firewall(
    table: &str,
    stop: &AtomicBool,
    mut restore: impl FnMut() -> Result<()>,
) -> Result<usize> {
    let sock = nft::socket()?;
    sock.subscribe(NFNLGRP_NFTABLES)?;
    let mut repairs = 0;
    while !stop.load(Ordering::Relaxed) {
        if sock.wait_event(200)?.is_empty() {
            continue;
        }
        // Let a burst of changes (someone's whole reload) settle first.
        while !sock.wait_event(20)?.is_empty() {}
        if check_firewall(table)?.is_empty() {
            continue;
        }
        apply_firewall(table)?;
        restore()?;
        repairs += 1;
    }
    Ok(repairs)
}
