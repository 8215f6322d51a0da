//! Networks for the engine: the default `bridge` network and user bridge networks, kept in
//! the state db; IPAM pools rebuilt from the containers that hold addresses; attach and
//! detach through berth-net.

use crate::container::{ContainerRecord, NetAttach, Published};
use crate::db::{Db, Table};
use crate::engine::EngineConfig;
use crate::error::{Error, Result};
use berth_net::ipam::{default_pools, pick_subnet, Pool};
use berth_net::{Endpoint, Ipv4Net, Network, PortMapping, Protocol, Request};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

/// A network as the engine keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    pub net: Network,
    pub ip_range: Option<Ipv4Net>,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

pub struct Networks {
    table: String,
    pools: Mutex<HashMap<String, Pool>>,
    records: Mutex<BTreeMap<String, NetworkRecord>>,
}

fn host_routes() -> Vec<Ipv4Net> {
    let Ok(mut rt) = berth_net::link::Route::open() else {
        return Vec::new();
    };
    rt.routes_v4()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| match r.addr {
            IpAddr::V4(a) if r.prefix > 0 => Ipv4Net::new(a, r.prefix).ok(),
            _ => None,
        })
        .collect()
}

impl Networks {
    /// Load the networks, making the default bridge on first start (a pool that overlaps no
    /// host route, or `--bip`), and set up berth's firewall table.
    pub fn open(cfg: &EngineConfig, db: &Db) -> Result<Networks> {
        let mut records: BTreeMap<String, NetworkRecord> = db
            .list::<NetworkRecord>(Table::Networks)?
            .into_iter()
            .map(|(_, r)| (r.name.clone(), r))
            .collect();
        let bip = cfg.bip.as_deref().map(str::parse::<Ipv4Net>).transpose()?;
        let stale = records.get("bridge").is_some_and(|r| {
            bip.is_some_and(|b| b.addr != r.net.gateway || b.prefix != r.net.subnet.prefix)
        });
        if !records.contains_key("bridge") || stale {
            let (subnet, gateway) = match bip {
                Some(b) => (Ipv4Net::new(b.network(), b.prefix)?, b.addr),
                None => {
                    let pools = pools_from(cfg)?;
                    let taken: Vec<Ipv4Net> = host_routes()
                        .into_iter()
                        .chain(records.values().map(|r| r.net.subnet))
                        .collect();
                    let s = pick_subnet(&pools, &taken)?;
                    (s, Ipv4Addr::from(u32::from(s.network()) + 1))
                }
            };
            let rec = NetworkRecord {
                id: crate::container::new_id(),
                name: "bridge".into(),
                created: crate::now(),
                net: Network {
                    name: "bridge".into(),
                    bridge: cfg.bridge_name.clone(),
                    subnet,
                    gateway,
                    internal: false,
                    mtu: 1500,
                },
                ip_range: None,
                labels: BTreeMap::new(),
                options: BTreeMap::new(),
            };
            db.put(Table::Networks, &rec.id, &rec)?;
            records.insert("bridge".into(), rec);
        }
        let mut pools = HashMap::new();
        for r in records.values() {
            pools.insert(
                r.name.clone(),
                Pool::new(r.net.subnet, Some(r.net.gateway), r.ip_range)?,
            );
        }
        berth_net::apply_firewall(&cfg.nft_table)?;
        Ok(Networks {
            table: cfg.nft_table.clone(),
            pools: Mutex::new(pools),
            records: Mutex::new(records),
        })
    }

