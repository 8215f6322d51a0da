//! The records the resolvers answer from: per network, each attached container's names and address.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Length of the short container id docker resolves (`docker ps` shows the same).
pub const SHORT_ID_LEN: usize = 12;

/// The names every network's resolver answers, shared by all of them.
///
/// Cloning is cheap (an `Arc`); every clone sees the same data, so the engine keeps one `Zone`,
/// hands clones to each [`Server`](crate::Server), and updates it as containers come and go.
/// Updates take a write lock for a few map operations; lookups take a read lock.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    inner: Arc<RwLock<HashMap<String, Network>>>,
}

/// One network's containers.
#[derive(Debug, Default)]
struct Network {
    /// Container id to its entry; a `BTreeMap` so answers come in a stable order.
    containers: BTreeMap<String, Entry>,
    /// Lower-cased name (name, alias or short id) to the ids of the containers that have it.
    by_name: HashMap<String, BTreeSet<String>>,
}

#[derive(Debug)]
struct Entry {
    /// The names as given (the first is the one PTR answers with).
    names: Vec<String>,
    /// The lower-cased keys this entry is indexed under in `by_name`.
    keys: BTreeSet<String>,
    ip: Ipv4Addr,
    /// The container's IPv6 address on a dual-stack network (AAAA).
    ip6: Option<Ipv6Addr>,
}

impl Zone {
    /// An empty zone.
    pub fn new() -> Zone {
        Zone::default()
    }

    /// Records (or replaces) a container on a network: `names` are its name first, then its aliases
    /// on that network; its 12-character short id is added by itself. A leading `/` (docker's
    /// stored form of a container name) and a trailing `.` are dropped; empty names are skipped.
    pub fn set(&self, network: &str, container_id: &str, names: &[String], ip: Ipv4Addr) {
        let names: Vec<String> = names
            .iter()
            .map(|n| n.trim_start_matches('/').trim_end_matches('.').to_string())
            .filter(|n| !n.is_empty())
            .collect();
        let mut keys: BTreeSet<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        let short: String = container_id.chars().take(SHORT_ID_LEN).collect();
        if !short.is_empty() {
            keys.insert(short.to_ascii_lowercase());
        }
        let mut nets = self.write();
        let net = nets.entry(network.to_string()).or_default();
        net.remove(container_id);
        for key in &keys {
            net.by_name
                .entry(key.clone())
                .or_default()
                .insert(container_id.to_string());
        }
        net.containers.insert(
            container_id.to_string(),
            Entry {
                names,
                keys,
                ip,
                ip6: None,
            },
        );
    }

    /// Gives a container recorded with [`Zone::set`] its IPv6 address on `network` (AAAA).
    pub fn set_ipv6(&self, network: &str, container_id: &str, ip6: Ipv6Addr) {
        let mut nets = self.write();
        if let Some(e) = nets
            .get_mut(network)
            .and_then(|n| n.containers.get_mut(container_id))
        {
            e.ip6 = Some(ip6);
        }
    }

    /// Forgets a container on one network (detach); unknown ones are ignored.
    pub fn remove(&self, network: &str, container_id: &str) {
        let mut nets = self.write();
        if let Some(net) = nets.get_mut(network) {
            net.remove(container_id);
            if net.containers.is_empty() {
                nets.remove(network);
            }
        }
    }

    /// Forgets a container on every network (container removed).
    pub fn remove_container(&self, container_id: &str) {
        let mut nets = self.write();
        for net in nets.values_mut() {
            net.remove(container_id);
        }
        nets.retain(|_, net| !net.containers.is_empty());
    }

    /// Forgets a whole network.
    pub fn remove_network(&self, network: &str) {
        self.write().remove(network);
    }

