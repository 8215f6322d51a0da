//! The upstream servers: the `nameserver` lines of a resolv.conf.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// The `nameserver` addresses in resolv.conf text, port 53, in order. Lines that do not parse
/// (IPv6 with a `%zone`, garbage) are skipped.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next() != Some("nameserver") {
                return None;
            }
            let ip: IpAddr = words.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

/// The host's upstream servers, from `/etc/resolv.conf` (empty if it cannot be read).
///
/// Unlike a container, the resolver runs in the host's network namespace, so a loopback stub
/// such as systemd-resolved's `127.0.0.53` is reachable and is used as it is.
pub fn host_upstreams() -> Vec<SocketAddr> {
    resolv_conf_upstreams(Path::new("/etc/resolv.conf"))
}

/// The upstream servers named in the resolv.conf at `path` (empty if it cannot be read).
fn resolv_conf_upstreams(path: &Path) -> Vec<SocketAddr> {
    std::fs::read_to_string(path)
        .map(|text| parse_resolv_conf(&text))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_in_order() {
        let text = "# comment\nsearch example.com\nnameserver 127.0.0.53\nnameserver   ::1\n\
                    nameserver fe80::1%eth0\nnameserver bogus\noptions edns0\nnameserver 1.1.1.1 # x\n";
        let got: Vec<String> = parse_resolv_conf(text)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(got, ["127.0.0.53:53", "[::1]:53", "1.1.1.1:53"]);
    }
}
