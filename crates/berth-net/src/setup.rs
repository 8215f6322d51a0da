//! Attaching a container's netns to a bridge network and detaching it: bridge on demand,
//! one veth request, addresses and routes inside, and nftables elements in one batch.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, BorrowedFd};

use crate::config::{format_mac, parse_mac, Attachment, Ipv4Net, Ipv6Net, Network, Request};
use crate::error::{Error, Result};
use crate::firewall::commit_elements;
use crate::fnv;
use crate::link::{IpNet, Route, VethSpec};
use crate::netns;
use crate::nft::{ruleset, Element};

/// Where berth keeps its nftables rules (one table, `inet` family).
pub const DEFAULT_TABLE: &str = "berth";

/// The host end of a container's veth on a network: `vb` + 11 hex digits.
pub fn host_veth_name(container_id: &str, network: &str) -> String {
    format!("vb{:011x}", fnv(&[container_id, network]) & 0xfff_ffff_ffff)
}

/// A locally administered MAC derived from the IPv4 address, as docker does (02:42:…).
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

fn bridge_mac(bridge: &str) -> [u8; 6] {
    let h = fnv(&[bridge]).to_be_bytes();
    [0x02, 0x42, h[0], h[1], h[2], h[3]]
}

fn prefix(n: &Ipv4Net) -> IpNet {
    IpNet {
        addr: IpAddr::V4(n.addr),
        prefix: n.prefix,
    }
}

/// Makes sure the bridge exists with its gateway address; returns its index.
pub fn ensure_bridge(rt: &mut Route, net: &Network) -> Result<u32> {
    if let Some(idx) = rt.link_index(&net.bridge)? {
        return Ok(idx);
    }
    let idx = match rt.create_bridge(&net.bridge, net.mtu, bridge_mac(&net.bridge)) {
        Ok(idx) => idx,
        // Someone else created it between our lookup and our request.
        Err(e) if e.is_errno(libc::EEXIST) => {
            return rt
                .link_index(&net.bridge)?
                .ok_or_else(|| Error::Protocol(format!("bridge {} vanished", net.bridge)));
        }
        Err(e) => return Err(e),
    };
    rt.add_addr(
        idx,
        prefix(&Ipv4Net {
            addr: net.gateway,
            prefix: net.subnet.prefix,
        }),
    )?;
    netns::sysctl("net/ipv4/ip_forward", "1")?;
    // Lets DNAT of 127.0.0.1 traffic route out through the bridge.
    netns::sysctl(&format!("net/ipv4/conf/{}/route_localnet", net.bridge), "1")?;
    if let (Some(subnet), Some(gw)) = (net.subnet6, net.gateway6) {
        netns::sysctl(&format!("net/ipv6/conf/{}/disable_ipv6", net.bridge), "0")?;
        rt.add_addr(idx, prefix6(gw, subnet.prefix))?;
        netns::sysctl("net/ipv6/conf/all/forwarding", "1")?;
    }
    Ok(idx)
}

fn prefix6(addr: Ipv6Addr, prefix: u8) -> IpNet {
    IpNet {
        addr: IpAddr::V6(addr),
        prefix,
    }
}

/// The map elements of a request's published ports.
pub(crate) fn port_elements(req: &Request) -> Vec<(&'static str, Element)> {
    let ep = &req.endpoint;
    let mut out = Vec::new();
    for p in &ep.ports {
        // No host address: every address of both families, as docker's `-p 80:80`.
        let targets: Vec<IpAddr> = match p.host_ip {
            Some(IpAddr::V6(_)) => ep.ip6.map(IpAddr::V6).into_iter().collect(),
            Some(IpAddr::V4(_)) => vec![IpAddr::V4(ep.ip)],
            None => std::iter::once(IpAddr::V4(ep.ip))
                .chain(ep.ip6.map(IpAddr::V6))
                .collect(),
        };
        for ip in targets {
            for i in 0..p.range {
                out.push(ruleset::port_element(
                    p.host_ip,
                    p.protocol.number(),
                    p.host_port + i,
                    ip,
                    p.container_port + i,
                ));
            }
        }
    }
    out
}

