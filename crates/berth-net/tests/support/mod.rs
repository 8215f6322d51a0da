//! Test harness: throw-away network namespaces (a "host", containers, "the internet"),
//! in-process TCP/UDP servers and clients inside them, and `ip`/`nft`/`busybox` as
//! independent witnesses. Everything a test makes lives in namespaces it deletes.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use berth_net::{netns, Endpoint, Ipv4Net, Network, PortMapping, Protocol, Request};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Skips (with a message) when not root; returns true when the test may go on.
pub fn root_or_skip() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: needs root (network namespaces)");
        return false;
    }
    true
}

/// A named netns under /run/netns, deleted on drop.
pub struct Ns {
    pub name: String,
    pub fd: OwnedFd,
}

impl Ns {
    pub fn new(tag: &str) -> Ns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("bn{}-{}-{tag}", std::process::id() % 100000, n);
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {name}");
        let fd = netns::open(&PathBuf::from(format!("/run/netns/{name}"))).unwrap();
        let ns = Ns { name, fd };
        ns.sh(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }

    /// Runs a command inside (nsenter, so /sys stays as it is) and returns its output.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.name))
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs a command inside; panics with its output when it fails.
    pub fn sh(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} in {}: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `f` on a thread inside this netns.
    pub fn within<T: Send>(
        &self,
        f: impl FnOnce() -> berth_net::Result<T> + Send,
    ) -> berth_net::Result<T> {
        netns::run_in(self.fd.as_fd(), f)
    }

