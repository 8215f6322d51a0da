//! The JSON contract of berth-net: a network and an endpoint in, a result out (the shape
//! `berth net setup` reads on stdin and the engine passes in-process).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// An IPv4 network, `a.b.c.d/p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, Error> {
        if prefix > 32 {
            return Err(Error::Config(format!("prefix /{prefix} is longer than 32")));
        }
        Ok(Ipv4Net { addr, prefix })
    }

    /// The netmask as a u32.
    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    /// Whether `ip` is in the network and neither its network nor broadcast address.
    pub fn is_host_addr(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && ip != self.network() && ip != self.broadcast()
    }

    /// Whether the two networks share any address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        let m = self.mask() & other.mask();
        u32::from(self.addr) & m == u32::from(other.addr) & m
    }

    /// How many addresses it spans.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::Config(format!("invalid IPv4 network {s:?} (want a.b.c.d/len)"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        Ipv4Net::new(addr, prefix)
    }
}

impl Serialize for Ipv4Net {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Net {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An IPv6 network, `a:b::/p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Net {
    pub addr: Ipv6Addr,
    pub prefix: u8,
}

impl Ipv6Net {
    pub fn new(addr: Ipv6Addr, prefix: u8) -> Result<Self, Error> {
        if prefix > 128 {
            return Err(Error::Config(format!(
                "prefix /{prefix} is longer than 128"
            )));
        }
        Ok(Ipv6Net { addr, prefix })
    }

    /// The netmask as a u128.
    pub fn mask(&self) -> u128 {
        if self.prefix == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.prefix))
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) & self.mask())
    }

    /// The last address of the network.
    pub fn last(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) | !self.mask())
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & self.mask() == u128::from(self.network())
    }

    /// Whether `ip` is in the network and not its subnet-router anycast (network) address.
    pub fn is_host_addr(&self, ip: Ipv6Addr) -> bool {
        self.contains(ip) && ip != self.network()
    }

    /// Whether the two networks share any address.
    pub fn overlaps(&self, other: &Ipv6Net) -> bool {
        let m = self.mask() & other.mask();
        u128::from(self.addr) & m == u128::from(other.addr) & m
    }
}

impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv6Net {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::Config(format!("invalid IPv6 network {s:?} (want a:b::/len)"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv6Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        Ipv6Net::new(addr, prefix)
    }
}

impl Serialize for Ipv6Net {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv6Net {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn default_mtu() -> u32 {
    1500
}

fn default_ifname() -> String {
    "eth0".into()
}

fn default_range() -> u16 {
    1
}

/// A bridge network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub name: String,
    /// The bridge device, at most 15 bytes.
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// No traffic in or out of the network, only between its containers.
    #[serde(default)]
    pub internal: bool,
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// The IPv6 subnet of a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Ipv6Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
}

/// Transport protocols of published ports.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
}

/// `-p [host_ip:]host_port[-end]:container_port[-end][/proto]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortMapping {
    /// Only this host address (IPv4 or IPv6); none: every address of both families.
    #[serde(default)]
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// How many consecutive ports, from host_port and container_port.
    #[serde(default = "default_range")]
    pub range: u16,
}

fn default_protocol() -> Protocol {
    Protocol::Tcp
}

/// One container's attachment to a network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub container_id: String,
    /// The interface name inside the container.
    #[serde(default = "default_ifname")]
    pub interface: String,
    pub ip: Ipv4Addr,
    /// The IPv6 address, on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    /// `aa:bb:cc:dd:ee:ff`; derived from the IP when absent (02:42 + the address).
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// Whether the network's gateway becomes the container's default route (false for a
    /// container's second and later networks).
    #[serde(default = "default_true")]
    pub default_route: bool,
}

fn default_true() -> bool {
    true
}

/// What `setup` reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub network: Network,
    pub endpoint: Endpoint,
}