    /// The addresses `name` resolves to on `network`, in container-id order; empty when unknown.
    ///
    /// `name` is matched case-insensitively, with or without a trailing dot, and may carry the
    /// network's name as a suffix (`web.mynet`).
    pub fn lookup(&self, network: &str, name: &str) -> Vec<Ipv4Addr> {
        self.lookup_from(network, None, name)
    }

    /// Like [`Zone::lookup`], as seen by the client at address `client` on `network`: if that
    /// client is a container attached to other networks too, their names are visible as well
    /// (`network`'s first, then the others by name; the first network that has it answers), as
    /// with docker.
    pub fn lookup_from(
        &self,
        network: &str,
        client: Option<Ipv4Addr>,
        name: &str,
    ) -> Vec<Ipv4Addr> {
        self.find(network, client, name, |e| Some(e.ip))
    }

    /// The IPv6 addresses `name` resolves to (AAAA), as [`Zone::lookup_from`] finds them.
    pub fn lookup6_from(
        &self,
        network: &str,
        client: Option<Ipv4Addr>,
        name: &str,
    ) -> Vec<Ipv6Addr> {
        self.find(network, client, name, |e| e.ip6)
    }

    /// Whether `name` is one of ours at all (any record type).
    pub fn knows(&self, network: &str, client: Option<Ipv4Addr>, name: &str) -> bool {
        !self.find(network, client, name, |_| Some(())).is_empty()
    }

    fn find<T>(
        &self,
        network: &str,
        client: Option<Ipv4Addr>,
        name: &str,
        pick: impl Fn(&Entry) -> Option<T>,
    ) -> Vec<T> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let nets = self.read();
        for (net_name, net) in visible(&nets, network, client) {
            let ids = net.by_name.get(&name).or_else(|| {
                let suffix = format!(".{}", net_name.to_ascii_lowercase());
                name.strip_suffix(&suffix)
                    .and_then(|base| net.by_name.get(base))
            });
            let found: Vec<T> = ids
                .into_iter()
                .flatten()
                .filter_map(|id| net.containers.get(id).and_then(&pick))
                .collect();
            if !found.is_empty() {
                return found;
            }
        }
        Vec::new()
    }

    /// The name of the container with address `ip` on `network` (its first name, else its id).
    pub fn reverse(&self, network: &str, ip: Ipv4Addr) -> Option<String> {
        self.reverse_from(network, None, ip)
    }

    /// Like [`Zone::reverse`], over the networks the client at `client` sees (see
    /// [`Zone::lookup_from`]).
    pub fn reverse_from(
        &self,
        network: &str,
        client: Option<Ipv4Addr>,
        ip: Ipv4Addr,
    ) -> Option<String> {
        let nets = self.read();
        visible(&nets, network, client)
            .into_iter()
            .find_map(|(_, net)| {
                net.containers
                    .iter()
                    .find(|(_, e)| e.ip == ip)
                    .map(|(id, e)| e.names.first().cloned().unwrap_or_else(|| id.clone()))
            })
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Network>> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that matters
        // more than stopping DNS altogether would, so a poisoned lock is used as it is.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Network>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The networks a client at `client` on `network` sees: `network`, then (if the client is a
/// container there) the other networks that container is attached to, by name.
fn visible<'a>(
    nets: &'a HashMap<String, Network>,
    network: &str,
    client: Option<Ipv4Addr>,
) -> Vec<(&'a str, &'a Network)> {
    let Some((own_name, own)) = nets.get_key_value(network) else {
        return Vec::new();
    };
    let mut seen = vec![(own_name.as_str(), own)];
    let container = client.and_then(|ip| own.containers.iter().find(|(_, e)| e.ip == ip));
    if let Some((id, _)) = container {
        let mut others: Vec<(&str, &Network)> = nets
            .iter()
            .filter(|(name, net)| name.as_str() != network && net.containers.contains_key(id))
            .map(|(name, net)| (name.as_str(), net))
            .collect();
        others.sort_by_key(|(name, _)| *name);
        seen.extend(others);
    }
    seen
}