/// Attaches the container whose netns is `ns` to the request's network.
pub fn setup(req: &Request, ns: BorrowedFd<'_>, table: &str) -> Result<Attachment> {
    req.validate()?;
    let net = &req.network;
    let ep = &req.endpoint;
    let mac = match &ep.mac {
        Some(m) => parse_mac(m)?,
        None => mac_for(ep.ip),
    };
    let host_veth = host_veth_name(&ep.container_id, &net.name);
    let address = Ipv4Net::new(ep.ip, net.subnet.prefix)?;
    let address6 = match (ep.ip6, net.subnet6) {
        (Some(ip6), Some(s6)) => Some(Ipv6Net::new(ip6, s6.prefix)?),
        _ => None,
    };

    let mut rt = Route::open()?;
    let bridge_idx = ensure_bridge(&mut rt, net)?;
    let spec = VethSpec {
        host_name: &host_veth,
        master: bridge_idx,
        mtu: net.mtu,
        peer_name: &ep.interface,
        peer_netns: ns.as_fd(),
        peer_mac: Some(mac),
    };
    let veth_idx = match rt.create_veth(&spec) {
        // The name is this container's on this network: a link by that name is the one of
        // its previous run, whose netns the kernel has not reaped yet (a fast restart).
        // A container already attached (its interface is there) is refused.
        Err(e) if e.is_errno(libc::EEXIST) => {
            let attached = netns::run_in(ns, || Route::open()?.link_index(&ep.interface))?;
            match rt.link_index(&host_veth)? {
                Some(stale) if attached.is_none() => {
                    rt.delete_link(stale)?;
                    rt.create_veth(&spec)?
                }
                _ => return Err(e),
            }
        }
        r => r?,
    };
    let mut inside = || -> Result<()> {
        rt.set_hairpin(veth_idx)?;
        netns::disable_ipv6(&host_veth)?;
        rt.set_up(veth_idx)?;
        netns::run_in(ns, || {
            let mut rt = Route::open()?;
            rt.set_up(1)?; // lo
            let idx = rt.link_index(&ep.interface)?.ok_or_else(|| {
                Error::Protocol(format!("{} missing in the container", ep.interface))
            })?;
            if address6.is_none() {
                // An IPv4-only network: no IPv6 on its interface (docker 26 does the same).
                netns::disable_ipv6(&ep.interface)?;
            }
            rt.add_addr(idx, prefix(&address))?;
            rt.set_up(idx)?;
            if !net.internal && ep.default_route {
                let default = IpNet {
                    addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    prefix: 0,
                };
                rt.add_route(default, Some(IpAddr::V4(net.gateway)), idx)?;
            }
            if let (Some(a6), Some(gw6)) = (address6, net.gateway6) {
                rt.add_addr(idx, prefix6(a6.addr, a6.prefix))?;
                if !net.internal && ep.default_route {
                    rt.add_route(
                        prefix6(Ipv6Addr::UNSPECIFIED, 0),
                        Some(IpAddr::V6(gw6)),
                        idx,
                    )?;
                }
            }
            Ok(())
        })?;
        let mut elems = ruleset::network_elements(net);
        elems.extend(port_elements(req));
        commit_elements(table, &elems, true)
    };
    if let Err(e) = inside() {
        // Leave nothing half-made: the veth goes (its peer with it).
        let _ = rt.delete_link(veth_idx);
        return Err(e);
    }
    Ok(Attachment {
        interface: ep.interface.clone(),
        mac: format_mac(&mac),
        address,
        gateway: net.gateway,
        address6,
        gateway6: address6.and(net.gateway6),
        host_veth,
    })
}

/// Detaches a container: its published ports go; with `remove_link` its veth is deleted
/// too (slow: the kernel waits for RCU). Without it, the veth goes with the netns.
pub fn teardown(req: &Request, table: &str, remove_link: bool) -> Result<()> {
    commit_elements(table, &port_elements(req), false)?;
    if remove_link {
        let mut rt = Route::open()?;
        let name = host_veth_name(&req.endpoint.container_id, &req.network.name);
        if let Some(idx) = rt.link_index(&name)? {
            rt.delete_link(idx)?;
        }
    }
    Ok(())
}

/// Makes a network ready before any container joins: its bridge with the gateway address
/// (so a resolver can listen there) and its set elements. Idempotent.
pub fn create_network(net: &Network, table: &str) -> Result<()> {
    let mut rt = Route::open()?;
    ensure_bridge(&mut rt, net)?;
    commit_elements(table, &ruleset::network_elements(net), true)
}

/// Removes a network: its set elements and its bridge.
pub fn remove_network(net: &Network, table: &str) -> Result<()> {
    commit_elements(table, &ruleset::network_elements(net), false)?;
    let mut rt = Route::open()?;
    if let Some(idx) = rt.link_index(&net.bridge)? {
        rt.delete_link(idx)?;
    }
    Ok(())
}

/// Re-adds the elements of these networks and attachments (after a firewall repair).
pub fn restore_elements(networks: &[Network], attached: &[Request], table: &str) -> Result<()> {
    let mut elems = Vec::new();
    for n in networks {
        elems.extend(ruleset::network_elements(n));
    }
    for r in attached {
        elems.extend(port_elements(r));
    }
    commit_elements(table, &elems, true)
}
