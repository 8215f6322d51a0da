//! rtnetlink operations berth needs: bridges, veth pairs created with the peer already in
//! the container's netns, bridge-port hairpin, addresses, routes, and a route dump.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::{Error, Result};
use crate::netlink::{
    attrs, Message, Socket, NETLINK_ROUTE, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE,
};

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_PROTINFO: u16 = 12;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFLA_BRPORT_MODE: u16 = 4;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;

const IFF_UP: u32 = 1;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;

/// An IPv4 or IPv6 network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

fn ifinfomsg(family: u8, index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = family;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

fn family(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    }
}

pub(crate) fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// An rtnetlink socket in the netns of the thread that opened it.
pub struct Route {
    sock: Socket,
}

/// What a new veth pair looks like.
pub struct VethSpec<'a> {
    pub host_name: &'a str,
    pub master: u32,
    pub mtu: u32,
    pub peer_name: &'a str,
    pub peer_netns: BorrowedFd<'a>,
    pub peer_mac: Option<[u8; 6]>,
}

impl Route {
    pub fn open() -> Result<Self> {
        Ok(Route {
            sock: Socket::open(NETLINK_ROUTE)?,
        })
    }

    /// The index of link `name`, or None when there is no such link.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        let mut m = Message::new(RTM_GETLINK, 0);
        m.push(&ifinfomsg(0, 0, 0, 0)).attr_str(IFLA_IFNAME, name);
        match self.sock.query(&mut m, &format!("looking up link {name}")) {
            Ok(replies) => Ok(replies.iter().find_map(|r| {
                let idx = r.payload.get(4..8)?;
                Some(i32::from_ne_bytes([idx[0], idx[1], idx[2], idx[3]]) as u32)
            })),
            Err(e) if e.is_errno(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn must_index(&mut self, name: &str) -> Result<u32> {
        self.link_index(name)?
            .ok_or_else(|| Error::Protocol(format!("link {name} vanished right after creation")))
    }

    /// Creates bridge `name`, up, with a fixed MAC (so it never follows its ports').
    pub fn create_bridge(&mut self, name: &str, mtu: u32, mac: [u8; 6]) -> Result<u32> {
        let mut m = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.push(&ifinfomsg(0, 0, IFF_UP, IFF_UP))
            .attr_str(IFLA_IFNAME, name)
            .attr_u32(IFLA_MTU, mtu)
            .attr(IFLA_ADDRESS, &mac)
            .begin(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "bridge")
            .end();
        self.sock
            .request(&mut m, &format!("creating bridge {name}"))?;
        self.must_index(name)
    }

    /// Creates a veth pair: the host end enslaved to `master`, the peer in `peer_netns`
    /// under its final name, in one request. Both ends are down: a veth cannot be set up
    /// before its peer is linked to it (the kernel answers ENOTCONN).
    pub fn create_veth(&mut self, v: &VethSpec) -> Result<u32> {
        let mut m = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.push(&ifinfomsg(0, 0, 0, 0))
            .attr_str(IFLA_IFNAME, v.host_name)
            .attr_u32(IFLA_MTU, v.mtu)
            .attr_u32(IFLA_MASTER, v.master)
            .begin(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "veth")
            .begin(IFLA_INFO_DATA)
            .begin(VETH_INFO_PEER);
        m.push(&ifinfomsg(0, 0, 0, 0))
            .attr_str(IFLA_IFNAME, v.peer_name)
            .attr_u32(IFLA_MTU, v.mtu)
            .attr_u32(IFLA_NET_NS_FD, v.peer_netns.as_raw_fd() as u32);
        if let Some(mac) = v.peer_mac {
            m.attr(IFLA_ADDRESS, &mac);
        }
        m.end().end().end();
        self.sock.request(
            &mut m,
            &format!("creating veth {} (peer {})", v.host_name, v.peer_name),
        )?;
        self.must_index(v.host_name)
    }

    /// Turns hairpin mode on for bridge port `index`, so a container can reach itself
    /// through a published port.
    pub fn set_hairpin(&mut self, index: u32) -> Result<()> {
        let mut m = Message::new(RTM_SETLINK, 0);
        m.push(&ifinfomsg(libc::AF_BRIDGE as u8, index as i32, 0, 0))
            .begin(IFLA_PROTINFO)
            .attr_u8(IFLA_BRPORT_MODE, 1)
            .end();
        self.sock.request(&mut m, "turning on hairpin mode")
    }

    /// Sets link `index` up.
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let mut m = Message::new(RTM_NEWLINK, 0);
        m.push(&ifinfomsg(0, index as i32, IFF_UP, IFF_UP));
        self.sock.request(&mut m, "setting a link up")
    }

    /// Deletes link `index` (slow for veths: the kernel waits for an RCU grace period).
    pub fn delete_link(&mut self, index: u32) -> Result<()> {
        let mut m = Message::new(RTM_DELLINK, 0);
        m.push(&ifinfomsg(0, index as i32, 0, 0));
        self.sock.request(&mut m, "deleting a link")
    }

    /// Adds `net` (host address and prefix) to link `index`; an existing one is kept.
    pub fn add_addr(&mut self, index: u32, net: IpNet) -> Result<()> {
        let mut m = Message::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
        let mut hdr = [0u8; 8];
        hdr[0] = family(&net.addr);
        hdr[1] = net.prefix;
        if net.addr.is_ipv6() {
            // IFA_F_NODAD: the address is berth's alone, usable at once (no 1 s of DAD).
            hdr[2] = 0x02;
        }
        hdr[4..8].copy_from_slice(&index.to_ne_bytes());
        m.push(&hdr)
            .attr(IFA_LOCAL, &ip_bytes(&net.addr))
            .attr(IFA_ADDRESS, &ip_bytes(&net.addr));
        if let IpAddr::V4(a) = net.addr {
            let host_bits = 32 - u32::from(net.prefix.min(32));
            let mask = if host_bits == 32 {
                u32::MAX
            } else {
                (1u32 << host_bits) - 1
            };
            m.attr(IFA_BROADCAST, &Ipv4Addr::from(u32::from(a) | mask).octets());
        }
        self.sock.request(
            &mut m,
            &format!("adding address {}/{}", net.addr, net.prefix),
        )
    }

    /// Adds a route to `dst` (prefix 0: the default route) via `gateway` on `oif`.
    pub fn add_route(&mut self, dst: IpNet, gateway: Option<IpAddr>, oif: u32) -> Result<()> {
        let mut m = Message::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        let hdr = [
            family(&dst.addr),
            dst.prefix,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            0, // scope universe
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        m.push(&hdr);
        if dst.prefix > 0 {
            m.attr(RTA_DST, &ip_bytes(&dst.addr));
        }
        if let Some(gw) = gateway {
            m.attr(RTA_GATEWAY, &ip_bytes(&gw));
        }
        m.attr_u32(RTA_OIF, oif);
        let what = match gateway {
            Some(gw) => format!("adding route {}/{} via {gw}", dst.addr, dst.prefix),
            None => format!("adding route {}/{}", dst.addr, dst.prefix),
        };
        self.sock.request(&mut m, &what)
    }

    /// The IPv4 destinations in the main table (the default pool picker avoids them).
    pub fn routes_v4(&mut self) -> Result<Vec<IpNet>> {
        let mut m = Message::new(RTM_GETROUTE, NLM_F_DUMP);
        m.push(&[libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let replies = self.sock.query(&mut m, "listing routes")?;
        let mut out = Vec::new();
        for r in replies {
            if r.payload.len() < 12 {
                continue;
            }
            let prefix = r.payload[1];
            let mut table = u32::from(r.payload[4]);
            let mut dst = Ipv4Addr::UNSPECIFIED;
            for (k, v) in attrs(&r.payload[12..]) {
                match k {
                    RTA_DST if v.len() == 4 => dst = Ipv4Addr::new(v[0], v[1], v[2], v[3]),
                    RTA_TABLE if v.len() == 4 => {
                        table = u32::from_ne_bytes([v[0], v[1], v[2], v[3]])
                    }
                    _ => {}
                }
            }
            if table == u32::from(RT_TABLE_MAIN) && prefix > 0 {
                out.push(IpNet {
                    addr: IpAddr::V4(dst),
                    prefix,
                });
            }
        }
        Ok(out)
    }
}