/// What `setup` returns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub interface: String,
    pub mac: String,
    pub address: Ipv4Net,
    pub gateway: Ipv4Addr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address6: Option<Ipv6Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
    pub host_veth: String,
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], Error> {
    let bad = || Error::Config(format!("invalid MAC address {s:?}"));
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 {
        return Err(Error::Config(format!(
            "MAC address {s} is a multicast address"
        )));
    }
    Ok(mac)
}

/// Formats a MAC address.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Request {
    /// Checks what the kernel would otherwise reject with a vaguer message.
    pub fn validate(&self) -> Result<(), Error> {
        let n = &self.network;
        let e = &self.endpoint;
        if n.bridge.is_empty() || n.bridge.len() > 15 || n.bridge.contains('/') {
            return Err(Error::Config(format!(
                "bridge name {:?} must be 1 to 15 bytes",
                n.bridge
            )));
        }
        if e.interface.is_empty() || e.interface.len() > 15 {
            return Err(Error::Config(format!(
                "interface name {:?} must be 1 to 15 bytes",
                e.interface
            )));
        }
        if !n.subnet.contains(n.gateway) {
            return Err(Error::Config(format!(
                "gateway {} is outside subnet {}",
                n.gateway, n.subnet
            )));
        }
        if !n.subnet.contains(e.ip) {
            return Err(Error::Config(format!(
                "address {} is outside subnet {}",
                e.ip, n.subnet
            )));
        }
        if e.ip == n.gateway || !n.subnet.is_host_addr(e.ip) {
            return Err(Error::Config(format!(
                "address {} is the subnet's gateway, network or broadcast address",
                e.ip
            )));
        }
        self.validate_v6()?;
        if !(68..=65535).contains(&n.mtu) {
            return Err(Error::Config(format!(
                "mtu {} is out of range (68-65535)",
                n.mtu
            )));
        }
        for p in &e.ports {
            let ok = p.range >= 1
                && u32::from(p.host_port) + u32::from(p.range) - 1 <= 65535
                && u32::from(p.container_port) + u32::from(p.range) - 1 <= 65535
                && p.host_port != 0
                && p.container_port != 0;
            if !ok {
                return Err(Error::Config(format!(
                    "port mapping {}:{} (x{}) is out of range",
                    p.host_port, p.container_port, p.range
                )));
            }
        }
        if let Some(m) = &e.mac {
            parse_mac(m)?;
        }
        Ok(())
    }

    /// The IPv6 half of a dual-stack request: gateway and address inside the subnet, and
    /// a published IPv6 host address only where the container has an IPv6 address.
    fn validate_v6(&self) -> Result<(), Error> {
        let n = &self.network;
        let e = &self.endpoint;
        let Some(subnet) = n.subnet6 else {
            if e.ip6.is_some() || n.gateway6.is_some() {
                return Err(Error::Config(format!(
                    "network {} has no IPv6 subnet",
                    n.name
                )));
            }
            if let Some(p) = e
                .ports
                .iter()
                .find(|p| p.host_ip.is_some_and(|h| h.is_ipv6()))
            {
                return Err(Error::Config(format!(
                    "cannot publish on IPv6 address {}: network {} has no IPv6 subnet",
                    p.host_ip.map(|h| h.to_string()).unwrap_or_default(),
                    n.name
                )));
            }
            return Ok(());
        };
        let gw = n.gateway6.ok_or_else(|| {
            Error::Config(format!(
                "network {} has an IPv6 subnet but no gateway",
                n.name
            ))
        })?;
        if !subnet.is_host_addr(gw) {
            return Err(Error::Config(format!(
                "gateway {gw} is not a host address of subnet {subnet}"
            )));
        }
        if e.ip6.is_none()
            && e.ports
                .iter()
                .any(|p| p.host_ip.is_some_and(|h| h.is_ipv6()))
        {
            return Err(Error::Config(
                "cannot publish on an IPv6 host address: the container has no IPv6 address".into(),
            ));
        }
        if let Some(ip) = e.ip6 {
            if !subnet.is_host_addr(ip) || ip == gw {
                return Err(Error::Config(format!(
                    "address {ip} is outside subnet {subnet} or is its gateway"
                )));
            }
        }
        Ok(())
    }
}
