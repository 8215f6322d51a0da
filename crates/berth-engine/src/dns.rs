//! Names on user networks: one berth-dns resolver per user network, listening on the
//! network's gateway (port 53), answering its containers' names, aliases and short ids and
//! forwarding the rest to the daemon's upstreams (`--dns`, else the host's resolv.conf).
//! The default `bridge` network has no names, as in docker.

use crate::container::NetAttach;
use crate::network::{predefined, NetworkRecord};
use berth_dns::{Server, Zone};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;

pub(crate) struct Dns {
    zone: Zone,
    upstreams: Vec<SocketAddr>,
    servers: Mutex<HashMap<String, Server>>,
}

/// Whether containers on this network get names (user networks only).
pub(crate) fn named(network: &str) -> bool {
    !predefined(network)
}

impl Dns {
    /// `upstreams`: the daemon's `--dns` servers; empty means the host's resolv.conf.
    pub(crate) fn new(upstreams: &[String]) -> Dns {
        let mut ups: Vec<SocketAddr> = upstreams
            .iter()
            .filter_map(|s| {
                s.parse::<SocketAddr>()
                    .ok()
                    .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
            })
            .collect();
        if ups.is_empty() {
            ups = berth_dns::host_upstreams();
        }
        Dns {
            zone: Zone::new(),
            upstreams: ups,
            servers: Mutex::new(HashMap::new()),
        }
    }

    /// Start the network's resolver on its gateway; a failure is logged, not fatal
    /// (containers then get the upstream servers in their resolv.conf).
    pub(crate) fn start(&self, nr: &NetworkRecord) {
        if !named(&nr.name) {
            return;
        }
        let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        if servers.contains_key(&nr.name) {
            return;
        }
        let bind = SocketAddr::new(IpAddr::V4(nr.net.gateway), 53);
        match Server::start(bind, &nr.name, self.zone.clone(), self.upstreams.clone()) {
            Ok(s) => {
                servers.insert(nr.name.clone(), s);
            }
            Err(e) => eprintln!("berth: no DNS for network {}: {e}", nr.name),
        }
    }

    /// Stop the network's resolver and forget its names.
    pub(crate) fn stop(&self, network: &str) {
        let s = self
            .servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(network);
        drop(s);
        self.zone.remove_network(network);
    }

    /// The resolver's address for a container on `network`, if one is serving.
    pub(crate) fn server_for(&self, network: &str) -> Option<Ipv4Addr> {
        let servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        match servers.get(network)?.local_addr().ip() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        }
    }

    /// Publish a container's names on one of its networks.
    pub(crate) fn add(&self, id: &str, name: &str, att: &NetAttach) {
        if !named(&att.network) {
            return;
        }
        let Ok(ip) = att.ip.parse::<Ipv4Addr>() else {
            return;
        };
        let mut names = vec![name.to_string()];
        names.extend(att.aliases.iter().cloned());
        self.zone.set(&att.network, id, &names, ip);
        if let Ok(ip6) = att.ip6.parse() {
            self.zone.set_ipv6(&att.network, id, ip6);
        }
    }

    pub(crate) fn remove(&self, id: &str, network: &str) {
        self.zone.remove(network, id);
    }

    /// Forget a container's names everywhere (it stopped).
    pub(crate) fn remove_container(&self, id: &str) {
        self.zone.remove_container(id);
    }
}