    pub fn get(&self, name: &str) -> Result<NetworkRecord> {
        let recs = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = recs.get(name) {
            return Ok(r.clone());
        }
        recs.values()
            .find(|r| r.id == name || (name.len() >= 3 && r.id.starts_with(name)))
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("network {name} not found")))
    }

    pub fn list(&self) -> Vec<NetworkRecord> {
        let recs = self.records.lock().unwrap_or_else(|p| p.into_inner());
        recs.values().cloned().collect()
    }

    /// Mark an address as held (at daemon start, for running containers).
    pub fn hold(&self, network: &str, ip: Ipv4Addr) {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pools.get_mut(network) {
            let _ = p.reserve(ip);
        }
    }

    /// Choose the container's address (its `--ip` or the next free one).
    pub fn attach(&self, rec: &ContainerRecord) -> Result<NetAttach> {
        let mode = rec.network_mode().to_string();
        let nr = self.get(&mode)?;
        let settings = rec.networking.endpoints_config.as_ref().and_then(|m| {
            m.get(&mode)
                .or_else(|| m.get(&nr.name))
                .or_else(|| m.values().next())
        });
        let want_ip = settings
            .and_then(|s| s.ipam_config.as_ref())
            .map(|i| i.ipv4_address.clone())
            .filter(|s| !s.is_empty());
        let ip = {
            let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
            let pool = pools
                .get_mut(&nr.name)
                .ok_or_else(|| Error::NotFound(format!("network {} has no pool", nr.name)))?;
            match &want_ip {
                Some(s) => {
                    if nr.name == "bridge" {
                        return Err(Error::Invalid(
                            "user specified IP address is supported on user defined networks only"
                                .into(),
                        ));
                    }
                    let ip: Ipv4Addr = s
                        .parse()
                        .map_err(|_| Error::Invalid(format!("invalid IPv4 address: {s}")))?;
                    pool.reserve(ip)?;
                    ip
                }
                None => pool.allocate()?,
            }
        };
        let mac = settings
            .map(|s| s.mac_address.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| berth_net::config::format_mac(&berth_net::mac_for(ip)));
        Ok(NetAttach {
            network: nr.name.clone(),
            network_id: nr.id.clone(),
            ip: ip.to_string(),
            prefix: nr.net.subnet.prefix,
            gateway: nr.net.gateway.to_string(),
            mac,
            aliases: settings.and_then(|s| s.aliases.clone()).unwrap_or_default(),
        })
    }

    /// The berth-net request for an attachment and its published ports.
    pub fn request_for(&self, id: &str, att: &NetAttach, ports: &[Published]) -> Result<Request> {
        let nr = self.get(&att.network)?;
        let ip: Ipv4Addr = att
            .ip
            .parse()
            .map_err(|_| Error::Invalid(format!("invalid IPv4 address: {}", att.ip)))?;
        let mappings = ports
            .iter()
            .map(|p| {
                Ok(PortMapping {
                    host_ip: match p.host_ip.as_str() {
                        "" | "0.0.0.0" => None,
                        s => Some(
                            s.parse()
                                .map_err(|_| Error::Invalid(format!("invalid host IP {s}")))?,
                        ),
                    },
                    host_port: p.host_port,
                    container_port: p.container_port,
                    protocol: if p.proto == "udp" {
                        Protocol::Udp
                    } else {
                        Protocol::Tcp
                    },
                    range: 1,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Request {
            network: nr.net,
            endpoint: Endpoint {
                container_id: id.to_string(),
                interface: "eth0".into(),
                ip,
                mac: Some(att.mac.clone()),
                ports: mappings,
            },
        })
    }

    /// Plumb the container's netns (a created container's init: /proc/PID/ns/net).
    pub fn setup(&self, req: &Request, pid: i32) -> Result<()> {
        let ns = berth_net::netns::open(std::path::Path::new(&format!("/proc/{pid}/ns/net")))?;
        use std::os::fd::AsFd;
        berth_net::setup(req, ns.as_fd(), &self.table)?;
        Ok(())
    }

    /// Take the ports away and give the address back. The veth goes with the netns.
    pub fn detach(&self, id: &str, att: &NetAttach, ports: &[Published]) {
        if let Ok(req) = self.request_for(id, att, ports) {
            let _ = berth_net::teardown(&req, &self.table, false);
        }
        if let Ok(ip) = att.ip.parse() {
            let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = pools.get_mut(&att.network) {
                p.release(ip);
            }
        }
    }

    /// Bring `lo` up in a fresh netns (`--network none`).
    pub fn loopback_up(&self, pid: i32) -> Result<()> {
        let ns = berth_net::netns::open(std::path::Path::new(&format!("/proc/{pid}/ns/net")))?;
        use std::os::fd::AsFd;
        berth_net::netns::run_in(ns.as_fd(), || {
            let mut rt = berth_net::link::Route::open()?;
            rt.set_up(1)
        })?;
        Ok(())
    }
}

/// The pools new networks are carved from: `--default-address-pool` or docker's.
fn pools_from(cfg: &EngineConfig) -> Result<Vec<(Ipv4Net, u8)>> {
    if cfg.default_pools.is_empty() {
        return Ok(default_pools());
    }
    cfg.default_pools
        .iter()
        .map(|(base, size)| Ok((base.parse::<Ipv4Net>()?, *size)))
        .collect()
}
