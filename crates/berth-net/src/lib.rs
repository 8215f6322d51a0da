//! berth-net: container networking without a daemon. A netns and a network config in, an
//! attachment out (like netavark): bridges and veths over rtnetlink, firewall and NAT in
//! berth's own nftables table over nfnetlink, and the IPAM the engine persists.

pub mod config;
pub mod error;
mod firewall;
pub mod ipam;
pub mod link;
pub mod netlink;
pub mod netns;
pub mod nft;
mod setup;

pub use config::{Attachment, Endpoint, Ipv4Net, Ipv6Net, Network, PortMapping, Protocol, Request};
pub use error::{Error, Result};
pub use firewall::{apply_firewall, check_firewall, watch_firewall};
pub use setup::{
    create_network, ensure_bridge, host_veth_name, mac_for, remove_network, restore_elements,
    setup, teardown, DEFAULT_TABLE,
};

/// A stable 64-bit FNV-1a hash of `parts` (each followed by a NUL), for names and prefixes
/// derived from ids: host veth names, bridge MACs, unique-local IPv6 subnets.
pub(crate) fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}
