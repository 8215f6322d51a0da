//! Networks for the engine: the default `bridge` network and user bridge networks, kept in
//! the state db; IPAM pools rebuilt from the containers that hold addresses; attach and
//! detach through berth-net.

use crate::container::{NetAttach, Published};
use crate::db::{Db, Table};
use crate::engine::EngineConfig;
use crate::error::{Error, Result};
use crate::model::EndpointSettings;
use berth_net::ipam::{default_pools, pick_subnet, pick_subnet6, Pool, Pool6};
use berth_net::{Endpoint, Ipv4Net, Ipv6Net, Network, PortMapping, Protocol, Request};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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

/// What `docker network create` asks for.
#[derive(Clone, Debug, Default)]
pub struct NetCreate {
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub enable_ipv6: bool,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    /// The IPv6 subnet and gateway of a dual-stack network (`--ipv6`).
    pub subnet6: Option<String>,
    pub gateway6: Option<String>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// docker's option keys for the bridge driver.
pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
pub const OPT_MTU: &str = "com.docker.network.driver.mtu";

/// The networks every engine has and no one can remove.
pub fn predefined(name: &str) -> bool {
    matches!(name, "bridge" | "host" | "none")
}

/// One network's address pools: IPv4, and IPv6 on a dual-stack network.
struct Pools {
    v4: Pool,
    v6: Option<Pool6>,
}

impl Pools {
    fn of(net: &Network, ip_range: Option<Ipv4Net>) -> Result<Pools> {
        let v6 = match net.subnet6 {
            Some(s6) => Some(Pool6::new(s6, net.gateway6)?),
            None => None,
        };
        Ok(Pools {
            v4: Pool::new(net.subnet, Some(net.gateway), ip_range)?,
            v6,
        })
    }
}

pub struct Networks {
    table: String,
    default_pools: Vec<(Ipv4Net, u8)>,
    pools: Mutex<HashMap<String, Pools>>,
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
                    subnet6: None,
                    gateway6: None,
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
            pools.insert(r.name.clone(), Pools::of(&r.net, r.ip_range)?);
        }
        berth_net::apply_firewall(&cfg.nft_table)?;
        for r in records.values().filter(|r| !predefined(&r.name)) {
            berth_net::create_network(&r.net, &cfg.nft_table)?;
        }
        Ok(Networks {
            table: cfg.nft_table.clone(),
            default_pools: pools_from(cfg)?,
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

    /// Make a user bridge network: checks, then its bridge and firewall elements, then the
    /// record (so a failure leaves nothing behind).
    pub fn create(&self, db: &Db, req: &NetCreate) -> Result<NetworkRecord> {
        match req.driver.as_str() {
            "" | "bridge" => {}
            d @ ("macvlan" | "ipvlan" | "overlay") => {
                return Err(Error::Invalid(format!(
                    "berth does not support the {d} network driver yet"
                )))
            }
            d => return Err(Error::NotFound(format!("plugin \"{d}\" not found"))),
        }
        let bad_name = req.name.is_empty()
            || req.name.len() > 128
            || !req
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if bad_name {
            return Err(Error::Invalid(format!(
                "invalid network name {:?}: use letters, digits, '_', '.' and '-'",
                req.name
            )));
        }
        let id = crate::container::new_id();
        let mut recs = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if recs.contains_key(&req.name) || predefined(&req.name) {
            return Err(Error::Conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        let bridge = match req.options.get(OPT_BRIDGE_NAME) {
            Some(b) => b.clone(),
            None => format!("br-{}", &id[..12]),
        };
        if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ']) {
            return Err(Error::Invalid(format!(
                "bridge name {bridge:?} must be 1 to 15 bytes without '/' or spaces"
            )));
        }
        if recs.values().any(|r| r.net.bridge == bridge) {
            return Err(Error::Conflict(format!(
                "bridge name {bridge} is already used by another network"
            )));
        }
        // Never adopt an interface berth did not make (it could be the host's uplink).
        if let Ok(Some(_)) =
            berth_net::link::Route::open().and_then(|mut rt| rt.link_index(&bridge))
        {
            return Err(Error::Conflict(format!(
                "bridge name {bridge} is already used by an interface on this host"
            )));
        }
        let mtu = match req.options.get(OPT_MTU) {
            Some(m) => m
                .parse::<u32>()
                .ok()
                .filter(|m| (68..=65535).contains(m))
                .ok_or_else(|| {
                    Error::Invalid(format!("invalid mtu {m:?}: want a number from 68 to 65535"))
                })?,
            None => 1500,
        };
        let parse_net = |what: &str, s: &str| -> Result<Ipv4Net> {
            s.parse::<Ipv4Net>().map_err(|_| {
                Error::Invalid(format!(
                    "invalid {what} {s:?}: want an IPv4 CIDR like 10.1.0.0/24"
                ))
            })
        };
        let subnet = match req.subnet.as_deref() {
            Some(s) => {
                let n = parse_net("subnet", s)?;
                let n = Ipv4Net::new(n.network(), n.prefix)?;
                if let Some(o) = recs.values().find(|r| r.net.subnet.overlaps(&n)) {
                    return Err(Error::Conflict(format!(
                        "invalid pool request: Pool overlaps with other one on this address space ({n} overlaps {} of network {})",
                        o.net.subnet, o.name
                    )));
                }
                n
            }
            None => {
                if req.gateway.is_some() || req.ip_range.is_some() {
                    return Err(Error::Invalid(
                        "a gateway or ip-range needs a --subnet".into(),
                    ));
                }
                let taken: Vec<Ipv4Net> = host_routes()
                    .into_iter()
                    .chain(recs.values().map(|r| r.net.subnet))
                    .collect();
                pick_subnet(&self.default_pools, &taken).map_err(|_| {
                    Error::Conflict(
                        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                    )
                })?
            }
        };
        let gateway = match req.gateway.as_deref() {
            Some(g) => {
                let g: Ipv4Addr = g
                    .parse()
                    .map_err(|_| Error::Invalid(format!("invalid gateway {g:?}")))?;
                if !subnet.is_host_addr(g) {
                    return Err(Error::Invalid(format!(
                        "gateway {g} is not a host address of subnet {subnet}"
                    )));
                }
                g
            }
            None => Ipv4Addr::from(u32::from(subnet.network()) + 1),
        };
        let ip_range = req
            .ip_range
            .as_deref()
            .map(|r| parse_net("ip-range", r))
            .transpose()?;
        let (subnet6, gateway6) = self.v6_of(req, &id, &recs)?;
        let mut options = req.options.clone();
        options.insert(OPT_BRIDGE_NAME.into(), bridge.clone());
        let rec = NetworkRecord {
            id,
            name: req.name.clone(),
            created: crate::now(),
            net: Network {
                name: req.name.clone(),
                bridge,
                subnet,
                gateway,
                internal: req.internal,
                mtu,
                subnet6,
                gateway6,
            },
            ip_range,
            labels: req.labels.clone(),
            options,
        };
        let pool = Pools::of(&rec.net, ip_range).map_err(|e| Error::Invalid(e.to_string()))?;
        // The record first: a crash before the bridge exists is repaired by `open`.
        db.put(Table::Networks, &rec.id, &rec)?;
        if let Err(e) = berth_net::create_network(&rec.net, &self.table) {
            let _ = berth_net::remove_network(&rec.net, &self.table);
            let _ = db.delete(Table::Networks, &rec.id);
            return Err(e.into());
        }
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        pools.insert(rec.name.clone(), pool);
        recs.insert(rec.name.clone(), rec.clone());
        Ok(rec)
    }

    /// The IPv6 subnet and gateway of a new network: none without `--ipv6`; the given
    /// subnet (overlapping no other network's) or else a unique-local /64.
    fn v6_of(
        &self,
        req: &NetCreate,
        id: &str,
        recs: &BTreeMap<String, NetworkRecord>,
    ) -> Result<(Option<Ipv6Net>, Option<Ipv6Addr>)> {
        if !req.enable_ipv6 {
            if req.subnet6.is_some() || req.gateway6.is_some() {
                return Err(Error::Invalid(
                    "an IPv6 subnet or gateway needs --ipv6 (EnableIPv6)".into(),
                ));
            }
            return Ok((None, None));
        }
        let subnet = match req.subnet6.as_deref() {
            Some(s) => {
                let n = s.parse::<Ipv6Net>().map_err(|_| {
                    Error::Invalid(format!(
                        "invalid subnet {s:?}: want an IPv6 CIDR like fd00:1::/64"
                    ))
                })?;
                let n = Ipv6Net::new(n.network(), n.prefix)?;
                if let Some(o) = recs
                    .values()
                    .find(|r| r.net.subnet6.is_some_and(|t| t.overlaps(&n)))
                {
                    return Err(Error::Conflict(format!(
                        "invalid pool request: Pool overlaps with other one on this address space ({n} overlaps a subnet of network {})",
                        o.name
                    )));
                }
                n
            }
            None => {
                if req.gateway6.is_some() {
                    return Err(Error::Invalid(
                        "an IPv6 gateway needs an IPv6 --subnet".into(),
                    ));
                }
                let taken: Vec<Ipv6Net> = recs.values().filter_map(|r| r.net.subnet6).collect();
                pick_subnet6(id, &taken)?
            }
        };
        let gateway = match req.gateway6.as_deref() {
            Some(g) => {
                let g: Ipv6Addr = g
                    .parse()
                    .map_err(|_| Error::Invalid(format!("invalid gateway {g:?}")))?;
                if !subnet.is_host_addr(g) {
                    return Err(Error::Invalid(format!(
                        "gateway {g} is not a host address of subnet {subnet}"
                    )));
                }
                g
            }
            None => Ipv6Addr::from(u128::from(subnet.network()) + 1),
        };
        Ok((Some(subnet), Some(gateway)))
    }

    /// Remove a user network: its bridge and elements first, then the record (a crash in
    /// between leaves a record whose bridge `open` makes again). The caller checked that it
    /// has no endpoints.
    pub fn remove(&self, db: &Db, name: &str) -> Result<NetworkRecord> {
        let rec = self.get(name)?;
        if predefined(&rec.name) {
            return Err(Error::Conflict(format!(
                "{} is a pre-defined network and cannot be removed",
                rec.name
            )));
        }
        berth_net::remove_network(&rec.net, &self.table)?;
        db.delete(Table::Networks, &rec.id)?;
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&rec.name);
        self.pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&rec.name);
        Ok(rec)
    }

    /// Mark an attachment's addresses as held (at daemon start, for running containers).
    pub fn hold(&self, att: &NetAttach) {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pools.get_mut(&att.network) {
            if let Ok(ip) = att.ip.parse() {
                let _ = p.v4.reserve(ip);
            }
            if let (Some(p6), Ok(ip6)) = (p.v6.as_mut(), att.ip6.parse()) {
                let _ = p6.reserve(ip6);
            }
        }
    }

    /// Choose the container's addresses on `nr` (its `--ip`/`--ip6` or the next free ones)
    /// and the rest of its endpoint: MAC, aliases, the interface name inside.
    pub fn attach(
        &self,
        nr: &NetworkRecord,
        settings: Option<&EndpointSettings>,
        interface: String,
    ) -> Result<NetAttach> {
        let ipam = settings.and_then(|s| s.ipam_config.as_ref());
        let want_ip = ipam
            .map(|i| i.ipv4_address.clone())
            .filter(|s| !s.is_empty());
        let want_ip6 = ipam
            .map(|i| i.ipv6_address.clone())
            .filter(|s| !s.is_empty());
        if nr.name == "bridge" && (want_ip.is_some() || want_ip6.is_some()) {
            return Err(Error::Invalid(
                "user specified IP address is supported on user defined networks only".into(),
            ));
        }
        let (ip, ip6) = {
            let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
            let pool = pools
                .get_mut(&nr.name)
                .ok_or_else(|| Error::NotFound(format!("network {} has no pool", nr.name)))?;
            let ip6 = pick_ip6(nr, pool.v6.as_mut(), want_ip6.as_deref())?;
            let ip = pick_ip(nr, &mut pool.v4, want_ip.as_deref());
            match ip {
                Ok(ip) => (ip, ip6),
                Err(e) => {
                    if let (Some(p6), Some(a)) = (pool.v6.as_mut(), ip6) {
                        p6.release(a);
                    }
                    return Err(e);
                }
            }
        };
        let mac = settings
            .map(|s| s.mac_address.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| berth_net::config::format_mac(&berth_net::mac_for(ip)));
        let att = NetAttach {
            network: nr.name.clone(),
            network_id: nr.id.clone(),
            interface,
            ip: ip.to_string(),
            prefix: nr.net.subnet.prefix,
            gateway: nr.net.gateway.to_string(),
            mac,
            aliases: settings.and_then(|s| s.aliases.clone()).unwrap_or_default(),
            ip6: ip6.map(|a| a.to_string()).unwrap_or_default(),
            prefix6: nr.net.subnet6.map_or(0, |s| s.prefix),
            gateway6: match (ip6, nr.net.gateway6) {
                (Some(_), Some(g)) => g.to_string(),
                _ => String::new(),
            },
        };
        if let Err(e) = berth_net::config::parse_mac(&att.mac) {
            self.release(&att);
            return Err(e.into());
        }
        Ok(att)
    }

    /// Give an attachment's addresses back to their pools.
    fn release(&self, att: &NetAttach) {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pools.get_mut(&att.network) {
            if let Ok(ip) = att.ip.parse() {
                p.v4.release(ip);
            }
            if let (Some(p6), Ok(ip6)) = (p.v6.as_mut(), att.ip6.parse()) {
                p6.release(ip6);
            }
        }
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
                        "" => None,
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
                interface: if att.interface.is_empty() {
                    "eth0".into()
                } else {
                    att.interface.clone()
                },
                ip,
                ip6: att.ip6.parse().ok(),
                mac: Some(att.mac.clone()),
                ports: mappings,
                default_route: att.interface.is_empty() || att.interface == "eth0",
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

    /// Take the ports away and give the address back. Without `remove_link` the veth goes
    /// with the netns (a stopped container); with it, it is deleted now (a disconnect).
    pub fn detach(&self, id: &str, att: &NetAttach, ports: &[Published], remove_link: bool) {
        if let Ok(req) = self.request_for(id, att, ports) {
            let _ = berth_net::teardown(&req, &self.table, remove_link);
        }
        self.release(att);
    }
}

/// The IPv4 address of a new endpoint on `nr`: its `--ip`, else the next free one.
fn pick_ip(nr: &NetworkRecord, pool: &mut Pool, want: Option<&str>) -> Result<Ipv4Addr> {
    let Some(w) = want else {
        return Ok(pool.allocate()?);
    };
    let ip: Ipv4Addr = w
        .parse()
        .map_err(|_| Error::Invalid(format!("invalid IPv4 address: {w}")))?;
    if !nr.net.subnet.contains(ip) {
        return Err(Error::Invalid(format!(
            "no configured subnet contains IP address {ip} (network {} has {})",
            nr.name, nr.net.subnet
        )));
    }
    pool.reserve(ip)?;
    Ok(ip)
}

/// The IPv6 address of a new endpoint on `nr`: its `--ip6`, else the next free one; none on
/// a network without IPv6.
fn pick_ip6(
    nr: &NetworkRecord,
    pool: Option<&mut Pool6>,
    want: Option<&str>,
) -> Result<Option<Ipv6Addr>> {
    let Some(pool) = pool else {
        return match want {
            Some(w) => Err(Error::Invalid(format!(
                "network {} is not IPv6-enabled: cannot use IPv6 address {w}",
                nr.name
            ))),
            None => Ok(None),
        };
    };
    match want {
        Some(w) => {
            let ip: Ipv6Addr = w
                .parse()
                .map_err(|_| Error::Invalid(format!("invalid IPv6 address: {w}")))?;
            if !pool.subnet.contains(ip) {
                return Err(Error::Invalid(format!(
                    "no configured subnet contains IP address {ip} (network {} has {})",
                    nr.name, pool.subnet
                )));
            }
            pool.reserve(ip)?;
            Ok(Some(ip))
        }
        None => Ok(Some(pool.allocate()?)),
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
