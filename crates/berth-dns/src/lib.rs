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
//! - `AAAA` for a dual-stack container: its IPv6 address; any other type (or AAAA without
//!   IPv6) for such a name: NOERROR with no records;
//! - `PTR` for a container's address (`d.c.b.a.in-addr.arpa`): its name;
//! - anything else: forwarded to the upstream servers (UDP, TCP when truncated or when the client
//!   asked over TCP) and the answer passed back; SERVFAIL when none answers within 2 s.
//!
//! A container attached to several networks sees the names of all of them (as with docker): the
//! server recognises it by the query's source address.
//!
//! # Use by the engine
//!
//! - Keep one [`Zone`] for the daemon. On connect (and on start, for each network of the
//!   container) call [`Zone::set`] with the container's name first, then its aliases on that
//!   network; on disconnect, [`Zone::remove`]; on stop or removal, [`Zone::remove_container`]. After
//!   a daemon restart, set the running containers again.
//! - For each user bridge network (not the default `bridge`, which docker serves no names on),
//!   once its bridge has the gateway address: `Server::start((gateway, 53).into(), name,
//!   zone.clone(), host_upstreams())`, kept alongside the network; drop it (and call
//!   [`Zone::remove_network`]) when the network goes. Starting needs root (port 53) and the
//!   address present on the host; a wildcard `:53` listener of another resolver on the host makes
//!   it fail with [`Error::Bind`].
//! - Give the containers `nameserver <gateway>` (keeping the host's `search` and `options`), and
//!   let the firewall accept UDP and TCP port 53 from the bridge to the gateway.
//! - Each server is one thread; `start` returns once both sockets are bound; dropping the server
//!   stops and joins it (from async code, drop it in `spawn_blocking`).

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
