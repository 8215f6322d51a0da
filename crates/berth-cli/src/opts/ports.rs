//! `-p [ip:][hostPort:]containerPort[/proto]` (with ranges) and `--expose`, as docker's
//! `nat.ParsePortSpec` reads them.

use std::net::IpAddr;

use crate::error::{Error, Result};

/// One container port and how it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// "80/tcp"
    pub port: String,
    pub host_ip: String,
    /// "", "8080", or a range "8000-8010" to pick from.
    pub host_port: String,
}

fn split_proto(s: &str) -> (&str, &str) {
    match s.split_once('/') {
        Some((p, "")) => (p, "tcp"),
        Some((p, proto)) => (p, proto),
        None => (s, "tcp"),
    }
}

/// Parses "80", "8000-8010", returning (start, end).
pub fn port_range(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u32 = a.parse().ok()?;
    let b: u32 = b.parse().ok()?;
    (a <= b && b <= 65535).then_some((a, b))
}

fn split_parts(raw: &str) -> (String, String, String) {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let last = parts[n - 1].to_string();
    match n {
        1 => (String::new(), String::new(), last),
        2 => (String::new(), parts[0].to_string(), last),
        3 => (parts[0].to_string(), parts[1].to_string(), last),
        _ => (parts[..n - 2].join(":"), parts[n - 2].to_string(), last),
    }
}

/// Parses one `-p` value into its mappings.
pub fn parse_publish(raw: &str) -> Result<Vec<PortMapping>> {
    let (mut ip, host, container) = split_parts(raw);
    let (container, proto) = split_proto(&container);
    if let Some(inner) = ip.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        ip = inner.to_string();
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(Error::usage(format!("invalid IP address: {ip}")));
    }
    if container.is_empty() {
        return Err(Error::usage(format!("no port specified: {raw}<empty>")));
    }
    let (start, end) = port_range(container)
        .ok_or_else(|| Error::usage(format!("invalid containerPort: {container}")))?;
    let (hstart, hend) = if host.is_empty() {
        (0, 0)
    } else {
        port_range(&host).ok_or_else(|| Error::usage(format!("invalid hostPort: {host}")))?
    };
    if !host.is_empty() && end - start != hend - hstart && end != start {
        return Err(Error::usage(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        )));
    }
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(Error::usage(format!("invalid proto: {proto}")));
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let mut host_port = String::new();
        if !host.is_empty() {
            host_port = (hstart + i).to_string();
            if start == end && hstart != hend {
                host_port = format!("{hstart}-{hend}");
            }
        }
        out.push(PortMapping {
            port: format!("{}/{proto}", start + i),
            host_ip: ip.clone(),
            host_port,
        });
    }
    Ok(out)
}

/// Parses one `--expose` value ("80", "80/udp", "8000-8010") into port keys.
pub fn parse_expose(raw: &str) -> Result<Vec<String>> {
    let (p, proto) = split_proto(raw);
    let (start, end) = port_range(p)
        .ok_or_else(|| Error::usage(format!("invalid range format for --expose: {raw}")))?;
    Ok((start..=end).map(|n| format!("{n}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(port: &str, ip: &str, host: &str) -> PortMapping {
        PortMapping {
            port: port.into(),
            host_ip: ip.into(),
            host_port: host.into(),
        }
    }

    #[test]
    fn forms() {
        assert_eq!(parse_publish("80").unwrap(), vec![m("80/tcp", "", "")]);
        assert_eq!(
            parse_publish("8080:80").unwrap(),
            vec![m("80/tcp", "", "8080")]
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80/udp").unwrap(),
            vec![m("80/udp", "127.0.0.1", "8080")]
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            vec![m("80/tcp", "127.0.0.1", "")]
        );
        assert_eq!(
            parse_publish("[::1]:8080:80").unwrap(),
            vec![m("80/tcp", "::1", "8080")]
        );
        assert_eq!(
            parse_publish("9000-9001:90-91").unwrap(),
            vec![m("90/tcp", "", "9000"), m("91/tcp", "", "9001")]
        );
        assert_eq!(
            parse_publish("8000-8010:80").unwrap(),
            vec![m("80/tcp", "", "8000-8010")]
        );
        assert_eq!(parse_publish("90-91").unwrap().len(), 2);
    }

    #[test]
    fn errors() {
        assert!(parse_publish("9000-9002:90-91").is_err());
        assert!(parse_publish("1.2.3:80:80").is_err());
        assert!(parse_publish("80/icmp").is_err());
        assert!(parse_publish("x").is_err());
        assert!(parse_publish("8080:").is_err());
    }

    #[test]
    fn expose() {
        assert_eq!(parse_expose("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(
            parse_expose("5000-5001/udp").unwrap(),
            vec!["5000/udp", "5001/udp"]
        );
    }
}
