//! The files berth writes for a container: /etc/hostname, /etc/hosts, /etc/resolv.conf;
//! and its published ports, host ports chosen for `-P` and `-p 80`.

use crate::container::{ContainerRecord, NetAttach, Published};
use crate::error::{Context, Error, Result};
use std::path::Path;

/// Write hostname, hosts and resolv.conf into `dir`; the (source, destination) binds.
pub fn write(
    dir: &Path,
    rec: &ContainerRecord,
    net: Option<&NetAttach>,
    resolver: Option<std::net::Ipv4Addr>,
) -> Result<Vec<(String, String)>> {
    let host = crate::spec::hostname(rec);
    let mut hosts = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for e in rec.host_config.extra_hosts.iter().flatten() {
        let (name, ip) = e
            .split_once(':')
            .or_else(|| e.split_once('='))
            .ok_or_else(|| Error::Invalid(format!("invalid IP address in add-host: \"{e}\"")))?;
        let ip = if ip == "host-gateway" {
            net.map(|n| n.gateway.clone())
                .unwrap_or_else(|| "127.0.0.1".into())
        } else {
            ip.parse::<std::net::IpAddr>()
                .map_err(|_| Error::Invalid(format!("invalid IP address in add-host: \"{ip}\"")))?
                .to_string()
        };
        hosts.push_str(&format!("{ip}\t{name}\n"));
    }
    if let Some(n) = net {
        let mut names = vec![host.clone()];
        names.extend(n.aliases.iter().cloned());
        hosts.push_str(&format!("{}\t{}\n", n.ip, names.join(" ")));
        if !n.ip6.is_empty() {
            hosts.push_str(&format!("{}\t{}\n", n.ip6, names.join(" ")));
        }
    }
    let resolv = resolv_conf(rec, resolver);
    let mut binds = Vec::new();
    for (name, text) in [
        ("hostname", format!("{host}\n")),
        ("hosts", hosts),
        ("resolv.conf", resolv),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).ctx(|| format!("writing {}", p.display()))?;
        binds.push((p.to_string_lossy().into_owned(), format!("/etc/{name}")));
    }
    Ok(binds)
}

/// `--dns`/`--dns-search`/`--dns-option`, else the host's resolvers minus loopback ones
/// (unreachable from a container), else Google's, as docker does.
/// On a user network the network's resolver comes first (container names); the
/// `--dns` servers follow it.
fn resolv_conf(rec: &ContainerRecord, resolver: Option<std::net::Ipv4Addr>) -> String {
    let hc = &rec.host_config;
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let user_dns = hc.dns.clone().unwrap_or_default();
    let servers: Vec<String> = match resolver {
        Some(ip) => std::iter::once(ip.to_string()).chain(user_dns).collect(),
        None if !user_dns.is_empty() => user_dns,
        None => host
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.starts_with("127.") && s != "::1")
            .collect(),
    };
    let servers = if servers.is_empty() && rec.network_mode() != "host" {
        vec!["8.8.8.8".to_string(), "8.8.4.4".to_string()]
    } else {
        servers
    };
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    match hc.dns_search.as_ref().filter(|d| !d.is_empty()) {
        Some(d) => out.push_str(&format!("search {}\n", d.join(" "))),
        None => {
            for l in host.lines().filter(|l| l.starts_with("search ")) {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    if let Some(o) = hc.dns_options.as_ref().filter(|d| !d.is_empty()) {
        out.push_str(&format!("options {}\n", o.join(" ")));
    }
    out
}

/// The ports to publish: `PortBindings` (an empty host port gets a free one) and, with
/// `-P`, every exposed port not bound explicitly. `taken` are ports other containers hold.
pub fn ports(rec: &ContainerRecord, taken: &[Published]) -> Result<Vec<Published>> {
    let mut out: Vec<Published> = Vec::new();
    let parse_key = |k: &str| -> Result<(u16, String)> {
        let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
        let port = port
            .parse::<u16>()
            .map_err(|_| Error::Invalid(format!("invalid port specification: \"{k}\"")))?;
        if !matches!(proto, "tcp" | "udp") {
            return Err(Error::Invalid(format!("invalid proto: {proto}")));
        }
        Ok((port, proto.to_string()))
    };
    let mut want: Vec<(u16, String, String, String)> = Vec::new();
    for (k, binds) in rec.host_config.port_bindings.iter().flatten() {
        let (cport, proto) = parse_key(k)?;
        for b in binds.iter().flatten() {
            want.push((cport, proto.clone(), b.host_ip.clone(), b.host_port.clone()));
        }
    }
    if rec.host_config.publish_all_ports {
        for k in rec.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
            let (cport, proto) = parse_key(k)?;
            if !want.iter().any(|w| w.0 == cport && w.1 == proto) {
                want.push((cport, proto, String::new(), String::new()));
            }
        }
    }
    for (cport, proto, host_ip, host_port) in want {
        let hp = if host_port.is_empty() {
            free_port(&proto, taken, &out)?
        } else {
            host_port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| Error::Invalid(format!("invalid hostPort: {host_port}")))?
        };
        out.push(Published {
            host_ip,
            host_port: hp,
            container_port: cport,
            proto,
        });
    }
    Ok(out)
}

/// A host port in the ephemeral range that no container holds and nothing here listens on.
fn free_port(proto: &str, taken: &[Published], ours: &[Published]) -> Result<u16> {
    for port in 49153..=65535u16 {
        let held = taken
            .iter()
            .chain(ours)
            .any(|p| p.host_port == port && p.proto == proto);
        if held {
            continue;
        }
        let free = if proto == "udp" {
            std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok()
        } else {
            std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
        };
        if free {
            return Ok(port);
        }
    }
    Err(Error::Conflict(
        "no free host port left to publish on".into(),
    ))
}
