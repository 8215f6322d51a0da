//! Network operations across containers and networks: which networks a container joins at
//! start, `network create/rm/prune`, and `network connect/disconnect` of running and stopped
//! containers.

use crate::container::{ContainerRecord, NetAttach, Status};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::EndpointSettings;
use crate::network::{predefined, NetCreate, NetworkRecord};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The networks a bridged container joins, in order: its network mode first, then the other
/// networks of its endpoint settings (`docker network connect` before start, API ≥ 1.44).
pub(crate) fn wanted(rec: &ContainerRecord) -> Vec<(String, Option<EndpointSettings>)> {
    let mode = rec.network_mode().to_string();
    let eps = rec.networking.endpoints_config.clone().unwrap_or_default();
    // The docker CLI keys the mode's settings "default" when no network was named.
    let own = eps.get(&mode).or_else(|| eps.get("default")).cloned();
    let mut out = vec![(mode.clone(), own)];
    for (name, s) in eps {
        if name != mode && name != "default" && !predefined(&name) {
            out.push((name, Some(s)));
        }
    }
    // The mode's own settings may be keyed by the network's id instead of its name.
    if out[0].1.is_none() && out.len() == 1 {
        if let Some(s) = rec
            .networking
            .endpoints_config
            .as_ref()
            .and_then(|m| m.values().next())
        {
            out[0].1 = Some(s.clone());
        }
    }
    out
}

impl Engine {
    /// Allocate an address on every network the container joins; all or nothing.
    pub(crate) fn attach_all(&self, rec: &ContainerRecord) -> Result<Vec<NetAttach>> {
        let mut done: Vec<NetAttach> = Vec::new();
        for (i, (name, settings)) in wanted(rec).into_iter().enumerate() {
            let got = self
                .net
                .get(&name)
                .and_then(|nr| self.net.attach(&nr, settings.as_ref(), format!("eth{i}")));
            match got {
                Ok(a) => done.push(a),
                Err(e) => {
                    for a in &done {
                        self.net.detach(&rec.id, a, &[], false);
                    }
                    return Err(e);
                }
            }
        }
        Ok(done)
    }

    /// The networks (user, default bridge).
    pub fn networks(&self) -> Vec<NetworkRecord> {
        self.net.list()
    }

    pub fn network(&self, name: &str) -> Result<NetworkRecord> {
        self.net.get(name)
    }

    /// `POST /networks/create`.
    pub fn network_create(&self, req: &NetCreate) -> Result<NetworkRecord> {
        let rec = self.net.create(&self.db, req)?;
        self.dns.start(&rec);
        self.events.publish(
            "network",
            "create",
            &rec.id,
            &[("name", &rec.name), ("type", "bridge")],
        );
        Ok(rec)
    }

    /// Containers with an endpoint on the network now (running ones).
    fn endpoints_on(&self, nr: &NetworkRecord) -> Vec<ContainerRecord> {
        self.list()
            .into_iter()
            .filter(|c| c.nets.iter().any(|a| a.network_id == nr.id))
            .collect()
    }

    /// `DELETE /networks/{id}`: refused while a container is attached.
    pub fn network_remove(&self, name: &str) -> Result<()> {
        let nr = self.net.get(name)?;
        if !self.endpoints_on(&nr).is_empty() {
            return Err(Error::Conflict(format!(
                "error while removing network: network {} id {} has active endpoints",
                nr.name, nr.id
            )));
        }
        self.net.remove(&self.db, &nr.id)?;
        self.dns.stop(&nr.name);
        self.events.publish(
            "network",
            "destroy",
            &nr.id,
            &[("name", &nr.name), ("type", "bridge")],
        );
        Ok(())
    }

    /// `POST /networks/prune`: every user network without endpoints; the removed names.
    pub fn network_prune(&self) -> Result<Vec<String>> {
        let mut gone = Vec::new();
        for nr in self.net.list() {
            if predefined(&nr.name) || !self.endpoints_on(&nr).is_empty() {
                continue;
            }
            self.network_remove(&nr.id)?;
            gone.push(nr.name);
        }
        Ok(gone)
    }

