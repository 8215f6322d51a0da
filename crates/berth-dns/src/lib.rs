//! berth's embedded DNS resolver for user networks (what docker's embedded DNS and podman's
//! aardvark-dns do).
//!
//! One [`Zone`] holds, per network, each attached container's names (name, aliases, 12-character
//! short id) and address. One [`Server`] per user network listens on the network's gateway
//! address, port 53, UDP and TCP, in the host's network namespace, and answers from that network's
//! part of the zone only:
//!
//! - `A` for a container's name, alias or short id (any case, with or without a trailing dot, or
//!   as `name.<network>`): every address that has it, rotated round robin, TTL 600;
//! - `AAAA` (or any other type) for such a name: NOERROR with no records;
//! - `PTR` for a container's address (`d.c.b.a.in-addr.arpa`): its name;
//! - anything else: forwarded to the upstream servers (UDP, TCP when truncated or when the client
//!   asked over TCP) and the answer passed back; SERVFAIL when none answers within 2 s.

mod answer;
mod forward;
mod resolv;
mod server;
mod zone;

pub use resolv::{host_upstreams, parse_resolv_conf};
pub use server::{Options, Server};
pub use zone::{Zone, SHORT_ID_LEN};

use std::net::SocketAddr;

/// What can go wrong starting a resolver (serving itself never fails: bad packets are dropped
/// or answered with an error code).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The UDP or TCP socket could not be bound (address not on this host, port taken, no
    /// privilege for port 53, ...).
    #[error("binding the DNS server to {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
    /// The runtime or the thread could not be created.
    #[error("starting the DNS server: {0}")]
    Start(#[source] std::io::Error),
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;
