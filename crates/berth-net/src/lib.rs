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
