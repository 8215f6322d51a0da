//! IP address management: picking a free subnet for a new network (never one that
//! overlaps a host route or another network) and addresses within one, never twice.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::config::{Ipv4Net, Ipv6Net};
use crate::error::{Error, Result};

/// docker's default pools: 172.17-31.0.0/16, then 192.168.0-240.0/20.
pub fn default_pools() -> Vec<(Ipv4Net, u8)> {
    vec![
        (
            Ipv4Net {
                addr: Ipv4Addr::new(172, 17, 0, 0),
                prefix: 16,
            },
            16,
        ),
        (
            Ipv4Net {
                addr: Ipv4Addr::new(172, 18, 0, 0),
                prefix: 15,
            },
            16,
        ),
        (
            Ipv4Net {
                addr: Ipv4Addr::new(172, 20, 0, 0),
                prefix: 14,
            },
            16,
        ),
        (
            Ipv4Net {
                addr: Ipv4Addr::new(172, 24, 0, 0),
                prefix: 13,
            },
            16,
        ),
        (
            Ipv4Net {
                addr: Ipv4Addr::new(192, 168, 0, 0),
                prefix: 16,
            },
            20,
        ),
    ]
}

/// The first `size`-prefix subnet carved from `pools` that overlaps nothing in `taken`
/// (host routes and existing networks).
pub fn pick_subnet(pools: &[(Ipv4Net, u8)], taken: &[Ipv4Net]) -> Result<Ipv4Net> {
    for (pool, size) in pools {
        let step = 1u64 << (32 - u32::from(*size));
        let mut at = u64::from(u32::from(pool.network()));
        let end = at + pool.size();
        while at < end {
            let cand = Ipv4Net {
                addr: Ipv4Addr::from(at as u32),
                prefix: *size,
            };
            if !taken.iter().any(|t| t.overlaps(&cand)) {
                return Ok(cand);
            }
            at += step;
        }
    }
    Err(Error::Ipam(
        "all predefined address pools have been fully subnetted".into(),
    ))
}

/// The addresses in use on one network. Serialisable so the engine can persist it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pool {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// Addresses handed out only from this range (docker's `--ip-range`).
    #[serde(default)]
    pub range: Option<Ipv4Net>,
    used: BTreeSet<Ipv4Addr>,
    /// The last address handed out: the next search starts after it, so an address just
    /// freed is not reused at once (stale ARP and conntrack entries).
    last: Option<Ipv4Addr>,
}

impl Pool {
    pub fn new(subnet: Ipv4Net, gateway: Option<Ipv4Addr>, range: Option<Ipv4Net>) -> Result<Self> {
        let subnet = Ipv4Net {
            addr: subnet.network(),
            prefix: subnet.prefix,
        };
        if subnet.prefix > 30 {
            return Err(Error::Ipam(format!(
                "subnet {subnet} is too small for containers"
            )));
        }
        let gateway = gateway.unwrap_or_else(|| Ipv4Addr::from(u32::from(subnet.network()) + 1));
        if !subnet.is_host_addr(gateway) {
            return Err(Error::Ipam(format!(
                "gateway {gateway} is not a host address of subnet {subnet}"
            )));
        }
        if let Some(r) = range {
            if r.prefix < subnet.prefix || !subnet.contains(r.network()) {
                return Err(Error::Ipam(format!(
                    "ip-range {r} is not inside subnet {subnet}"
                )));
            }
        }
        Ok(Pool {
            subnet,
            gateway,
            range,
            used: BTreeSet::new(),
            last: None,
        })
    }

    fn is_host(&self, ip: Ipv4Addr) -> bool {
        self.subnet.is_host_addr(ip) && ip != self.gateway
    }

    /// Reserves a specific address (`--ip`).
    pub fn reserve(&mut self, ip: Ipv4Addr) -> Result<()> {
        if !self.subnet.contains(ip) {
            return Err(Error::Ipam(format!(
                "address {ip} is outside subnet {}",
                self.subnet
            )));
        }
        if !self.is_host(ip) {
            return Err(Error::Ipam(format!(
                "address {ip} is the gateway, network or broadcast address of {}",
                self.subnet
            )));
        }
        if !self.used.insert(ip) {
            return Err(Error::Ipam(format!("address {ip} is already in use")));
        }
        Ok(())
    }