    /// One ICMP echo to `ip`, waiting at most a second.
    pub fn ping(&self, ip: Ipv4Addr) -> bool {
        self.run(&["busybox", "ping", "-c", "1", "-W", "1", &ip.to_string()])
            .status
            .success()
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// On a server's thread: enters netns `name`, binds with `bind`, and tells the test thread
/// whether that worked (why not, if not).
fn bound_in<T>(
    name: &str,
    tx: &std::sync::mpsc::Sender<Result<(), String>>,
    bind: impl FnOnce() -> std::io::Result<T>,
) -> Option<T> {
    let entered = netns::open(&PathBuf::from(format!("/run/netns/{name}")))
        .map_err(|e| format!("open netns: {e}"))
        .and_then(|fd| {
            nix::sched::setns(fd.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("setns: {e}"))
        });
    let res = entered.and_then(|()| bind().map_err(|e| format!("bind: {e}")));
    match res {
        Ok(t) => tx.send(Ok(())).ok().map(|()| t),
        Err(e) => {
            let _ = tx.send(Err(e));
            None
        }
    }
}

/// A TCP server inside a netns that accepts one connection, sends the peer's address
/// back and returns it.
pub fn tcp_server(ns: &Ns, port: u16) -> std::thread::JoinHandle<Option<SocketAddr>> {
    tcp_server_on(ns, "0.0.0.0", port)
}

/// `tcp_server` on one address (`::` for IPv6).
pub fn tcp_server_on(
    ns: &Ns,
    bind: &'static str,
    port: u16,
) -> std::thread::JoinHandle<Option<SocketAddr>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let name = ns.name.clone();
    let handle = std::thread::spawn(move || {
        let l = bound_in(&name, &tx, || {
            let l = TcpListener::bind((bind, port))?;
            l.set_nonblocking(true)?;
            Ok(l)
        })?;
        let deadline = Instant::now() + Duration::from_secs(4);
        while Instant::now() < deadline {
            if let Ok((mut s, peer)) = l.accept() {
                let _ = s.set_nonblocking(false);
                let _ = s.write_all(peer.to_string().as_bytes());
                return Some(peer);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    });
    if let Err(e) = rx
        .recv_timeout(Duration::from_secs(3))
        .expect("server started")
    {
        panic!("the server in {} did not start: {e}", ns.name);
    }
    handle
}

/// Connects from inside `ns` and returns what the server said (its view of our address).
pub fn tcp_client(ns: &Ns, to: SocketAddr) -> Option<String> {
    ns.within(|| {
        let mut s = match TcpStream::connect_timeout(&to, Duration::from_millis(1500)) {
            Ok(s) => s,
            Err(_) => return Ok(None),
        };
        s.set_read_timeout(Some(Duration::from_secs(2))).ok();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        Ok(Some(out))
    })
    .unwrap()
}

/// A UDP echo server inside a netns for one datagram: replies with the peer's address.
pub fn udp_server(ns: &Ns, port: u16) -> std::thread::JoinHandle<Option<SocketAddr>> {
    udp_server_on(ns, "0.0.0.0", port)
}

/// `udp_server` on one address (`::` for IPv6).
pub fn udp_server_on(
    ns: &Ns,
    bind: &'static str,
    port: u16,
) -> std::thread::JoinHandle<Option<SocketAddr>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let name = ns.name.clone();
    let handle = std::thread::spawn(move || {
        let s = bound_in(&name, &tx, || {
            let s = UdpSocket::bind((bind, port))?;
            s.set_read_timeout(Some(Duration::from_secs(4)))?;
            Ok(s)
        })?;
        let mut buf = [0u8; 64];
        let (_, peer) = s.recv_from(&mut buf).ok()?;
        s.send_to(peer.to_string().as_bytes(), peer).ok()?;
        Some(peer)
    });
    if let Err(e) = rx
        .recv_timeout(Duration::from_secs(3))
        .expect("server started")
    {
        panic!("the server in {} did not start: {e}", ns.name);
    }
    handle
}

/// Sends one datagram from inside `ns` and returns the reply.
pub fn udp_client(ns: &Ns, to: SocketAddr) -> Option<String> {
    ns.within(|| {
        let any = if to.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
        let s = UdpSocket::bind(any).map_err(|e| berth_net::Error::Protocol(e.to_string()))?;
        s.set_read_timeout(Some(Duration::from_millis(1500))).ok();
        s.send_to(b"hi", to).ok();
        let mut buf = [0u8; 64];
        Ok(s.recv_from(&mut buf)
            .ok()
            .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned()))
    })
    .unwrap()
}

/// A network description with a bridge name unique to this test run.
pub fn network(tag: &str, subnet: &str, internal: bool) -> Network {
    let n: Ipv4Net = subnet.parse().unwrap();
    let gw = Ipv4Addr::from(u32::from(n.network()) + 1);
    Network {
        name: format!("net-{tag}"),
        bridge: format!("bbr-{tag}"),
        subnet: n,
        gateway: gw,
        internal,
        mtu: 1500,
        subnet6: None,
        gateway6: None,
    }
}

/// `network` made dual stack with `subnet6` (gateway ::1).
pub fn network6(tag: &str, subnet: &str, subnet6: &str) -> Network {
    let s6: berth_net::Ipv6Net = subnet6.parse().unwrap();
    Network {
        subnet6: Some(s6),
        gateway6: Some(std::net::Ipv6Addr::from(u128::from(s6.network()) + 1)),
        ..network(tag, subnet, false)
    }
}

pub fn request(net: &Network, id: &str, ip: &str, ports: Vec<PortMapping>) -> Request {
    Request {
        network: net.clone(),
        endpoint: Endpoint {
            container_id: id.to_string(),
            interface: "eth0".into(),
            ip: ip.parse().unwrap(),
            ip6: None,
            mac: None,
            ports,
            default_route: true,
        },
    }
}

pub fn port(
    host_ip: Option<&str>,
    host_port: u16,
    container_port: u16,
    protocol: Protocol,
) -> PortMapping {
    PortMapping {
        host_ip: host_ip.map(|h| h.parse().unwrap()),
        host_port,
        container_port,
        protocol,
        range: 1,
    }
}

/// A "host" netns plus "the internet": a veth between them, host 192.0.2.1 and
/// 2001:db8:f::1, outside 192.0.2.2 and 2001:db8:f::2 (documentation ranges, only inside
/// these namespaces).
pub struct World {
    pub host: Ns,
    pub outside: Ns,
}

pub const HOST_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const OUTSIDE_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const HOST_IP6: &str = "2001:db8:f::1";
pub const OUTSIDE_IP6: &str = "2001:db8:f::2";

impl World {
    pub fn new() -> World {
        let host = Ns::new("host");
        let outside = Ns::new("out");
        host.sh(&[
            "ip",
            "link",
            "add",
            "uplink",
            "type",
            "veth",
            "peer",
            "name",
            "wan",
            "netns",
            &outside.name,
        ]);
        host.sh(&["ip", "addr", "add", "192.0.2.1/24", "dev", "uplink"]);
        host.sh(&["ip", "link", "set", "uplink", "up"]);
        outside.sh(&["ip", "addr", "add", "192.0.2.2/24", "dev", "wan"]);
        outside.sh(&["ip", "link", "set", "wan", "up"]);
        host.sh(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:f::1/64",
            "dev",
            "uplink",
            "nodad",
        ]);
        outside.sh(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:f::2/64",
            "dev",
            "wan",
            "nodad",
        ]);
        World { host, outside }
    }

    /// Attaches a new container netns to `net` with `ports`.
    pub fn container(
        &self,
        net: &Network,
        id: &str,
        ip: &str,
        ports: Vec<PortMapping>,
    ) -> (Ns, Request) {
        let c = Ns::new(id);
        let req = request(net, id, ip, ports);
        let cfd = c.fd.as_fd();
        self.host
            .within(|| berth_net::setup(&req, cfd, berth_net::DEFAULT_TABLE))
            .unwrap();
        (c, req)
    }

    /// `container` with an IPv6 address too.
    pub fn container6(
        &self,
        net: &Network,
        id: &str,
        ip: &str,
        ip6: &str,
        ports: Vec<PortMapping>,
    ) -> (Ns, Request) {
        let c = Ns::new(id);
        let mut req = request(net, id, ip, ports);
        req.endpoint.ip6 = Some(ip6.parse().unwrap());
        let cfd = c.fd.as_fd();
        self.host
            .within(|| berth_net::setup(&req, cfd, berth_net::DEFAULT_TABLE))
            .unwrap();
        (c, req)
    }

    pub fn nft(&self, args: &[&str]) -> String {
        let mut a = vec!["nft"];
        a.extend_from_slice(args);
        self.host.sh(&a)
    }
}