    /// `POST /networks/{id}/connect`: a running container gets a new interface now; a
    /// stopped one joins at its next start.
    pub fn network_connect(
        self: &Arc<Self>,
        network: &str,
        container: &str,
        settings: EndpointSettings,
    ) -> Result<()> {
        let nr = self.net.get(network)?;
        let rec = self.find(container)?;
        let mode = rec.network_mode().to_string();
        if mode == "host" || mode == "none" || mode.starts_with("container:") {
            return Err(Error::Invalid(format!(
                "container sharing network namespace with another container or host cannot be connected to any other network (network mode {mode})"
            )));
        }
        if predefined(&nr.name) && nr.name != "bridge" {
            return Err(Error::Invalid(format!(
                "container cannot be connected to the {} network",
                nr.name
            )));
        }
        let joined = rec.nets.iter().any(|a| a.network_id == nr.id)
            || (!rec.state.status.is_live()
                && wanted(&rec)
                    .iter()
                    .any(|(n, _)| *n == nr.name || *n == nr.id));
        if joined {
            return Err(Error::Conflict(format!(
                "endpoint with name {} already exists in network {}",
                rec.name, nr.name
            )));
        }
        if rec.state.status != Status::Running {
            self.update(&rec.id, |r| {
                r.networking
                    .endpoints_config
                    .get_or_insert_with(Default::default)
                    .insert(nr.name.clone(), settings.clone());
            })?;
            return self.emit_net("connect", &nr, &rec.id);
        }
        let used: Vec<&str> = rec.nets.iter().map(|a| a.interface.as_str()).collect();
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !used.contains(&n.as_str()))
            .unwrap_or_default();
        let att = self.net.attach(&nr, Some(&settings), ifname)?;
        let plumbed = self
            .net
            .request_for(&rec.id, &att, &[])
            .and_then(|req| self.net.setup(&req, rec.state.pid));
        if let Err(e) = plumbed {
            self.net.detach(&rec.id, &att, &[], true);
            return Err(e);
        }
        self.dns.add(&rec.id, &rec.name, &att);
        self.update(&rec.id, |r| {
            r.nets.push(att.clone());
            r.networking
                .endpoints_config
                .get_or_insert_with(Default::default)
                .insert(nr.name.clone(), settings.clone());
        })?;
        self.refresh_etc(&rec.id);
        self.emit_net("connect", &nr, &rec.id)
    }

    /// `POST /networks/{id}/disconnect`: the interface goes now (a running container) and the
    /// container no longer joins the network at start.
    pub fn network_disconnect(&self, network: &str, container: &str, _force: bool) -> Result<()> {
        let nr = self.net.get(network)?;
        let rec = self.find(container)?;
        let att = rec.nets.iter().find(|a| a.network_id == nr.id).cloned();
        let configured = wanted(&rec)
            .iter()
            .any(|(n, _)| *n == nr.name || *n == nr.id);
        if att.is_none() && !configured {
            return Err(Error::Invalid(format!(
                "container {} is not connected to network {}",
                rec.id, nr.name
            )));
        }
        let primary = rec.nets.first().is_some_and(|a| a.network_id == nr.id);
        self.dns.remove(&rec.id, &nr.name);
        if let Some((a, ports)) = rec.attachments().find(|(a, _)| a.network_id == nr.id) {
            self.net.detach(&rec.id, a, ports, true);
        }
        let mode = rec.network_mode().to_string();
        self.update(&rec.id, |r| {
            r.nets.retain(|a| a.network_id != nr.id);
            if primary {
                r.ports.clear();
            }
            if let Some(m) = r.networking.endpoints_config.as_mut() {
                m.remove(&nr.name);
                m.remove(&nr.id);
            }
            // Off its own network, the container's next network becomes its mode; with none
            // left, it keeps only its loopback.
            if mode == nr.name || mode == nr.id {
                let next = r
                    .networking
                    .endpoints_config
                    .as_ref()
                    .and_then(|m| m.keys().find(|k| !predefined(k)).cloned());
                r.host_config.network_mode = next.unwrap_or_else(|| "none".into());
            }
        })?;
        if att.is_some() {
            self.refresh_etc(&rec.id);
        }
        self.emit_net("disconnect", &nr, &rec.id)
    }

    /// The resolver a container asks: that of its first network that has one.
    pub(crate) fn resolver_for(&self, rec: &ContainerRecord) -> Option<std::net::Ipv4Addr> {
        rec.nets
            .iter()
            .find_map(|a| self.dns.server_for(&a.network))
    }

    /// Rewrite a running container's /etc files in place (bind mounts keep their inode)
    /// after its networks changed, so its resolver follows them.
    fn refresh_etc(&self, id: &str) {
        let Ok(rec) = self.find(id) else {
            return;
        };
        if rec.network_mode().starts_with("container:") {
            return;
        }
        let dir = self.container_dir(id);
        let _ = crate::etcfiles::write(&dir, &rec, rec.nets.first(), self.resolver_for(&rec));
    }

    /// The networks and live attachments whose elements berth's table must hold.
    pub(crate) fn firewall_state(&self) -> (Vec<berth_net::Network>, Vec<berth_net::Request>) {
        let networks = self.net.list().into_iter().map(|n| n.net).collect();
        let mut reqs = Vec::new();
        for rec in self.list().into_iter().filter(|r| r.state.status.is_live()) {
            for (att, ports) in rec.attachments() {
                if let Ok(r) = self.net.request_for(&rec.id, att, ports) {
                    reqs.push(r);
                }
            }
        }
        (networks, reqs)
    }

    /// Watch the ruleset from a thread of its own: when berth's table loses a rule or a set
    /// (someone's firewall reload), it is put back with every network's and container's
    /// elements at once. The thread ends with the engine.
    pub(crate) fn watch_firewall(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let stop = Arc::clone(&self.fw_stop);
        let table = self.cfg.nft_table.clone();
        let spawned = std::thread::Builder::new()
            .name("berth-firewall".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let restore = || {
                        let Some(e) = weak.upgrade() else {
                            return Ok(());
                        };
                        let (nets, reqs) = e.firewall_state();
                        berth_net::restore_elements(&nets, &reqs, &table)
                    };
                    if let Err(e) = berth_net::watch_firewall(&table, &stop, restore) {
                        eprintln!("berth: firewall watch: {e}");
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("berth: no firewall watch: {e}");
        }
    }

    fn emit_net(&self, action: &str, nr: &NetworkRecord, container: &str) -> Result<()> {
        self.events.publish(
            "network",
            action,
            &nr.id,
            &[
                ("container", container),
                ("name", &nr.name),
                ("type", "bridge"),
            ],
        );
        Ok(())
    }
}