    /// Hands out the next free address.
    pub fn allocate(&mut self) -> Result<Ipv4Addr> {
        let span = self.range.unwrap_or(self.subnet);
        let first = u32::from(span.network());
        let count = span.size() as u32;
        let start = match self.last {
            Some(l) if span.contains(l) => u32::from(l) - first + 1,
            _ => 0,
        };
        for i in 0..count {
            let ip = Ipv4Addr::from(first + (start + i) % count);
            if self.is_host(ip) && !self.used.contains(&ip) {
                self.used.insert(ip);
                self.last = Some(ip);
                return Ok(ip);
            }
        }
        Err(Error::Ipam(format!(
            "no available IPv4 addresses on this network's address pools: {span}"
        )))
    }

    /// Frees an address; freeing one not in use is not an error.
    pub fn release(&mut self, ip: Ipv4Addr) {
        self.used.remove(&ip);
    }

    pub fn in_use(&self) -> usize {
        self.used.len()
    }
}

/// A unique-local /64 for a dual-stack network created without an IPv6 subnet (docker 27
/// does the same): `fdXX:XXXX:XXXX:YYYY::/64` from `seed`, skipping any in `taken`.
pub fn pick_subnet6(seed: &str, taken: &[Ipv6Net]) -> Result<Ipv6Net> {
    let h = crate::fnv(&[seed]);
    for i in 0..1024u64 {
        let bits = h.wrapping_add(i) & 0xff_ffff_ffff_ffff; // 56 bits after fd
        let addr = Ipv6Addr::from((0xfd_u128 << 120) | (u128::from(bits) << 64));
        let cand = Ipv6Net { addr, prefix: 64 };
        if !taken.iter().any(|t| t.overlaps(&cand)) {
            return Ok(cand);
        }
    }
    Err(Error::Ipam("no free unique-local IPv6 /64 found".into()))
}

/// The IPv6 addresses in use on one dual-stack network (the addresses after the gateway,
/// handed out in order; a /64 never runs out in practice).
#[derive(Debug, Clone, PartialEq)]
pub struct Pool6 {
    pub subnet: Ipv6Net,
    pub gateway: Ipv6Addr,
    used: BTreeSet<Ipv6Addr>,
    last: Option<Ipv6Addr>,
}

impl Pool6 {
    pub fn new(subnet: Ipv6Net, gateway: Option<Ipv6Addr>) -> Result<Self> {
        let subnet = Ipv6Net {
            addr: subnet.network(),
            prefix: subnet.prefix,
        };
        if subnet.prefix > 126 {
            return Err(Error::Ipam(format!(
                "subnet {subnet} is too small for containers"
            )));
        }
        let gateway = gateway.unwrap_or_else(|| Ipv6Addr::from(u128::from(subnet.addr) + 1));
        if !subnet.is_host_addr(gateway) {
            return Err(Error::Ipam(format!(
                "gateway {gateway} is not a host address of subnet {subnet}"
            )));
        }
        Ok(Pool6 {
            subnet,
            gateway,
            used: BTreeSet::new(),
            last: None,
        })
    }

    /// Reserves a specific address (`--ip6`).
    pub fn reserve(&mut self, ip: Ipv6Addr) -> Result<()> {
        if !self.subnet.is_host_addr(ip) || ip == self.gateway {
            return Err(Error::Ipam(format!(
                "address {ip} is outside subnet {} or is its gateway",
                self.subnet
            )));
        }
        if !self.used.insert(ip) {
            return Err(Error::Ipam(format!("address {ip} is already in use")));
        }
        Ok(())
    }

    /// Hands out the next free address after the last one handed out.
    pub fn allocate(&mut self) -> Result<Ipv6Addr> {
        let first = u128::from(self.subnet.addr) + 1;
        let end = u128::from(self.subnet.last());
        let mut at = self.last.map_or(first, |l| u128::from(l) + 1);
        for _ in 0..=self.used.len() + 1 {
            if at > end {
                at = first;
            }
            let ip = Ipv6Addr::from(at);
            if ip != self.gateway && self.used.insert(ip) {
                self.last = Some(ip);
                return Ok(ip);
            }
            at += 1;
        }
        Err(Error::Ipam(format!(
            "no available IPv6 addresses on this network's address pools: {}",
            self.subnet
        )))
    }