impl Network {
    fn remove(&mut self, container_id: &str) {
        let Some(old) = self.containers.remove(container_id) else {
            return;
        };
        for key in &old.keys {
            if let Some(ids) = self.by_name.get_mut(key) {
                ids.remove(container_id);
                if ids.is_empty() {
                    self.by_name.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    const ID1: &str = "0123456789abcdef0123";
    const ID2: &str = "fedcba9876543210fedc";

    #[test]
    fn names_aliases_short_id_and_suffix() {
        let z = Zone::new();
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        z.set("net1", ID1, &names(&["/Web", "db-alias"]), ip);
        for q in [
            "web",
            "WEB.",
            "db-alias",
            "0123456789AB",
            "web.net1",
            "web.NET1.",
        ] {
            assert_eq!(z.lookup("net1", q), vec![ip], "{q}");
        }
        assert!(z.lookup("net1", "0123456789abc").is_empty());
        assert!(z.lookup("net2", "web").is_empty());
        assert_eq!(z.reverse("net1", ip).as_deref(), Some("Web"));
    }

    #[test]
    fn a_client_on_two_networks_sees_both() {
        let z = Zone::new();
        let (me_a, me_b) = (Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(10, 1, 0, 5));
        let (peer, other) = (Ipv4Addr::new(10, 1, 0, 9), Ipv4Addr::new(10, 0, 0, 6));
        z.set("a", ID1, &names(&["me"]), me_a);
        z.set("b", ID1, &names(&["me"]), me_b);
        z.set("b", ID2, &names(&["peer"]), peer);
        z.set("a", "cccccccccccc", &names(&["other"]), other);
        assert_eq!(z.lookup_from("a", Some(me_a), "peer"), vec![peer]);
        assert_eq!(z.lookup_from("a", Some(me_a), "peer.b"), vec![peer]);
        // Own network first: `me` is me_a here.
        assert_eq!(z.lookup_from("a", Some(me_a), "me"), vec![me_a]);
        assert_eq!(
            z.reverse_from("a", Some(me_a), peer).as_deref(),
            Some("peer")
        );
        // A client only on `a`, or unknown, sees `a` alone.
        assert!(z.lookup_from("a", Some(other), "peer").is_empty());
        assert!(z.lookup_from("a", None, "peer").is_empty());
        assert!(z.reverse_from("a", Some(other), peer).is_none());
    }

    #[test]
    fn shared_alias_and_replacement_and_removal() {
        let z = Zone::new();
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3));
        z.set("n", ID1, &names(&["one", "svc"]), a);
        z.set("n", ID2, &names(&["two", "svc"]), b);
        assert_eq!(z.lookup("n", "svc"), vec![a, b]);
        z.set("n", ID1, &names(&["one"]), a);
        assert_eq!(z.lookup("n", "svc"), vec![b]);
        z.remove("n", ID2);
        assert!(z.lookup("n", "svc").is_empty());
        assert!(z.lookup("n", "two").is_empty());
        z.remove_container(ID1);
        assert!(z.lookup("n", "one").is_empty());
        z.set("n", ID1, &names(&["one"]), a);
        z.remove_network("n");
        assert!(z.lookup("n", "one").is_empty());
        assert!(z.read().is_empty());
    }

    #[test]
    fn aaaa_records_for_dual_stack_containers() {
        let z = Zone::new();
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        let ip6: Ipv6Addr = "fd00::2".parse().unwrap();
        z.set("n", ID1, &names(&["web"]), ip);
        assert!(z.lookup6_from("n", None, "web").is_empty());
        assert!(z.knows("n", None, "web"));
        z.set_ipv6("n", ID1, ip6);
        assert_eq!(z.lookup6_from("n", None, "web"), vec![ip6]);
        assert_eq!(z.lookup("n", "web"), vec![ip]);
        assert!(!z.knows("n", None, "nope"));
    }
}