    /// Frees an address; freeing one not in use is not an error.
    pub fn release(&mut self, ip: Ipv6Addr) {
        self.used.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn picks_the_first_pool_subnet_that_overlaps_no_route() {
        let taken = vec![net("172.17.0.0/16"), net("172.18.5.0/24")];
        assert_eq!(
            pick_subnet(&default_pools(), &taken).unwrap(),
            net("172.19.0.0/16")
        );
        // a VPN route covering all of 172.16/12 pushes us to 192.168
        let taken = vec![net("172.16.0.0/12"), net("192.168.0.0/24")];
        assert_eq!(
            pick_subnet(&default_pools(), &taken).unwrap(),
            net("192.168.16.0/20")
        );
        let everything = vec![net("0.0.0.0/0")];
        let err = pick_subnet(&default_pools(), &everything)
            .unwrap_err()
            .to_string();
        assert!(err.contains("fully subnetted"), "{err}");
    }

    #[test]
    fn allocates_each_address_once_and_skips_gateway_network_broadcast() {
        let mut p = Pool::new(net("10.1.0.0/29"), None, None).unwrap();
        let got: Vec<_> = (0..5).map(|_| p.allocate().unwrap()).collect();
        assert_eq!(
            got,
            (2..=6)
                .map(|i| Ipv4Addr::new(10, 1, 0, i))
                .collect::<Vec<_>>()
        );
        let err = p.allocate().unwrap_err().to_string();
        assert!(err.contains("no available IPv4 addresses"), "{err}");
        p.release(Ipv4Addr::new(10, 1, 0, 3));
        assert_eq!(p.allocate().unwrap(), Ipv4Addr::new(10, 1, 0, 3));
    }

    #[test]
    fn does_not_reuse_a_freed_address_at_once() {
        let mut p = Pool::new(net("10.1.0.0/24"), None, None).unwrap();
        let a = p.allocate().unwrap();
        p.release(a);
        assert_ne!(p.allocate().unwrap(), a);
    }

    #[test]
    fn static_addresses_are_checked() {
        let mut p =
            Pool::new(net("10.1.0.0/24"), Some(Ipv4Addr::new(10, 1, 0, 254)), None).unwrap();
        p.reserve(Ipv4Addr::new(10, 1, 0, 1)).unwrap();
        assert!(p
            .reserve(Ipv4Addr::new(10, 1, 0, 1))
            .unwrap_err()
            .to_string()
            .contains("already in use"));
        assert!(p
            .reserve(Ipv4Addr::new(10, 2, 0, 1))
            .unwrap_err()
            .to_string()
            .contains("outside subnet"));
        assert!(p
            .reserve(Ipv4Addr::new(10, 1, 0, 254))
            .unwrap_err()
            .to_string()
            .contains("gateway"));
        // the allocator skips what was reserved
        assert_eq!(p.allocate().unwrap(), Ipv4Addr::new(10, 1, 0, 2));
    }

    #[test]
    fn ip_range_limits_allocation() {
        let mut p = Pool::new(net("10.1.0.0/16"), None, Some(net("10.1.5.0/30"))).unwrap();
        let got: Vec<_> = (0..4).map(|_| p.allocate().unwrap()).collect();
        assert_eq!(got[0], Ipv4Addr::new(10, 1, 5, 0));
        assert!(p.allocate().is_err());
        assert!(Pool::new(net("10.1.0.0/16"), None, Some(net("10.2.0.0/24"))).is_err());
    }

    #[test]
    fn survives_a_round_trip_through_json() {
        let mut p = Pool::new(net("10.1.0.0/24"), None, None).unwrap();
        p.allocate().unwrap();
        let back: Pool = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn ipv6_pool_hands_out_each_address_once_after_the_gateway() {
        let net6: Ipv6Net = "fd00:1::/126".parse().unwrap();
        let mut p = Pool6::new(net6, None).unwrap();
        assert_eq!(p.gateway, "fd00:1::1".parse::<Ipv6Addr>().unwrap());
        let a = p.allocate().unwrap();
        let b = p.allocate().unwrap();
        assert_eq!(a, "fd00:1::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(b, "fd00:1::3".parse::<Ipv6Addr>().unwrap());
        let err = p.allocate().unwrap_err().to_string();
        assert!(err.contains("no available IPv6 addresses"), "{err}");
        p.release(a);
        assert_eq!(p.allocate().unwrap(), a);
        assert!(p.reserve(b).unwrap_err().to_string().contains("in use"));
        let outside = "fd00:2::5".parse().unwrap();
        assert!(p
            .reserve(outside)
            .unwrap_err()
            .to_string()
            .contains("outside"));
    }

    #[test]
    fn picks_a_unique_local_64_that_overlaps_nothing() {
        let a = pick_subnet6("net-a", &[]).unwrap();
        assert_eq!(a.prefix, 64);
        assert_eq!(a.addr.octets()[0], 0xfd);
        let b = pick_subnet6("net-a", &[a]).unwrap();
        assert_ne!(a, b);
        assert!(!a.overlaps(&b));
    }
}
